//! `GET /metrics` and the middleware that counts every request by its route's rule. The
//! counters themselves live in [`crate::metrics`]; the outbox figures are read from the
//! database at each scrape, so they are the same on every instance.

use std::borrow::Cow;
use std::time::Instant;

use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::metrics::OutboxFigures;
use crate::state::AppState;

/// Counts every request with its route and status, and times it.
pub struct RecordMetrics;

impl<E: Endpoint> Middleware<E> for RecordMetrics {
    type Output = RecordMetricsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RecordMetricsEndpoint { inner: ep }
    }
}

pub struct RecordMetricsEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for RecordMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let app = req.extensions().get::<std::sync::Arc<AppState>>().cloned();
        let method = method_label(req.method());
        let matched = super::authz::Matched::of(&req);
        req.extensions_mut().insert(matched);
        let route = matched.0.map(|rule| rule.path).unwrap_or("(none)");
        let started = Instant::now();
        let result = self.inner.call(req).await.map(IntoResponse::into_response);
        if let Some(app) = app {
            let status = match &result {
                Ok(resp) => resp.status(),
                Err(e) => e.status(),
            };
            app.metrics.request(
                method,
                route,
                status.as_u16(),
                started.elapsed().as_secs_f64(),
            );
        }
        result
    }
}

/// The method as a label: the standard ones without an allocation.
fn method_label(method: &poem::http::Method) -> Cow<'static, str> {
    use poem::http::Method;
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    match STANDARD.iter().find(|(m, _)| m == method) {
        Some((_, name)) => Cow::Borrowed(name),
        None => Cow::Owned(method.as_str().to_owned()),
    }
}

/// `GET /metrics`, for a scraper holding `metrics.token` as a bearer token; off (404) while
/// that key is empty.
#[poem::handler]
pub async fn scrape(req: &Request) -> Response {
    let Some(app) = req.extensions().get::<std::sync::Arc<AppState>>() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let token = app.settings.metrics.token.expose_secret();
    if token.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(sent.as_bytes().ct_eq(token.as_bytes())) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")
            .finish();
    }
    match exposition(app).await {
        Ok(text) => text
            .with_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .with_header(header::CACHE_CONTROL, "no-store")
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Why a scrape could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ExpositionError {
    #[error("reading the outbox failed: {0}")]
    Outbox(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Render(#[from] crate::metrics::RenderError),
}

/// The text exposition of this instance, with the outbox figures read now.
pub async fn exposition(app: &AppState) -> Result<String, ExpositionError> {
    let status = crate::outbox::status(&app.db).await?;
    let figures = OutboxFigures {
        pending: status.pending,
        sending: status.sending,
        sent: status.sent,
        dead: status.dead,
        oldest_pending_secs: status
            .oldest_pending
            .map(|oldest| (chrono::Utc::now() - oldest.with_timezone(&chrono::Utc)).num_seconds())
            .unwrap_or(0),
    };
    Ok(app.metrics.render(&figures)?)
}
