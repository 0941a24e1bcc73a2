//! The JSON API under `/api`: one `XxxApi` struct per file, combined into one `OpenApiService`
//! whose description is served at `/api/openapi.json` and browsable at `/api/docs`.
//! Every error under `/api` is an RFC 9457 problem document.

mod api_keys;
mod audit;
mod challenge;
mod disclosures;
mod errors;
mod formats;
mod health;
mod inbound;
mod messages;
mod staff_auth;
mod staff_messages;
mod stats;
mod tags;
mod transparency;

use poem::{EndpointExt, IntoEndpoint, Route, get};
use poem_openapi::OpenApiService;

use crate::http::{ApiErrors, BodyLimit};

pub use health::{healthz, readyz};

type Apis = (
    messages::MessagesApi,
    challenge::ChallengeApi,
    api_keys::ApiKeysApi,
    audit::AuditApi,
    stats::StatsApi,
    disclosures::DisclosuresApi,
    transparency::TransparencyApi,
    inbound::InboundApi,
);

pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        Apis::default(),
        "Sealpost API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Submit feedback messages to Sealpost. Contact data you send is sealed (encrypted) at \
         once and never shown to anyone; the visitor follows the conversation through the \
         private `thread_url` returned on success. Where the site defends with a proof of \
         work, fetch a challenge from `GET /v1/challenge` and send the solved one as `altcha`: \
         without it a new conversation is held for review (or refused, with \
         `spam.pow.require`).\n\n\
         The staff API reads and answers conversations (`GET /v1/messages`, \
         `GET`/`PATCH /v1/messages/{id}`, `POST /v1/messages/{id}/replies`; roles `agent` and \
         `admin`), manages API keys (`/v1/api-keys`; role `admin`) and reads the hash-chained audit \
         log (`/v1/audit`, `/v1/audit/verify`; roles `legal` and `admin`), and runs the \
         disclosure workflow and legal holds (`/v1/disclosures`, `/v1/legal-holds`; role \
         `legal`). The transparency report (`/v1/transparency`) is public. Authenticate with an \
         API key an administrator created, as `Authorization: Bearer spk_...`, or with the \
         `sealpost_session` cookie of a signed-in staff member; cookie calls that change \
         something must send the session's CSRF token as `X-CSRF-Token`. Without valid \
         credentials the answer is 401, with a role that may not use the operation 403. \
         Staff see the visitor's name and a relay alias, never their address.\n\n\
         `POST /v1/messages` and `POST /v1/messages/{id}/replies` accept an \
         `Idempotency-Key` header (1 to 255 characters): a retry with the same key and body \
         gets the first answer again, byte for byte, with `Idempotent-Replayed: true`, and does \
         nothing twice; the same key with another body is a 422. Keys are kept for a day.\n\n\
         Errors are `application/problem+json` documents (RFC 9457) with a stable `code`.",
    )
    .server("/api")
}

/// `/api/...`: the operations, the OpenAPI document and the Swagger UI.
pub fn routes(max_request_bytes: usize, max_mail_bytes: usize) -> impl IntoEndpoint {
    let service = service();
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    Route::new()
        .at("/openapi.json", get(spec))
        .nest("/docs", docs)
        .nest("/", errors::answer_failures(service))
        .with(
            BodyLimit::new(max_request_bytes)
                .allow("/api/v1/inbound", max_mail_bytes)
                .allow(
                    "/api/v1/disclosures",
                    crate::legal::request_limit("/api/v1/disclosures", max_request_bytes),
                ),
        )
        .with(ApiErrors)
}

#[cfg(test)]
mod tests {
    /// quick-xml reaches Sealpost only through poem-openapi (deny.toml ignores its two
    /// advisories for that reason): no operation may take or give XML.
    #[test]
    fn no_operation_takes_or_gives_xml() {
        let spec = super::service().spec();
        let document: serde_json::Value = serde_json::from_str(&spec).expect("the document");
        let mut content_types = Vec::new();
        for operations in document["paths"].as_object().expect("paths").values() {
            for operation in operations.as_object().expect("operations").values() {
                if let Some(body) = operation["requestBody"]["content"].as_object() {
                    content_types.extend(body.keys().cloned());
                }
                for response in operation["responses"]
                    .as_object()
                    .expect("responses")
                    .values()
                {
                    if let Some(content) = response["content"].as_object() {
                        content_types.extend(content.keys().cloned());
                    }
                }
            }
        }
        assert!(content_types.len() > 20, "read {content_types:?}");
        assert!(
            content_types
                .iter()
                .any(|t| t.starts_with("application/json")),
            "{content_types:?}"
        );
        let xml: Vec<_> = content_types.iter().filter(|t| t.contains("xml")).collect();
        assert!(xml.is_empty(), "operations that take or give XML: {xml:?}");
    }
}
