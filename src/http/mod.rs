//! HTTP plumbing shared by every front door: the server loop with its header timeout, request
//! ids and request logging, security headers, the body size limit and deadline, `Retry-After`
//! on every 503, and the client IP as seen through trusted proxies only.

pub mod authz;
mod body_deadline;
mod body_limit;
mod client_ip;
mod error_code;
mod error_page;
pub mod idempotency;
pub mod metrics;
pub mod page;
pub mod problem;
mod request_context;
mod retry_after;
mod security_headers;
pub mod server;
mod tech_event;

pub use body_deadline::BodyDeadline;
pub use body_limit::BodyLimit;
pub use client_ip::client_ip;
pub use error_code::ErrorCode;
pub use error_page::{WebErrors, error_response};
pub use idempotency::Idempotency;
pub use problem::{ApiErrors, FieldError, Problem, problem, problem_response, refused_field};
pub use request_context::{RequestContext, RequestId};
pub use retry_after::{RetryAfter, UNAVAILABLE_RETRY_SECS};
pub use security_headers::{OwnScripts, SecurityHeaders};
pub use tech_event::tech_event;
