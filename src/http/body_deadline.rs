//! A request's body must arrive within `server.body_timeout_secs` of its header: a client that
//! announces a body and then sends it a byte at a time (or never) would otherwise hold a
//! connection, a task and possibly a database connection for as long as it likes. Past the
//! deadline the body reads as an error wherever it is being read, and the client gets `408`
//! (a problem document under `/api`, the HTML error page elsewhere) on a closed connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use poem::http::{HeaderValue, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::http::ErrorCode;
use crate::http::RequestId;
use crate::http::{Problem, problem_response};
use crate::state::AppState;

pub struct BodyDeadline {
    timeout: Duration,
}

impl BodyDeadline {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<E: Endpoint> Middleware<E> for BodyDeadline {
    type Output = BodyDeadlineEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyDeadlineEndpoint {
            inner: ep,
            timeout: self.timeout,
        }
    }
}

pub struct BodyDeadlineEndpoint<E> {
    inner: E,
    timeout: Duration,
}

/// Whether the request announces a body at all (a GET without one needs no deadline).
fn has_body(req: &Request) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > 0)
}

/// `body`, failing with `TimedOut` once `timeout` has passed (and setting `expired`).
fn with_deadline(body: Body, timeout: Duration, expired: Arc<AtomicBool>) -> Body {
    let deadline = tokio::time::Instant::now() + timeout;
    let chunks = body.into_bytes_stream();
    let stream = futures_util::stream::unfold(Some(chunks), move |chunks| {
        let expired = expired.clone();
        async move {
            let mut chunks = chunks?;
            tokio::select! {
                next = chunks.next() => next.map(|chunk| (chunk, Some(chunks))),
                _ = tokio::time::sleep_until(deadline) => {
                    expired.store(true, Ordering::Release);
                    let timed_out = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body did not arrive in time",
                    );
                    Some((Err(timed_out), None))
                }
            }
        }
    });
    Body::from_bytes_stream(stream)
}

impl<E: Endpoint> Endpoint for BodyDeadlineEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        if !has_body(&req) {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let expired = Arc::new(AtomicBool::new(false));
        let body = req.take_body();
        req.set_body(with_deadline(body, self.timeout, expired.clone()));
        // What the 408 needs once the request itself has been handed on.
        let mut stand_in = Request::builder().uri(req.uri().clone()).finish();
        *stand_in.headers_mut() = req.headers().clone();
        if let Some(id) = req.extensions().get::<RequestId>() {
            stand_in.extensions_mut().insert(id.clone());
        }
        let app = req.extensions().get::<Arc<AppState>>().cloned();
        let resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        if !expired.load(Ordering::Acquire) {
            return Ok(resp);
        }
        tracing::info!(
            timeout_secs = self.timeout.as_secs(),
            "request body too slow; answered 408"
        );
        let mut timed_out = match app {
            Some(app) if !stand_in.uri().path().starts_with("/api/") => {
                crate::http::error_response(&app, &stand_in, ErrorCode::RequestTimeout)
            }
            _ => {
                let request_id = stand_in
                    .extensions()
                    .get::<RequestId>()
                    .map(|id| id.0.clone());
                problem_response(
                    Problem::new(
                        ErrorCode::RequestTimeout,
                        "The request body did not arrive in time.",
                    )
                    .for_request(request_id),
                )
            }
        };
        // The rest of the body is still on its way: this connection cannot carry another request.
        timed_out
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        Ok(timed_out)
    }
}
