//! Refuses request bodies over the configured size with 413, whether or not the client announced
//! the size: an announced size over the limit is refused before reading, an unannounced
//! (chunked) body is read up to the limit and refused as soon as it passes it.

use poem::http::StatusCode;
use poem::{Body, Endpoint, Error, Middleware, Request, Result};
use tokio::io::AsyncReadExt;

pub struct BodyLimit {
    max_bytes: usize,
    exceptions: Vec<(&'static str, usize)>,
}

impl BodyLimit {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            exceptions: Vec::new(),
        }
    }

    /// A different limit for one path (as the client sent it), such as inbound mail.
    pub fn allow(mut self, path: &'static str, max_bytes: usize) -> Self {
        self.exceptions.push((path, max_bytes));
        self
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint {
            inner: ep,
            max_bytes: self.max_bytes,
            exceptions: self.exceptions.clone(),
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max_bytes: usize,
    exceptions: Vec<(&'static str, usize)>,
}

/// Reads and forgets what is left of a refused body, so that the client, still sending, gets
/// the refusal (413, 401, 403, ...) instead of a reset connection: a server that closes a
/// connection with unread data makes the kernel answer with a reset, and the client may lose
/// the answer. Bounded by the limit itself plus 1 MiB: a body just over a large limit (a
/// disclosure request's order copy) is read to its end, no more is read than an accepted
/// request could cost, and a client sending far more is cut off.
pub(super) async fn drain(body: Body, max_bytes: usize) {
    const DRAIN_SLACK: u64 = 1 << 20;
    let mut reader = body.into_async_read().take(max_bytes as u64 + DRAIN_SLACK);
    let _ = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await;
}

fn too_large(max: usize) -> Error {
    Error::from_string(
        format!("request body is larger than {max} bytes"),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let max_bytes = self
            .exceptions
            .iter()
            .find(|(path, _)| req.original_uri().path() == *path)
            .map_or(self.max_bytes, |(_, max)| *max);
        let announced = req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > max_bytes as u64) {
            drain(req.take_body(), max_bytes).await;
            return Err(too_large(max_bytes));
        }
        if announced != Some(0) {
            let mut reader = req.take_body().into_async_read();
            let mut buffer = Vec::with_capacity(announced.unwrap_or(8192).min(65536) as usize);
            let read = (&mut reader)
                .take(max_bytes as u64 + 1)
                .read_to_end(&mut buffer)
                .await
                .map_err(|e| {
                    Error::from_string(
                        format!("could not read the request body: {e}"),
                        StatusCode::BAD_REQUEST,
                    )
                })?;
            if read > max_bytes {
                drain(Body::from_async_read(reader), max_bytes).await;
                return Err(too_large(max_bytes));
            }
            req.set_body(Body::from(buffer));
        }
        self.inner.call(req).await
    }
}
