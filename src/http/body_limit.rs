//! Refuses request bodies over the configured size with 413, whether or not the client announced
//! the size: an announced size over the limit is refused before reading, an unannounced
//! (chunked) body is read up to the limit and refused as soon as it passes it.

use poem::http::StatusCode;
use poem::{Body, Endpoint, Error, Middleware, Request, Result};

pub struct BodyLimit {
    max_bytes: usize,
}

impl BodyLimit {
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes }
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint {
            inner: ep,
            max_bytes: self.max_bytes,
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max_bytes: usize,
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
        let announced = req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > self.max_bytes as u64) {
            return Err(too_large(self.max_bytes));
        }
        if announced != Some(0) {
            let body = req.take_body();
            let bytes = body
                .into_bytes_limit(self.max_bytes)
                .await
                .map_err(|e| match e {
                    poem::error::ReadBodyError::PayloadTooLarge => too_large(self.max_bytes),
                    other => Error::from_string(
                        format!("could not read the request body: {other}"),
                        StatusCode::BAD_REQUEST,
                    ),
                })?;
            req.set_body(Body::from(bytes));
        }
        self.inner.call(req).await
    }
}
