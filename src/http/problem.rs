//! RFC 9457 problem documents, and the middleware that turns every error under `/api` (routing,
//! body limit, payload parsing, failures) into one.

use poem::http::header;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use poem_openapi::Object;

use super::{ErrorCode, RequestId};

/// A problem document (RFC 9457).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct Problem {
    /// A URI naming the kind of problem; stable, one per `code`.
    #[oai(rename = "type")]
    pub kind: String,
    /// A short English summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in English.
    pub detail: String,
    /// A stable machine-readable code: `validation_failed`, `malformed_request`,
    /// `captcha_rejected`, `message_refused`, `unauthorized`, `forbidden`, `payload_too_large`, `request_timeout`,
    /// `unsupported_media_type`, `rate_limited`, `not_found`, `method_not_allowed`, `conflict`,
    /// `service_unavailable`, `internal_error`.
    pub code: String,
    /// For `validation_failed`: one entry per field that was refused.
    /// Absent when empty, so it is not a required property.
    #[oai(default, skip_serializing_if_is_empty)]
    pub errors: Vec<FieldError>,
    /// The id of this request, also sent as `X-Request-Id`; quote it when reporting a problem.
    #[oai(nullable, skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

/// One refused field.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct FieldError {
    /// The field's name in the request.
    pub field: String,
    /// `required`, `too_long`, `control_characters`, `invalid_email` or `unsupported`; for
    /// disclosure requests also `invalid_date`, `in_future`, `in_past`, `before_order`,
    /// `invalid_subject`, `too_many`, `too_large`, `invalid_base64`, `out_of_scope`, `no_match`.
    pub code: String,
    /// What is wrong, in English.
    pub message: String,
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:sealpost:problem:{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            detail: detail.into(),
            code: code.as_str().to_owned(),
            errors: Vec::new(),
            request_id: None,
        }
    }

    pub fn for_request(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }
}

pub struct ApiErrors;

impl<E: Endpoint> Middleware<E> for ApiErrors {
    type Output = ApiErrorsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        ApiErrorsEndpoint { inner: ep }
    }
}

pub struct ApiErrorsEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for ApiErrorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
        Ok(match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => {
                let status = err.status();
                let code = ErrorCode::from_status(status);
                let detail = if status.is_server_error() {
                    tracing::error!(error = %err, "API request failed");
                    "The request could not be completed; quote the request id when reporting this."
                        .to_owned()
                } else {
                    // The client's own input may be quoted in the error: keep it out of the log.
                    tracing::debug!(%status, "API request refused");
                    err.to_string()
                };
                let mut problem = Problem::new(code, detail).for_request(request_id);
                problem.status = status.as_u16();
                problem_response(problem)
            }
        })
    }
}

/// A problem about `req`, carrying its request id: what every operation answers with.
pub fn problem(
    req: &Request,
    code: ErrorCode,
    detail: &str,
) -> poem_openapi::payload::Json<Problem> {
    let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
    poem_openapi::payload::Json(Problem::new(code, detail).for_request(request_id))
}

/// A 422 about one refused field of `req`.
pub fn refused_field(
    req: &Request,
    field: &str,
    code: crate::domain::FieldProblem,
    message: impl Into<String>,
) -> poem_openapi::payload::Json<Problem> {
    let mut refused = problem(
        req,
        ErrorCode::ValidationFailed,
        "Some fields were refused.",
    );
    refused.0.errors = vec![FieldError {
        field: field.to_owned(),
        code: code.code().to_owned(),
        message: message.into(),
    }];
    refused
}

/// Serializes a problem with its content type and status.
pub fn problem_response(problem: Problem) -> Response {
    let status = poem::http::StatusCode::from_u16(problem.status)
        .unwrap_or(poem::http::StatusCode::INTERNAL_SERVER_ERROR);
    let body = poem_openapi::types::ToJSON::to_json_string(&problem);
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/problem+json")
        .body(body)
}
