//! Static pages and assets: the privacy policy, the transparency report, the stylesheet, the
//! icon, and the vendored proof-of-work widget with the script that starts it.

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{IntoResponse, Request, Response, handler};

use super::{App, Chrome, render, request_locale};

#[derive(Template)]
#[template(path = "privacy.html")]
pub struct PrivacyPage<'a> {
    pub chrome: Chrome,
    pub policy_version: &'a str,
    /// The policy's text, cleaned HTML, rendered once at start-up.
    pub text: &'a str,
    /// The language of the text when it is not the page's (no text in the asked language).
    pub text_language: Option<&'static str>,
}

#[handler]
pub async fn privacy(req: &Request, Data(app): Data<&App>) -> Response {
    let locale = request_locale(req, app, None);
    let page = app.policy.page(locale);
    render(
        StatusCode::OK,
        &PrivacyPage {
            chrome: Chrome::new(app, locale),
            policy_version: &app.settings.site.policy_version,
            text: &page.html,
            text_language: (page.language != locale).then(|| page.language.code()),
        },
    )
}

/// One line of the transparency report: a label and its published count.
pub struct ReportLine {
    pub label: String,
    pub value: String,
}

pub struct ReportPeriod {
    pub label: String,
    pub received: String,
    pub instruments: Vec<ReportLine>,
    pub outcomes: Vec<ReportLine>,
    pub subjects: String,
}

#[derive(Template)]
#[template(path = "transparency.html")]
pub struct TransparencyPage {
    pub chrome: Chrome,
    pub threshold: i64,
    pub periods: Vec<ReportPeriod>,
}

#[handler]
pub async fn transparency(req: &Request, Data(app): Data<&App>) -> poem::Result<Response> {
    use crate::legal::transparency::{self, Counted};
    let locale = request_locale(req, app, None);
    let chrome = Chrome::new(app, locale);
    let report = transparency::report(app).await.map_err(|e| {
        tracing::error!(error = %e, "the transparency report failed");
        poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
    })?;
    let t = chrome.t;
    let shown = |c: Counted| match c {
        Counted::Exact(n) => n.to_string(),
        Counted::FewerThan(n) => t.arg("transparency-fewer-than", "n", n),
    };
    let periods = report
        .periods
        .into_iter()
        .map(|p| ReportPeriod {
            label: p.label,
            received: shown(p.received),
            instruments: p
                .by_instrument
                .into_iter()
                .map(|(i, c)| ReportLine {
                    label: t.get(&format!("instrument-{}", i.as_str())),
                    value: shown(c),
                })
                .collect(),
            outcomes: [
                ("transparency-fully", p.fully),
                ("transparency-partly", p.partly),
                ("transparency-rejected", p.rejected),
                ("transparency-withdrawn", p.withdrawn),
                ("transparency-pending", p.pending),
            ]
            .into_iter()
            .map(|(id, c)| ReportLine {
                label: t.get(id),
                value: shown(c),
            })
            .collect(),
            subjects: shown(p.subjects),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &TransparencyPage {
            chrome,
            threshold: report.threshold,
            periods,
        },
    ))
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

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The files of the vendored ALTCHA widget (`templates/static/altcha/`, pinned in its
/// `SHA256SUMS`), by name, with their content types.
const WIDGET_FILES: &[(&str, &str, &str)] = &[
    (
        "altcha.js",
        include_str!("../../templates/static/altcha/altcha.js"),
        JAVASCRIPT,
    ),
    (
        "altcha.css",
        include_str!("../../templates/static/altcha/altcha.css"),
        "text/css; charset=utf-8",
    ),
    (
        "pbkdf2.js",
        include_str!("../../templates/static/altcha/pbkdf2.js"),
        JAVASCRIPT,
    ),
    (
        "ru.js",
        include_str!("../../templates/static/altcha/ru.js"),
        JAVASCRIPT,
    ),
    (
        "kk.js",
        include_str!("../../templates/static/altcha/kk.js"),
        JAVASCRIPT,
    ),
    (
        "LICENSE.txt",
        include_str!("../../templates/static/altcha/LICENSE.txt"),
        "text/plain; charset=utf-8",
    ),
];

#[handler]
pub async fn widget_file(Path(file): Path<String>) -> poem::Result<Response> {
    let (_, body, content_type) = WIDGET_FILES
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(super::not_found)?;
    Ok(body
        .with_content_type(*content_type)
        .with_header(header::CACHE_CONTROL, "public, max-age=3600")
        .into_response())
}

const POW_SCRIPT: &str = include_str!("../../templates/static/pow.js");

#[handler]
pub async fn pow_script() -> Response {
    POW_SCRIPT
        .with_content_type(JAVASCRIPT)
        .with_header(header::CACHE_CONTROL, "public, max-age=3600")
        .into_response()
}
