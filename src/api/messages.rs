//! `/api/v1/messages`: the integrator's way to submit a message (`POST`, the same service as
//! the form behind it), and the staff operations on conversations, whose shapes and work live
//! in [`staff_messages`](super::staff_messages).

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::errors::{
    ApiError, PAYLOAD_TOO_LARGE, STAFF_BODY, STAFF_READ, UNSUPPORTED_MEDIA_TYPE, english,
};
use super::formats::{EmailText, UuidText, example_id};
use super::staff_auth::StaffAuth;
use super::staff_messages::types::{
    ListThreadsResponse, NewReply, ReplyResponse, Status, ThreadResponse, ThreadUpdate,
    UpdateThreadResponse,
};
use super::staff_messages::{self, ListQuery};
use super::tags::ApiTags;
use crate::captcha::CaptchaError;
use crate::domain::{FieldProblem, Locale};
use crate::http::ErrorCode;
use crate::http::{FieldError, Problem};
use crate::http::{RequestId, client_ip};
use crate::messages::{self, Draft, FieldErrors, Origin, SubmitError};
use crate::spam::pow::PowError;
use crate::state::App;

#[derive(Default)]
pub struct MessagesApi;

/// A message from a visitor. Only `body` and `consent` are required.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields, example)]
pub struct SubmitMessage {
    /// The visitor's name: optional, at most 100 characters, one line. Sealed on arrival.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The visitor's e-mail address: optional, but without it nobody can answer by e-mail.
    /// Sealed on arrival and never shown to anyone.
    #[oai(nullable)]
    pub email: Option<EmailText>,
    /// Subject: optional, at most 200 characters, one line.
    #[oai(nullable)]
    pub subject: Option<String>,
    /// The message: plain text, or HTML limited to p, br, b, strong, i, em, ul, ol, li,
    /// blockquote, code, pre and a (http, https, mailto links). At most 20,000 characters.
    pub body: String,
    /// Language for pages and mail: `en`, `ru` or `kk` (a tag such as `ru-RU` is fine).
    /// Defaults to the site's language.
    #[oai(nullable)]
    pub locale: Option<String>,
    /// The visitor accepts the privacy policy; must be `true`.
    pub consent: bool,
    /// The version of the privacy policy the visitor was shown; defaults to the current one
    /// when left out. An empty one is refused as missing (`required`), a version other than
    /// the current one as `unsupported`.
    #[oai(nullable)]
    pub policy_version: Option<String>,
    /// The hCaptcha response token, required when the site has the captcha enabled.
    #[oai(nullable)]
    pub captcha_token: Option<String>,
    /// The solved proof of work, where the site has it on: a challenge from
    /// `GET /api/v1/challenge` with its solution, base64 of
    /// `{"challenge": ..., "solution": ...}` (what the ALTCHA widget puts in its hidden field
    /// `altcha`). Each challenge counts once. Left out, the message is accepted but held for
    /// review (refused with `pow_rejected` where `spam.pow.require` is set); an expired one is
    /// held too; a forged, reused or malformed one is refused with `pow_rejected`.
    #[oai(nullable)]
    pub altcha: Option<String>,
}

/// What "Try it out" sends: a message a development server stores (no captcha there, and the
/// current privacy policy when `policy_version` is left null).
impl Example for SubmitMessage {
    fn example() -> Self {
        Self {
            name: Some("Ada Lovelace".into()),
            email: Some("ada@example.org".into()),
            subject: Some("A question about my order".into()),
            body: "Hello, my order has not arrived yet. Could you look into it?".into(),
            locale: Some("en".into()),
            consent: true,
            policy_version: None,
            captcha_token: None,
            altcha: None,
        }
    }
}

/// The stored message.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct SubmittedMessage {
    /// The id of the stored message.
    pub id: Uuid,
    /// The id of the conversation it starts.
    pub thread_id: Uuid,
    /// The short reference to quote, like `SP-7KQ2-M9XD`.
    pub reference: String,
    /// The visitor's private link to the conversation: it shows answers and lets them write
    /// again. Give it only to the visitor.
    pub thread_url: String,
}

#[derive(ApiResponse)]
pub enum SubmitResponse {
    /// The message is stored.
    #[oai(status = 201)]
    Created(Json<SubmittedMessage>),
    /// Malformed JSON, a missing captcha answer (`malformed_request`, `captcha_rejected`), or a
    /// proof of work that is forged, reused or malformed, or missing where it is required
    /// (`pow_rejected`).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// Some fields were refused; `errors` lists them.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// Too many submissions from this address; retry after `Retry-After` seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(
        Json<Problem>,
        /// Seconds to wait before the next submission.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// The database or the captcha verifier is unavailable; try again later.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

fn field_errors(fields: &FieldErrors) -> Vec<FieldError> {
    fields
        .iter()
        .map(|(field, problem)| FieldError {
            field: (*field).to_owned(),
            code: problem.code().to_owned(),
            message: match *field {
                "consent" => "The visitor must accept the privacy policy (consent: true).".into(),
                "policy_version" => "The privacy policy version is empty: send the version the visitor was shown, or leave the field out for the current one.".into(),
                _ => english(*problem),
            },
        })
        .collect()
}

fn default_limit() -> u64 {
    staff_messages::DEFAULT_LIMIT
}

fn example_status() -> Option<Status> {
    Some(Status::Open)
}

fn example_query() -> Option<String> {
    Some("order".into())
}

/// Empty is the first page, like a cursor left out.
fn example_cursor() -> Option<String> {
    Some(String::new())
}

#[OpenApi]
impl MessagesApi {
    /// Submit a message
    ///
    /// Stores a visitor's message: the contact data is sealed, a conversation is opened, and
    /// the response carries its reference and the visitor's private link.
    #[oai(
        path = "/v1/messages",
        method = "post",
        operation_id = "submitMessage",
        tag = "ApiTags::Visitor"
    )]
    async fn submit(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        payload: Json<SubmitMessage>,
    ) -> Result<SubmitResponse, ApiError<{ PAYLOAD_TOO_LARGE | UNSUPPORTED_MEDIA_TYPE }>> {
        let app = app.0;
        let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
        let problem = |code: ErrorCode, detail: &str| {
            Json(Problem::new(code, detail).for_request(request_id.clone()))
        };
        let input = payload.0;
        let mut errors = FieldErrors::new();
        let locale = match input
            .locale
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            None => app.default_locale(),
            Some(tag) => Locale::parse(tag).unwrap_or_else(|| {
                errors.push(("locale", FieldProblem::Unsupported));
                app.default_locale()
            }),
        };
        let draft = Draft {
            name: input.name.unwrap_or_default(),
            email: input.email.map(|email| email.0).unwrap_or_default(),
            subject: input.subject.unwrap_or_default(),
            body: input.body,
            consent: input.consent,
        };
        // Left out, the version is the current one (integrators that show the policy themselves
        // need not send it); sent empty, it is a missing field, not a changed policy.
        let policy_version = match input.policy_version {
            None => app.settings.site.policy_version.clone(),
            Some(version) => {
                if version.trim().is_empty() {
                    errors.push(("policy_version", FieldProblem::Required));
                }
                version
            }
        };
        let new = match draft.parse(locale, &policy_version) {
            Ok(new) if errors.is_empty() => new,
            parsed => {
                let mut fields = parsed.err().unwrap_or_default();
                fields.extend(errors);
                return Ok(SubmitResponse::Unprocessable(Json(
                    Problem::new(ErrorCode::ValidationFailed, "Some fields were refused.")
                        .with_errors(field_errors(&fields))
                        .for_request(request_id),
                )));
            }
        };
        let ip = client_ip(req, &app.settings.server.trusted_proxies);
        let origin = Origin {
            ip,
            captcha_answer: input.captcha_token,
            pow: input.altcha,
            tech: Some(crate::http::tech_event(
                req,
                app,
                "api",
                new.locale.code(),
                ip,
            )),
            ..Origin::default()
        };
        Ok(match messages::submit(app, origin, new).await {
            Ok(done) => SubmitResponse::Created(Json(SubmittedMessage {
                id: done.message_id,
                thread_id: done.thread_id,
                reference: done.reference.to_string(),
                thread_url: app.thread_url(&done.token),
            })),
            Err(SubmitError::RateLimited(wait)) => {
                let secs = crate::rate_limit::retry_after_secs(wait);
                SubmitResponse::TooManyRequests(
                    problem(
                        ErrorCode::RateLimited,
                        &format!("Too many submissions from this address; retry in {secs} s."),
                    ),
                    secs,
                )
            }
            Err(SubmitError::Captcha(CaptchaError::Missing)) => SubmitResponse::BadRequest(problem(
                ErrorCode::CaptchaRejected,
                "This site requires a captcha: send the hCaptcha response as captcha_token.",
            )),
            Err(SubmitError::Captcha(CaptchaError::Rejected)) => SubmitResponse::BadRequest(problem(
                ErrorCode::CaptchaRejected,
                "The captcha response was refused by the verifier.",
            )),
            Err(SubmitError::Captcha(CaptchaError::Unavailable(reason))) => {
                tracing::error!(reason = %reason, "captcha verification unavailable");
                SubmitResponse::Unavailable(problem(
                    ErrorCode::ServiceUnavailable,
                    "The captcha could not be verified right now; try again later.",
                ))
            }
            Err(SubmitError::Pow(refused)) => {
                tracing::debug!(reason = %refused, "proof of work refused");
                SubmitResponse::BadRequest(problem(
                    ErrorCode::PowRejected,
                    match refused {
                        PowError::Missing => "This site requires a proof of work: fetch a challenge from GET /api/v1/challenge, solve it and send the solution as altcha.",
                        _ => "The proof of work was not accepted: fetch a new challenge from GET /api/v1/challenge, solve it and send the new solution as altcha.",
                    },
                ))
            }
            Err(SubmitError::Refused(_)) => SubmitResponse::Unprocessable(Json(
                Problem::new(
                    ErrorCode::MessageRefused,
                    "This message cannot be accepted as written. If a person wrote it, shorten it or leave out the links and send it again.",
                )
                .for_request(request_id),
            )),
            Err(SubmitError::StalePolicy) => SubmitResponse::Unprocessable(Json(
                Problem::new(ErrorCode::ValidationFailed, "Some fields were refused.")
                    .with_errors(vec![FieldError {
                        field: "policy_version".into(),
                        code: FieldProblem::Unsupported.code().into(),
                        message: "This is not the current privacy policy version; show the visitor the current policy.".into(),
                    }])
                    .for_request(request_id),
            )),
            Err(err @ (SubmitError::Db(_) | SubmitError::Writer(_) | SubmitError::Compose(_) | SubmitError::Store(_))) => {
                tracing::error!(error = %err, "storing a message failed");
                SubmitResponse::Unavailable(problem(
                    ErrorCode::ServiceUnavailable,
                    "The message could not be stored right now; try again later.",
                ))
            }
        })
    }

    /// List conversations
    ///
    /// Conversations, newest activity first, a page at a time. For staff: an API key or a
    /// session with the role `agent` or `admin`.
    #[oai(
        path = "/v1/messages",
        method = "get",
        operation_id = "listMessages",
        tag = "ApiTags::Staff"
    )]
    #[allow(clippy::too_many_arguments)] // each query parameter is an argument in poem-openapi
    async fn list(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        _auth: StaffAuth,
        /// Only conversations with this status.
        #[oai(example = "example_status")]
        status: Query<Option<Status>>,
        /// Only conversations whose subject or messages contain this text (case-insensitive
        /// for ASCII letters).
        #[oai(example = "example_query", validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Where the page starts: `next_cursor` of the previous page; empty or left out for the
        /// first page.
        #[oai(example = "example_cursor")]
        cursor: Query<Option<String>>,
        /// How many conversations a page holds, 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> Result<ListThreadsResponse, ApiError<STAFF_READ>> {
        let query = ListQuery {
            status: status.0,
            q: q.0,
            cursor: cursor.0,
            limit: limit.0,
        };
        staff_messages::list(req, app.0, query).await
    }

    /// Read a conversation
    ///
    /// The conversation a message belongs to, with every message. For staff with the role
    /// `agent` or `admin`.
    #[oai(
        path = "/v1/messages/:id",
        method = "get",
        operation_id = "getMessage",
        tag = "ApiTags::Staff"
    )]
    async fn get(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        /// The id of any message of the conversation, or of the conversation itself.
        #[oai(example = "example_id")]
        id: Path<UuidText>,
    ) -> Result<ThreadResponse, ApiError<STAFF_READ>> {
        staff_messages::get(req, app.0, auth.principal(), &id.0.0).await
    }

    /// Set a conversation's status
    ///
    /// Sets the status of the conversation a message belongs to and returns the conversation.
    /// For staff with the role `agent` or `admin`.
    #[oai(
        path = "/v1/messages/:id",
        method = "patch",
        operation_id = "updateMessage",
        tag = "ApiTags::Staff"
    )]
    async fn update(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        /// The id of any message of the conversation, or of the conversation itself.
        #[oai(example = "example_id")]
        id: Path<UuidText>,
        update: Json<ThreadUpdate>,
    ) -> Result<UpdateThreadResponse, ApiError<STAFF_BODY>> {
        staff_messages::update(req, app.0, auth.principal(), &id.0.0, update.0).await
    }

    /// Answer a conversation
    ///
    /// Stores an answer in the conversation; the visitor gets it by mail from the support
    /// address (when they gave an address) and on their private page. For staff with the role
    /// `agent` or `admin`.
    #[oai(
        path = "/v1/messages/:id/replies",
        method = "post",
        operation_id = "replyToMessage",
        tag = "ApiTags::Staff"
    )]
    async fn reply(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        /// The id of any message of the conversation, or of the conversation itself.
        #[oai(example = "example_id")]
        id: Path<UuidText>,
        reply: Json<NewReply>,
    ) -> Result<ReplyResponse, ApiError<STAFF_BODY>> {
        staff_messages::reply(req, app.0, auth.principal(), &id.0.0, reply.0).await
    }
}
