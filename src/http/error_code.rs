//! Error codes of the HTTP edge. Each code is stable (clients match on it) and maps to exactly
//! one status; the words a person reads are chosen by the front door (JSON or HTML) and are
//! separate from what goes to the log.

use poem::http::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MalformedRequest,
    Unauthorized,
    Forbidden,
    ValidationFailed,
    CaptchaRejected,
    PowRejected,
    MessageRefused,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    RateLimited,
    ServiceUnavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "malformed_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::CaptchaRejected => "captcha_rejected",
            ErrorCode::PowRejected => "pow_rejected",
            ErrorCode::MessageRefused => "message_refused",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::Internal => "internal_error",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::MalformedRequest | ErrorCode::CaptchaRejected | ErrorCode::PowRejected => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::ValidationFailed | ErrorCode::MessageRefused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code for an error that poem raised on its own (routing, extractors, limits).
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::CONFLICT => ErrorCode::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::ValidationFailed,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServiceUnavailable,
            s if s.is_client_error() => ErrorCode::MalformedRequest,
            _ => ErrorCode::Internal,
        }
    }

    /// English title used in problem documents.
    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "The request could not be read",
            ErrorCode::Unauthorized => "Credentials are missing or wrong",
            ErrorCode::Forbidden => "Not allowed",
            ErrorCode::ValidationFailed => "Some fields are not valid",
            ErrorCode::CaptchaRejected => "The captcha was not solved",
            ErrorCode::PowRejected => "The proof of work was not accepted",
            ErrorCode::MessageRefused => "The message cannot be accepted",
            ErrorCode::NotFound => "Not found",
            ErrorCode::MethodNotAllowed => "Method not allowed",
            ErrorCode::Conflict => "The request's state does not allow this",
            ErrorCode::PayloadTooLarge => "The request is too large",
            ErrorCode::RequestTimeout => "The request took too long to arrive",
            ErrorCode::UnsupportedMediaType => "Unsupported content type",
            ErrorCode::RateLimited => "Too many requests",
            ErrorCode::ServiceUnavailable => "Service temporarily unavailable",
            ErrorCode::Internal => "Internal error",
        }
    }
}
