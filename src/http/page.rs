//! What every HTML page shares, whichever door serves it: the language it is in, its chrome
//! (translator, site name, language switcher), rendering with `no-store`, and the redirect and
//! refusal answers of the page routes.

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::Html;
use poem::{IntoResponse, Request, Response};

use crate::domain::Locale;
use crate::i18n::Tr;
use crate::state::AppState;

/// The locale a page request asks for: `?lang=`, then `Accept-Language`, then the default.
pub fn request_locale(req: &Request, app: &AppState, explicit: Option<&str>) -> Locale {
    let from_query = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "lang").map(|(_, v)| v));
    Locale::negotiate(
        explicit.or(from_query.as_deref()),
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        app.default_locale(),
    )
}

/// Parts every page shares: translator, site name, the language switcher.
pub struct Chrome {
    pub t: Tr,
    pub site_name: String,
    pub languages: Vec<LanguageLink>,
}

pub struct LanguageLink {
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

impl Chrome {
    pub fn new(app: &AppState, locale: Locale) -> Self {
        Self {
            t: Tr::new(locale),
            site_name: app.settings.site.name.clone(),
            languages: Locale::ALL
                .iter()
                .map(|l| LanguageLink {
                    code: l.code(),
                    name: l.native_name(),
                    current: *l == locale,
                })
                .collect(),
        }
    }

    /// `?lang=xx` when the page language is not what the browser would get anyway.
    pub fn lang_query(&self) -> String {
        format!("?lang={}", self.t.lang())
    }
}

/// Renders a template into an HTML response with `status`.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => Html(body)
            .with_status(status)
            .with_header(header::CACHE_CONTROL, "no-store")
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "template rendering failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `303 See Other` to `to`, not cached: where a form post or a refused page sends the browser.
pub fn see_other(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

/// A page that does not exist (an unknown link looks like any other unknown page).
pub fn not_found() -> poem::Error {
    poem::Error::from_status(StatusCode::NOT_FOUND)
}

/// A page that cannot be served now; the cause goes to the log, the person gets a 503 page.
pub fn unavailable(e: impl std::fmt::Display) -> poem::Error {
    tracing::error!(error = %e, "page request failed");
    poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
}
