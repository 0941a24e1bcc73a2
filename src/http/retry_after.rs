//! Every `503 Service Unavailable` tells the client when to come back: the database, the
//! captcha verifier or the mail relay being away is temporary, and a `Retry-After` lets
//! browsers' users, integrators and load balancers retry instead of giving up. Answers that
//! already carry their own `Retry-After` keep it.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Seconds a client is asked to wait after a 503: long enough for a locked or restarting
/// database to come back, short enough that a visitor's retry soon succeeds.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

pub struct RetryAfter;

impl<E: Endpoint> Middleware<E> for RetryAfter {
    type Output = RetryAfterEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RetryAfterEndpoint { inner: ep }
    }
}

pub struct RetryAfterEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for RetryAfterEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let mut resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE
            && !resp.headers().contains_key(header::RETRY_AFTER)
        {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(UNAVAILABLE_RETRY_SECS),
            );
        }
        Ok(resp)
    }
}
