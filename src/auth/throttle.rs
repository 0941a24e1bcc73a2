//! Sign-in throttling, per account and per client IP, kept in the database so that every
//! instance counts the same failures. Failures are counted in a fixed window
//! (`staff.signin_window_minutes`) starting at the first failure; once a key reaches its limit,
//! sign-in for it is refused until the window ends — for an account that does not exist just
//! as for one that does, so that the answer says nothing about which logins exist.
//!
//! Asking for a reset link is counted the same way, on keys of its own ([`Door::ResetLink`]):
//! every request counts, since its answer cannot say whether it did anything.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::config::StaffSettings;
use crate::entities::signin_failures;

/// Which door the counts are kept for: each has its own keys, with the same limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// Failed sign-ins and second factors.
    SignIn,
    /// Requests for a reset link ("Forgot your password?").
    ResetLink,
}

impl Door {
    fn prefix(self) -> &'static str {
        match self {
            Door::SignIn => "",
            Door::ResetLink => "reset-",
        }
    }
}

fn account_key(door: Door, login: &str) -> String {
    // Logins are at most 64 characters; anything longer cannot exist and is cut to bound the key.
    let login: String = login.trim().to_lowercase().chars().take(64).collect();
    format!("{}account:{login}", door.prefix())
}

fn ip_key(door: Door, ip: Option<IpAddr>) -> String {
    match ip {
        Some(ip) => format!("{}ip:{}", door.prefix(), crate::rate_limit::bucket(ip)),
        None => format!("{}ip:unknown", door.prefix()),
    }
}

/// `Err(seconds)` when `door` for this login or from this IP must wait that long.
pub async fn check<C: ConnectionTrait>(
    conn: &C,
    settings: &StaffSettings,
    door: Door,
    login: &str,
    ip: Option<IpAddr>,
) -> Result<Result<(), u64>, DbErr> {
    let window = Duration::minutes(settings.signin_window_minutes);
    let now = Utc::now();
    let rows = signin_failures::Entity::find()
        .filter(signin_failures::Column::Key.is_in([account_key(door, login), ip_key(door, ip)]))
        .all(conn)
        .await?;
    let mut wait: Option<DateTime<Utc>> = None;
    for row in rows {
        let limit = if row.key.starts_with(&account_key(door, "")) {
            settings.signin_max_failures
        } else {
            settings.signin_max_failures_per_ip
        };
        let ends = row.window_started_at.with_timezone(&Utc) + window;
        if row.failures >= limit && ends > now {
            wait = Some(wait.map_or(ends, |w| Ord::max(w, ends)));
        }
    }
    Ok(match wait {
        Some(until) => Err(Ord::max((until - now).num_seconds() + 1, 1) as u64),
        None => Ok(()),
    })
}

/// Counts one failed sign-in (or one reset-link request) against the login and the IP.
pub async fn record_failure<C: ConnectionTrait>(
    conn: &C,
    settings: &StaffSettings,
    door: Door,
    login: &str,
    ip: Option<IpAddr>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let window_start = (now - Duration::minutes(settings.signin_window_minutes)).fixed_offset();
    for key in [account_key(door, login), ip_key(door, ip)] {
        signin_failures::Entity::insert(signin_failures::ActiveModel {
            key: Set(key.clone()),
            failures: Set(0),
            window_started_at: Set(now.fixed_offset()),
        })
        .on_conflict_do_nothing()
        .exec(conn)
        .await?;
        // A window that has ended starts again with this failure.
        let stale = Expr::col(signin_failures::Column::WindowStartedAt).lte(window_start);
        signin_failures::Entity::update_many()
            .col_expr(
                signin_failures::Column::Failures,
                Expr::case(stale.clone(), 1)
                    .finally(Expr::col(signin_failures::Column::Failures).add(1))
                    .into(),
            )
            .col_expr(
                signin_failures::Column::WindowStartedAt,
                Expr::case(stale, now.fixed_offset())
                    .finally(Expr::col(signin_failures::Column::WindowStartedAt))
                    .into(),
            )
            .filter(signin_failures::Column::Key.eq(key))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// A successful sign-in clears the account's count (not the IP's).
pub async fn clear<C: ConnectionTrait>(conn: &C, login: &str) -> Result<(), DbErr> {
    signin_failures::Entity::delete_by_id(account_key(Door::SignIn, login))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes counts whose window has ended (housekeeping).
pub async fn purge_expired<C: ConnectionTrait>(
    conn: &C,
    settings: &StaffSettings,
) -> Result<u64, DbErr> {
    let cutoff = Utc::now() - Duration::minutes(settings.signin_window_minutes);
    Ok(signin_failures::Entity::delete_many()
        .filter(signin_failures::Column::WindowStartedAt.lte(cutoff.fixed_offset()))
        .exec(conn)
        .await?
        .rows_affected)
}
