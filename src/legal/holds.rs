//! Legal holds: a thread under hold must not be deleted — by the retention sweeper or by an
//! erasure request — until the hold is released. Placing and releasing take a written reason
//! and are audited; released holds stay as a record. Anything that deletes threads or contacts
//! asks [`is_held`] or [`is_contact_held`] first, in its own transaction.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{Caller, FieldIssue, LegalError, SubjectInput, parse_reason};
use crate::entities::{legal_holds, threads};
use crate::state::AppState;

/// Whether a thread is under an active hold.
pub async fn is_held<C: ConnectionTrait>(conn: &C, thread_id: Uuid) -> Result<bool, DbErr> {
    Ok(legal_holds::Entity::find()
        .filter(legal_holds::Column::ThreadId.eq(thread_id))
        .filter(legal_holds::Column::ReleasedAt.is_null())
        .count(conn)
        .await?
        > 0)
}

/// Whether any thread of a contact is under an active hold.
pub async fn is_contact_held<C: ConnectionTrait>(
    conn: &C,
    contact_id: Uuid,
) -> Result<bool, DbErr> {
    let by_contact = legal_holds::Entity::find()
        .filter(legal_holds::Column::ContactId.eq(contact_id))
        .filter(legal_holds::Column::ReleasedAt.is_null())
        .count(conn)
        .await?;
    if by_contact > 0 {
        return Ok(true);
    }
    // A thread held before it had this contact (or whose hold predates a contact id) counts too.
    let thread_ids: Vec<Uuid> = threads::Entity::find()
        .filter(threads::Column::ContactId.eq(contact_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    if thread_ids.is_empty() {
        return Ok(false);
    }
    Ok(legal_holds::Entity::find()
        .filter(legal_holds::Column::ThreadId.is_in(thread_ids))
        .filter(legal_holds::Column::ReleasedAt.is_null())
        .count(conn)
        .await?
        > 0)
}

/// An active hold as pages and the API show it.
#[derive(Debug, Clone)]
pub struct HoldView {
    pub id: Uuid,
    pub thread_id: Uuid,
    /// The thread's reference, or `(erased)`.
    pub reference: String,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
}

/// Every hold, active ones first, newest first.
pub async fn list(app: &AppState) -> Result<Vec<HoldView>, LegalError> {
    let rows = legal_holds::Entity::find()
        .order_by_desc(legal_holds::Column::PlacedAt)
        .all(&app.db)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|h| h.thread_id).collect();
    let refs: Vec<(Uuid, String)> = if ids.is_empty() {
        Vec::new()
    } else {
        threads::Entity::find()
            .filter(threads::Column::Id.is_in(ids))
            .all(&app.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.reference))
            .collect()
    };
    let mut views: Vec<HoldView> = rows
        .into_iter()
        .map(|h| HoldView {
            id: h.id,
            thread_id: h.thread_id,
            reference: refs
                .iter()
                .find(|(id, _)| *id == h.thread_id)
                .map(|(_, r)| r.clone())
                .unwrap_or_else(|| "(erased)".to_owned()),
            reason: h.reason,
            placed_by: h.placed_by,
            placed_at: h.placed_at.with_timezone(&Utc),
            released_at: h.released_at.map(|r| r.with_timezone(&Utc)),
        })
        .collect();
    views.sort_by_key(|h| h.released_at.is_some());
    Ok(views)
}

/// Places a hold on every thread a subject names that is not held already; returns the new
/// holds' ids (empty when all were held).
pub async fn place(
    app: &AppState,
    caller: &Caller,
    subject: &str,
    reason: &str,
) -> Result<Vec<Uuid>, LegalError> {
    let mut issues = Vec::new();
    let parsed = match SubjectInput::parse(subject, &app.sealer, &app.settings.mail.relay_domain) {
        Ok(s) => Some(s),
        Err(why) => {
            issues.push(FieldIssue::new(
                "subject",
                if subject.trim().is_empty() {
                    "required"
                } else {
                    "invalid_subject"
                },
                format!("The subject {why}."),
            ));
            None
        }
    };
    let reason = parse_reason("reason", reason)
        .map_err(|i| issues.push(i))
        .ok();
    let (Some(parsed), Some(reason)) = (parsed, reason) else {
        return Err(LegalError::Invalid(issues));
    };
    let txn = crate::db::begin_write(&app.db).await?;
    let thread_ids = parsed.resolve(&txn, &app.sealer).await?;
    if thread_ids.is_empty() {
        return Err(LegalError::Invalid(vec![FieldIssue::new(
            "subject",
            "no_match",
            "No conversation matches this subject.",
        )]));
    }
    let now = Utc::now().fixed_offset();
    let mut placed = Vec::new();
    for thread_id in thread_ids {
        if is_held(&txn, thread_id).await? {
            continue;
        }
        let contact_id = threads::Entity::find_by_id(thread_id)
            .one(&txn)
            .await?
            .and_then(|t| t.contact_id);
        let id = Uuid::now_v7();
        legal_holds::ActiveModel {
            id: Set(id),
            thread_id: Set(thread_id),
            contact_id: Set(contact_id),
            reason: Set(reason.clone()),
            placed_by: Set(caller.actor.clone()),
            placed_at: Set(now),
            released_at: Set(None),
            released_by: Set(None),
            release_reason: Set(None),
        }
        .insert(&txn)
        .await?;
        crate::audit::record(
            &txn,
            &caller.actor,
            "legal_hold.placed",
            Some(&thread_id.to_string()),
            serde_json::json!({ "hold_id": id, "reason": reason }),
        )
        .await?;
        placed.push(id);
    }
    txn.commit().await?;
    tracing::info!(actor = %caller.actor, holds = placed.len(), "legal hold placed");
    Ok(placed)
}

/// [`place`], answering with the holds placed as views (empty when all were held already).
pub async fn place_and_show(
    app: &AppState,
    caller: &Caller,
    subject: &str,
    reason: &str,
) -> Result<Vec<HoldView>, LegalError> {
    let ids = place(app, caller, subject, reason).await?;
    let mut placed = list(app).await?;
    placed.retain(|h| ids.contains(&h.id));
    Ok(placed)
}

/// Releases a hold.
pub async fn release(
    app: &AppState,
    caller: &Caller,
    id: Uuid,
    reason: &str,
) -> Result<(), LegalError> {
    let reason = parse_reason("reason", reason).map_err(|i| LegalError::Invalid(vec![i]))?;
    let txn = crate::db::begin_write(&app.db).await?;
    let hold = legal_holds::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(LegalError::NotFound)?;
    if hold.released_at.is_some() {
        return Err(LegalError::AlreadyReleased);
    }
    let thread_id = hold.thread_id;
    let mut active: legal_holds::ActiveModel = hold.into();
    active.released_at = Set(Some(Utc::now().fixed_offset()));
    active.released_by = Set(Some(caller.actor.clone()));
    active.release_reason = Set(Some(reason.clone()));
    active.update(&txn).await?;
    crate::audit::record(
        &txn,
        &caller.actor,
        "legal_hold.released",
        Some(&thread_id.to_string()),
        serde_json::json!({ "hold_id": id, "reason": reason }),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(actor = %caller.actor, hold_id = %id, "legal hold released");
    Ok(())
}
