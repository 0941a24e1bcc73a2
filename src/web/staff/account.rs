//! One's own account: change the password, one's own address (for reset links), the list of
//! one's sessions with a sign-out for each and for all the others, set up or turn off the
//! second factor, new recovery codes.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Body, Request, Response, handler};
use secrecy::SecretString;
use serde::Deserialize;

use super::signin::password_problem;
use super::{App, Frame, landing, see_other, session, session_cookie, unavailable, with_cookie};
use crate::auth::session::{self as sessions, Stage};
use crate::auth::totp::{self, TotpError};
use crate::auth::{self, PasswordError};
use crate::domain::{EmailAddress, FieldProblem, Login};
use crate::web::form_data::FormData;
use crate::web::{not_found, render};

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
    /// The account's own address, or what was typed when it was refused.
    email: String,
    email_error: Option<String>,
    sessions: Vec<SessionRow>,
}

/// One live session in the list.
struct SessionRow {
    handle: String,
    /// "Firefox on Linux".
    device: String,
    started: String,
    last_seen: String,
    /// When it ends at the latest.
    ends: String,
    remembered: bool,
    /// A sign-in whose password was right and whose second factor has not come (yet).
    pending: bool,
    current: bool,
}

/// Sessions are listed to the minute, in UTC as every staff page shows times (the column
/// headings say so).
fn minute(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

/// What a form of the page comes back with when it was refused.
#[derive(Default)]
struct Problems {
    password: Option<String>,
    mail: Option<MailDraft>,
    email: Option<(String, String)>,
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
    let problems = Problems {
        password: password_error,
        ..Problems::default()
    };
    account_page_with(app, session, status, notice, problems).await
}

async fn account_page_with(
    app: &App,
    session: &sessions::Session,
    status: StatusCode,
    notice: Option<String>,
    problems: Problems,
) -> poem::Result<Response> {
    let Problems {
        password: password_error,
        mail,
        email,
    } = problems;
    let recovery_left = totp::recovery_codes_left(&app.db, session.staff.id)
        .await
        .map_err(unavailable)?;
    let sessions = sessions::list_of(&app.db, &app.settings.staff, session)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|s| SessionRow {
            handle: s.handle,
            device: s.device.describe(),
            started: minute(s.started),
            last_seen: minute(s.last_seen),
            ends: minute(s.expires),
            remembered: s.remember && s.stage != Stage::SecondFactor,
            pending: s.stage == Stage::SecondFactor,
            current: s.current,
        })
        .collect();
    let (email, email_error) = match email {
        Some((typed, error)) => (typed, Some(error)),
        None => (session.staff.email.clone().unwrap_or_default(), None),
    };
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
            email,
            email_error,
            sessions,
        },
    ))
}

#[handler]
pub async fn set_email(req: &Request, Data(app): Data<&App>, body: Body) -> poem::Result<Response> {
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    let typed = posted.get("email").trim().to_owned();
    let refuse = |error: &str| Problems {
        email: Some((typed.clone(), error.to_owned())),
        ..Problems::default()
    };
    let email = match EmailAddress::parse(&typed) {
        Ok(email) => email,
        Err(problem) => {
            let error = match problem {
                FieldProblem::TooLong { max } => {
                    format!("That address is longer than {max} characters.")
                }
                _ => "That is not an e-mail address such as name@example.org.".to_owned(),
            };
            return account_page_with(
                app,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                refuse(&error),
            )
            .await;
        }
    };
    let login = Login::parse(&session.staff.login).map_err(|_| not_found())?;
    auth::set_email(
        &app.db,
        &auth::staff_actor(session.staff.id),
        &login,
        email.as_ref(),
    )
    .await
    .map_err(unavailable)?;
    Ok(see_other(if email.is_some() {
        "/staff/account?done=email#email"
    } else {
        "/staff/account?done=email-cleared#email"
    }))
}

#[handler]
pub async fn end_session(
    req: &Request,
    Data(app): Data<&App>,
    Path(handle): Path<String>,
) -> poem::Result<Response> {
    let session = session(req)?;
    // Only one's own sessions are found: any other handle is no session here.
    match auth::end_own_session(app, session, &handle)
        .await
        .map_err(unavailable)?
    {
        auth::EndedSession::NotYours => Err(not_found()),
        auth::EndedSession::This => Ok(super::signin::signed_out(app)),
        auth::EndedSession::Other => Ok(see_other("/staff/account?done=session#sessions")),
    }
}

#[handler]
pub async fn end_others(req: &Request, Data(app): Data<&App>) -> poem::Result<Response> {
    let session = session(req)?;
    auth::end_other_sessions(app, session)
        .await
        .map_err(unavailable)?;
    Ok(see_other("/staff/account?done=others#sessions"))
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
                Problems {
                    mail: Some(MailDraft {
                        address: address.map(str::to_owned),
                        signature: signature.to_owned(),
                        error: refused.to_string(),
                    }),
                    ..Problems::default()
                },
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
        Some("email") => Some("Your address is saved: a reset link you ask for goes there."),
        Some("email-cleared") => {
            Some("Your address is removed: no reset link can be mailed to you now.")
        }
        Some("session") => Some("That session is signed out."),
        Some("others") => Some("You are signed out everywhere else."),
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
            let cookie = session_cookie(app, &next);
            upgraded.csrf = next.csrf;
            (upgraded, Some(cookie))
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
