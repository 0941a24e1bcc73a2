//! The visitor's own data, and keeping only what is still needed. From the private link a
//! visitor downloads everything Sealpost holds about their conversation, or withdraws consent
//! and erases it; an administrator erases by address (through the blind index). The retention
//! sweeper forgets sealed IPs, closed conversations and spam past their periods. Nothing under a
//! legal hold is erased or swept, and every erasure, export and sweep is in the audit log, in
//! the same transaction as what it records.

use std::net::IpAddr;

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;

use crate::audit;
use crate::domain::{EmailAddress, ThreadToken, VisitorName};
use crate::entities::{contacts, messages, outbox, threads};
use crate::seal::Sealed;
use crate::state::AppState;

/// The actor of what a visitor does through their private link.
pub const VISITOR: &str = "visitor";

#[derive(Debug, Serialize)]
pub struct ExportedMessage {
    pub author: String,
    pub body_html: String,
    pub created_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct ExportedMail {
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub state: String,
    pub created_at: chrono::DateTime<Utc>,
    pub sent_at: Option<chrono::DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct ExportedContact {
    pub email: Option<String>,
    pub name: Option<String>,
    /// The address the message came from, kept sealed for `retention.sealed_ip_days`.
    pub ip: Option<String>,
    pub bounces: i64,
}

/// Everything Sealpost holds about one conversation.
#[derive(Debug, Serialize)]
pub struct Export {
    pub reference: String,
    pub subject: Option<String>,
    pub status: String,
    pub language: String,
    pub consent_policy_version: String,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
    pub contact: Option<ExportedContact>,
    pub messages: Vec<ExportedMessage>,
    pub mails: Vec<ExportedMail>,
    /// Technical data is kept only as daily counts that cannot be traced to this conversation.
    pub technical_data: &'static str,
}

/// The visitor's download: opens their own sealed data for them (recorded in the audit log).
pub async fn export(app: &AppState, token: &ThreadToken) -> Result<Option<Export>, DbErr> {
    let txn = crate::db::begin_write(&app.db).await?;
    let Some(thread) = threads::Entity::find()
        .filter(threads::Column::AccessTokenHash.eq(token.hash()))
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    let contact = match thread.contact_id {
        Some(id) => contacts::Entity::find_by_id(id).one(&txn).await?,
        None => None,
    };
    let contact = match contact {
        Some(c) => {
            audit::record(
                &txn,
                VISITOR,
                "contact.unsealed",
                Some(&c.id.to_string()),
                serde_json::json!({ "purpose": "visitor_export", "thread_id": thread.id }),
            )
            .await?;
            let email = c.email_sealed.clone().and_then(|b| {
                app.sealer
                    .open::<EmailAddress>(&Sealed::from_stored(b), c.id)
                    .ok()
                    .map(|e| e.as_str().to_owned())
            });
            let name = c.name_sealed.clone().and_then(|b| {
                app.sealer
                    .open::<VisitorName>(&Sealed::from_stored(b), c.id)
                    .ok()
                    .map(|n| n.as_str().to_owned())
            });
            let ip = c.ip_sealed.clone().and_then(|b| {
                app.sealer
                    .open::<IpAddr>(&Sealed::from_stored(b), c.id)
                    .ok()
                    .map(|ip| ip.to_string())
            });
            Some(ExportedContact {
                email,
                name,
                ip,
                bounces: c.bounces,
            })
        }
        None => None,
    };
    let messages = messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread.id))
        .order_by_asc(messages::Column::CreatedAt)
        .order_by_asc(messages::Column::Id)
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| ExportedMessage {
            author: m.author,
            body_html: m.body_html,
            created_at: m.created_at.with_timezone(&Utc),
        })
        .collect();
    let mails = outbox::Entity::find()
        .filter(outbox::Column::ThreadId.eq(thread.id))
        .order_by_asc(outbox::Column::CreatedAt)
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| ExportedMail {
            kind: m.kind,
            to: m.recipient,
            subject: m.subject,
            state: m.state,
            created_at: m.created_at.with_timezone(&Utc),
            sent_at: m.sent_at.map(|t| t.with_timezone(&Utc)),
        })
        .collect();
    txn.commit().await?;
    Ok(Some(Export {
        reference: thread.reference,
        subject: thread.subject,
        status: thread.status,
        language: thread.locale,
        consent_policy_version: thread.consent_policy_version,
        created_at: thread.created_at.with_timezone(&Utc),
        updated_at: thread.updated_at.with_timezone(&Utc),
        contact,
        messages,
        mails,
        technical_data: "kept only as anonymous daily counts (browser and OS family, referring \
                         host, page, language, network); nothing links them to this conversation",
    }))
}

/// What an erasure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erasure {
    Erased,
    /// Under a legal hold: nothing was erased.
    Held,
    NotFound,
}

/// Whether a conversation, or the contact it belongs to, is under a legal hold.
async fn held<C: ConnectionTrait>(conn: &C, thread: &threads::Model) -> Result<bool, DbErr> {
    Ok(crate::legal::is_held(conn, thread.id).await?
        || match thread.contact_id {
            Some(contact_id) => crate::legal::is_contact_held(conn, contact_id).await?,
            None => false,
        })
}

/// Deletes a conversation with its messages and mails, and its contact data; the caller has
/// checked that no legal hold applies.
async fn delete_thread<C: ConnectionTrait>(conn: &C, thread: &threads::Model) -> Result<(), DbErr> {
    threads::Entity::delete_by_id(thread.id).exec(conn).await?;
    if let Some(contact_id) = thread.contact_id {
        let still_used = threads::Entity::find()
            .filter(threads::Column::ContactId.eq(contact_id))
            .count(conn)
            .await?;
        if still_used == 0 {
            contacts::Entity::delete_by_id(contact_id)
                .exec(conn)
                .await?;
        }
    }
    Ok(())
}

/// The visitor withdraws consent and erases their conversation.
pub async fn erase_thread(app: &AppState, token: &ThreadToken) -> Result<Erasure, DbErr> {
    let txn = crate::db::begin_write(&app.db).await?;
    let Some(thread) = threads::Entity::find()
        .filter(threads::Column::AccessTokenHash.eq(token.hash()))
        .one(&txn)
        .await?
    else {
        return Ok(Erasure::NotFound);
    };
    if held(&txn, &thread).await? {
        return Ok(Erasure::Held);
    }
    delete_thread(&txn, &thread).await?;
    audit::record(
        &txn,
        VISITOR,
        "visitor.erased",
        Some(&thread.id.to_string()),
        serde_json::json!({ "reason": "consent_withdrawn", "reference": thread.reference }),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(thread_id = %thread.id, "a visitor erased their conversation");
    Ok(Erasure::Erased)
}

/// What an erasure by address did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErasedByAddress {
    pub erased: u64,
    pub held: u64,
}

/// An administrator erases every conversation of an address, found through the blind index.
pub async fn erase_by_address(
    app: &AppState,
    actor: &str,
    email: &EmailAddress,
) -> Result<ErasedByAddress, DbErr> {
    let txn = crate::db::begin_write(&app.db).await?;
    let contact_ids: Vec<Uuid> = contacts::Entity::find()
        .filter(contacts::Column::EmailIndex.eq(app.sealer.email_index(email)))
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut done = ErasedByAddress::default();
    if !contact_ids.is_empty() {
        let of_address = threads::Entity::find()
            .filter(threads::Column::ContactId.is_in(contact_ids))
            .all(&txn)
            .await?;
        for thread in &of_address {
            if held(&txn, thread).await? {
                done.held += 1;
            } else {
                delete_thread(&txn, thread).await?;
                done.erased += 1;
            }
        }
    }
    // The address itself is not written down: the blind index finds it again if needed.
    audit::record(
        &txn,
        actor,
        "privacy.erased_by_address",
        None,
        serde_json::json!({ "erased": done.erased, "held": done.held }),
    )
    .await?;
    txn.commit().await?;
    Ok(done)
}

/// What one retention run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub sealed_ips_forgotten: u64,
    pub closed_threads_deleted: u64,
    pub spam_threads_deleted: u64,
    pub held_and_kept: u64,
    /// Used proof-of-work challenges past their expiry (they could not count again anyway).
    pub spent_challenges_forgotten: u64,
}

const BATCH: u64 = 500;

/// One retention run: forgets sealed IPs and deletes closed and spam conversations past their
/// periods, skipping everything under a legal hold, and deletes used proof-of-work challenges
/// that have expired. A run is one transaction (after that deletion) with one audit entry
/// holding its counts; it reads in batches and does at most `retention.max_per_run` of
/// each kind, so that the write lock is held briefly — the rest waits for the next run.
pub async fn sweep(app: &AppState) -> Result<Swept, DbErr> {
    let settings = &app.settings.retention;
    let cap = settings.max_per_run.max(1);
    let now = Utc::now();
    let mut swept = Swept::default();
    // Before the run's own transaction: the deletion takes its own write turn.
    if let Some(pow) = &app.pow {
        swept.spent_challenges_forgotten = pow.forget_expired(&app.db).await?;
    }
    let txn = crate::db::begin_write(&app.db).await?;
    // Sealed IPs: the contact keeps its address (for answers) but loses the IP.
    let ip_cutoff = (now - Duration::days(settings.sealed_ip_days)).fixed_offset();
    let mut after: Option<Uuid> = None;
    while swept.sealed_ips_forgotten < cap {
        let mut query = contacts::Entity::find()
            .filter(contacts::Column::IpSealed.is_not_null())
            .filter(contacts::Column::CreatedAt.lt(ip_cutoff))
            .order_by_asc(contacts::Column::Id)
            .limit(BATCH.min(cap - swept.sealed_ips_forgotten));
        if let Some(after) = after {
            query = query.filter(contacts::Column::Id.gt(after));
        }
        let due = query.all(&txn).await?;
        let mut forget = Vec::new();
        for contact in &due {
            if crate::legal::is_contact_held(&txn, contact.id).await? {
                swept.held_and_kept += 1;
            } else {
                forget.push(contact.id);
            }
        }
        swept.sealed_ips_forgotten += forget.len() as u64;
        if !forget.is_empty() {
            contacts::Entity::update_many()
                .col_expr(
                    contacts::Column::IpSealed,
                    Expr::value(Option::<Vec<u8>>::None),
                )
                .filter(contacts::Column::Id.is_in(forget))
                .exec(&txn)
                .await?;
        }
        after = due.last().map(|c| c.id);
        if (due.len() as u64) < BATCH {
            break;
        }
    }
    for (status, days) in [
        ("closed", settings.closed_thread_days),
        ("spam", settings.spam_days),
    ] {
        let cutoff = (now - Duration::days(days)).fixed_offset();
        let mut after: Option<Uuid> = None;
        let mut deleted = 0;
        while deleted < cap {
            let mut query = threads::Entity::find()
                .filter(threads::Column::Status.eq(status))
                .filter(threads::Column::UpdatedAt.lt(cutoff))
                .order_by_asc(threads::Column::Id)
                .limit(BATCH.min(cap - deleted));
            if let Some(after) = after {
                query = query.filter(threads::Column::Id.gt(after));
            }
            let due = query.all(&txn).await?;
            for thread in &due {
                if held(&txn, thread).await? {
                    swept.held_and_kept += 1;
                } else {
                    delete_thread(&txn, thread).await?;
                    deleted += 1;
                }
            }
            after = due.last().map(|t| t.id);
            if (due.len() as u64) < BATCH {
                break;
            }
        }
        match status {
            "closed" => swept.closed_threads_deleted = deleted,
            _ => swept.spam_threads_deleted = deleted,
        }
    }
    audit::record(
        &txn,
        audit::SYSTEM,
        "retention.swept",
        None,
        serde_json::to_value(swept).unwrap_or_default(),
    )
    .await?;
    txn.commit().await?;
    if swept != Swept::default() {
        tracing::info!(?swept, "retention run");
    }
    Ok(swept)
}
