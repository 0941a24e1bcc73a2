//! HTTP plumbing shared by every front door: request ids and request logging, security headers,
//! the body size limit, and the client IP as seen through trusted proxies only.

mod body_limit;
mod client_ip;
pub mod idempotency;
mod request_context;
mod security_headers;

pub use body_limit::BodyLimit;
pub use client_ip::client_ip;
pub use idempotency::Idempotency;
pub use request_context::{RequestContext, RequestId};
pub use security_headers::SecurityHeaders;
