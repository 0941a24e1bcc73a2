//! One's own account: change the password, set up or turn off the second factor, new recovery
//! codes.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Body, Request, Response, handler};
use secrecy::SecretString;
use serde::Deserialize;

use super::signin::password_problem;
use super::{App, Frame, landing, see_other, session, unavailable, with_cookie};
use crate::auth::session::{self as sessions, Stage};
use crate::auth::totp::{self, TotpError};
use crate::auth::{self, PasswordError};
use crate::http::authz;
use crate::web::form_data::FormData;
use crate::web::render;

#[derive(Template)]
#[template(path = "staff/account.html")]
struct AccountPage {
    frame: Frame,
    login: String,
    role: String,
    notice: Option<String>,
    password_error: Option<String>,
    totp_enabled: bool,
    totp_required: bool,
    recovery_left: u64,
    /// The staff addresses one may answer from, and whether each is one's own.
    staff_addresses: Vec<(String, bool)>,
    mail_signature: String,
    mail_error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    done: Option<String>,
}

/// What the mail-identity form shows when it comes back with an error: what was typed.
struct MailDraft {
    address: Option<String>,
    signature: String,
    error: String,
}

async fn account_page(
    app: &App,
    session: &sessions::Session,
    status: StatusCode,
    notice: Option<String>,
    password_error: Option<String>,
) -> poem::Result<Response> {
    account_page_with(app, session, status, notice, password_error, None).await
}

async fn account_page_with(
    app: &App,
    session: &sessions::Session,
    status: StatusCode,
    notice: Option<String>,
    password_error: Option<String>,
    mail: Option<MailDraft>,
) -> poem::Result<Response> {
    let recovery_left = totp::recovery_codes_left(&app.db, session.staff.id)
        .await
        .map_err(unavailable)?;
    let chosen = match &mail {
        Some(draft) => draft.address.clone(),
        None => session.staff.mail_address.clone(),
    };
    let staff_addresses = app
        .settings
        .mail
        .staff_addresses
        .iter()
        .map(|a| {
            let own = chosen.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(a));
            (a.clone(), own)
        })
        .collect();
    let (mail_signature, mail_error) = match mail {
        Some(draft) => (draft.signature, Some(draft.error)),
        None => (
            session.staff.mail_signature.clone().unwrap_or_default(),
            None,
        ),
    };
    Ok(render(
        status,
        &AccountPage {
            frame: Frame::new(app, session, "account"),
            login: session.staff.login.clone(),
            role: session.staff.role.clone(),
            notice,
            password_error,
            totp_enabled: session.staff.totp_enabled,
            totp_required: auth::second_factor_required(app, &session.staff.role),
            recovery_left,
            staff_addresses,
            mail_signature,
            mail_error,
        },
    ))
}

#[handler]
pub async fn mail_identity(
    req: &Request,
    Data(app): Data<&App>,
    body: Body,
) -> poem::Result<Response> {
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    let address = Some(posted.get("mail_address")).filter(|a| !a.trim().is_empty());
    let signature = posted.get("mail_signature");
    match auth::set_mail_identity(app, session, address, signature).await {
        Ok(()) => Ok(see_other("/staff/account?done=mail#mail")),
        Err(auth::MailIdentityError::Db(e)) => Err(unavailable(e)),
        Err(refused) => {
            account_page_with(
                app,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                Some(MailDraft {
                    address: address.map(str::to_owned),
                    signature: signature.to_owned(),
                    error: refused.to_string(),
                }),
            )
            .await
        }
    }
}

#[handler]
pub async fn show(
    req: &Request,
    Data(app): Data<&App>,
    Query(query): Query<DoneQuery>,
) -> poem::Result<Response> {
    let notice = match query.done.as_deref() {
        Some("password") => Some("Your password is changed; your other sessions are ended."),
        Some("totp-on") => Some("The second factor is on."),
        Some("totp-off") => Some("The second factor is off."),
        Some("mail") => Some("Your mail address and signature are saved."),
        _ => None,
    };
    account_page(
        app,
        session(req)?,
        StatusCode::OK,
        notice.map(str::to_owned),
        None,
    )
    .await
}

#[handler]
pub async fn change_password(
    req: &Request,
    Data(app): Data<&App>,
    body: Body,
) -> poem::Result<Response> {
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    let new = SecretString::from(posted.get("new_password").to_owned());
    let again = SecretString::from(posted.get("new_password_again").to_owned());
    match auth::change_password(app, session, posted.get("current_password"), new, again).await {
        Ok(()) => Ok(see_other("/staff/account?done=password")),
        Err(PasswordError::Account(e)) => Err(unavailable(e)),
        Err(refused) => {
            account_page(
                app,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(password_problem(&refused)),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "staff/enrol.html")]
struct EnrolPage {
    frame: Frame,
    required: bool,
    qr_svg: String,
    secret: String,
    error: Option<String>,
}

async fn enrol_page(
    app: &App,
    session: &sessions::Session,
    status: StatusCode,
    error: Option<String>,
) -> poem::Result<Response> {
    let enrolment = match totp::begin_enrolment(
        &app.db,
        &app.sealer,
        &app.settings.site.name,
        &session.staff,
    )
    .await
    {
        Ok(enrolment) => enrolment,
        Err(TotpError::AlreadyEnabled) => return Ok(see_other("/staff/account")),
        Err(e) => return Err(unavailable(e)),
    };
    Ok(render(
        status,
        &EnrolPage {
            frame: Frame::new(app, session, "account"),
            required: session.stage == Stage::Enrol,
            qr_svg: enrolment.qr_svg,
            secret: enrolment.secret_base32,
            error,
        },
    ))
}

#[handler]
pub async fn enrol_form(req: &Request, Data(app): Data<&App>) -> poem::Result<Response> {
    enrol_page(app, session(req)?, StatusCode::OK, None).await
}

#[derive(Template)]
#[template(path = "staff/shown_once.html")]
pub(super) struct ShownOncePage {
    pub frame: Frame,
    pub title: String,
    pub lead: String,
    pub lines: Vec<String>,
    pub continue_to: String,
}

#[handler]
pub async fn enrol_confirm(
    req: &Request,
    Data(app): Data<&App>,
    body: Body,
) -> poem::Result<Response> {
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    let enrolled = match totp::confirm(app, session, posted.get("code")).await {
        Ok(enrolled) => enrolled,
        Err(TotpError::WrongCode) => {
            return enrol_page(
                app,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(
                    "That code is not right. Check the time on your phone and try the next code."
                        .into(),
                ),
            )
            .await;
        }
        Err(TotpError::AlreadyEnabled) => return Ok(see_other("/staff/account")),
        Err(e) => return Err(unavailable(e)),
    };
    let codes = enrolled.codes;
    // A sign-in that was held back for enrolment is now complete, under a new session id.
    let (frame_session, cookie) = match enrolled.next_session {
        Some(next) => {
            let mut upgraded = session.clone();
            upgraded.stage = Stage::Full;
            upgraded.csrf = next.csrf;
            (
                upgraded,
                Some(authz::cookie(app, sessions::COOKIE, next.cookie, "/")),
            )
        }
        None => (session.clone(), None),
    };
    tracing::info!(staff_id = %session.staff.id, "second factor set up");
    let page = render(
        StatusCode::OK,
        &ShownOncePage {
            frame: Frame::new(app, &frame_session, "account"),
            title: "Your recovery codes".into(),
            lead: "The second factor is on. Keep these codes somewhere safe and offline: each \
                   signs you in once if you lose your phone."
                .into(),
            lines: codes,
            continue_to: landing(&session.staff.role).to_owned(),
        },
    );
    Ok(match cookie {
        Some(cookie) => with_cookie(page, cookie),
        None => page,
    })
}

#[handler]
pub async fn disable_totp(
    req: &Request,
    Data(app): Data<&App>,
    body: Body,
) -> poem::Result<Response> {
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    match totp::turn_off(app, session, posted.get("code")).await {
        Ok(true) => {}
        Ok(false) => {
            return account_page(
                app,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("The second factor stays on: that code is not right.".into()),
                None,
            )
            .await;
        }
        Err(TotpError::Required) => {
            return account_page(
                app,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some("Your role must use a second factor.".into()),
            )
            .await;
        }
        Err(e) => return Err(unavailable(e)),
    }
    tracing::info!(staff_id = %session.staff.id, "second factor turned off");
    Ok(see_other("/staff/account?done=totp-off"))
}

#[handler]
pub async fn new_recovery_codes(req: &Request, Data(app): Data<&App>) -> poem::Result<Response> {
    let session = session(req)?;
    if !session.staff.totp_enabled {
        return Ok(see_other("/staff/account"));
    }
    let codes = totp::renew_recovery_codes(app, session)
        .await
        .map_err(unavailable)?;
    Ok(render(
        StatusCode::OK,
        &ShownOncePage {
            frame: Frame::new(app, session, "account"),
            title: "New recovery codes".into(),
            lead: "Your old recovery codes no longer work. Keep these somewhere safe and offline."
                .into(),
            lines: codes,
            continue_to: "/staff/account".into(),
        },
    ))
}
