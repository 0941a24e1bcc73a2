//! The second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30 s) and one-time recovery codes.
//! The TOTP secret is sealed like contact data (bound to the account's row); recovery codes are
//! stored as SHA-256 hashes and each works once. A code is refused if its time step was already
//! used, so that a code seen over someone's shoulder cannot be replayed.

use chrono::Utc;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};
use uuid::Uuid;

use super::session::{NewSession, Session, Stage};
use super::token_hash;
use crate::entities::{recovery_codes, staff};
use crate::seal::{Sealable, Sealed, Sealer};
use crate::state::AppState;

const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;
const SECRET_BYTES: usize = 20;
/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;

/// The shared TOTP secret of one account.
pub struct TotpSecret(Vec<u8>);

impl Sealable for TotpSecret {
    const FIELD: &'static str = "totp";

    fn to_bytes(&self) -> Vec<u8> {
        self.0.clone()
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= 16).then(|| TotpSecret(bytes.to_vec()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("the second factor is already set up")]
    AlreadyEnabled,
    #[error("the code is not right")]
    WrongCode,
    #[error("the second factor is required for this role and cannot be turned off")]
    Required,
    #[error("the stored secret cannot be opened: {0}")]
    Seal(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// How a sign-in passed its second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passed {
    Totp,
    RecoveryCode,
}

impl Passed {
    pub fn as_str(self) -> &'static str {
        match self {
            Passed::Totp => "totp",
            Passed::RecoveryCode => "recovery_code",
        }
    }
}

fn actor(account: &staff::Model) -> String {
    super::staff_actor(account.id)
}

/// What the enrolment page shows: the secret as text and as a QR code.
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

fn totp(secret: &[u8]) -> Result<TOTP, TotpError> {
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_SECS, secret.to_vec())
        .map_err(|e| TotpError::Seal(e.to_string()))
}

fn open_secret(sealer: &Sealer, account: &staff::Model) -> Result<Option<Vec<u8>>, TotpError> {
    account
        .totp_sealed
        .clone()
        .map(|bytes| {
            sealer
                .open(&Sealed::<TotpSecret>::from_stored(bytes), account.id)
                .map(|s| s.0)
                .map_err(|e| TotpError::Seal(e.to_string()))
        })
        .transpose()
}

/// Starts (or shows again) an enrolment: a pending secret is kept sealed until a code from it
/// is confirmed, so that reloading the page does not invalidate what was already scanned.
pub async fn begin_enrolment<C: ConnectionTrait>(
    conn: &C,
    sealer: &Sealer,
    issuer: &str,
    account: &staff::Model,
) -> Result<Enrolment, TotpError> {
    if account.totp_enabled {
        return Err(TotpError::AlreadyEnabled);
    }
    let secret = match open_secret(sealer, account)? {
        Some(secret) => secret,
        None => {
            let mut secret = vec![0u8; SECRET_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let mut active: staff::ActiveModel = account.clone().into();
            active.totp_sealed = Set(Some(
                sealer
                    .seal(&TotpSecret(secret.clone()), account.id)
                    .into_bytes(),
            ));
            active.update(conn).await?;
            secret
        }
    };
    let secret_base32 = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &secret);
    let label = format!("{issuer}:{}", account.login);
    let otpauth_url = format!(
        "otpauth://totp/{}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        utf8_percent_encode(&label, NON_ALPHANUMERIC),
        utf8_percent_encode(issuer, NON_ALPHANUMERIC),
    );
    let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .map_err(|e| TotpError::Seal(e.to_string()))?;
    Ok(Enrolment {
        secret_base32,
        otpauth_url,
        qr_svg,
    })
}

/// The time step a code belongs to (now, or one step either side for clock drift).
fn matching_step(secret: &[u8], code: &str) -> Result<Option<i64>, TotpError> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = totp(secret)?;
    let now = Utc::now().timestamp().max(0) as u64;
    let current = now / STEP_SECS;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = totp.generate(step * STEP_SECS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            return Ok(Some(step as i64));
        }
    }
    Ok(None)
}

/// Confirms an enrolment with a first code; returns fresh recovery codes to show once.
pub async fn confirm_enrolment<C: ConnectionTrait>(
    conn: &C,
    sealer: &Sealer,
    account: &staff::Model,
    code: &str,
) -> Result<Vec<String>, TotpError> {
    if account.totp_enabled {
        return Err(TotpError::AlreadyEnabled);
    }
    let secret = open_secret(sealer, account)?.ok_or(TotpError::WrongCode)?;
    let step = matching_step(&secret, code)?.ok_or(TotpError::WrongCode)?;
    let mut active: staff::ActiveModel = account.clone().into();
    active.totp_enabled = Set(true);
    active.totp_last_step = Set(Some(step));
    active.updated_at = Set(Utc::now().fixed_offset());
    active.update(conn).await?;
    let codes = new_recovery_codes(conn, account.id).await?;
    crate::audit::record(
        conn,
        &actor(account),
        "staff.second_factor_enabled",
        Some(&account.login),
        serde_json::json!({ "recovery_codes": codes.len() }),
    )
    .await?;
    Ok(codes)
}

/// Checks a TOTP code or an unused recovery code; a recovery code is used up. `None` when the
/// code is not right (or was used already).
pub async fn verify<C: ConnectionTrait>(
    conn: &C,
    sealer: &Sealer,
    account: &staff::Model,
    input: &str,
) -> Result<Option<Passed>, TotpError> {
    if !account.totp_enabled {
        return Ok(None);
    }
    let secret = open_secret(sealer, account)?.ok_or(TotpError::WrongCode)?;
    if let Some(step) = matching_step(&secret, input)? {
        if account.totp_last_step.is_some_and(|last| step <= last) {
            return Ok(None);
        }
        // Only one request can move the step forward: a replay racing this one loses.
        let moved = staff::Entity::update_many()
            .col_expr(
                staff::Column::TotpLastStep,
                sea_orm::sea_query::Expr::value(step),
            )
            .filter(staff::Column::Id.eq(account.id))
            .filter(
                sea_orm::Condition::any()
                    .add(staff::Column::TotpLastStep.is_null())
                    .add(staff::Column::TotpLastStep.lt(step)),
            )
            .exec(conn)
            .await?;
        return Ok((moved.rows_affected == 1).then_some(Passed::Totp));
    }
    let normalized = normalize_recovery_code(input);
    if normalized.len() != 10 {
        return Ok(None);
    }
    let used = recovery_codes::Entity::update_many()
        .col_expr(
            recovery_codes::Column::UsedAt,
            sea_orm::sea_query::Expr::value(Utc::now().fixed_offset()),
        )
        .filter(recovery_codes::Column::StaffId.eq(account.id))
        .filter(recovery_codes::Column::CodeHash.eq(token_hash(&normalized)))
        .filter(recovery_codes::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok((used.rows_affected == 1).then_some(Passed::RecoveryCode))
}

/// Recovery codes left unused.
pub async fn recovery_codes_left<C: ConnectionTrait>(
    conn: &C,
    staff_id: Uuid,
) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    recovery_codes::Entity::find()
        .filter(recovery_codes::Column::StaffId.eq(staff_id))
        .filter(recovery_codes::Column::UsedAt.is_null())
        .count(conn)
        .await
}

/// Replaces every recovery code of an account with ten new ones, returned for showing once.
pub async fn replace_recovery_codes<C: ConnectionTrait>(
    conn: &C,
    account: &staff::Model,
) -> Result<Vec<String>, DbErr> {
    let codes = new_recovery_codes(conn, account.id).await?;
    crate::audit::record(
        conn,
        &actor(account),
        "staff.recovery_codes_replaced",
        Some(&account.login),
        serde_json::json!({ "recovery_codes": codes.len() }),
    )
    .await?;
    Ok(codes)
}

async fn new_recovery_codes<C: ConnectionTrait>(
    conn: &C,
    staff_id: Uuid,
) -> Result<Vec<String>, DbErr> {
    recovery_codes::Entity::delete_many()
        .filter(recovery_codes::Column::StaffId.eq(staff_id))
        .exec(conn)
        .await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = new_recovery_code();
        recovery_codes::ActiveModel {
            id: Set(Uuid::now_v7()),
            staff_id: Set(staff_id),
            code_hash: Set(token_hash(&normalize_recovery_code(&code))),
            used_at: Set(None),
        }
        .insert(conn)
        .await?;
        codes.push(code);
    }
    Ok(codes)
}

/// Turns the second factor off (when the role does not require it).
pub async fn disable<C: ConnectionTrait>(
    conn: &C,
    account: &staff::Model,
    required: bool,
) -> Result<(), TotpError> {
    if required {
        return Err(TotpError::Required);
    }
    let mut active: staff::ActiveModel = account.clone().into();
    active.totp_enabled = Set(false);
    active.totp_sealed = Set(None);
    active.totp_last_step = Set(None);
    active.updated_at = Set(Utc::now().fixed_offset());
    active.update(conn).await?;
    recovery_codes::Entity::delete_many()
        .filter(recovery_codes::Column::StaffId.eq(account.id))
        .exec(conn)
        .await?;
    crate::audit::record(
        conn,
        &actor(account),
        "staff.second_factor_disabled",
        Some(&account.login),
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

/// The alphabet of recovery codes: no 0/O, 1/I/L, so that a code copied from paper is read right.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// `XXXXX-XXXXX`: 10 characters from a 31-letter alphabet, about 49 bits.
fn new_recovery_code() -> String {
    let mut out = String::with_capacity(11);
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    for (i, b) in bytes.iter().enumerate() {
        if i == 5 {
            out.push('-');
        }
        // 256 % 31 leaves a bias of under 1%, which costs less than a bit of the 49.
        out.push(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char);
    }
    out
}

fn normalize_recovery_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// What confirming an enrolment gives: the recovery codes to show once, and where the sign-in
/// was held back for enrolment, the session that replaces it.
pub struct Enrolled {
    pub codes: Vec<String>,
    pub next_session: Option<NewSession>,
}

/// The signed-in person confirms their enrolment with a first code, in one transaction; a
/// sign-in held back for enrolment becomes a full one under a new session id.
pub async fn confirm(app: &AppState, session: &Session, code: &str) -> Result<Enrolled, TotpError> {
    let txn = crate::db::begin_write(&app.db).await?;
    let codes = confirm_enrolment(&txn, &app.sealer, &session.staff, code).await?;
    let next_session = if session.stage == Stage::Enrol {
        Some(super::session::advance(&txn, &app.settings.staff, session, Stage::Full).await?)
    } else {
        None
    };
    txn.commit().await?;
    Ok(Enrolled {
        codes,
        next_session,
    })
}

/// The signed-in person turns their second factor off with a code, in one transaction. `false`
/// when the code is not right (nothing changes then).
pub async fn turn_off(app: &AppState, session: &Session, code: &str) -> Result<bool, TotpError> {
    let required = super::second_factor_required(app, &session.staff.role);
    if required {
        return Err(TotpError::Required);
    }
    let txn = crate::db::begin_write(&app.db).await?;
    if verify(&txn, &app.sealer, &session.staff, code)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    disable(&txn, &session.staff, required).await?;
    txn.commit().await?;
    Ok(true)
}

/// The signed-in person gets ten new recovery codes, in one transaction.
pub async fn renew_recovery_codes(app: &AppState, session: &Session) -> Result<Vec<String>, DbErr> {
    let txn = crate::db::begin_write(&app.db).await?;
    let codes = replace_recovery_codes(&txn, &session.staff).await?;
    txn.commit().await?;
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_readable_and_normalize() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        let normalized = normalize_recovery_code(&code.to_lowercase());
        assert_eq!(normalized.len(), 10);
        assert!(normalized.bytes().all(|b| CODE_ALPHABET.contains(&b)));
    }

    #[test]
    fn a_current_code_matches_and_a_wrong_one_does_not() {
        let secret = [7u8; 20];
        let now = Utc::now().timestamp() as u64;
        let code = totp(&secret).unwrap().generate(now);
        assert!(matching_step(&secret, &code).unwrap().is_some());
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert!(matching_step(&secret, &wrong).unwrap().is_none());
        assert!(matching_step(&secret, "12345").unwrap().is_none());
    }
}
