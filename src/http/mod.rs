//! HTTP plumbing shared by every front door: the server loop with its header timeout, request
//! ids and request logging, security headers, the body size limit and deadline, `Retry-After`
//! on every 503, and the client IP as seen through trusted proxies only.

mod body_deadline;
mod body_limit;
mod client_ip;
pub mod idempotency;
mod request_context;
mod retry_after;
mod security_headers;
pub mod server;

pub use body_deadline::BodyDeadline;
pub use body_limit::BodyLimit;
pub use client_ip::client_ip;
pub use idempotency::Idempotency;
pub use request_context::{RequestContext, RequestId};
pub use retry_after::{RetryAfter, UNAVAILABLE_RETRY_SECS};
pub use security_headers::SecurityHeaders;
