//! Staff accounts and signing in: argon2id password hashes (OWASP parameters: 19 MiB, 2 passes,
//! 1 lane), sign-in with throttling and a second factor, changing one's own password, one's
//! own sessions, and the one-time reset link: forced by an administrator, or asked for by its
//! owner and mailed to the account's own address. Nobody can read a password, and no function
//! here sets another person's password: a forced reset only destroys the old one.

pub mod api_key;
mod principal;
pub mod session;
pub mod throttle;
pub mod totp;

pub use principal::{Credential, Principal};

use std::net::IpAddr;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, SqlErr,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::audit;
use crate::domain::{EmailAddress, Login, LoginError, NewPassword, PasswordRefusal, Role};
use crate::entities::staff;
use crate::state::AppState;
use session::{NewSession, Opening, Session, Stage};
use throttle::Door;

/// `bytes` random bytes as URL-safe base64: session ids, CSRF tokens, API keys, reset links.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// How high-entropy tokens are stored: their SHA-256 (a slow hash adds nothing at 256 bits).
pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A stored hash no password matches: what a forced reset leaves behind.
const NO_PASSWORD: &str = "!reset";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a staff account `{0}` exists already")]
    LoginTaken(String),
    #[error("no staff account `{0}`")]
    NoSuchLogin(String),
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error("composing the mail: {0}")]
    Mail(#[from] crate::mailers::ComposeError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn argon2() -> Argon2<'static> {
    // OWASP's first recommended argon2id configuration.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of an argon2id hash of `password` with a fresh salt.
pub fn hash_password(password: &NewPassword) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Whether `password` matches a stored hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

/// Creates a staff account; the first administrator of a fresh install is made this way.
pub async fn add_staff(
    db: &DatabaseConnection,
    login: &Login,
    role: Role,
    password: &NewPassword,
    email: Option<&EmailAddress>,
) -> Result<Uuid, AccountError> {
    let now = Utc::now().fixed_offset();
    let id = Uuid::now_v7();
    let hash = hash_password(password)?;
    let txn = crate::db::begin_write(db).await?;
    let inserted = staff::ActiveModel {
        id: Set(id),
        login: Set(login.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        password_hash: Set(hash),
        disabled: Set(false),
        password_changed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        email: Set(email.map(|e| e.as_str().to_owned())),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    match inserted {
        Ok(_) => {
            // Whether the account has an address, never the address.
            audit::record(
                &txn,
                CLI,
                "staff.created",
                Some(login.as_str()),
                serde_json::json!({
                    "staff_id": id,
                    "role": role.as_str(),
                    "email": email.is_some(),
                }),
            )
            .await?;
            txn.commit().await?;
            Ok(id)
        }
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(AccountError::LoginTaken(login.as_str().to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Every staff account, by login.
pub async fn list_staff(db: &DatabaseConnection) -> Result<Vec<staff::Model>, DbErr> {
    use sea_orm::QueryOrder;
    staff::Entity::find()
        .order_by_asc(staff::Column::Login)
        .all(db)
        .await
}

async fn by_login<C: ConnectionTrait>(
    conn: &C,
    login: &Login,
) -> Result<staff::Model, AccountError> {
    staff::Entity::find()
        .filter(staff::Column::Login.eq(login.as_str()))
        .one(conn)
        .await?
        .ok_or_else(|| AccountError::NoSuchLogin(login.as_str().to_owned()))
}

/// Disables (or enables again) an account; a disabled account cannot sign in, and disabling
/// ends its sessions.
pub async fn set_disabled(
    db: &DatabaseConnection,
    actor: &str,
    login: &Login,
    disabled: bool,
) -> Result<(), AccountError> {
    let txn = crate::db::begin_write(db).await?;
    let account = by_login(&txn, login).await?;
    let id = account.id;
    let mut active: staff::ActiveModel = account.into();
    active.disabled = Set(disabled);
    active.updated_at = Set(Utc::now().fixed_offset());
    active.update(&txn).await?;
    let ended = if disabled {
        session::end_all_of(&txn, id, None).await?
    } else {
        0
    };
    audit::record(
        &txn,
        actor,
        if disabled {
            "staff.disabled"
        } else {
            "staff.enabled"
        },
        Some(login.as_str()),
        serde_json::json!({ "staff_id": id, "sessions_ended": ended }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Sets or clears an account's own address (where a reset link it asks for is mailed). The
/// audit log records that it changed, never the address.
pub async fn set_email(
    db: &DatabaseConnection,
    actor: &str,
    login: &Login,
    email: Option<&EmailAddress>,
) -> Result<(), AccountError> {
    let txn = crate::db::begin_write(db).await?;
    let account = by_login(&txn, login).await?;
    let id = account.id;
    let mut active: staff::ActiveModel = account.into();
    active.email = Set(email.map(|e| e.as_str().to_owned()));
    active.updated_at = Set(Utc::now().fixed_offset());
    active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        if email.is_some() {
            "staff.email_set"
        } else {
            "staff.email_cleared"
        },
        Some(login.as_str()),
        serde_json::json!({ "staff_id": id }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Forces a password reset: the old password stops working at once, every session of the
/// account ends, and a one-time link (valid for `staff.reset_link_hours`) lets its owner choose
/// a new password. Returns the link's token; the caller hands the link to the person.
pub async fn force_reset(
    db: &DatabaseConnection,
    settings: &crate::config::StaffSettings,
    actor: &str,
    login: &Login,
) -> Result<String, AccountError> {
    let token = random_token(32);
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let account = by_login(&txn, login).await?;
    let id = account.id;
    let mut active: staff::ActiveModel = account.into();
    active.password_hash = Set(NO_PASSWORD.to_owned());
    active.reset_token_hash = Set(Some(token_hash(&token)));
    active.reset_expires_at = Set(Some(
        (now + Duration::hours(settings.reset_link_hours)).fixed_offset(),
    ));
    active.password_changed_at = Set(now.fixed_offset());
    active.updated_at = Set(now.fixed_offset());
    active.update(&txn).await?;
    let ended = session::end_all_of(&txn, id, None).await?;
    audit::record(
        &txn,
        actor,
        "staff.password_reset_forced",
        Some(login.as_str()),
        serde_json::json!({ "staff_id": id, "sessions_ended": ended }),
    )
    .await?;
    txn.commit().await?;
    Ok(token)
}

/// The staff page for a reset link.
pub fn reset_url(settings: &crate::config::Settings, token: &str) -> String {
    format!("{}/staff/reset/{token}", settings.base_url())
}

/// Why a new password was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the current password is not right")]
    WrongCurrent,
    #[error("the two new passwords differ")]
    Mismatch,
    #[error("{0}")]
    BadLogin(#[from] LoginError),
    #[error("{0}")]
    Weak(#[from] PasswordRefusal),
    #[error("this link is not valid: it was used already, has expired, or never existed")]
    InvalidLink,
    #[error(transparent)]
    Account(#[from] AccountError),
}

impl From<DbErr> for PasswordError {
    fn from(e: DbErr) -> Self {
        PasswordError::Account(AccountError::Db(e))
    }
}

fn parse_new(
    new: SecretString,
    again: &SecretString,
    login: &str,
) -> Result<NewPassword, PasswordError> {
    if new.expose_secret() != again.expose_secret() {
        return Err(PasswordError::Mismatch);
    }
    let login = Login::parse(login)?;
    Ok(NewPassword::parse(new, &login)?)
}

/// The account a reset link belongs to, if the link is valid.
pub async fn account_for_reset<C: ConnectionTrait>(
    conn: &C,
    token: &str,
) -> Result<Option<staff::Model>, DbErr> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let account = staff::Entity::find()
        .filter(staff::Column::ResetTokenHash.eq(token_hash(token)))
        .one(conn)
        .await?;
    Ok(account
        .filter(|a| !a.disabled && a.reset_expires_at.is_some_and(|until| until > Utc::now())))
}

/// Sets a new password through a reset link; the link works once.
pub async fn finish_reset(
    app: &AppState,
    token: &str,
    new: SecretString,
    again: SecretString,
) -> Result<String, PasswordError> {
    let txn = crate::db::begin_write(&app.db).await?;
    let account = account_for_reset(&txn, token)
        .await?
        .ok_or(PasswordError::InvalidLink)?;
    let password = parse_new(new, &again, &account.login)?;
    let login = account.login.clone();
    let id = account.id;
    let now = Utc::now().fixed_offset();
    let mut active: staff::ActiveModel = account.into();
    active.password_hash = Set(hash_password(&password)?);
    active.reset_token_hash = Set(None);
    active.reset_expires_at = Set(None);
    active.password_changed_at = Set(now);
    active.updated_at = Set(now);
    active.update(&txn).await?;
    session::end_all_of(&txn, id, None).await?;
    audit::record(
        &txn,
        &staff_actor(id),
        "staff.password_set_by_link",
        Some(&login),
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(staff_id = %id, "password set through a reset link");
    Ok(login)
}

/// Changes one's own password: the current one must be given, and every other session of the
/// person ends.
pub async fn change_password(
    app: &AppState,
    session: &Session,
    current: &str,
    new: SecretString,
    again: SecretString,
) -> Result<(), PasswordError> {
    let stored = session.staff.password_hash.clone();
    let current = current.to_owned();
    let right = tokio::task::spawn_blocking(move || verify_password(&current, &stored))
        .await
        .unwrap_or(false);
    if !right {
        return Err(PasswordError::WrongCurrent);
    }
    let password = parse_new(new, &again, &session.staff.login)?;
    let hash = hash_password(&password)?;
    let txn = crate::db::begin_write(&app.db).await?;
    let now = Utc::now().fixed_offset();
    staff::Entity::update_many()
        .col_expr(
            staff::Column::PasswordHash,
            sea_orm::sea_query::Expr::value(hash),
        )
        .col_expr(
            staff::Column::PasswordChangedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            staff::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        // A reset link still in a mailbox would undo the change: it stops working.
        .col_expr(
            staff::Column::ResetTokenHash,
            sea_orm::sea_query::Expr::value(Option::<Vec<u8>>::None),
        )
        .col_expr(
            staff::Column::ResetExpiresAt,
            sea_orm::sea_query::Expr::value(Option::<chrono::DateTime<chrono::FixedOffset>>::None),
        )
        .filter(staff::Column::Id.eq(session.staff.id))
        .exec(&txn)
        .await?;
    let ended = session::end_all_of(&txn, session.staff.id, Some(&session.id_hash)).await?;
    audit::record(
        &txn,
        &staff_actor(session.staff.id),
        "staff.password_changed",
        Some(&session.staff.login),
        serde_json::json!({ "other_sessions_ended": ended }),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(staff_id = %session.staff.id, other_sessions_ended = ended, "password changed");
    Ok(())
}

/// Why a staff member's mail identity was not saved.
#[derive(Debug, thiserror::Error)]
pub enum MailIdentityError {
    #[error("{0} is not one of the staff addresses this site answers from (mail.staff_addresses)")]
    NotAStaffAddress(String),
    #[error("another account answers from {0}")]
    Taken(String),
    #[error("the signature is longer than {0} characters")]
    SignatureTooLong(usize),
    #[error("the signature holds control characters")]
    SignatureControl,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// The longest signature one may save.
pub const MAX_SIGNATURE_CHARS: usize = 2000;

/// Sets the address one answers from by mail (one of `mail.staff_addresses`, or none) and the
/// signature one's mail client adds, which the relay cuts from one's answers wherever it
/// appears. Recorded in the audit log, the signature by its length only.
pub async fn set_mail_identity(
    app: &AppState,
    session: &Session,
    address: Option<&str>,
    signature: &str,
) -> Result<(), MailIdentityError> {
    let address = address
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_lowercase);
    if let Some(address) = &address
        && !app.settings.mail.is_staff_address(address)
    {
        return Err(MailIdentityError::NotAStaffAddress(address.clone()));
    }
    let signature = signature.replace("\r\n", "\n");
    let signature = signature.trim();
    if signature.chars().count() > MAX_SIGNATURE_CHARS {
        return Err(MailIdentityError::SignatureTooLong(MAX_SIGNATURE_CHARS));
    }
    if signature
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(MailIdentityError::SignatureControl);
    }
    let txn = crate::db::begin_write(&app.db).await?;
    let updated = staff::Entity::update_many()
        .col_expr(
            staff::Column::MailAddress,
            sea_orm::sea_query::Expr::value(address.clone()),
        )
        .col_expr(
            staff::Column::MailSignature,
            sea_orm::sea_query::Expr::value((!signature.is_empty()).then(|| signature.to_owned())),
        )
        .col_expr(
            staff::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(Utc::now().fixed_offset()),
        )
        .filter(staff::Column::Id.eq(session.staff.id))
        .exec(&txn)
        .await;
    match updated {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(MailIdentityError::Taken(address.unwrap_or_default()));
        }
        other => {
            other?;
        }
    }
    audit::record(
        &txn,
        &staff_actor(session.staff.id),
        "staff.mail_identity_set",
        Some(&session.staff.login),
        serde_json::json!({
            "address": address,
            "signature_chars": signature.chars().count(),
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The outcome of a sign-in with login and password.
pub enum SignIn {
    /// A session at the given stage, for an account with this role.
    Session(NewSession, Stage, Role),
    /// Too many failures for this login or IP: wait this many seconds.
    Throttled(u64),
    /// Unknown login, wrong password, or disabled account: one answer for all three.
    Refused,
}

/// Whether a role must use a second factor under the current settings.
pub fn second_factor_required(app: &AppState, role: &str) -> bool {
    app.settings.staff.require_second_factor
        && matches!(Role::parse(role), Some(Role::Legal | Role::Admin))
}

/// A hash to verify against when the login does not exist, so that an unknown login takes as
/// long to refuse as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(b"no account has this password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Checks login and password (throttled per account and per IP) and opens a session, kept
/// past the browser's closing when `opening.remember` (the "Keep me signed in" box).
pub async fn sign_in(
    app: &AppState,
    login: &str,
    password: SecretString,
    ip: Option<IpAddr>,
    opening: &Opening,
) -> Result<SignIn, DbErr> {
    let settings = &app.settings.staff;
    if let Err(wait) = throttle::check(&app.db, settings, Door::SignIn, login, ip).await? {
        tracing::warn!(wait_secs = wait, "sign-in throttled");
        return Ok(SignIn::Throttled(wait));
    }
    let account = match Login::parse(login) {
        Ok(login) => {
            staff::Entity::find()
                .filter(staff::Column::Login.eq(login.as_str()))
                .one(&app.db)
                .await?
        }
        Err(_) => None,
    };
    let stored = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let right =
        tokio::task::spawn_blocking(move || verify_password(password.expose_secret(), &stored))
            .await
            .unwrap_or(false);
    let txn = crate::db::begin_write(&app.db).await?;
    let account = match account {
        Some(account) if right && !account.disabled => account,
        other => {
            throttle::record_failure(&txn, settings, Door::SignIn, login, ip).await?;
            // Only an existing login is written down: a password typed into the login field
            // must not end up in an append-only log.
            let reason = match &other {
                None => "unknown_login",
                Some(a) if a.disabled => "disabled",
                Some(_) => "wrong_password",
            };
            audit::record(
                &txn,
                ANONYMOUS,
                "staff.sign_in_failed",
                other.as_ref().map(|a| a.login.as_str()),
                serde_json::json!({ "reason": reason }),
            )
            .await?;
            txn.commit().await?;
            app.metrics.signin_failures.inc();
            tracing::warn!("sign-in refused");
            return Ok(SignIn::Refused);
        }
    };
    throttle::clear(&txn, login).await?;
    let stage = if account.totp_enabled {
        Stage::SecondFactor
    } else if second_factor_required(app, &account.role) {
        Stage::Enrol
    } else {
        Stage::Full
    };
    let session = session::create(&txn, settings, account.id, stage, opening).await?;
    audit::record(
        &txn,
        &staff_actor(account.id),
        if stage == Stage::SecondFactor {
            "staff.password_accepted"
        } else {
            "staff.signed_in"
        },
        Some(&account.login),
        serde_json::json!({ "stage": stage.as_str(), "remember": opening.remember }),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(staff_id = %account.id, stage = stage.as_str(), "signed in");
    Ok(SignIn::Session(
        session,
        stage,
        Role::parse(&account.role).unwrap_or(Role::Agent),
    ))
}

/// The actor name of a staff member in the audit log.
pub fn staff_actor(id: Uuid) -> String {
    format!("staff:{id}")
}

/// The actor of a failed sign-in: nobody is known yet.
pub const ANONYMOUS: &str = "anonymous";

/// The actor of what an operator does with the `sealpost` command.
pub const CLI: &str = "system:cli";

/// Records that a person signed out, with the session's end, in one transaction.
pub async fn sign_out(app: &AppState, session: &Session) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(&app.db).await?;
    session::end(&txn, &session.id_hash).await?;
    audit::record(
        &txn,
        &staff_actor(session.staff.id),
        "staff.signed_out",
        Some(&session.staff.login),
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await
}

/// What ending a session by its handle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedSession {
    /// No session of the person's has that handle (someone else's included): nothing ended.
    NotYours,
    /// Another of the person's sessions ended.
    Other,
    /// The session that asked ended: the person is signed out here.
    This,
}

/// Ends one of the person's own sessions, named by its handle on the account page.
pub async fn end_own_session(
    app: &AppState,
    current: &Session,
    handle: &str,
) -> Result<EndedSession, DbErr> {
    let txn = crate::db::begin_write(&app.db).await?;
    let Some(id_hash) = session::own_by_handle(&txn, current.staff.id, handle).await? else {
        return Ok(EndedSession::NotYours);
    };
    let this = id_hash == current.id_hash;
    session::end(&txn, &id_hash).await?;
    audit::record(
        &txn,
        &staff_actor(current.staff.id),
        if this {
            "staff.signed_out"
        } else {
            "staff.session_ended"
        },
        Some(&current.staff.login),
        serde_json::json!({ "session": handle }),
    )
    .await?;
    txn.commit().await?;
    Ok(if this {
        EndedSession::This
    } else {
        EndedSession::Other
    })
}

/// Ends every session of the person but the one asking ("Sign out everywhere else").
pub async fn end_other_sessions(app: &AppState, current: &Session) -> Result<u64, DbErr> {
    let txn = crate::db::begin_write(&app.db).await?;
    let ended = session::end_all_of(&txn, current.staff.id, Some(&current.id_hash)).await?;
    audit::record(
        &txn,
        &staff_actor(current.staff.id),
        "staff.other_sessions_ended",
        Some(&current.staff.login),
        serde_json::json!({ "sessions_ended": ended }),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(staff_id = %current.staff.id, sessions_ended = ended, "other sessions ended");
    Ok(ended)
}

/// The answer to a request for a reset link: the same whether or not anything was sent.
pub enum ResetRequest {
    /// Taken: if the login exists, is enabled and has an address, a link is on its way.
    Taken,
    /// Too many requests for this login or from this network: wait this many seconds.
    Throttled(u64),
}

/// "Forgot your password?": mails the account's own address a one-time link, the same link a
/// forced reset gives (valid `staff.reset_link_hours`, once; using it ends every session).
/// Unlike a forced reset the password keeps working until the link is used, so that nobody
/// can lock a person out by asking for links in their name; a newer link replaces an older.
/// Unknown logins, disabled accounts and accounts without an address get nothing. The work is
/// one transaction whatever the case (the request is counted, the audit log written) and the
/// mail goes out through the outbox, so the answer neither says nor takes noticeably longer
/// for an account that exists.
pub async fn request_reset(
    app: &AppState,
    login: &str,
    ip: Option<IpAddr>,
) -> Result<ResetRequest, AccountError> {
    let settings = &app.settings.staff;
    if let Err(wait) = throttle::check(&app.db, settings, Door::ResetLink, login, ip).await? {
        tracing::warn!(wait_secs = wait, "reset-link requests throttled");
        return Ok(ResetRequest::Throttled(wait));
    }
    let txn = crate::db::begin_write(&app.db).await?;
    throttle::record_failure(&txn, settings, Door::ResetLink, login, ip).await?;
    let account = match Login::parse(login) {
        Ok(login) => {
            staff::Entity::find()
                .filter(staff::Column::Login.eq(login.as_str()))
                .one(&txn)
                .await?
        }
        Err(_) => None,
    };
    let outcome = match &account {
        None => "unknown_login",
        Some(a) if a.disabled => "disabled",
        Some(a) if a.email.is_none() => "no_address",
        Some(_) => "mailed",
    };
    if let Some(account) = account.as_ref().filter(|_| outcome == "mailed") {
        let token = random_token(32);
        let now = Utc::now();
        staff::Entity::update_many()
            .col_expr(
                staff::Column::ResetTokenHash,
                sea_orm::sea_query::Expr::value(Some(token_hash(&token))),
            )
            .col_expr(
                staff::Column::ResetExpiresAt,
                sea_orm::sea_query::Expr::value(Some(
                    (now + Duration::hours(settings.reset_link_hours)).fixed_offset(),
                )),
            )
            .col_expr(
                staff::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(now.fixed_offset()),
            )
            .filter(staff::Column::Id.eq(account.id))
            .exec(&txn)
            .await?;
        crate::mailers::enqueue_reset_link(
            &txn,
            app,
            account.id,
            &account.login,
            reset_url(&app.settings, &token),
        )
        .await?;
    }
    // Only an existing login is written down, as for failed sign-ins.
    audit::record(
        &txn,
        ANONYMOUS,
        "staff.reset_link_requested",
        account.as_ref().map(|a| a.login.as_str()),
        serde_json::json!({ "outcome": outcome }),
    )
    .await?;
    txn.commit().await?;
    if outcome == "mailed" {
        app.outbox_wakeup.notify_one();
    }
    tracing::info!("reset link requested");
    Ok(ResetRequest::Taken)
}

/// The second step of signing in: a TOTP or recovery code. Wrong codes count as failures
/// against the account like wrong passwords.
pub async fn second_factor(
    app: &AppState,
    session: &Session,
    code: &str,
    ip: Option<IpAddr>,
) -> Result<SignIn, AccountError> {
    let settings = &app.settings.staff;
    let login = session.staff.login.clone();
    if let Err(wait) = throttle::check(&app.db, settings, Door::SignIn, &login, ip).await? {
        return Ok(SignIn::Throttled(wait));
    }
    let txn = crate::db::begin_write(&app.db).await?;
    let how = totp::verify(&txn, &app.sealer, &session.staff, code)
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    let actor = staff_actor(session.staff.id);
    let Some(how) = how else {
        throttle::record_failure(&txn, settings, Door::SignIn, &login, ip).await?;
        audit::record(
            &txn,
            &actor,
            "staff.second_factor_failed",
            Some(&login),
            serde_json::json!({}),
        )
        .await?;
        txn.commit().await?;
        app.metrics.signin_failures.inc();
        tracing::warn!(staff_id = %session.staff.id, "second factor refused");
        return Ok(SignIn::Refused);
    };
    throttle::clear(&txn, &login).await?;
    let next = session::advance(&txn, settings, session, Stage::Full).await?;
    audit::record(
        &txn,
        &actor,
        "staff.signed_in",
        Some(&login),
        serde_json::json!({ "second_factor": how.as_str(), "remember": session.remember }),
    )
    .await?;
    txn.commit().await?;
    Ok(SignIn::Session(
        next,
        Stage::Full,
        Role::parse(&session.staff.role).unwrap_or(Role::Agent),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let login = Login::parse("anna").expect("login");
        let password = NewPassword::parse("correct horse battery staple orbit".into(), &login)
            .expect("strong");
        let a = hash_password(&password).expect("hash");
        let b = hash_password(&password).expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("horse"));
        assert!(verify_password("correct horse battery staple orbit", &a));
        assert!(!verify_password("correct horse battery staple orbiT", &a));
        assert!(!verify_password("anything", "not a hash"));
    }
}
