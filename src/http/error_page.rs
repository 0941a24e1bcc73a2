//! Turns every error under the page routes (unknown path, wrong method, oversized body, a
//! failed service call) into a localized HTML page with the right status.

use poem::web::Data;
use poem::{Endpoint, FromRequest, IntoResponse, Middleware, Request, Response, Result};

use super::page::{Chrome, render, request_locale};
use super::{ErrorCode, RequestId};
use crate::state::{App, AppState};

#[derive(askama::Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub status: u16,
    pub title: String,
    pub detail: String,
    pub request_id: String,
}

impl ErrorPage {
    pub fn new(chrome: Chrome, code: ErrorCode, request_id: String) -> Self {
        let t = &chrome.t;
        let (title, detail) = match code {
            ErrorCode::NotFound => (
                t.get("error-title-not-found"),
                t.get("error-text-not-found"),
            ),
            ErrorCode::PayloadTooLarge => (
                t.get("error-title-too-large"),
                t.get("error-text-too-large"),
            ),
            ErrorCode::RequestTimeout => {
                (t.get("error-title-timeout"), t.get("error-text-timeout"))
            }
            ErrorCode::RateLimited => (
                t.get("error-title-rate-limited"),
                t.get("error-text-rate-limited"),
            ),
            ErrorCode::Forbidden => (
                t.get("error-title-forbidden"),
                t.get("error-text-forbidden"),
            ),
            ErrorCode::ServiceUnavailable => (
                t.get("error-title-unavailable"),
                t.get("error-text-unavailable"),
            ),
            ErrorCode::MalformedRequest
            | ErrorCode::Unauthorized
            | ErrorCode::UnsupportedMediaType
            | ErrorCode::MethodNotAllowed
            | ErrorCode::Conflict
            | ErrorCode::ValidationFailed
            | ErrorCode::CaptchaRejected
            | ErrorCode::PowRejected
            | ErrorCode::MessageRefused => (
                t.get("error-title-bad-request"),
                t.get("error-text-bad-request"),
            ),
            ErrorCode::Internal => (t.get("error-title-internal"), t.get("error-text-internal")),
        };
        Self {
            status: code.status().as_u16(),
            chrome,
            title,
            detail,
            request_id,
        }
    }
}

/// An HTML error page for `code`, for refusals decided outside the page routes.
pub fn error_response(app: &AppState, req: &Request, code: ErrorCode) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let locale = request_locale(req, app, None);
    render(
        code.status(),
        &ErrorPage::new(Chrome::new(app, locale), code, request_id),
    )
}

pub struct WebErrors;

impl<E: Endpoint> Middleware<E> for WebErrors {
    type Output = WebErrorsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        WebErrorsEndpoint { inner: ep }
    }
}

pub struct WebErrorsEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for WebErrorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        let app = <Data<&App>>::from_request_without_body(&req)
            .await?
            .0
            .clone();
        let locale = request_locale(&req, &app, None);
        match self.inner.call(req).await {
            Ok(resp) => Ok(resp.into_response()),
            Err(err) => {
                let status = err.status();
                if status.is_server_error() {
                    tracing::error!(error = %err, "page request failed");
                } else {
                    // The visitor's own input may be quoted in the error: keep it out of the log.
                    tracing::debug!(%status, "page request refused");
                }
                let code = ErrorCode::from_status(status);
                let page = ErrorPage::new(Chrome::new(&app, locale), code, request_id);
                Ok(render(code.status(), &page))
            }
        }
    }
}
