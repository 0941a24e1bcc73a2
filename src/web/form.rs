//! `GET /` shows the feedback form, `POST /` submits it, `GET /sent/{token}` confirms.

use askama::Template;
use chrono::Utc;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Redirect};
use poem::{Body, IntoResponse, Request, Response, handler};

use super::form_data::FormData;
use super::{App, Chrome, render, request_locale};
use crate::captcha::CaptchaError;
use crate::domain::{FieldProblem, Locale, ThreadToken};
use crate::http::ErrorCode;
use crate::http::client_ip;
use crate::i18n::Tr;
use crate::messages::{self, Draft, FieldErrors, Origin, SubmitError};
use crate::spam::pow::PowError;

/// Localized messages next to the fields, plus one for the whole form.
#[derive(Default)]
pub struct FormErrors {
    pub name: Option<String>,
    pub email: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub consent: Option<String>,
    /// The hidden field with the policy version the visitor was shown did not arrive.
    pub policy_version: Option<String>,
    pub form: Option<String>,
}

impl FormErrors {
    fn from_fields(t: &Tr, fields: &FieldErrors) -> Self {
        let mut errors = FormErrors::default();
        for (field, problem) in fields {
            let text = problem_text(t, field, *problem);
            match *field {
                "name" => errors.name = Some(text),
                "email" => errors.email = Some(text),
                "subject" => errors.subject = Some(text),
                "body" => errors.body = Some(text),
                "policy_version" => errors.policy_version = Some(text),
                _ => errors.consent = Some(text),
            }
        }
        errors.form = Some(t.get("form-errors-summary"));
        errors
    }
}

pub(crate) fn problem_text(t: &Tr, field: &str, problem: FieldProblem) -> String {
    match (field, problem) {
        ("consent", _) => t.get("error-consent"),
        ("policy_version", _) => t.get("error-policy-version-missing"),
        (_, FieldProblem::Required) => t.get("error-required"),
        (_, FieldProblem::TooLong { max }) => t.arg("error-too-long", "max", max),
        ("body", FieldProblem::ControlCharacters) => t.get("error-body-control-characters"),
        (_, FieldProblem::ControlCharacters) => t.get("error-control-characters"),
        (_, FieldProblem::InvalidEmail) => t.get("error-invalid-email"),
        (_, FieldProblem::Unsupported) => t.get("error-unsupported"),
    }
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub chrome: Chrome,
    pub draft: Draft,
    pub errors: FormErrors,
    pub policy_version: String,
    pub captcha_site_key: Option<String>,
    /// The proof-of-work widget is on the page (`spam.pow.enabled`).
    pub pow: bool,
    /// ...and a form sent without its solution is refused (`spam.pow.require`).
    pub pow_required: bool,
    pub limits: Limits,
    /// When the form was first shown, signed ([`crate::spam::form_stamp`]); a form shown again
    /// with errors keeps the visitor's first stamp.
    pub stamp: String,
}

pub struct Limits {
    pub name: usize,
    pub subject: usize,
    pub body: usize,
}

const LIMITS: Limits = Limits {
    name: crate::domain::VisitorName::MAX_CHARS,
    subject: crate::domain::Subject::MAX_CHARS,
    body: crate::domain::MessageBody::MAX_CHARS,
};

fn form_page(
    app: &App,
    locale: Locale,
    draft: Draft,
    errors: FormErrors,
    stamp: String,
) -> FormPage {
    FormPage {
        chrome: Chrome::new(app, locale),
        draft,
        errors,
        policy_version: app.settings.site.policy_version.clone(),
        captcha_site_key: app.captcha.as_ref().map(|c| c.site_key().to_owned()),
        pow: app.pow.is_some(),
        pow_required: app.pow.is_some() && app.settings.spam.pow.require,
        limits: LIMITS,
        stamp,
    }
}

#[handler]
pub async fn show(req: &Request, Data(app): Data<&App>) -> Response {
    let locale = request_locale(req, app, None);
    if app.settings.stats.record_form_views {
        let ip = client_ip(req, &app.settings.server.trusted_proxies);
        let event = crate::http::tech_event(req, app, "/", locale.code(), ip);
        // A view that cannot be counted is still shown.
        if let Err(e) =
            crate::tally::count_alone(&app.db, crate::tally::EventKind::FormView, &event).await
        {
            tracing::warn!(error = %e, "counting a form view failed");
        }
    }
    // The empty form depends on the language and the settings only: rendered once per language.
    let slot = &app.empty_forms[Locale::ALL.iter().position(|l| *l == locale).unwrap_or(0)];
    let body = match slot.get() {
        Some(body) => body.clone(),
        None => match form_page(
            app,
            locale,
            Draft::default(),
            FormErrors::default(),
            crate::spam::FORM_STAMP_SLOT.to_owned(),
        )
        .render()
        {
            Ok(body) => slot.get_or_init(|| body.into()).clone(),
            Err(err) => {
                tracing::error!(error = %err, "template rendering failed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
    };
    with_widget(
        app,
        Response::builder()
            .content_type("text/html; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-store")
            .body(stamped(
                &body,
                &crate::spam::form_stamp(&app.sealer, Utc::now()),
            )),
    )
}

/// The form page with the proof-of-work widget runs this site's scripts: its response says so,
/// and gets the policy that allows them (every other page stays script-free).
fn with_widget(app: &App, mut resp: Response) -> Response {
    if app.pow.is_some() {
        resp.extensions_mut().insert(crate::http::OwnScripts);
    }
    resp
}

/// The cached page with this response's stamp written into its slot: one copy of the page.
fn stamped(page: &bytes::Bytes, stamp: &str) -> bytes::Bytes {
    let slot = crate::spam::FORM_STAMP_SLOT.as_bytes();
    match memchr::memmem::find(page, slot) {
        Some(at) => {
            let mut out = bytes::BytesMut::with_capacity(page.len());
            out.extend_from_slice(&page[..at]);
            out.extend_from_slice(stamp.as_bytes());
            out.extend_from_slice(&page[at + slot.len()..]);
            out.freeze()
        }
        None => page.clone(),
    }
}

#[handler]
pub async fn submit(req: &Request, Data(app): Data<&App>, body: Body) -> poem::Result<Response> {
    let posted = FormData::read(req, body).await?;
    let locale = request_locale(req, app, Some(posted.get("lang")).filter(|l| !l.is_empty()));
    let lang_query = format!("?lang={}", locale.code());

    // The honeypot: hidden from people, irresistible to bots.
    if !posted.get("website").trim().is_empty() {
        let (_, token) = messages::decoy(app);
        tracing::info!("honeypot filled; nothing stored");
        return Ok(
            Redirect::see_other(format!("/sent/{}{lang_query}", token.as_str())).into_response(),
        );
    }

    let draft = posted.draft();
    let stamp: String = posted.get("shown").chars().take(64).collect();
    let t = Tr::new(locale);
    // The page always sends the version it showed; a post without one did not come from it
    // (or lost a field on the way): that is a missing field, not a changed policy.
    let policy_version = posted.get("policy_version");
    let new = match draft.parse(locale, policy_version) {
        Ok(new) if !policy_version.trim().is_empty() => new,
        parsed => {
            let mut fields = parsed.err().unwrap_or_default();
            if policy_version.trim().is_empty() {
                fields.push(("policy_version", FieldProblem::Required));
            }
            let errors = FormErrors::from_fields(&t, &fields);
            return Ok(with_widget(
                app,
                render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &form_page(app, locale, draft, errors, stamp),
                ),
            ));
        }
    };
    let ip = client_ip(req, &app.settings.server.trusted_proxies);
    let origin = Origin {
        ip,
        captcha_answer: posted
            .has("h-captcha-response")
            .then(|| posted.get("h-captcha-response").to_owned()),
        tech: Some(crate::http::tech_event(req, app, "/", locale.code(), ip)),
        // The widget's hidden field; without JavaScript it is not there at all.
        pow: posted
            .has("altcha")
            .then(|| posted.get("altcha").to_owned()),
        form_stamp: Some(stamp.clone()),
    };
    match messages::submit(app, origin, new).await {
        Ok(done) => Ok(
            Redirect::see_other(format!("/sent/{}{lang_query}", done.token.as_str()))
                .into_response(),
        ),
        Err(err) => {
            let (code, errors) = refusal(&t, &err);
            let mut resp = with_widget(
                app,
                render(code.status(), &form_page(app, locale, draft, errors, stamp)),
            );
            if let SubmitError::RateLimited(wait) = err {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_value(wait));
            }
            Ok(resp)
        }
    }
}

pub(crate) fn retry_after_value(wait: std::time::Duration) -> poem::http::HeaderValue {
    poem::http::HeaderValue::from(crate::rate_limit::retry_after_secs(wait))
}

/// How the form reports a refused submission: the status and what to say on the page. The
/// visitor's input always comes back with it.
fn refusal(t: &Tr, err: &SubmitError) -> (ErrorCode, FormErrors) {
    let form = |text: String| FormErrors {
        form: Some(text),
        ..FormErrors::default()
    };
    match err {
        SubmitError::RateLimited(wait) => (
            ErrorCode::RateLimited,
            form(t.arg("error-rate-limited", "seconds", wait.as_secs().max(1))),
        ),
        SubmitError::Captcha(CaptchaError::Missing | CaptchaError::Rejected) => {
            (ErrorCode::CaptchaRejected, form(t.get("error-captcha")))
        }
        SubmitError::Captcha(CaptchaError::Unavailable(reason)) => {
            tracing::error!(reason = %reason, "captcha verification unavailable");
            (
                ErrorCode::ServiceUnavailable,
                form(t.get("error-captcha-unavailable")),
            )
        }
        SubmitError::Pow(PowError::Missing) => {
            (ErrorCode::PowRejected, form(t.get("error-pow-required")))
        }
        SubmitError::Pow(refused) => {
            tracing::debug!(reason = %refused, "proof of work refused");
            (ErrorCode::PowRejected, form(t.get("error-pow")))
        }
        SubmitError::Refused(_) => (ErrorCode::MessageRefused, form(t.get("error-refused"))),
        SubmitError::StalePolicy => (
            ErrorCode::ValidationFailed,
            FormErrors {
                consent: Some(t.get("error-stale-policy")),
                form: Some(t.get("form-errors-summary")),
                ..FormErrors::default()
            },
        ),
        SubmitError::Db(_)
        | SubmitError::Writer(_)
        | SubmitError::Compose(_)
        | SubmitError::Store(_) => {
            tracing::error!(error = %err, "storing a message failed");
            (
                ErrorCode::ServiceUnavailable,
                form(t.get("error-text-unavailable")),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "sent.html")]
pub struct SentPage {
    pub chrome: Chrome,
    pub reference: String,
    pub thread_url: String,
    pub thread_path: String,
}

#[handler]
pub async fn sent(
    req: &Request,
    Data(app): Data<&App>,
    Path(token): Path<String>,
) -> poem::Result<Response> {
    let token = ThreadToken::parse(&token)
        .ok_or_else(|| poem::Error::from_status(StatusCode::NOT_FOUND))?;
    let reference = messages::confirmation_reference(app, &token)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "looking up a confirmation failed");
            poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
        })?;
    let locale = request_locale(req, app, None);
    let chrome = Chrome::new(app, locale);
    let thread_path = format!("/t/{}{}", token.as_str(), chrome.lang_query());
    Ok(render(
        StatusCode::OK,
        &SentPage {
            chrome,
            reference: reference.to_string(),
            thread_url: app.thread_url(&token),
            thread_path,
        },
    ))
}
