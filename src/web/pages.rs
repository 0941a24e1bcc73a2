//! Static pages and assets: the privacy policy, the stylesheet, the icon.

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{IntoResponse, Request, Response, handler};

use super::{App, Chrome, render, request_locale};

#[derive(Template)]
#[template(path = "privacy.html")]
pub struct PrivacyPage {
    pub chrome: Chrome,
    pub policy_version: String,
}

#[handler]
pub async fn privacy(req: &Request, Data(app): Data<&App>) -> Response {
    let locale = request_locale(req, app, None);
    render(
        StatusCode::OK,
        &PrivacyPage {
            chrome: Chrome::new(app, locale),
            policy_version: app.settings.site.policy_version.clone(),
        },
    )
}

const STYLESHEET: &str = include_str!("../../templates/static/sealpost.css");
const FAVICON: &str = include_str!("../../templates/static/favicon.svg");

#[handler]
pub async fn stylesheet() -> Response {
    STYLESHEET
        .with_content_type("text/css; charset=utf-8")
        .with_header(header::CACHE_CONTROL, "public, max-age=3600")
        .into_response()
}

#[handler]
pub async fn favicon() -> Response {
    FAVICON
        .with_content_type("image/svg+xml")
        .with_header(header::CACHE_CONTROL, "public, max-age=86400")
        .into_response()
}
