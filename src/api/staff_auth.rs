//! How staff operations authenticate, as the API description tells it: an API key sent as a
//! bearer token, or a signed-in session's cookie. The [`Authorize`](crate::http::authz::Authorize)
//! middleware has already checked either one (and the role, and the CSRF token of cookie
//! calls) before an operation runs; these schemes only describe that and hand the operation
//! the [`Principal`] it found.

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};

use crate::auth::Principal;

/// An API key (`spk_...`) created by an administrator, sent as `Authorization: Bearer spk_...`.
/// Its role decides what it may do.
#[derive(SecurityScheme)]
#[oai(
    rename = "api_key",
    ty = "bearer",
    bearer_format = "spk_...",
    checker = "principal_of_key"
)]
pub struct ApiKeyAuth(Principal);

/// The `sealpost_session` cookie of a signed-in staff member (as the staff pages set it).
/// Requests that change something must also send the session's CSRF token as `X-CSRF-Token`.
#[derive(SecurityScheme)]
#[oai(
    rename = "session_cookie",
    ty = "api_key",
    key_name = "sealpost_session",
    key_in = "cookie",
    checker = "principal_of_session"
)]
pub struct SessionAuth(Principal);

/// Either credential.
#[derive(SecurityScheme)]
pub enum StaffAuth {
    /// A bearer API key.
    ApiKey(ApiKeyAuth),
    /// A signed-in session's cookie.
    Session(SessionAuth),
}

impl StaffAuth {
    /// Who is calling.
    pub fn principal(&self) -> &Principal {
        match self {
            StaffAuth::ApiKey(ApiKeyAuth(p)) | StaffAuth::Session(SessionAuth(p)) => p,
        }
    }
}

async fn principal_of_key(req: &Request, _: Bearer) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

async fn principal_of_session(req: &Request, _: ApiKey) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}
