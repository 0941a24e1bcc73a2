//! The outbox: mail is a row written in the transaction of the change that causes it, and a
//! worker inside `sealpost serve` delivers it. Rows are claimed with a lease (and
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL) so several workers never send one row at once;
//! failures are retried with exponential backoff and jitter; a permanent SMTP refusal, too many
//! attempts or too much age make a row `dead` with its last error. The Message-ID is fixed at
//! enqueue time, so a retry after a crash is the same mail (at-least-once, never silently lost).
//! A row may be held until a time (`not_before`: the notice to a data subject under a gag
//! order): nothing claims it earlier, not even `sealpost outbox retry`, and its age for giving
//! up counts from then, so a long hold does not make it dead on its first failure.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use futures_util::StreamExt;
use lettre::message::Mailbox;
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Statement,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::{EmailAddress, VisitorName};
use crate::entities::{contacts, outbox, staff};
use crate::mail::{self, Composed, Mailer};
use crate::seal::{MailBody, Sealed, Sealer};
use crate::state::AppState;

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const DEAD: &str = "dead";
/// The mails of a conversation held for spam review: not sent until staff approve it.
pub const HELD: &str = "held";

/// What kind of mail a row is; stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// To staff: a visitor wrote (new thread or again).
    NewMessage,
    /// To the visitor: we have your message.
    VisitorAck,
    /// To the visitor: staff answered.
    StaffAnswer,
    /// To the visitor: data about them was disclosed under a legal order.
    DisclosureNotice,
    /// To staff: their answer by e-mail was not passed on.
    RelayNotice,
    /// To one staff account: the reset link it asked for.
    ResetLink,
    /// To a legal user: a disclosure request awaits their approval.
    ApprovalRequest,
    /// To a legal user: an open disclosure request's deadline is near.
    DeadlineReminder,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NewMessage => "new_message",
            Kind::VisitorAck => "visitor_ack",
            Kind::StaffAnswer => "staff_answer",
            Kind::DisclosureNotice => "disclosure_notice",
            Kind::RelayNotice => "relay_notice",
            Kind::ResetLink => "reset_link",
            Kind::ApprovalRequest => "approval_request",
            Kind::DeadlineReminder => "deadline_reminder",
        }
    }
}

/// Who receives a row: the configured staff mailboxes, the visitor of the row's contact,
/// whose sealed address is opened only at delivery, one staff account at its own address
/// (read at delivery too, so a row never holds it), or one staff member's address stored with
/// the row (a legal user's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Staff,
    Visitor,
    Account(Uuid),
    Address(EmailAddress),
}

/// Adds a mail to the outbox; call it with the transaction of the change that causes it.
/// `contact_id` is the visitor the mail is about (their name shows in staff notifications)
/// or, for [`Recipient::Visitor`], to.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    sealer: &Sealer,
    kind: Kind,
    thread_id: Option<Uuid>,
    recipient: Recipient,
    contact_id: Option<Uuid>,
    mail: &Composed,
) -> Result<Uuid, DbErr> {
    enqueue_not_before(
        conn, sealer, kind, thread_id, recipient, contact_id, mail, None,
    )
    .await
}

/// Like [`enqueue`], but the mail waits until `not_before` (when given and in the future):
/// the worker does not claim it earlier.
#[allow(clippy::too_many_arguments)] // each is one column of the row
pub async fn enqueue_not_before<C: ConnectionTrait>(
    conn: &C,
    sealer: &Sealer,
    kind: Kind,
    thread_id: Option<Uuid>,
    recipient: Recipient,
    contact_id: Option<Uuid>,
    mail: &Composed,
    not_before: Option<DateTime<FixedOffset>>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    let row = new_row(
        sealer, id, kind, thread_id, recipient, contact_id, mail, not_before,
    );
    outbox::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(id)
}

/// How a sealed body is written into its text column.
const SEALED_BODY: &str = "sealed:v1:";

/// A mail body as the outbox stores it: sealed to its row.
fn seal_body(sealer: &Sealer, row: Uuid, body: &str) -> String {
    use base64::Engine;
    let sealed = sealer.seal(&MailBody(body.to_owned()), row).into_bytes();
    format!(
        "{SEALED_BODY}{}",
        base64::engine::general_purpose::STANDARD.encode(sealed)
    )
}

/// Why a stored mail body cannot be opened.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("a sealed mail body is not base64: {0}")]
    NotBase64(base64::DecodeError),
    #[error("opening the mail body: {0}")]
    Seal(crate::seal::SealError),
}

/// A stored body opened again (rows queued before bodies were sealed are in clear).
fn open_body(sealer: &Sealer, row: Uuid, stored: &str) -> Result<String, BodyError> {
    use base64::Engine;
    let Some(encoded) = stored.strip_prefix(SEALED_BODY) else {
        return Ok(stored.to_owned());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(BodyError::NotBase64)?;
    sealer
        .open(&Sealed::<MailBody>::from_stored(bytes), row)
        .map(|MailBody(body)| body)
        .map_err(BodyError::Seal)
}

/// The row [`enqueue_not_before`] inserts, for callers that insert many rows at once (the
/// submission writer in [`crate::group_commit`]).
#[allow(clippy::too_many_arguments)] // each is one column of the row
pub fn new_row(
    sealer: &Sealer,
    id: Uuid,
    kind: Kind,
    thread_id: Option<Uuid>,
    recipient: Recipient,
    contact_id: Option<Uuid>,
    mail: &Composed,
    not_before: Option<DateTime<FixedOffset>>,
) -> outbox::ActiveModel {
    let now = Utc::now().fixed_offset();
    let not_before = not_before.filter(|at| *at > now);
    let (recipient_kind, staff_id, to_address) = match recipient {
        Recipient::Staff => ("staff", None, None),
        Recipient::Visitor => ("visitor", None, None),
        Recipient::Account(id) => ("account", Some(id), None),
        Recipient::Address(address) => (ADDRESS, None, Some(address.as_str().to_owned())),
    };
    outbox::ActiveModel {
        id: Set(id),
        message_id: Set(mail.message_id.clone()),
        kind: Set(kind.as_str().to_owned()),
        thread_id: Set(thread_id),
        recipient: Set(recipient_kind.to_owned()),
        contact_id: Set(contact_id),
        from_header: Set(mail.from.to_string()),
        reply_to: Set(mail.reply_to.as_ref().map(ToString::to_string)),
        subject: Set(mail.subject.clone()),
        text_body: Set(seal_body(sealer, id, &mail.text)),
        html_body: Set(seal_body(sealer, id, &mail.html)),
        in_reply_to: Set(mail.in_reply_to.clone()),
        references: Set(mail.references.clone()),
        auto_submitted: Set(mail.auto_submitted.clone().unwrap_or_else(|| "no".into())),
        state: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(not_before.unwrap_or(now)),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        not_before: Set(not_before),
        staff_id: Set(staff_id),
        to_address: Set(to_address),
    }
}

/// The same row, held for spam review instead of queued.
pub fn held(mut row: outbox::ActiveModel) -> outbox::ActiveModel {
    row.state = Set(HELD.to_owned());
    row
}

/// Queues the held mails of a thread, due now. They age from now, as if queued now: a
/// conversation approved after days must not have its mail declared dead for its age.
pub async fn release_held<C: ConnectionTrait>(conn: &C, thread_id: Uuid) -> Result<u64, DbErr> {
    let now = Utc::now().fixed_offset();
    let done = outbox::Entity::update_many()
        .col_expr(outbox::Column::State, Expr::value(PENDING))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
        .col_expr(outbox::Column::NotBefore, Expr::value(now))
        .filter(outbox::Column::ThreadId.eq(thread_id))
        .filter(outbox::Column::State.eq(HELD))
        .exec(conn)
        .await?;
    Ok(done.rows_affected)
}

/// The `recipient` of a row sent to the address stored with it.
const ADDRESS: &str = "address";

/// Claims up to `limit` due rows for this worker for `lease`.
async fn claim(
    db: &DatabaseConnection,
    limit: u32,
    lease: Duration,
) -> Result<Vec<outbox::Model>, DbErr> {
    let now = Utc::now().fixed_offset();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    let backend = db.get_database_backend();
    // Two index range scans, each in `idx_outbox_due` order and stopping at the limit: leases
    // that ran out, then due mail. One `WHERE (pending AND due) OR (sending AND expired)`
    // made both databases read every due row and sort them for each claim, so that a backlog
    // of 30,000 mails cost a claim 25 ms of write lock on SQLite (measured, bench/run
    // sustained); held mail has `next_attempt_at` = `not_before`, so it is not even read.
    let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
        DatabaseBackend::Postgres => (
            "WITH expired AS (SELECT id FROM outbox WHERE state = 'sending' AND lease_until < $2 \
               ORDER BY state, next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED), \
             due AS (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $2 \
               AND (not_before IS NULL OR not_before <= $2) \
               ORDER BY state, next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox SET state = 'sending', lease_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM (SELECT id FROM expired UNION ALL SELECT id FROM due) \
               AS claimable LIMIT $3) \
             RETURNING *",
            vec![until.into(), now.into(), i64::from(limit).into()],
        ),
        _ => (
            "WITH expired AS (SELECT id FROM outbox WHERE state = 'sending' AND lease_until < ?2 \
               ORDER BY state, next_attempt_at LIMIT ?3), \
             due AS (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?2 \
               AND (not_before IS NULL OR not_before <= ?2) \
               ORDER BY state, next_attempt_at LIMIT ?3) \
             UPDATE outbox SET state = 'sending', lease_until = ?1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM (SELECT id FROM expired UNION ALL SELECT id FROM due) \
               LIMIT ?3) \
             RETURNING *",
            vec![until.into(), now.into(), i64::from(limit).into()],
        ),
    };
    // The claim and the record of what it will unseal commit together: if the audit log
    // cannot be written, nothing is claimed and no address is opened.
    let txn = crate::db::begin_write_as(db, crate::db::Writer::OutboxClaim).await?;
    let rows = outbox::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(&txn)
        .await?;
    let addresses: Vec<String> = rows
        .iter()
        .filter(|r| r.recipient == "visitor" && r.contact_id.is_some())
        .map(|r| r.id.to_string())
        .collect();
    let names: Vec<String> = rows
        .iter()
        .filter(|r| r.kind == Kind::NewMessage.as_str() && r.contact_id.is_some())
        .map(|r| r.id.to_string())
        .collect();
    if !addresses.is_empty() || !names.is_empty() {
        crate::audit::record(
            &txn,
            crate::audit::SYSTEM,
            "contact.unsealed",
            None,
            serde_json::json!({
                "purpose": "mail_delivery",
                "email_for_outbox_ids": addresses,
                "name_for_outbox_ids": names,
            }),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(rows)
}

/// Why a row could not be turned into a mail: these do not get better with retries.
#[derive(Debug, thiserror::Error)]
enum BuildError {
    #[error("{0}")]
    Permanent(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Resolves the recipients and the visitor-dependent parts, then builds the mail.
fn build(
    app: &AppState,
    row: &outbox::Model,
    contact: Option<&contacts::Model>,
    account: Option<&staff::Model>,
) -> Result<lettre::Message, BuildError> {
    let permanent = |e: String| BuildError::Permanent(e);
    let mut from =
        crate::domain::parse_mailbox(&row.from_header).map_err(|e| permanent(e.to_string()))?;
    let to: Vec<Mailbox> = match row.recipient.as_str() {
        "staff" => app
            .settings
            .mail
            .staff_addresses
            .iter()
            .map(|a| crate::domain::parse_address(a).map(|a| Mailbox::new(None, a)))
            .collect::<Result<_, _>>()
            .map_err(|e| permanent(e.to_string()))?,
        // The account's own address, as it is now: cleared or disabled since, nothing goes.
        "account" => {
            let address = account
                .filter(|a| !a.disabled)
                .and_then(|a| a.email.as_deref())
                .ok_or_else(|| permanent("the staff account has no address any more".into()))?;
            vec![Mailbox::new(
                None,
                crate::domain::parse_address(address)
                    .map_err(|_| permanent("the staff account's address is not valid".into()))?,
            )]
        }
        ADDRESS => {
            let address = row
                .to_address
                .as_deref()
                .ok_or_else(|| permanent("the row names no address".into()))?;
            vec![Mailbox::new(
                None,
                crate::domain::parse_address(address).map_err(|e| permanent(e.to_string()))?,
            )]
        }
        _ => {
            let contact = contact
                .ok_or_else(|| permanent("the visitor's contact data no longer exists".into()))?;
            let sealed = contact
                .email_sealed
                .clone()
                .ok_or_else(|| permanent("the visitor gave no address".into()))?;
            let email: EmailAddress = app
                .sealer
                .open(&Sealed::from_stored(sealed), contact.id)
                .map_err(|e| permanent(format!("opening the visitor's address: {e}")))?;
            vec![Mailbox::new(
                None,
                crate::domain::parse_address(email.as_str())
                    .map_err(|e| permanent(e.to_string()))?,
            )]
        }
    };
    // Staff see the visitor's name (never the address) as the sender of a notification.
    if row.kind == Kind::NewMessage.as_str()
        && let Some(sealed) = contact.and_then(|c| c.name_sealed.clone())
        && let Some(contact) = contact
        && let Ok(name) = app
            .sealer
            .open::<VisitorName>(&Sealed::from_stored(sealed), contact.id)
    {
        from = Mailbox::new(
            Some(format!("{} via {}", name.as_str(), app.settings.site.name)),
            from.email,
        );
    }
    let composed = Composed {
        message_id: row.message_id.clone(),
        from,
        reply_to: row
            .reply_to
            .as_deref()
            .map(crate::domain::parse_mailbox)
            .transpose()
            .map_err(|e| permanent(e.to_string()))?,
        subject: row.subject.clone(),
        text: open_body(&app.sealer, row.id, &row.text_body)
            .map_err(|e| permanent(e.to_string()))?,
        html: open_body(&app.sealer, row.id, &row.html_body)
            .map_err(|e| permanent(e.to_string()))?,
        in_reply_to: row.in_reply_to.clone(),
        references: row.references.clone(),
        auto_submitted: Some(row.auto_submitted.clone()).filter(|a| a != "no"),
    };
    composed.build(&to).map_err(|e| permanent(e.to_string()))
}

/// Where a row's age starts: when it was enqueued, or when its hold ended.
fn age_from(row: &outbox::Model) -> DateTime<FixedOffset> {
    row.not_before
        .map_or(row.created_at, |held| held.max(row.created_at))
}

/// The delay before attempt `attempts + 1`: base × 2^(attempts−1), at most `max_secs`, ±20 %
/// (by default Postfix's schedule: 300 s doubling to 4000 s).
fn backoff(base_secs: u64, max_secs: u64, attempts: i64) -> chrono::Duration {
    let exponent = attempts.clamp(1, 30) - 1;
    let secs = (base_secs.max(1) as f64 * 2f64.powi(exponent as i32))
        .min(max_secs.max(base_secs).max(1) as f64);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    chrono::Duration::milliseconds((secs * jitter * 1000.0) as i64)
}

enum Outcome {
    Sent,
    Retry(String),
    Dead(String),
}

/// Tries one mail and returns the row's new state, to be written with others by [`record`].
async fn attempt(
    app: &AppState,
    mailer: &Mailer,
    row: outbox::Model,
    contact: Option<&contacts::Model>,
    account: Option<&staff::Model>,
) -> outbox::ActiveModel {
    let building = std::time::Instant::now();
    let built = build(app, &row, contact, account);
    app.metrics.build.observe(building.elapsed().as_secs_f64());
    let outcome = match built {
        Err(BuildError::Permanent(reason)) => Outcome::Dead(reason),
        Err(BuildError::Db(e)) => Outcome::Retry(format!("database: {e}")),
        // SMTP servers quote the recipient in their errors; what is stored and logged must not.
        Ok(message) => match mailer.send(message).await {
            Ok(()) => Outcome::Sent,
            Err(e) if e.permanent => Outcome::Dead(mail::redact_addresses(&e.message)),
            Err(e) => Outcome::Retry(mail::redact_addresses(&e.message)),
        },
    };
    let now = Utc::now().fixed_offset();
    let settings = &app.settings.mail;
    let too_old = now - age_from(&row) > chrono::Duration::hours(settings.max_age_hours);
    let outcome = match outcome {
        Outcome::Retry(reason) if row.attempts >= settings.max_attempts || too_old => {
            Outcome::Dead(format!("gave up after {} attempts: {reason}", row.attempts))
        }
        other => other,
    };
    let id = row.id;
    let attempts = row.attempts;
    let mut active: outbox::ActiveModel = row.into();
    active.lease_until = Set(None);
    match outcome {
        Outcome::Sent => {
            app.metrics.delivery("sent");
            active.state = Set(SENT.to_owned());
            active.sent_at = Set(Some(now));
            active.last_error = Set(None);
            tracing::info!(outbox_id = %id, attempts, "mail delivered");
        }
        Outcome::Retry(reason) => {
            app.metrics.delivery("retry");
            active.state = Set(PENDING.to_owned());
            active.next_attempt_at =
                Set(now + backoff(settings.retry_base_secs, settings.retry_max_secs, attempts));
            tracing::warn!(outbox_id = %id, attempts, error = %reason, "mail delivery failed; will retry");
            active.last_error = Set(Some(reason));
        }
        Outcome::Dead(reason) => {
            app.metrics.delivery("dead");
            active.state = Set(DEAD.to_owned());
            tracing::error!(outbox_id = %id, attempts, error = %reason, "mail is dead");
            active.last_error = Set(Some(reason));
        }
    }
    active
}

/// Writes the outcomes of several attempts in one transaction: one commit for many mails.
/// The mails may be out already: if the database is away for a moment, keep trying to record
/// that (well inside the lease) rather than leave the rows to be claimed and sent again.
async fn record(db: &DatabaseConnection, outcomes: Vec<outbox::ActiveModel>) -> Result<(), DbErr> {
    let started = std::time::Instant::now();
    loop {
        match record_once(db, outcomes.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) if started.elapsed() < RECORD_PATIENCE => {
                tracing::warn!(mails = outcomes.len(), error = %e, "recording deliveries failed; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn record_once(
    db: &DatabaseConnection,
    outcomes: Vec<outbox::ActiveModel>,
) -> Result<(), DbErr> {
    let txn = crate::db::begin_write_as(db, crate::db::Writer::OutboxRecord).await?;
    for outcome in outcomes {
        // Not `Entity::update`, which reads the whole row back (both bodies) with RETURNING.
        // Every outcome comes from a claimed row, so it carries its id.
        let Some(id) = outcome.id.try_as_ref().copied() else {
            continue;
        };
        outbox::Entity::update_many()
            .set(outcome)
            .filter(outbox::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}

/// How long a worker keeps trying to record deliveries' outcomes: well under the shortest lease
/// (60 s), so that nobody else claims the rows meanwhile.
const RECORD_PATIENCE: Duration = Duration::from_secs(30);

/// Claimed rows with the contacts and staff accounts they need, ready to deliver.
struct Batch {
    rows: Vec<outbox::Model>,
    contacts: HashMap<Uuid, contacts::Model>,
    accounts: HashMap<Uuid, staff::Model>,
}

/// Claims up to `mail.batch_size` due rows and fetches their contacts in one query.
async fn claim_batch(app: &AppState, db: &DatabaseConnection) -> Result<Batch, DbErr> {
    let settings = &app.settings.mail;
    let lease = Duration::from_secs(settings.smtp.timeout_secs.saturating_mul(2).max(60));
    let started = std::time::Instant::now();
    let rows = claim(db, settings.batch_size, lease).await?;
    let contact_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.contact_id).collect();
    let contacts = if contact_ids.is_empty() {
        HashMap::new()
    } else {
        contacts::Entity::find()
            .filter(contacts::Column::Id.is_in(contact_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect()
    };
    let account_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.staff_id).collect();
    let accounts = if account_ids.is_empty() {
        HashMap::new()
    } else {
        staff::Entity::find()
            .filter(staff::Column::Id.is_in(account_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect()
    };
    if !rows.is_empty() {
        app.metrics.batch_phase("claim", started);
    }
    Ok(Batch {
        rows,
        contacts,
        accounts,
    })
}

/// Delivers a claimed batch over several connections at once. Outcomes are written as they
/// come, in groups: whatever finished while the last group was being committed goes into the
/// next commit, so a crash can repeat only the few mails sent since the last commit (delivery
/// is at least once).
async fn deliver_batch(app: &AppState, db: &DatabaseConnection, batch: Batch) -> Result<(), DbErr> {
    let Batch {
        rows,
        contacts,
        accounts,
    } = batch;
    if rows.is_empty() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mailer = &app.mailer;
    let parallel = app.settings.mail.smtp.max_connections.max(1) as usize;
    let (done, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
    let deliveries = async {
        let done = done;
        futures_util::stream::iter(rows)
            .map(|row| {
                let contact = row.contact_id.and_then(|id| contacts.get(&id));
                let account = row.staff_id.and_then(|id| accounts.get(&id));
                attempt(app, mailer, row, contact, account)
            })
            .buffer_unordered(parallel)
            .for_each(|outcome| {
                let _ = done.send(outcome);
                std::future::ready(())
            })
            .await;
    };
    let recorder = async {
        while let Some(first) = outcomes.recv().await {
            let mut group = vec![first];
            while let Ok(next) = outcomes.try_recv() {
                group.push(next);
            }
            record(db, group).await?;
        }
        Ok::<(), DbErr>(())
    };
    let ((), recorded) = tokio::join!(deliveries, recorder);
    app.metrics.batch_phase("deliver", started);
    recorded
}

/// Puts claimed rows that were never attempted back as they were, for the next worker.
async fn release(db: &DatabaseConnection, batch: Batch) -> Result<(), DbErr> {
    let ids: Vec<Uuid> = batch.rows.iter().map(|r| r.id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::State, Expr::value(PENDING))
        .col_expr(
            outbox::Column::LeaseUntil,
            Expr::value(Option::<DateTime<FixedOffset>>::None),
        )
        .col_expr(
            outbox::Column::Attempts,
            sea_orm::sea_query::ExprTrait::sub(Expr::col(outbox::Column::Attempts), 1),
        )
        .filter(outbox::Column::Id.is_in(ids))
        .filter(outbox::Column::State.eq(SENDING))
        .exec(db)
        .await?;
    Ok(())
}

/// The worker inside `sealpost serve`: delivers due mail until `shutdown`, waking early when
/// a new mail is enqueued. It runs on a thread and runtime of its own, with a pool of two
/// database connections of its own (`application_name` "sealpost-outbox"): on the shared
/// runtime it was one task among every open request's, and under load it got so few turns
/// that delivery fell to a quarter of its idle rate while intake queued mail faster than it
/// went out (measured with bench/run sustained). Beside the request handlers' threads the
/// operating system gives it a share of its own. It ends when `shutdown` fires and its
/// batch in flight is done.
pub async fn run_worker(app: Arc<AppState>, shutdown: CancellationToken) {
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let (worker_app, worker_shutdown) = (app.clone(), shutdown.clone());
    let spawned = std::thread::Builder::new()
        .name("sealpost-outbox".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(async move {
                    if let Some(db) = connect_until(&worker_app, &worker_shutdown).await {
                        deliver_until(worker_app, db.clone(), worker_shutdown).await;
                        let _ = db.close().await;
                    }
                }),
                Err(e) => tracing::error!(error = %e, "starting the outbox worker failed"),
            }
            let _ = done.send(());
        });
    match spawned {
        Ok(_) => {
            let _ = finished.await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "no thread for the outbox worker; it shares the server's");
            deliver_until(app.clone(), app.db.clone(), shutdown).await;
        }
    }
}

/// The worker's own pool, tried again every second while the database is away (as it may be
/// when the service starts); `None` once `shutdown` fires first.
async fn connect_until(app: &AppState, shutdown: &CancellationToken) -> Option<DatabaseConnection> {
    loop {
        match crate::db::connect_pool(&app.settings, crate::db::Pool::Outbox).await {
            Ok(db) => return Some(db),
            Err(e) => {
                tracing::warn!(error = %e, "the outbox worker cannot reach the database; trying again shortly");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// The worker's loop. While a full batch is being delivered, the next one is claimed
/// alongside, so that the connections are not left idle while a claim commits. A batch
/// claimed but not yet started when `shutdown` fires is put back.
async fn deliver_until(app: Arc<AppState>, db: DatabaseConnection, shutdown: CancellationToken) {
    let idle = Duration::from_millis(app.settings.mail.poll_interval_ms);
    let full = app.settings.mail.batch_size as usize;
    let mut next: Option<Batch> = None;
    loop {
        let batch = match next.take() {
            Some(batch) => Ok(batch),
            None => claim_batch(&app, &db).await,
        };
        let claimed = match batch {
            Ok(batch) => {
                let claimed = batch.rows.len();
                if claimed >= full && !shutdown.is_cancelled() {
                    let (delivered, following) =
                        tokio::join!(deliver_batch(&app, &db, batch), claim_batch(&app, &db));
                    if let Err(e) = delivered {
                        tracing::error!(error = %e, "outbox pass failed");
                    }
                    match following {
                        Ok(following) => next = Some(following),
                        Err(e) => tracing::error!(error = %e, "claiming mail failed"),
                    }
                } else if let Err(e) = deliver_batch(&app, &db, batch).await {
                    tracing::error!(error = %e, "outbox pass failed");
                }
                claimed
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming mail failed");
                0
            }
        };
        if shutdown.is_cancelled() {
            if let Some(unstarted) = next.take()
                && let Err(e) = release(&db, unstarted).await
            {
                tracing::warn!(error = %e, "putting back claimed mail failed; it is retried when its lease ends");
            }
            return;
        }
        if claimed >= full || next.is_some() {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = app.outbox_wakeup.notified() => {}
            _ = tokio::time::sleep(idle) => {}
        }
    }
}

/// Counts by state and the age of the oldest pending mail, for `sealpost outbox status`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub dead: u64,
    /// Mails of conversations held for spam review: sent once staff approve them.
    pub held: u64,
    pub oldest_pending: Option<DateTime<FixedOffset>>,
}

pub async fn status<C: ConnectionTrait>(db: &C) -> Result<Status, DbErr> {
    let count = |state: &'static str| async move {
        outbox::Entity::find()
            .filter(outbox::Column::State.eq(state))
            .count(db)
            .await
    };
    let oldest = outbox::Entity::find()
        .filter(outbox::Column::State.is_in([PENDING, SENDING]))
        .order_by_asc(outbox::Column::CreatedAt)
        .one(db)
        .await?;
    Ok(Status {
        pending: count(PENDING).await?,
        sending: count(SENDING).await?,
        sent: count(SENT).await?,
        dead: count(DEAD).await?,
        held: count(HELD).await?,
        oldest_pending: oldest.map(|r| r.created_at),
    })
}

/// Puts dead (or waiting) mail back in line for immediate delivery; returns how many rows.
pub async fn retry<C: ConnectionTrait>(db: &C, which: RetryWhich) -> Result<u64, DbErr> {
    let now = Utc::now().fixed_offset();
    let mut update = outbox::Entity::update_many()
        .col_expr(outbox::Column::State, PENDING.into())
        .col_expr(outbox::Column::NextAttemptAt, now.into())
        .col_expr(outbox::Column::Attempts, 0i64.into());
    update = match which {
        RetryWhich::One(id) => update
            .filter(outbox::Column::Id.eq(id))
            .filter(outbox::Column::State.is_in([DEAD, PENDING])),
        RetryWhich::AllDead => update.filter(outbox::Column::State.eq(DEAD)),
    };
    Ok(update.exec(db).await?.rows_affected)
}

#[derive(Debug, Clone, Copy)]
pub enum RetryWhich {
    One(Uuid),
    AllDead,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default schedule on a compressed clock: a mail that fails every time is tried as a
    /// mail queue would (RFC 5321 §4.5.4.1: no sooner than ~30 min apart once it keeps failing,
    /// given up only after days; Postfix: 300 s doubling to 4000 s, 5 days).
    #[test]
    fn a_mail_that_keeps_failing_is_retried_like_a_mail_queue_and_given_up_after_five_days() {
        let (base, max, max_attempts, max_age) = (300, 4000, 200, 120 * 3600);
        let mut clock = 0i64;
        let mut delays = Vec::new();
        let mut attempts = 1;
        loop {
            let delay = backoff(base, max, attempts).num_seconds();
            if clock + delay > max_age || attempts >= max_attempts {
                break;
            }
            clock += delay;
            delays.push(delay);
            attempts += 1;
        }
        assert!(
            (240..=360).contains(&delays[0]),
            "first retry after ~5 min: {delays:?}"
        );
        assert!(
            delays.iter().all(|d| *d <= 4800),
            "never more than ~4000 s apart"
        );
        let persistent = &delays[4..];
        assert!(
            persistent.iter().all(|d| *d >= 3200),
            "once it keeps failing, retries are ~an hour apart, never under 30 min"
        );
        assert!(
            attempts < max_attempts,
            "given up by age, not by count: {attempts}"
        );
        // The last try comes less than one longest delay (4000 s + 20 % jitter) before the end.
        assert!(clock > max_age - 4800, "tried for five days: {clock} s");
        assert!(
            (100..=160).contains(&attempts),
            "{attempts} attempts in five days"
        );
    }

    #[test]
    fn a_held_mail_ages_from_the_end_of_its_hold() {
        let created = Utc::now().fixed_offset() - chrono::Duration::days(60);
        let held_until = created + chrono::Duration::days(59);
        let mut row = outbox::Model {
            id: Uuid::now_v7(),
            message_id: "<x@relay.example.org>".into(),
            kind: Kind::DisclosureNotice.as_str().into(),
            thread_id: None,
            recipient: "visitor".into(),
            contact_id: None,
            from_header: "Support <support@example.org>".into(),
            reply_to: None,
            subject: "s".into(),
            text_body: "t".into(),
            html_body: "h".into(),
            in_reply_to: None,
            references: None,
            auto_submitted: "no".into(),
            state: PENDING.into(),
            attempts: 0,
            next_attempt_at: held_until,
            lease_until: None,
            last_error: None,
            created_at: created,
            sent_at: None,
            not_before: Some(held_until),
            staff_id: None,
            to_address: None,
        };
        assert_eq!(age_from(&row), held_until);
        row.not_before = None;
        assert_eq!(age_from(&row), created);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for (attempts, expected) in [(1, 30.0), (2, 60.0), (3, 120.0), (10, 3600.0), (50, 3600.0)] {
            let d = backoff(30, 3600, attempts).num_milliseconds() as f64 / 1000.0;
            assert!(
                d >= expected * 0.8 && d <= expected * 1.2,
                "{attempts}: {d}"
            );
        }
    }
}
