//! Server-side staff sessions. The cookie holds only an opaque random id; the database holds
//! its SHA-256, so a copy of the database signs nobody in. A session ends after
//! `staff.session_idle_minutes` without a request, `staff.session_absolute_hours` after sign-in,
//! at sign-out, and when its owner's password changes or is reset, or the account is disabled.
//!
//! A session opened with "Keep me signed in on this device" (`remember`) has a cookie that
//! outlives the browser and ends `staff.remember_days` after sign-in, however long it was
//! idle: keeping one signed in on a device that sleeps for a weekend is the point of the box.
//! Every other end (sign-out, password change, reset, disabling) applies to it as to any.
//!
//! Each session keeps the browser and system family it was opened from, reduced as the
//! statistics reduce them ("Firefox", "Linux"), so that its owner can tell their sessions apart;
//! never an IP or a whole User-Agent.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};
use uuid::Uuid;

use super::{random_token, token_hash};
use crate::config::StaffSettings;
use crate::entities::{staff, staff_sessions};
use crate::tally;

/// The session cookie's name.
pub const COOKIE: &str = "sealpost_session";

/// How far a session has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Signed in.
    Full,
    /// The password was right; the second factor is still to come.
    SecondFactor,
    /// Signed in, but a second factor is required and not yet set up: only enrolment and
    /// sign-out are open.
    Enrol,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Full => "full",
            Stage::SecondFactor => "second_factor",
            Stage::Enrol => "enrol",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Stage::Full, Stage::SecondFactor, Stage::Enrol]
            .into_iter()
            .find(|stage| stage.as_str() == s)
    }
}

/// A session that is alive, with its owner.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: Vec<u8>,
    pub stage: Stage,
    pub csrf: String,
    /// Opened with "Keep me signed in on this device".
    pub remember: bool,
    pub device: Device,
    pub staff: staff::Model,
}

/// What a session is opened with besides its owner and stage: the choice of the sign-in form
/// and the device it came from. The next stage of a sign-in keeps both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub remember: bool,
    pub device: Device,
}

/// The browser and system family of a session, as the statistics reduce a User-Agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub browser: String,
    pub os: String,
}

impl Device {
    /// Only the families survive; the User-Agent itself is dropped here.
    pub fn from_user_agent(user_agent: Option<&str>) -> Self {
        let (browser, os) = tally::families(user_agent.unwrap_or_default());
        Self {
            browser: browser.chars().take(64).collect(),
            os: os.chars().take(64).collect(),
        }
    }

    /// "Firefox on Linux"; "Unknown browser on an unknown system" when nothing was recognised.
    pub fn describe(&self) -> String {
        let browser = match self.browser.as_str() {
            "unknown" => "Unknown browser",
            name => name,
        };
        match self.os.as_str() {
            "unknown" => format!("{browser} on an unknown system"),
            os => format!("{browser} on {os}"),
        }
    }
}

/// A fresh session: the cookie value to hand out (never stored), its CSRF token, and how
/// long the browser should keep the cookie (`None`: until it closes).
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub keep_for: Option<std::time::Duration>,
}

/// Minutes a half-finished sign-in (password given, second factor not yet) stays open.
const SECOND_FACTOR_MINUTES: i64 = 5;
/// `last_seen_at` is written at most this often, so that reading pages does not write each time.
const TOUCH_EVERY_SECS: i64 = 60;

pub async fn create<C: ConnectionTrait>(
    conn: &C,
    settings: &StaffSettings,
    staff_id: Uuid,
    stage: Stage,
    opening: &Opening,
) -> Result<NewSession, DbErr> {
    let cookie = random_token(32);
    let csrf = random_token(32);
    let now = Utc::now();
    let remembered = opening.remember && stage != Stage::SecondFactor;
    let lifetime = match stage {
        Stage::SecondFactor => Duration::minutes(SECOND_FACTOR_MINUTES),
        Stage::Full | Stage::Enrol if opening.remember => Duration::days(settings.remember_days),
        Stage::Full | Stage::Enrol => Duration::hours(settings.session_absolute_hours),
    };
    staff_sessions::ActiveModel {
        id_hash: Set(token_hash(&cookie)),
        staff_id: Set(staff_id),
        stage: Set(stage.as_str().to_owned()),
        csrf_token: Set(csrf.clone()),
        created_at: Set(now.fixed_offset()),
        last_seen_at: Set(now.fixed_offset()),
        expires_at: Set((now + lifetime).fixed_offset()),
        // A half-finished sign-in carries the choice on to the next stage.
        remember: Set(opening.remember),
        browser: Set(opening.device.browser.clone()),
        os: Set(opening.device.os.clone()),
    }
    .insert(conn)
    .await?;
    Ok(NewSession {
        cookie,
        csrf,
        keep_for: remembered.then(|| lifetime.to_std().unwrap_or_default()),
    })
}

/// Whether a session has ended by time: past its expiry, or idle too long unless remembered
/// (a half-finished sign-in is never remembered).
fn timed_out(row: &staff_sessions::Model, settings: &StaffSettings) -> bool {
    let now = Utc::now();
    let idle_limit = row.last_seen_at + Duration::minutes(settings.session_idle_minutes);
    let remembered = row.remember && row.stage != Stage::SecondFactor.as_str();
    row.expires_at <= now || (!remembered && idle_limit <= now)
}

/// The live session behind a cookie value, if any; an expired one is deleted on sight.
pub async fn lookup<C: ConnectionTrait>(
    conn: &C,
    settings: &StaffSettings,
    cookie: &str,
) -> Result<Option<Session>, DbErr> {
    if cookie.is_empty() || cookie.len() > 100 {
        return Ok(None);
    }
    let Some((row, Some(account))) = staff_sessions::Entity::find_by_id(token_hash(cookie))
        .find_also_related(staff::Entity)
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    let stage = Stage::parse(&row.stage);
    if timed_out(&row, settings) || account.disabled || stage.is_none() {
        staff_sessions::Entity::delete_by_id(row.id_hash)
            .exec(conn)
            .await?;
        return Ok(None);
    }
    if (now - row.last_seen_at.with_timezone(&Utc)).num_seconds() >= TOUCH_EVERY_SECS {
        staff_sessions::Entity::update_many()
            .col_expr(
                staff_sessions::Column::LastSeenAt,
                sea_orm::sea_query::Expr::value(now.fixed_offset()),
            )
            .filter(staff_sessions::Column::IdHash.eq(row.id_hash.clone()))
            .exec(conn)
            .await?;
    }
    Ok(Some(Session {
        id_hash: row.id_hash,
        stage: stage.unwrap_or(Stage::Full),
        csrf: row.csrf_token,
        remember: row.remember,
        device: Device {
            browser: row.browser,
            os: row.os,
        },
        staff: account,
    }))
}

/// One live session as its owner sees it in the list on the account page.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Names the session in a sign-out form: derived from the stored hash, so it gives away
    /// nothing of the cookie and finds only the owner's own sessions.
    pub handle: String,
    pub stage: Stage,
    pub started: chrono::DateTime<Utc>,
    pub last_seen: chrono::DateTime<Utc>,
    pub expires: chrono::DateTime<Utc>,
    pub remember: bool,
    pub device: Device,
    /// The session this list was asked for from.
    pub current: bool,
}

/// The public name of a session: a hash of its stored hash.
fn handle_of(id_hash: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(b"sealpost session handle\0")
        .chain_update(id_hash)
        .finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// The live sessions of `current`'s owner, the most recently seen first.
pub async fn list_of<C: ConnectionTrait>(
    conn: &C,
    settings: &StaffSettings,
    current: &Session,
) -> Result<Vec<Listed>, DbErr> {
    use sea_orm::QueryOrder;
    let rows = staff_sessions::Entity::find()
        .filter(staff_sessions::Column::StaffId.eq(current.staff.id))
        .order_by_desc(staff_sessions::Column::LastSeenAt)
        .order_by_desc(staff_sessions::Column::CreatedAt)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|row| !timed_out(row, settings))
        .filter_map(|row| {
            Some(Listed {
                handle: handle_of(&row.id_hash),
                stage: Stage::parse(&row.stage)?,
                started: row.created_at.with_timezone(&Utc),
                last_seen: row.last_seen_at.with_timezone(&Utc),
                expires: row.expires_at.with_timezone(&Utc),
                remember: row.remember,
                device: Device {
                    browser: row.browser,
                    os: row.os,
                },
                current: row.id_hash == current.id_hash,
            })
        })
        .collect())
}

/// The stored hash of the owner's session with this handle, if it is one of theirs.
pub async fn own_by_handle<C: ConnectionTrait>(
    conn: &C,
    staff_id: Uuid,
    handle: &str,
) -> Result<Option<Vec<u8>>, DbErr> {
    if handle.len() != 24 {
        return Ok(None);
    }
    let rows = staff_sessions::Entity::find()
        .filter(staff_sessions::Column::StaffId.eq(staff_id))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| row.id_hash)
        .find(|id_hash| handle_of(id_hash) == handle))
}

/// Ends one session (sign-out, or a session replaced by the next stage).
pub async fn end<C: ConnectionTrait>(conn: &C, id_hash: &[u8]) -> Result<(), DbErr> {
    staff_sessions::Entity::delete_by_id(id_hash.to_vec())
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends every session of a person, except `keep` (the one that changed the password).
pub async fn end_all_of<C: ConnectionTrait>(
    conn: &C,
    staff_id: Uuid,
    keep: Option<&[u8]>,
) -> Result<u64, DbErr> {
    let mut delete =
        staff_sessions::Entity::delete_many().filter(staff_sessions::Column::StaffId.eq(staff_id));
    if let Some(keep) = keep {
        delete = delete.filter(staff_sessions::Column::IdHash.ne(keep.to_vec()));
    }
    Ok(delete.exec(conn).await?.rows_affected)
}

/// Moves a session to the next stage under a new id: the id a browser held before the second
/// factor (or enrolment) is worthless afterwards.
pub async fn advance<C: ConnectionTrait>(
    conn: &C,
    settings: &StaffSettings,
    session: &Session,
    stage: Stage,
) -> Result<NewSession, DbErr> {
    end(conn, &session.id_hash).await?;
    let opening = Opening {
        remember: session.remember,
        device: session.device.clone(),
    };
    create(conn, settings, session.staff.id, stage, &opening).await
}

/// Deletes sessions that have expired (housekeeping).
pub async fn purge_expired<C: ConnectionTrait>(
    conn: &C,
    settings: &StaffSettings,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    let idle_cutoff = now - Duration::minutes(settings.session_idle_minutes);
    // A remembered session is not ended by idling, except a half-finished sign-in.
    let idle = sea_orm::Condition::all()
        .add(staff_sessions::Column::LastSeenAt.lte(idle_cutoff.fixed_offset()))
        .add(
            sea_orm::Condition::any()
                .add(staff_sessions::Column::Remember.eq(false))
                .add(staff_sessions::Column::Stage.eq(Stage::SecondFactor.as_str())),
        );
    Ok(staff_sessions::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(staff_sessions::Column::ExpiresAt.lte(now.fixed_offset()))
                .add(idle),
        )
        .exec(conn)
        .await?
        .rows_affected)
}
