//! The staff inbox: threads listed newest activity first (by status, by a search in subject and
//! body), one thread with all its messages, status changes, and answers. The visitor appears by
//! name (when given) and by the relay alias staff can write to — their address is never read
//! here. Answers go through [`messages::record_staff_answer`], the same path as answers by
//! e-mail, so the visitor gets them from the support address through the outbox.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::domain::{Author, MessageBody, Reference, Subject, ThreadStatus, VisitorName};
use crate::entities::{contacts, messages as message_rows, staff, threads};
use crate::mail::relay_token::{Direction, RelayToken};
use crate::messages::{self, StoreError};
use crate::seal::Sealed;
use crate::state::AppState;

/// The most threads one page lists.
pub const MAX_PAGE: u64 = 100;

/// Where a page of the list starts: after this thread in (last activity, id) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    updated_at: DateTime<FixedOffset>,
    id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.updated_at.to_rfc3339(), self.id))
    }

    pub fn parse(s: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s.trim()).ok()?).ok()?;
        let (at, id) = raw.split_once('|')?;
        Some(Self {
            updated_at: DateTime::parse_from_rfc3339(at).ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// What the list shows.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<ThreadStatus>,
    /// Words to find in the subject or any message of a thread (case-insensitive for ASCII).
    pub query: Option<String>,
    pub after: Option<Cursor>,
    pub limit: u64,
}

/// One thread in the list.
#[derive(Debug)]
pub struct Summary {
    pub thread_id: Uuid,
    /// The thread's first message: the id the staff API addresses it by.
    pub message_id: Uuid,
    pub reference: String,
    pub subject: Option<String>,
    pub status: ThreadStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub message_count: usize,
    pub last_author: Author,
    /// The start of the latest message, as plain text.
    pub excerpt: String,
}

pub struct Page {
    pub items: Vec<Summary>,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
}

fn like_pattern(query: &str) -> String {
    let escaped = query
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A page of threads, newest activity first. Each page is a range scan on
/// (status, updated_at, id), so paging stays cheap however many threads there are.
pub async fn list(app: &AppState, filter: &Filter) -> Result<Page, DbErr> {
    let limit = filter.limit.clamp(1, MAX_PAGE);
    // No stored text holds a control character (bodies and subjects refuse them), and
    // PostgreSQL cannot even compare against a NUL: such a search finds nothing.
    if filter
        .query
        .as_deref()
        .is_some_and(|q| q.chars().any(char::is_control))
    {
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    }
    let mut select = threads::Entity::find();
    match filter.status {
        // Held: new conversations the spam defences held, and conversations with a reply held.
        Some(ThreadStatus::Held) => {
            let has_held_message = Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(message_rows::Entity)
                    .and_where(
                        Expr::col((message_rows::Entity, message_rows::Column::ThreadId))
                            .equals((threads::Entity, threads::Column::Id)),
                    )
                    .and_where(
                        Expr::col((message_rows::Entity, message_rows::Column::HeldReason))
                            .is_not_null(),
                    )
                    .to_owned(),
            );
            select = select.filter(
                Condition::any()
                    .add(threads::Column::Status.eq(ThreadStatus::Held.as_str()))
                    .add(has_held_message),
            );
        }
        Some(status) => select = select.filter(threads::Column::Status.eq(status.as_str())),
        None => {}
    }
    if let Some(query) = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        let pattern = like_pattern(query);
        let in_subject = Expr::expr(Func::lower(Expr::col((
            threads::Entity,
            threads::Column::Subject,
        ))))
        .like(LikeExpr::new(pattern.clone()).escape('\\'));
        let in_body = Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(message_rows::Entity)
                .and_where(
                    Expr::col((message_rows::Entity, message_rows::Column::ThreadId))
                        .equals((threads::Entity, threads::Column::Id)),
                )
                .and_where(
                    Expr::expr(Func::lower(Expr::col((
                        message_rows::Entity,
                        message_rows::Column::BodyHtml,
                    ))))
                    .like(LikeExpr::new(pattern).escape('\\')),
                )
                .to_owned(),
        );
        select = select.filter(Condition::any().add(in_subject).add(in_body));
    }
    if let Some(after) = &filter.after {
        // `updated_at <= x` is redundant with the OR below, but it is what lets the database
        // start the index range at the cursor instead of walking every newer row to get there.
        select = select.filter(threads::Column::UpdatedAt.lte(after.updated_at));
        select = select.filter(
            Condition::any()
                .add(threads::Column::UpdatedAt.lt(after.updated_at))
                .add(
                    Condition::all()
                        .add(threads::Column::UpdatedAt.eq(after.updated_at))
                        .add(threads::Column::Id.lt(after.id)),
                ),
        );
    }
    let mut rows = select
        .order_by_desc(threads::Column::UpdatedAt)
        .order_by_desc(threads::Column::Id)
        .limit(limit + 1)
        .all(&app.db)
        .await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|t| Cursor {
            updated_at: t.updated_at,
            id: t.id,
        })
    } else {
        None
    };
    let ids: Vec<Uuid> = rows.iter().map(|t| t.id).collect();
    let all_messages = message_rows::Entity::find()
        .filter(message_rows::Column::ThreadId.is_in(ids))
        .order_by_asc(message_rows::Column::CreatedAt)
        .order_by_asc(message_rows::Column::Id)
        .all(&app.db)
        .await?;
    let items = rows
        .into_iter()
        .filter_map(|t| {
            let of_thread: Vec<&message_rows::Model> = all_messages
                .iter()
                .filter(|m| m.thread_id == t.id)
                .collect();
            let first = of_thread.first()?;
            let last = of_thread.last()?;
            Some(Summary {
                thread_id: t.id,
                message_id: first.id,
                reference: t.reference,
                subject: t.subject,
                status: ThreadStatus::parse(&t.status).unwrap_or(ThreadStatus::Open),
                created_at: t.created_at.with_timezone(&Utc),
                updated_at: t.updated_at.with_timezone(&Utc),
                message_count: of_thread.len(),
                last_author: Author::parse(&last.author).unwrap_or(Author::Visitor),
                excerpt: excerpt(&MessageBody::from_stored(last.body_html.clone()).to_text()),
            })
        })
        .collect();
    Ok(Page { items, next })
}

fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= 160 {
        flat
    } else {
        let mut cut: String = flat.chars().take(157).collect();
        cut.push('…');
        cut
    }
}

/// The visitor as staff see them.
#[derive(Debug)]
pub struct Visitor {
    pub name: Option<String>,
    /// The relay address that reaches the visitor; their own address stays sealed.
    pub alias: String,
    /// Whether the visitor gave an address at all (answers reach them by mail).
    pub reachable_by_mail: bool,
}

#[derive(Debug)]
pub struct StaffMessage {
    pub id: Uuid,
    pub author: Author,
    /// For answers from the inbox: who wrote it.
    pub staff_login: Option<String>,
    pub body: MessageBody,
    pub created_at: DateTime<Utc>,
    /// Why the message waits for staff review (a reply by mail that failed authentication):
    /// the visitor's page does not show it until it is released.
    pub held_reason: Option<String>,
}

#[derive(Debug)]
pub struct Thread {
    pub id: Uuid,
    pub message_id: Uuid,
    pub reference: Reference,
    pub subject: Option<Subject>,
    pub status: ThreadStatus,
    pub locale: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the spam defences found in the first message, when they found anything.
    pub spam_verdict: Option<String>,
    pub visitor: Visitor,
    pub messages: Vec<StaffMessage>,
}

/// The thread a message belongs to, by the message's id or by the thread's own id.
async fn find_thread<C: sea_orm::ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<Option<threads::Model>, DbErr> {
    let thread_id = match message_rows::Entity::find_by_id(id).one(conn).await? {
        Some(message) => message.thread_id,
        None => id,
    };
    threads::Entity::find_by_id(thread_id).one(conn).await
}

/// The id of a thread, for a message id or the thread's own id.
pub async fn thread_id(app: &AppState, id: Uuid) -> Result<Option<Uuid>, DbErr> {
    Ok(find_thread(&app.db, id).await?.map(|t| t.id))
}

/// One thread with every message in order, for a message id or a thread id. Opening the
/// visitor's sealed name for `actor` is recorded in the audit log in the same transaction.
pub async fn thread(app: &AppState, id: Uuid, actor: &str) -> Result<Option<Thread>, StoreError> {
    let Some(thread) = find_thread(&app.db, id).await? else {
        return Ok(None);
    };
    let rows = message_rows::Entity::find()
        .filter(message_rows::Column::ThreadId.eq(thread.id))
        .order_by_asc(message_rows::Column::CreatedAt)
        .order_by_asc(message_rows::Column::Id)
        .all(&app.db)
        .await?;
    let staff_ids: Vec<Uuid> = rows.iter().filter_map(|m| m.staff_id).collect();
    let logins = if staff_ids.is_empty() {
        Vec::new()
    } else {
        staff::Entity::find()
            .filter(staff::Column::Id.is_in(staff_ids))
            .all(&app.db)
            .await?
    };
    let contact = match thread.contact_id {
        Some(id) => contacts::Entity::find_by_id(id).one(&app.db).await?,
        None => None,
    };
    // The name is shown to staff (notifications carry it too); the address is never opened here.
    let sealed_name = contact
        .as_ref()
        .and_then(|c| c.name_sealed.clone().map(|bytes| (c.id, bytes)));
    let name = match sealed_name {
        Some((owner, bytes)) => {
            // Only a view that opens a name writes: its record commits before the name is opened.
            let txn = crate::db::begin_write(&app.db).await?;
            crate::audit::record(
                &txn,
                actor,
                "contact.unsealed",
                Some(&owner.to_string()),
                serde_json::json!({
                    "purpose": "staff_view",
                    "fields": ["name"],
                    "thread_id": thread.id,
                }),
            )
            .await?;
            txn.commit().await?;
            app.sealer
                .open(&Sealed::<VisitorName>::from_stored(bytes), owner)
                .map_err(|e| tracing::error!(error = %e, thread_id = %thread.id, "a sealed name does not open"))
                .ok()
                .map(|n| n.as_str().to_owned())
        }
        None => None,
    };
    let visitor = Visitor {
        name,
        alias: RelayToken::new(thread.id, Direction::FromStaff)
            .alias(&app.sealer, &app.settings.mail.relay_domain),
        reachable_by_mail: contact.is_some_and(|c| c.email_sealed.is_some()),
    };
    let first_id = rows.first().map(|m| m.id).unwrap_or(thread.id);
    Ok(Some(Thread {
        id: thread.id,
        message_id: first_id,
        reference: messages::stored_reference(&thread)?,
        subject: thread.subject.map(Subject::from_stored),
        status: ThreadStatus::parse(&thread.status).unwrap_or(ThreadStatus::Open),
        locale: thread.locale,
        created_at: thread.created_at.with_timezone(&Utc),
        updated_at: thread.updated_at.with_timezone(&Utc),
        spam_verdict: thread.spam_verdict,
        visitor,
        messages: rows
            .into_iter()
            .map(|m| StaffMessage {
                id: m.id,
                author: Author::parse(&m.author).unwrap_or(Author::Visitor),
                staff_login: m
                    .staff_id
                    .and_then(|sid| logins.iter().find(|s| s.id == sid).map(|s| s.login.clone())),
                body: MessageBody::from_stored(m.body_html),
                created_at: m.created_at.with_timezone(&Utc),
                held_reason: m.held_reason,
            })
            .collect(),
    }))
}

/// What staff decide about a held message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldDecision {
    /// It joins the conversation: the visitor's page shows it and the thread opens again.
    Release,
    /// It is deleted.
    Discard,
}

/// Releases or discards a held message of the thread `thread_id`; `false` when there is no
/// such held message there. A released message joins the conversation as if it arrived now:
/// the thread opens again and staff are told by mail, which nobody was while it was held.
/// A decision about a message the spam defences held is counted and teaches Rspamd. Recorded
/// in the audit log.
pub async fn decide_held(
    app: &AppState,
    thread_id: Uuid,
    message_id: Uuid,
    decision: HeldDecision,
    actor: &str,
) -> Result<bool, StoreError> {
    let txn = crate::db::begin_write(&app.db).await?;
    let Some(message) = message_rows::Entity::find_by_id(message_id)
        .filter(message_rows::Column::ThreadId.eq(thread_id))
        .filter(message_rows::Column::HeldReason.is_not_null())
        .one(&txn)
        .await?
    else {
        return Ok(false);
    };
    let for_spam = message
        .held_reason
        .as_deref()
        .is_some_and(|r| r.starts_with(messages::SPAM_HOLD));
    let body = MessageBody::from_stored(message.body_html.clone());
    match decision {
        HeldDecision::Release => {
            let mut active: message_rows::ActiveModel = message.into();
            active.held_reason = Set(None);
            active.update(&txn).await?;
            if let Some(thread) = threads::Entity::find_by_id(thread_id).one(&txn).await? {
                messages::record_visitor_follow_up(app, &txn, thread, &body).await?;
            }
        }
        HeldDecision::Discard => {
            message_rows::Entity::delete_by_id(message_id)
                .exec(&txn)
                .await?;
        }
    }
    crate::audit::record(
        &txn,
        actor,
        match decision {
            HeldDecision::Release => "message.released",
            HeldDecision::Discard => "message.discarded",
        },
        Some(&message_id.to_string()),
        serde_json::json!({ "thread_id": thread_id }),
    )
    .await?;
    if for_spam {
        let outcome = match decision {
            HeldDecision::Release => crate::tally::Outcome::Approved,
            HeldDecision::Discard => crate::tally::Outcome::Spam,
        };
        crate::tally::count_outcome(&txn, outcome, 1).await?;
    }
    txn.commit().await?;
    app.outbox_wakeup.notify_one();
    if for_spam {
        crate::moderation::teach_text(app, None, &body, decision == HeldDecision::Discard).await;
    }
    tracing::info!(%thread_id, %message_id, ?decision, actor, "held message decided");
    Ok(true)
}

/// Why a status could not be set.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// `held` is the spam defences' to give; staff approve or mark as spam.
    #[error("only the spam defences hold a conversation")]
    CannotHold,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// What a status change did besides the status.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StatusChange {
    /// The held mails it sent on their way (a held conversation approved: the notification to
    /// staff and the visitor's acknowledgement).
    pub mails_released: u64,
}

/// Sets a thread's status (for a message id or thread id); `None` when there is no such thread.
/// Leaving `held` for anything but `spam` approves the conversation: its held mails are queued,
/// exactly once however many staff press the button (the status moves only from the status
/// read, and the mails only from `held`). Marking as spam and back teaches Rspamd, when one is
/// configured. Approvals and spam are counted per day and recorded in the audit log.
pub async fn set_status(
    app: &AppState,
    id: Uuid,
    status: ThreadStatus,
    actor: &str,
) -> Result<Option<StatusChange>, StatusError> {
    if status == ThreadStatus::Held {
        return Err(StatusError::CannotHold);
    }
    let txn = crate::db::begin_write(&app.db).await?;
    let Some(thread) = find_thread(&txn, id).await? else {
        return Ok(None);
    };
    let thread_id = thread.id;
    let before = ThreadStatus::parse(&thread.status).unwrap_or(ThreadStatus::Open);
    let moved = threads::Entity::update_many()
        .col_expr(threads::Column::Status, Expr::value(status.as_str()))
        .col_expr(
            threads::Column::UpdatedAt,
            Expr::value(Utc::now().fixed_offset()),
        )
        .filter(threads::Column::Id.eq(thread_id))
        .filter(threads::Column::Status.eq(before.as_str()))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    let mut change = StatusChange::default();
    if moved && before != status {
        let approved = status != ThreadStatus::Spam
            && matches!(before, ThreadStatus::Held | ThreadStatus::Spam);
        if approved {
            change.mails_released = crate::outbox::release_held(&txn, thread_id).await?;
        }
        let outcome = if status == ThreadStatus::Spam {
            Some(crate::tally::Outcome::Spam)
        } else if before == ThreadStatus::Held || change.mails_released > 0 {
            Some(crate::tally::Outcome::Approved)
        } else {
            None
        };
        if let Some(outcome) = outcome {
            crate::tally::count_outcome(&txn, outcome, 1).await?;
            crate::audit::record(
                &txn,
                actor,
                match outcome {
                    crate::tally::Outcome::Spam => "thread.marked_spam",
                    _ => "thread.approved",
                },
                Some(&thread_id.to_string()),
                serde_json::json!({ "from": before.as_str(), "mails_released": change.mails_released }),
            )
            .await?;
        }
    }
    txn.commit().await?;
    if change.mails_released > 0 {
        app.outbox_wakeup.notify_one();
    }
    if moved && before != status && (status == ThreadStatus::Spam || before == ThreadStatus::Spam) {
        crate::moderation::teach(app, thread_id, status == ThreadStatus::Spam).await;
    }
    tracing::info!(%thread_id, from = before.as_str(), status = status.as_str(), released = change.mails_released, actor, "thread status set");
    Ok(Some(change))
}

/// Answers a thread from the inbox or the API; `None` when there is no such thread.
pub async fn reply(
    app: &AppState,
    id: Uuid,
    staff_id: Option<Uuid>,
    body: &MessageBody,
    actor: &str,
) -> Result<Option<Uuid>, StoreError> {
    // Answering a held conversation approves it: its notification and the visitor's
    // acknowledgement go out first, as the button would send them.
    if let Some(held) = find_thread(&app.db, id).await?
        && held.status == ThreadStatus::Held.as_str()
    {
        match set_status(app, held.id, ThreadStatus::New, actor).await {
            Ok(_) => {}
            Err(StatusError::Db(e)) => return Err(e.into()),
            Err(StatusError::CannotHold) => {}
        }
    }
    let txn = crate::db::begin_write(&app.db).await?;
    let Some(thread) = find_thread(&txn, id).await? else {
        return Ok(None);
    };
    let contact = match thread.contact_id {
        Some(id) => contacts::Entity::find_by_id(id).one(&txn).await?,
        None => None,
    };
    let thread_id = thread.id;
    let message_id =
        messages::record_staff_answer(app, &txn, thread, contact.as_ref(), staff_id, body).await?;
    txn.commit().await?;
    app.outbox_wakeup.notify_one();
    tracing::info!(%thread_id, %message_id, actor, "staff answered from the inbox");
    Ok(Some(message_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = Cursor {
            updated_at: Utc::now().fixed_offset(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::parse("not a cursor"), None);
        assert_eq!(Cursor::parse(""), None);
    }

    #[test]
    fn search_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("ABC"), "%abc%");
    }
}
