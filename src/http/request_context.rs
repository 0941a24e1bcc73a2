//! Gives every request an id (returned as `X-Request-Id`), runs it inside a tracing span that
//! carries the id, and logs one line when it completes. Nothing personal is logged: no client
//! IP, no query string, and private thread tokens are cut out of paths.

use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;
use uuid::Uuid;

/// The id of the current request, stored in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub struct RequestContext;

const X_REQUEST_ID: poem::http::HeaderName = poem::http::HeaderName::from_static("x-request-id");

impl<E: Endpoint> Middleware<E> for RequestContext {
    type Output = RequestContextEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestContextEndpoint { inner: ep }
    }
}

pub struct RequestContextEndpoint<E> {
    inner: E,
}

/// Paths that carry a secret (`/t/{token}`, `/sent/{token}`) are logged without it.
fn loggable_path(path: &str) -> String {
    for prefix in ["/t/", "/sent/"] {
        if let Some(rest) = path.strip_prefix(prefix)
            && !rest.is_empty()
        {
            return format!("{prefix}…");
        }
    }
    path.chars().take(200).collect()
}

impl<E: Endpoint> Endpoint for RequestContextEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let id = Uuid::now_v7().simple().to_string();
        req.extensions_mut().insert(RequestId(id.clone()));
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %loggable_path(req.uri().path()),
        );
        async move {
            let started = Instant::now();
            let mut resp = match self.inner.call(req).await {
                Ok(resp) => resp.into_response(),
                Err(err) => err.into_response(),
            };
            let status = resp.status().as_u16();
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            if status >= 500 {
                tracing::error!(status, latency_ms, "request failed");
            } else {
                tracing::info!(status, latency_ms, "request completed");
            }
            if let Ok(value) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert(X_REQUEST_ID, value);
            }
            Ok(resp)
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn thread_tokens_never_reach_the_log() {
        assert_eq!(loggable_path("/t/abcdef"), "/t/…");
        assert_eq!(loggable_path("/sent/abcdef"), "/sent/…");
        assert_eq!(loggable_path("/api/v1/messages"), "/api/v1/messages");
    }
}
