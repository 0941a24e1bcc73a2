//! `POST /api/v1/inbound`: relay mail delivered over HTTP as raw MIME, for MTAs and providers
//! that post mail rather than speak SMTP. The same relay path as the SMTP listener.

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::auth::Bearer;
use poem_openapi::param::Query;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiRequest, ApiResponse, Enum, Object, OpenApi, SecurityScheme};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::http::ErrorCode;
use crate::http::Problem;
use crate::http::RequestId;
use crate::relay::{self, Inbound, ReceiveError, Received, Refusal};
use crate::state::App;

use super::tags::ApiTags;

#[derive(Default)]
pub struct InboundApi;

/// The token configured as `mail.inbound.token`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_inbound_token")]
pub struct InboundToken(Bearer);

/// Checked before the body is read, so that a caller without the token learns nothing about
/// what the operation would accept. With inbound mail over HTTP switched off, any token passes
/// here and the operation answers 404.
async fn check_inbound_token(req: &Request, bearer: Bearer) -> Option<Bearer> {
    let app = req.extensions().get::<App>()?;
    let configured = app.settings.mail.inbound.token.expose_secret();
    (configured.is_empty() || bool::from(bearer.token.as_bytes().ct_eq(configured.as_bytes())))
        .then_some(bearer)
}

/// A whole mail as it arrived.
#[derive(ApiRequest)]
pub enum RawMail {
    /// The message, headers and body, as `message/rfc822`.
    #[oai(content_type = "message/rfc822")]
    Rfc822(MailBytes),
}

/// What the example sends: a visitor's answer to a relay alias. On a site without that
/// conversation it is refused (422), which is the operation's own answer.
const EXAMPLE_MAIL: &str = "From: Ada Lovelace <ada@example.org>\r\n\
To: reply+7kq2m9xd@relay.example.org\r\n\
Subject: Re: A question about my order\r\n\
Message-ID: <answer-1@example.org>\r\n\
Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Thank you, the parcel arrived today.\r\n";

/// The mail's bytes, as `Binary<Vec<u8>>` reads them, with an example in the document.
pub struct MailBytes(pub Vec<u8>);

impl Payload for MailBytes {
    const CONTENT_TYPE: &'static str = "message/rfc822";

    fn check_content_type(_content_type: &str) -> bool {
        true
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("binary"),
            example: Some(serde_json::Value::from(EXAMPLE_MAIL)),
            ..MetaSchema::new("string")
        }))
    }
}

impl ParsePayload for MailBytes {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(<Vec<u8>>::from_request(request, body).await?))
    }
}

fn example_recipients() -> Vec<String> {
    vec!["reply+7kq2m9xd@relay.example.org".into()]
}

fn example_sender() -> Option<String> {
    Some("ada@example.org".into())
}

/// An address from the documentation range (RFC 5737).
fn example_client_ip() -> Option<String> {
    Some("192.0.2.10".into())
}

fn example_helo() -> Option<String> {
    Some("mail.example.org".into())
}

/// What became of the mail.
#[derive(Debug, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored in its conversation and relayed to the other side.
    Relayed,
    /// A visitor's reply that failed sender authentication: stored for staff to review, not
    /// relayed and not shown to the visitor.
    Held,
    /// A delivery failure report, recorded against the mail it reports on.
    BounceRecorded,
    /// Automatic mail (auto-reply, list, daemon), dropped so that no mail loop starts.
    Dropped,
}

#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct Accepted {
    /// What became of the mail.
    pub outcome: Outcome,
    /// The conversation it joined, when relayed.
    #[oai(nullable)]
    pub thread_id: Option<Uuid>,
}

#[derive(ApiResponse)]
pub enum InboundResponse {
    /// The mail was taken.
    #[oai(status = 202)]
    Accepted(Json<Accepted>),
    /// The body is not a mail.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// Missing or wrong bearer token.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// Inbound mail over HTTP is switched off (`mail.inbound.token` is empty).
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// Over `mail.inbound.max_message_bytes`.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The body is not `message/rfc822`.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// Refused: unknown or forged relay address, a sender not on the conversation, a staff
    /// address whose domain did not authenticate the mail (DMARC), or no readable text.
    #[oai(status = 422, content_type = "application/problem+json")]
    Refused(Json<Problem>),
    /// The database is unavailable; deliver again later.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

#[OpenApi(tag = "ApiTags::Mail")]
impl InboundApi {
    /// Deliver relay mail
    ///
    /// Takes one mail for the relay domain. The recipients are the `recipient` parameters
    /// (the envelope recipients, as the MTA saw them); without any, the relay aliases found in
    /// the `To` and `Cc` headers are used.
    #[oai(path = "/v1/inbound", method = "post", operation_id = "deliverInbound")]
    #[allow(clippy::too_many_arguments)] // one per query parameter of the operation
    async fn deliver(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: InboundToken,
        /// An envelope recipient; repeat for several.
        #[oai(example = "example_recipients")]
        recipient: Query<Vec<String>>,
        /// The envelope sender; empty for a bounce (`<>`).
        #[oai(example = "example_sender")]
        sender: Query<Option<String>>,
        /// The IP address of the client that handed the mail to the first MTA, for SPF under
        /// `mail.inbound.authentication = "verify"`. Without it only DKIM can pass.
        #[oai(example = "example_client_ip")]
        client_ip: Query<Option<String>>,
        /// The name that client gave in HELO/EHLO.
        #[oai(example = "example_helo")]
        helo: Query<Option<String>>,
        mail: RawMail,
    ) -> InboundResponse {
        let app = app.0;
        let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
        let problem = |code: ErrorCode, detail: &str| {
            Json(Problem::new(code, detail).for_request(request_id.clone()))
        };
        let configured = app.settings.mail.inbound.token.expose_secret();
        if configured.is_empty() {
            return InboundResponse::NotFound(problem(
                ErrorCode::NotFound,
                "Inbound mail over HTTP is off on this site.",
            ));
        }
        let InboundToken(_checked) = auth;
        let RawMail::Rfc822(MailBytes(raw)) = mail;
        if raw.len() > app.settings.mail.inbound.max_message_bytes {
            return InboundResponse::PayloadTooLarge(problem(
                ErrorCode::PayloadTooLarge,
                "The mail is larger than mail.inbound.max_message_bytes.",
            ));
        }
        let client = match client_ip.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(ip) => match ip.parse() {
                Ok(ip) => Some(crate::mail::authentication::Client {
                    ip,
                    helo: helo.0.clone().unwrap_or_default(),
                }),
                Err(_) => {
                    return InboundResponse::BadRequest(problem(
                        ErrorCode::MalformedRequest,
                        "client_ip is not an IP address.",
                    ));
                }
            },
        };
        let parsed = crate::mail::inbound::Parsed::parse(&raw);
        let mut recipients = recipient.0;
        if recipients.is_empty() {
            recipients = parsed
                .as_ref()
                .map(|p| p.header_recipients())
                .unwrap_or_default();
        }
        // Without an envelope sender, the From header stands in; an explicit empty one is `<>`.
        let header_from = parsed.as_ref().and_then(|p| p.from_address());
        let inbound = Inbound {
            envelope_from: sender.0.as_deref().or(header_from.as_deref()),
            recipients,
            raw: &raw,
            client,
            relayed: false,
        };
        match relay::receive(app, inbound).await {
            Ok(received) => {
                let (outcome, thread_id) = match received {
                    Received::Relayed { thread_id } => (Outcome::Relayed, Some(thread_id)),
                    Received::Held { thread_id } => (Outcome::Held, Some(thread_id)),
                    Received::BounceRecorded => (Outcome::BounceRecorded, None),
                    Received::Dropped => (Outcome::Dropped, None),
                };
                InboundResponse::Accepted(Json(Accepted { outcome, thread_id }))
            }
            Err(ReceiveError::Refused(Refusal::Malformed)) => InboundResponse::BadRequest(problem(
                ErrorCode::MalformedRequest,
                "The body is not a parseable mail.",
            )),
            Err(ReceiveError::Refused(refusal)) => {
                InboundResponse::Refused(problem(ErrorCode::ValidationFailed, &refusal.to_string()))
            }
            Err(e @ (ReceiveError::Db(_) | ReceiveError::Store(_))) => {
                tracing::error!(error = %e, "inbound mail could not be stored");
                InboundResponse::Unavailable(problem(
                    ErrorCode::ServiceUnavailable,
                    "The mail could not be stored right now; deliver it again later.",
                ))
            }
        }
    }
}
