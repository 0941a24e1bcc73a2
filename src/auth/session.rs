//! Server-side staff sessions. The cookie holds only an opaque random id; the database holds
//! its SHA-256, so a copy of the database signs nobody in. A session ends after
//! `staff.session_idle_minutes` without a request, `staff.session_absolute_hours` after sign-in,
//! at sign-out, and when its owner's password changes or is reset.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};
use uuid::Uuid;

use super::{random_token, token_hash};
use crate::config::StaffSettings;
use crate::entities::{staff, staff_sessions};

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
    pub staff: staff::Model,
}

/// A fresh session: the cookie value to hand out (never stored) and its CSRF token.
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
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
) -> Result<NewSession, DbErr> {
    let cookie = random_token(32);
    let csrf = random_token(32);
    let now = Utc::now();
    let lifetime = match stage {
        Stage::SecondFactor => Duration::minutes(SECOND_FACTOR_MINUTES),
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
    }
    .insert(conn)
    .await?;
    Ok(NewSession { cookie, csrf })
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
    let idle_limit = row.last_seen_at + Duration::minutes(settings.session_idle_minutes);
    let stage = Stage::parse(&row.stage);
    if row.expires_at <= now || idle_limit <= now || account.disabled || stage.is_none() {
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
        staff: account,
    }))
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
    create(conn, settings, session.staff.id, stage).await
}

/// Deletes sessions that have expired (housekeeping).
pub async fn purge_expired<C: ConnectionTrait>(
    conn: &C,
    settings: &StaffSettings,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    let idle_cutoff = now - Duration::minutes(settings.session_idle_minutes);
    Ok(staff_sessions::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(staff_sessions::Column::ExpiresAt.lte(now.fixed_offset()))
                .add(staff_sessions::Column::LastSeenAt.lte(idle_cutoff.fixed_offset())),
        )
        .exec(conn)
        .await?
        .rows_affected)
}
