//! Administration: accounts (force a password reset, disable, enable) and API keys (create,
//! shown once; revoke). Accounts are created with `sealpost staff add`.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use uuid::Uuid;

use super::account::ShownOncePage;
use super::{App, Frame, not_found, see_other, session, unavailable};
use crate::auth::{self, AccountError, api_key};
use crate::domain::{Login, Role};
use crate::web::form_data::FormData;
use crate::web::render;

pub struct AccountRow {
    pub login: String,
    pub role: String,
    pub disabled: bool,
    pub totp: bool,
    pub is_self: bool,
}

pub struct KeyRow {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "staff/admin.html")]
struct AdminPage {
    frame: Frame,
    notice: Option<String>,
    error: Option<String>,
    accounts: Vec<AccountRow>,
    keys: Vec<KeyRow>,
}

async fn admin_page(
    req: &Request,
    app: &App,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> poem::Result<Response> {
    let session = session(req)?;
    let accounts = auth::list_staff(&app.db)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|a| AccountRow {
            is_self: a.id == session.staff.id,
            login: a.login,
            role: a.role,
            disabled: a.disabled,
            totp: a.totp_enabled,
        })
        .collect();
    let keys = api_key::list(&app.db)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name,
            role: k.role,
            created: k.created_at.format("%Y-%m-%d").to_string(),
            last_used: k
                .last_used_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "never".into()),
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    Ok(render(
        status,
        &AdminPage {
            frame: Frame::new(app, session, "admin"),
            notice,
            error,
            accounts,
            keys,
        },
    ))
}

#[handler]
pub async fn show(req: &Request, Data(app): Data<&App>) -> poem::Result<Response> {
    admin_page(req, app, StatusCode::OK, None, None).await
}

#[handler]
pub async fn create_key(
    req: &Request,
    Data(app): Data<&App>,
    body: Body,
) -> poem::Result<Response> {
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    let Some(role) = Role::parse(posted.get("role")) else {
        return admin_page(
            req,
            app,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Choose a role: agent, legal or admin.".into()),
        )
        .await;
    };
    let created = match api_key::create(
        &app.db,
        &auth::staff_actor(session.staff.id),
        posted.get("name"),
        role,
        Some(session.staff.id),
    )
    .await
    {
        Ok(created) => created,
        Err(api_key::ApiKeyError::BadName) => {
            return admin_page(
                req,
                app,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some("A key needs a name of 1 to 100 characters.".into()),
            )
            .await;
        }
        Err(e) => return Err(unavailable(e)),
    };
    tracing::info!(api_key_id = %created.id, role = role.as_str(), by = %session.staff.id, "API key created");
    Ok(render(
        StatusCode::OK,
        &ShownOncePage {
            frame: Frame::new(app, session, "admin"),
            title: "New API key".into(),
            lead: format!(
                "For the role {}. Send it as `Authorization: Bearer …`. It is stored only as a hash \
                 and cannot be shown again.",
                role.as_str()
            ),
            lines: vec![created.key],
            continue_to: "/staff/admin".into(),
        },
    ))
}

#[handler]
pub async fn revoke_key(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    let session = session(req)?;
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    match api_key::revoke(&app.db, &auth::staff_actor(session.staff.id), id).await {
        Ok(()) => {
            tracing::info!(api_key_id = %id, by = %session.staff.id, "API key revoked");
            Ok(see_other("/staff/admin"))
        }
        Err(api_key::ApiKeyError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(unavailable(e)),
    }
}

fn account_login(login: &str) -> poem::Result<Login> {
    Login::parse(login).map_err(|_| not_found())
}

fn account_error(e: AccountError) -> poem::Error {
    match e {
        AccountError::NoSuchLogin(_) => not_found(),
        other => unavailable(other),
    }
}

#[handler]
pub async fn reset_account(
    req: &Request,
    Data(app): Data<&App>,
    Path(login): Path<String>,
) -> poem::Result<Response> {
    let session = session(req)?;
    let login = account_login(&login)?;
    let token = auth::force_reset(
        &app.db,
        &app.settings.staff,
        &auth::staff_actor(session.staff.id),
        &login,
    )
    .await
    .map_err(account_error)?;
    tracing::info!(by = %session.staff.id, "password reset forced");
    if login.as_str() == session.staff.login {
        // Resetting oneself ends one's own session too.
        return Ok(see_other(&auth::reset_url(&app.settings, &token)));
    }
    Ok(render(
        StatusCode::OK,
        &ShownOncePage {
            frame: Frame::new(app, session, "admin"),
            title: format!("Reset link for {}", login.as_str()),
            lead: format!(
                "The old password of {} no longer works and all of their sessions have ended. \
                 Give them this link over a channel you trust; it works once, within {} hours.",
                login.as_str(),
                app.settings.staff.reset_link_hours
            ),
            lines: vec![auth::reset_url(&app.settings, &token)],
            continue_to: "/staff/admin".into(),
        },
    ))
}

async fn set_disabled(
    req: &Request,
    app: &App,
    login: &str,
    disabled: bool,
) -> poem::Result<Response> {
    let session = session(req)?;
    let login = account_login(login)?;
    if login.as_str() == session.staff.login {
        return admin_page(
            req,
            app,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("You cannot disable your own account.".into()),
        )
        .await;
    }
    auth::set_disabled(
        &app.db,
        &auth::staff_actor(session.staff.id),
        &login,
        disabled,
    )
    .await
    .map_err(account_error)?;
    tracing::info!(by = %session.staff.id, disabled, "account state changed");
    Ok(see_other("/staff/admin"))
}

#[handler]
pub async fn disable_account(
    req: &Request,
    Data(app): Data<&App>,
    Path(login): Path<String>,
) -> poem::Result<Response> {
    set_disabled(req, app, &login, true).await
}

#[handler]
pub async fn enable_account(
    req: &Request,
    Data(app): Data<&App>,
    Path(login): Path<String>,
) -> poem::Result<Response> {
    set_disabled(req, app, &login, false).await
}

#[handler]
pub async fn erase_by_address(
    req: &Request,
    Data(app): Data<&App>,
    body: Body,
) -> poem::Result<Response> {
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    let email = match crate::domain::EmailAddress::parse(posted.get("email")) {
        Ok(Some(email)) => email,
        _ => {
            return admin_page(
                req,
                app,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some("Enter the exact e-mail address to erase.".into()),
            )
            .await;
        }
    };
    let done = crate::privacy::erase_by_address(app, &auth::staff_actor(session.staff.id), &email)
        .await
        .map_err(unavailable)?;
    let notice = format!(
        "{} conversation{} of that address erased{}.",
        done.erased,
        if done.erased == 1 { "" } else { "s" },
        if done.held > 0 {
            format!("; {} kept under a legal hold", done.held)
        } else {
            String::new()
        }
    );
    admin_page(req, app, StatusCode::OK, Some(notice), None).await
}
