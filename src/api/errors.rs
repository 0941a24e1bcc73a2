//! The failures every operation shares — no or unknown credentials, a role that may not call
//! it, a malformed or oversized body, an unavailable database — as one error type, so that an
//! operation's own response enum lists only its own outcomes and an operation returns
//! `Result<ItsResponse, ApiError<DOCUMENTED>>`.
//!
//! Most of these failures are answered before an operation runs (the authorization, body limit
//! and problem middlewares); an operation itself only ever fails with [`ApiError::unavailable`].
//! `DOCUMENTED` is the set of them (the flags below) that the operation's description lists,
//! so that each lists exactly the ones it can meet.

use std::fmt;

use poem::http::StatusCode;
use poem::{EndpointExt, IntoEndpoint, IntoResponse, Request, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};

use crate::domain::FieldProblem;
use crate::http::{ErrorCode, Problem, problem};

/// `400`: the body or a parameter did not parse.
pub const BAD_REQUEST: u16 = 1;
/// `401`: no credentials, or unknown ones.
pub const UNAUTHORIZED: u16 = 1 << 1;
/// `403` for an operation that only reads.
pub const FORBIDDEN: u16 = 1 << 2;
/// `403` for an operation that changes something (a cookie call also needs its CSRF token).
pub const FORBIDDEN_CHANGE: u16 = 1 << 3;
/// `413`: the body is over the size limit.
pub const PAYLOAD_TOO_LARGE: u16 = 1 << 4;
/// `415`: the body is not JSON.
pub const UNSUPPORTED_MEDIA_TYPE: u16 = 1 << 5;
/// `503`: the database is unavailable.
pub const UNAVAILABLE: u16 = 1 << 6;

/// A staff operation that reads.
pub const STAFF_READ: u16 = UNAUTHORIZED | FORBIDDEN | UNAVAILABLE;
/// A staff operation that changes something, without a body.
pub const STAFF_CHANGE: u16 = UNAUTHORIZED | FORBIDDEN_CHANGE | UNAVAILABLE;
/// A JSON body that may be malformed, too large or not JSON at all.
pub const JSON_BODY: u16 = BAD_REQUEST | PAYLOAD_TOO_LARGE | UNSUPPORTED_MEDIA_TYPE;
/// A staff operation that changes something with a JSON body.
pub const STAFF_BODY: u16 = STAFF_CHANGE | JSON_BODY;

/// Every shared failure with its description; [`ApiError`] documents the ones an operation
/// names.
#[derive(ApiResponse)]
pub enum Failure {
    /// Malformed JSON, a missing field or an unknown one (`malformed_request`).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No credentials, or an unknown or revoked API key.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The caller's role may not use this operation.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// The caller's role may not use this operation, or a cookie-authenticated call did not
    /// send the session's `X-CSRF-Token`.
    #[oai(status = 403, content_type = "application/problem+json")]
    ForbiddenChange(Json<Problem>),
    /// The request is over the size limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The body is not `application/json`.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// The database is unavailable; try again later.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

/// The flag of each [`Failure`], in the order of its variants.
const FLAGS: [u16; 7] = [
    BAD_REQUEST,
    UNAUTHORIZED,
    FORBIDDEN,
    FORBIDDEN_CHANGE,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    UNAVAILABLE,
];

/// A shared failure of an operation whose description lists the failures in `DOCUMENTED`
/// (boxed: a problem document is large, and every operation's `Result` carries one).
pub struct ApiError<const DOCUMENTED: u16>(Box<Failure>);

impl<const DOCUMENTED: u16> ApiError<DOCUMENTED> {
    /// `503`: `err` made the operation impossible right now. It goes to the log with `what`
    /// (what was unavailable); the caller reads `detail`.
    pub fn unavailable(req: &Request, what: &str, err: &dyn fmt::Display, detail: &str) -> Self {
        tracing::error!(error = %err, "{what}");
        Self(Box::new(Failure::Unavailable(problem(
            req,
            ErrorCode::ServiceUnavailable,
            detail,
        ))))
    }
}

impl<const DOCUMENTED: u16> ApiResponse for ApiError<DOCUMENTED> {
    fn meta() -> MetaResponses {
        let mut meta = Failure::meta();
        let mut flags = FLAGS.iter();
        meta.responses
            .retain(|_| flags.next().is_some_and(|flag| DOCUMENTED & flag != 0));
        meta
    }

    fn register(registry: &mut Registry) {
        Failure::register(registry);
    }
}

impl<const DOCUMENTED: u16> IntoResponse for ApiError<DOCUMENTED> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// An [`ApiError`] on its way out of an operation as a `poem::Error`, turned back into its
/// problem document by [`answer_failures`] before any middleware sees it.
struct Failed(Box<Failure>);

impl fmt::Debug for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Failed")
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operation failed with a problem document")
    }
}

impl std::error::Error for Failed {}

impl<const DOCUMENTED: u16> From<ApiError<DOCUMENTED>> for poem::Error {
    fn from(err: ApiError<DOCUMENTED>) -> Self {
        let status = err.0.status();
        poem::Error::new(Failed(err.0), status)
    }
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::BadRequest(_) => StatusCode::BAD_REQUEST,
            Failure::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Failure::Forbidden(_) | Failure::ForbiddenChange(_) => StatusCode::FORBIDDEN,
            Failure::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Failure::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The operations, with every [`ApiError`] they return answered as its problem document.
pub fn answer_failures(service: impl IntoEndpoint) -> impl IntoEndpoint {
    service
        .into_endpoint()
        .catch_error(|failed: Failed| async move { failed.0.into_response() })
}

/// What a refused field's problem means, in English, as problem documents say it.
pub(super) fn english(problem: FieldProblem) -> String {
    match problem {
        FieldProblem::Required => "This field is required.".into(),
        FieldProblem::TooLong { max } => format!("At most {max} characters are allowed."),
        FieldProblem::ControlCharacters => {
            "Control characters such as NUL are not allowed, nor line breaks outside a body.".into()
        }
        FieldProblem::InvalidEmail => "This is not a valid e-mail address.".into(),
        FieldProblem::Unsupported => "This value is not supported.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses<const DOCUMENTED: u16>() -> Vec<Option<u16>> {
        ApiError::<DOCUMENTED>::meta()
            .responses
            .iter()
            .map(|r| r.status)
            .collect()
    }

    #[test]
    fn each_flag_documents_its_own_failure() {
        assert_eq!(Failure::meta().responses.len(), FLAGS.len());
        assert_eq!(statuses::<BAD_REQUEST>(), [Some(400)]);
        assert_eq!(statuses::<UNAUTHORIZED>(), [Some(401)]);
        assert_eq!(statuses::<FORBIDDEN>(), [Some(403)]);
        assert_eq!(statuses::<FORBIDDEN_CHANGE>(), [Some(403)]);
        assert_eq!(statuses::<PAYLOAD_TOO_LARGE>(), [Some(413)]);
        assert_eq!(statuses::<UNSUPPORTED_MEDIA_TYPE>(), [Some(415)]);
        assert_eq!(statuses::<UNAVAILABLE>(), [Some(503)]);
        assert_eq!(
            statuses::<STAFF_BODY>(),
            [
                Some(400),
                Some(401),
                Some(403),
                Some(413),
                Some(415),
                Some(503)
            ]
        );
    }
}
