//! Signing in (password, then a second factor when one is set up; "Keep me signed in on this
//! device" off by default), signing out, asking for a reset link ("Forgot your password?"),
//! and setting a password through a one-time reset link.

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Body, Request, Response, handler};
use secrecy::SecretString;
use serde::Deserialize;

use super::{
    App, Frame, form_token, landing, safe_next, see_other, session, session_cookie, unavailable,
    with_cookie,
};
use crate::auth::session::{self as sessions, Device, Opening, Stage};
use crate::auth::{self, PasswordError, ResetRequest, SignIn};
use crate::http::client_ip;
use crate::web::form_data::FormData;
use crate::web::render;

#[derive(Template)]
#[template(path = "staff/signin.html")]
struct SignInPage {
    frame: Frame,
    csrf: String,
    next: String,
    login: String,
    remember: bool,
    remember_days: i64,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
    done: Option<String>,
}

#[handler]
pub async fn form(
    req: &Request,
    Data(app): Data<&App>,
    Query(query): Query<NextQuery>,
) -> Response {
    if let Some(session) = req.extensions().get::<sessions::Session>()
        && session.stage == Stage::Full
    {
        return see_other(landing(&session.staff.role));
    }
    let notice = match query.done.as_deref() {
        Some("signout") => Some("You are signed out.".to_owned()),
        Some("password") => Some("Your password is set. Sign in with it.".to_owned()),
        _ => None,
    };
    render(
        StatusCode::OK,
        &SignInPage {
            frame: Frame::signed_out(app),
            csrf: form_token(req),
            next: query.next.unwrap_or_default(),
            login: String::new(),
            remember: false,
            remember_days: app.settings.staff.remember_days,
            notice,
            error: None,
        },
    )
}

/// Whether a checkbox was ticked: browsers send `on` (or the box's value) only when it is.
fn ticked(value: &str) -> bool {
    matches!(value, "on" | "1" | "true" | "yes")
}

#[handler]
pub async fn submit(req: &Request, Data(app): Data<&App>, body: Body) -> poem::Result<Response> {
    let posted = FormData::read(req, body).await?;
    let login = posted.get("login").trim().to_owned();
    let next = posted.get("next").to_owned();
    let password = SecretString::from(posted.get("password").to_owned());
    let remember = ticked(posted.get("remember"));
    let ip = client_ip(req, &app.settings.server.trusted_proxies);
    let refuse = |status: StatusCode, error: String| {
        render(
            status,
            &SignInPage {
                frame: Frame::signed_out(app),
                csrf: form_token(req),
                next: next.clone(),
                login: login.clone(),
                remember,
                remember_days: app.settings.staff.remember_days,
                notice: None,
                error: Some(error),
            },
        )
    };
    if login.is_empty() || posted.get("password").is_empty() {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your login and password.".into(),
        ));
    }
    let opening = Opening {
        remember,
        device: Device::from_user_agent(
            req.headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        ),
    };
    match auth::sign_in(app, &login, password, ip, &opening)
        .await
        .map_err(unavailable)?
    {
        SignIn::Session(new, stage, role) => {
            if let Some(old) = req.extensions().get::<sessions::Session>() {
                sessions::end(&app.db, &old.id_hash)
                    .await
                    .map_err(unavailable)?;
            }
            let to = after_sign_in(stage, &next, role);
            Ok(with_cookie(see_other(&to), session_cookie(app, &new)))
        }
        SignIn::Throttled(wait) => Ok(throttled(wait, "failed sign-ins", |error| {
            refuse(StatusCode::TOO_MANY_REQUESTS, error)
        })),
        SignIn::Refused => Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The login or the password is not right.".into(),
        )),
    }
}

fn after_sign_in(stage: Stage, next: &str, role: crate::domain::Role) -> String {
    let next = safe_next(next);
    match stage {
        Stage::SecondFactor => match next {
            Some(next) => format!(
                "/staff/signin/second-factor?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            ),
            None => "/staff/signin/second-factor".to_owned(),
        },
        Stage::Enrol => "/staff/account/second-factor".to_owned(),
        Stage::Full => next.unwrap_or(landing(role.as_str())).to_owned(),
    }
}

#[derive(Template)]
#[template(path = "staff/second_factor.html")]
struct SecondFactorPage {
    frame: Frame,
    csrf: String,
    next: String,
    error: Option<String>,
}

#[handler]
pub async fn second_factor_form(
    req: &Request,
    Data(app): Data<&App>,
    Query(query): Query<NextQuery>,
) -> poem::Result<Response> {
    let session = session(req)?;
    Ok(render(
        StatusCode::OK,
        &SecondFactorPage {
            frame: Frame::signed_out(app),
            csrf: session.csrf.clone(),
            next: query.next.unwrap_or_default(),
            error: None,
        },
    ))
}

#[handler]
pub async fn second_factor_submit(
    req: &Request,
    Data(app): Data<&App>,
    body: Body,
) -> poem::Result<Response> {
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    let next = posted.get("next").to_owned();
    let ip = client_ip(req, &app.settings.server.trusted_proxies);
    let refuse = |status: StatusCode, error: &str| {
        render(
            status,
            &SecondFactorPage {
                frame: Frame::signed_out(app),
                csrf: session.csrf.clone(),
                next: next.clone(),
                error: Some(error.to_owned()),
            },
        )
    };
    match auth::second_factor(app, session, posted.get("code"), ip)
        .await
        .map_err(unavailable)?
    {
        SignIn::Session(new, _, _) => {
            let to = safe_next(&next)
                .unwrap_or(landing(&session.staff.role))
                .to_owned();
            Ok(with_cookie(see_other(&to), session_cookie(app, &new)))
        }
        SignIn::Throttled(wait) => Ok(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many wrong codes. Try again in {} minutes.",
                wait.div_ceil(60)
            ),
        )),
        SignIn::Refused => Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That code is not right, or was used already.",
        )),
    }
}

#[handler]
pub async fn sign_out(req: &Request, Data(app): Data<&App>) -> poem::Result<Response> {
    let session = session(req)?;
    auth::sign_out(app, session).await.map_err(unavailable)?;
    tracing::info!(staff_id = %session.staff.id, "signed out");
    Ok(signed_out(app))
}

/// The way out after signing out: the cookie dropped, the sign-in page saying so.
pub(super) fn signed_out(app: &App) -> Response {
    with_cookie(
        see_other("/staff/signin?done=signout"),
        super::gone_session_cookie(app),
    )
}

#[derive(Template)]
#[template(path = "staff/forgot.html")]
struct ForgotPage {
    frame: Frame,
    csrf: String,
    login: String,
    /// The one answer to every request, whether or not anything was sent.
    sent: bool,
    hours: i64,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ForgotQuery {
    done: Option<String>,
}

#[handler]
pub async fn forgot_form(
    req: &Request,
    Data(app): Data<&App>,
    Query(query): Query<ForgotQuery>,
) -> Response {
    render(
        StatusCode::OK,
        &ForgotPage {
            frame: Frame::signed_out(app),
            csrf: form_token(req),
            login: String::new(),
            sent: query.done.as_deref() == Some("sent"),
            hours: app.settings.staff.reset_link_hours,
            error: None,
        },
    )
}

#[handler]
pub async fn forgot_submit(
    req: &Request,
    Data(app): Data<&App>,
    body: Body,
) -> poem::Result<Response> {
    let posted = FormData::read(req, body).await?;
    let login = posted.get("login").trim().to_owned();
    let refuse = |status: StatusCode, error: String| {
        render(
            status,
            &ForgotPage {
                frame: Frame::signed_out(app),
                csrf: form_token(req),
                login: login.clone(),
                sent: false,
                hours: app.settings.staff.reset_link_hours,
                error: Some(error),
            },
        )
    };
    if login.is_empty() {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your login.".into(),
        ));
    }
    let ip = client_ip(req, &app.settings.server.trusted_proxies);
    match auth::request_reset(app, &login, ip)
        .await
        .map_err(unavailable)?
    {
        ResetRequest::Taken => Ok(see_other("/staff/forgot?done=sent")),
        ResetRequest::Throttled(wait) => Ok(throttled(wait, "requests", |error| {
            refuse(StatusCode::TOO_MANY_REQUESTS, error)
        })),
    }
}

/// A form refused for too many `what` for a login or a network: the page says how long to
/// wait, and `Retry-After` says it to machines.
fn throttled(wait: u64, what: &str, page: impl FnOnce(String) -> Response) -> Response {
    let minutes = wait.div_ceil(60);
    let mut resp = page(format!(
        "Too many {what} for this login or from this network. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    ));
    if let Ok(value) = header::HeaderValue::from_str(&wait.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, value);
    }
    resp
}

#[derive(Template)]
#[template(path = "staff/reset.html")]
struct ResetPage {
    frame: Frame,
    csrf: String,
    valid: bool,
    login: String,
    action: String,
    error: Option<String>,
}

#[handler]
pub async fn reset_form(
    req: &Request,
    Data(app): Data<&App>,
    Path(token): Path<String>,
) -> poem::Result<Response> {
    let account = auth::account_for_reset(&app.db, &token)
        .await
        .map_err(unavailable)?;
    Ok(render(
        if account.is_some() {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        },
        &ResetPage {
            frame: Frame::signed_out(app),
            csrf: form_token(req),
            valid: account.is_some(),
            login: account.map(|a| a.login).unwrap_or_default(),
            action: format!("/staff/reset/{token}"),
            error: None,
        },
    ))
}

#[handler]
pub async fn reset_submit(
    req: &Request,
    Data(app): Data<&App>,
    Path(token): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    let posted = FormData::read(req, body).await?;
    let new = SecretString::from(posted.get("new_password").to_owned());
    let again = SecretString::from(posted.get("new_password_again").to_owned());
    match auth::finish_reset(app, &token, new, again).await {
        Ok(_) => Ok(see_other("/staff/signin?done=password")),
        Err(PasswordError::InvalidLink) => Ok(render(
            StatusCode::NOT_FOUND,
            &ResetPage {
                frame: Frame::signed_out(app),
                csrf: form_token(req),
                valid: false,
                login: String::new(),
                action: String::new(),
                error: None,
            },
        )),
        Err(PasswordError::Account(e)) => Err(unavailable(e)),
        Err(refused) => {
            let login = auth::account_for_reset(&app.db, &token)
                .await
                .map_err(unavailable)?
                .map(|a| a.login)
                .unwrap_or_default();
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ResetPage {
                    frame: Frame::signed_out(app),
                    csrf: form_token(req),
                    valid: true,
                    login,
                    action: format!("/staff/reset/{token}"),
                    error: Some(password_problem(&refused)),
                },
            ))
        }
    }
}

/// What a person reads when a new password is refused.
pub(super) fn password_problem(e: &PasswordError) -> String {
    match e {
        PasswordError::Weak(why) => format!("That password is refused: {why}"),
        PasswordError::BadLogin(why) => format!("That password is refused: {why}"),
        other => {
            let text = other.to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
                None => text,
            }
        }
    }
}
