//! The message use cases: a visitor submits a message (through the form or the API), reads their
//! thread through its private link, and writes again. Each use case is one function that owns
//! its transaction; the HTML and JSON front doors both call these and nothing else.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use uuid::Uuid;

use crate::captcha::CaptchaError;
use crate::domain::{
    Author, EmailAddress, FieldProblem, Locale, MessageBody, Reference, Subject, ThreadStatus,
    ThreadToken, VisitorName,
};
use crate::entities::{contacts, messages, threads};
use crate::group_commit::{NewConversation, WriterError};
use crate::mailers::{self, ComposeError};
use crate::outbox::{self, Kind, Recipient};
use crate::spam::pow::{PowCheck, PowError};
use crate::spam::{self, Action, Signal, Verdict};
use crate::state::AppState;

/// A new message, already parsed at the edge.
#[derive(Debug)]
pub struct NewMessage {
    pub name: Option<VisitorName>,
    pub email: Option<EmailAddress>,
    pub subject: Option<Subject>,
    pub body: MessageBody,
    pub locale: Locale,
    /// The privacy-policy version the visitor accepted.
    pub policy_version: String,
}

/// A submission as typed, before parsing: the same fields arrive from the form and the API.
/// Not `Debug`: it holds the address and name in clear.
#[derive(Default, Clone)]
pub struct Draft {
    pub name: String,
    pub email: String,
    pub subject: String,
    pub body: String,
    pub consent: bool,
}

/// The fields of a draft that did not parse, in form order.
pub type FieldErrors = Vec<(&'static str, FieldProblem)>;

impl Draft {
    /// Parses every field, reporting all problems at once rather than the first.
    pub fn parse(&self, locale: Locale, policy_version: &str) -> Result<NewMessage, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = check(&mut errors, "name", VisitorName::parse(&self.name));
        let email = check(&mut errors, "email", EmailAddress::parse(&self.email));
        let subject = check(&mut errors, "subject", Subject::parse(&self.subject));
        let body = check(&mut errors, "body", MessageBody::parse(&self.body));
        check(
            &mut errors,
            "consent",
            if self.consent {
                Ok(())
            } else {
                Err(FieldProblem::Required)
            },
        );
        match (name, email, subject, body) {
            (Some(name), Some(email), Some(subject), Some(body)) if errors.is_empty() => {
                Ok(NewMessage {
                    name,
                    email,
                    subject,
                    body,
                    locale,
                    policy_version: policy_version.to_owned(),
                })
            }
            _ => Err(errors),
        }
    }
}

fn check<T>(
    errors: &mut FieldErrors,
    field: &'static str,
    result: Result<T, FieldProblem>,
) -> Option<T> {
    result.map_err(|problem| errors.push((field, problem))).ok()
}

/// Where a submission came from, for the spam defences. Not `Debug`: it holds the client IP.
#[derive(Clone, Default)]
pub struct Origin {
    pub ip: Option<IpAddr>,
    pub captcha_answer: Option<String>,
    /// The depersonalized technical data of the request, counted with a new conversation.
    pub tech: Option<crate::tally::TechEvent>,
    /// The ALTCHA payload (the solved proof of work), as sent.
    pub pow: Option<String>,
    /// The form's stamp of when it was shown, as posted; `None` for the JSON API, which has no
    /// form to time.
    pub form_stamp: Option<String>,
}

/// What the defences that run before a message is read found about its sender: the signals
/// the score adds up with those of the text.
#[derive(Debug, Default)]
pub(crate) struct Admission {
    pub signals: Vec<Signal>,
}

#[derive(Debug)]
pub struct Submitted {
    pub thread_id: Uuid,
    pub message_id: Uuid,
    pub reference: Reference,
    pub token: ThreadToken,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("rate limited; retry in {0:?}")]
    RateLimited(Duration),
    #[error(transparent)]
    Captcha(#[from] CaptchaError),
    /// The proof of work was forged, replayed or malformed, or missing where it is required.
    #[error("proof of work refused: {0}")]
    Pow(PowError),
    #[error("the privacy policy changed since the form was shown")]
    StalePolicy,
    /// The spam score reached `spam.reject_score`; the visitor is told so without the reasons.
    #[error("refused as spam ({0})")]
    Refused(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error(transparent)]
    Writer(#[from] WriterError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error(transparent)]
    Store(StoreError),
}

/// The spam defences every submission passes before its text is read, in order: the per-IP
/// limit, then (for a new conversation) the captcha and the proof of work, then how fast the
/// form came back. A follow-up on a private link needs neither captcha nor work: the link is
/// the proof.
async fn admit(
    app: &AppState,
    origin: &Origin,
    new_conversation: bool,
) -> Result<Admission, SubmitError> {
    if let Some(limiter) = &app.limiter {
        limiter.check(origin.ip).map_err(SubmitError::RateLimited)?;
    }
    if let (true, Some(captcha)) = (new_conversation, &app.captcha) {
        captcha
            .verify(origin.captcha_answer.as_deref(), origin.ip)
            .await?;
    }
    let mut admission = Admission::default();
    if let (true, Some(pow)) = (new_conversation, &app.pow) {
        let check = pow.check(&app.db, origin.pow.as_deref()).await;
        match check.map_err(|e| match e {
            PowError::Db(db) => SubmitError::Db(db),
            refused => SubmitError::Pow(refused),
        })? {
            PowCheck::Solved => {}
            // Without JavaScript there is no solution: a person may still write, and staff
            // read it before anyone is told.
            PowCheck::Missing if app.settings.spam.pow.require => {
                return Err(SubmitError::Pow(PowError::Missing));
            }
            PowCheck::Missing => admission.signals.push(Signal::holding("no_proof_of_work")),
            PowCheck::Expired => admission
                .signals
                .push(Signal::holding("expired_proof_of_work")),
        }
    }
    if let Some(stamp) = &origin.form_stamp {
        admission.signals.extend(spam::fill_time(
            &app.sealer,
            stamp,
            Utc::now(),
            app.settings.spam.min_fill_secs,
        ));
    }
    Ok(admission)
}

/// The keyed digest of a text, for noticing the same text from many addresses.
fn text_digest(app: &AppState, text: &str) -> Vec<u8> {
    app.sealer
        .keyed_digest("text-digest", spam::signals::normalize(text).as_bytes())
}

/// Conversations started within this many hours count for "the same text from many addresses".
const SAME_TEXT_HOURS: i64 = 24;

/// The same text from others: each other address (or visitor without one) that sent this text
/// within the last day adds to the score from the second on.
async fn same_text(
    app: &AppState,
    digest: &[u8],
    sender: Option<&[u8]>,
) -> Result<Option<Signal>, DbErr> {
    let since = (Utc::now() - chrono::Duration::hours(SAME_TEXT_HOURS)).fixed_offset();
    let earlier = threads::Entity::find()
        .filter(threads::Column::TextDigest.eq(digest.to_vec()))
        .filter(threads::Column::CreatedAt.gte(since))
        .limit(50)
        .all(&app.db)
        .await?;
    let contact_ids: Vec<Uuid> = earlier.iter().filter_map(|t| t.contact_id).collect();
    let senders = contacts::Entity::find()
        .filter(contacts::Column::Id.is_in(contact_ids))
        .all(&app.db)
        .await?;
    let mut others = std::collections::BTreeSet::new();
    for thread in &earlier {
        let index = thread
            .contact_id
            .and_then(|id| senders.iter().find(|c| c.id == id))
            .and_then(|c| c.email_index.clone());
        match index {
            Some(index) if Some(index.as_slice()) == sender => {}
            Some(index) => {
                others.insert(index);
            }
            // Without an address every conversation is a sender of its own.
            None => {
                others.insert(thread.id.as_bytes().to_vec());
            }
        }
    }
    Ok((others.len() >= 2).then(|| {
        Signal::new(
            "same_text",
            (3.0 + 1.5 * (others.len() - 2) as f64).min(10.0),
        )
    }))
}

/// Scores a message: the admission's signals, the text's own, and the same text from others
/// (for a new conversation, whose digest is given).
async fn assess(
    app: &AppState,
    admission: Admission,
    subject: Option<&Subject>,
    body: &MessageBody,
    text: &str,
    same: Option<(&[u8], Option<&[u8]>)>,
) -> Result<Verdict, DbErr> {
    let mut signals = admission.signals;
    signals.extend(spam::signals::content(
        subject.map(Subject::as_str),
        body,
        text,
    ));
    if let Some((digest, sender)) = same {
        signals.extend(same_text(app, digest, sender).await?);
    }
    if let Some(rspamd) = &app.rspamd {
        let scan = spam::rspamd::Scan {
            subject: subject.map(Subject::as_str),
            text,
            language: "",
        };
        signals.push(match rspamd.check(&scan).await {
            Ok(verdict) => Signal::new("rspamd", verdict.score),
            // Nothing unchecked reaches an inbox, and nothing is lost: it waits for staff.
            Err(e) => {
                tracing::warn!(error = %e, "Rspamd did not score a message; it is held");
                Signal::holding("rspamd_unavailable")
            }
        });
    }
    let settings = &app.settings.spam;
    Ok(Verdict::decide(
        signals,
        settings.hold_score,
        settings.reject_score,
    ))
}

/// The start of the reason a follow-up held by the spam defences carries (the rest is its
/// score and signals); other holds name their own reason.
pub const SPAM_HOLD: &str = "the spam defences held it";

/// Scores a visitor's follow-up, on their page or by mail: its text, without the defences
/// a new conversation passes (the private link or the relay alias is the credential).
pub(crate) async fn assess_follow_up(app: &AppState, body: &MessageBody) -> Result<Verdict, DbErr> {
    assess(app, Admission::default(), None, body, &body.to_text(), None).await
}

/// The reason a held follow-up carries.
pub(crate) fn spam_hold_reason(verdict: &Verdict) -> String {
    format!(
        "{SPAM_HOLD}: {}",
        verdict_text(verdict).unwrap_or_else(|| "held".to_owned())
    )
}

/// How a verdict is stored with a conversation and written to the log: `None` when nothing
/// was found.
fn verdict_text(verdict: &Verdict) -> Option<String> {
    (!verdict.signals.is_empty())
        .then(|| format!("score {:.1}: {}", verdict.score, verdict.summary()))
}

/// Stores a visitor's new message: sealed contact, thread and first message in one transaction.
pub async fn submit(
    app: &AppState,
    origin: Origin,
    new: NewMessage,
) -> Result<Submitted, SubmitError> {
    let admission = admit(app, &origin, true).await?;
    if new.policy_version != app.settings.site.policy_version {
        return Err(SubmitError::StalePolicy);
    }
    // The body as text, rendered once for the digest, the signals and Rspamd.
    let text = new.body.to_text();
    let digest = text_digest(app, &text);
    let sender = new.email.as_ref().map(|e| app.sealer.email_index(e));
    let verdict = assess(
        app,
        admission,
        new.subject.as_ref(),
        &new.body,
        &text,
        Some((&digest, sender.as_deref())),
    )
    .await?;
    if verdict.action == Action::Reject {
        tracing::info!(verdict = verdict_text(&verdict), "message refused as spam");
        return Err(SubmitError::Refused(verdict.summary()));
    }
    // References are random; on the rare collision with an existing one, draw again.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match store_new_thread(app, &origin, &new, &verdict, &digest).await {
            Err(SubmitError::Db(err) | SubmitError::Writer(WriterError::Db(err)))
                if attempts < 3
                    && matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {}
            Err(SubmitError::Writer(WriterError::Db(err))) => return Err(SubmitError::Db(err)),
            other => return other,
        }
    }
}

async fn store_new_thread(
    app: &AppState,
    origin: &Origin,
    new: &NewMessage,
    verdict: &Verdict,
    digest: &[u8],
) -> Result<Submitted, SubmitError> {
    let held = verdict.action == Action::Hold;
    // A held conversation waits for staff; its mails wait with it.
    let queue = |row| if held { outbox::held(row) } else { row };
    let now = Utc::now().fixed_offset();
    let reference = Reference::generate();
    let token = ThreadToken::generate();
    let thread_id = Uuid::now_v7();
    let sealer = &app.sealer;
    let contact_id =
        (new.email.is_some() || new.name.is_some() || origin.ip.is_some()).then(Uuid::now_v7);
    let email_index = new.email.as_ref().map(|e| sealer.email_index(e));
    let contact = contact_id.map(|id| contacts::ActiveModel {
        id: Set(id),
        email_sealed: Set(new.email.as_ref().map(|e| sealer.seal(e, id).into_bytes())),
        email_index: Set(email_index.clone()),
        name_sealed: Set(new.name.as_ref().map(|n| sealer.seal(n, id).into_bytes())),
        ip_sealed: Set(origin
            .ip
            .as_ref()
            .map(|ip| sealer.seal(ip, id).into_bytes())),
        created_at: Set(now),
        bounces: Set(0),
    });
    let thread = threads::ActiveModel {
        id: Set(thread_id),
        reference: Set(reference.as_str().to_owned()),
        access_token_hash: Set(token.hash()),
        contact_id: Set(contact_id),
        subject: Set(new.subject.as_ref().map(|s| s.as_str().to_owned())),
        locale: Set(new.locale.code().to_owned()),
        status: Set(if held {
            ThreadStatus::Held
        } else {
            ThreadStatus::New
        }
        .as_str()
        .to_owned()),
        consent_policy_version: Set(new.policy_version.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        spam_verdict: Set(verdict_text(verdict)),
        text_digest: Set(Some(digest.to_vec())),
    };
    let (message_id, message) = message_row(thread_id, Author::Visitor, None, &new.body);
    let thread_ref = mailers::ThreadRef {
        id: thread_id,
        reference: &reference,
        subject: new.subject.as_ref(),
        locale: new.locale,
    };
    let notification =
        mailers::staff_notification(app, &thread_ref, &new.body, new.email.is_some())?;
    let notification = queue(outbox::new_row(
        &app.sealer,
        Uuid::now_v7(),
        Kind::NewMessage,
        Some(thread_id),
        Recipient::Staff,
        contact_id,
        &notification,
        None,
    ));
    let acknowledgement = match (contact_id, email_index) {
        (Some(contact_id), Some(email_index)) if app.settings.mail.acknowledge_visitor => {
            let mail = mailers::visitor_acknowledgement(app, &thread_ref, &token)?;
            let row = queue(outbox::new_row(
                &app.sealer,
                Uuid::now_v7(),
                Kind::VisitorAck,
                Some(thread_id),
                Recipient::Visitor,
                Some(contact_id),
                &mail,
                None,
            ));
            Some((email_index, row))
        }
        _ => None,
    };
    app.writer
        .store(NewConversation {
            contact,
            thread,
            message,
            notification,
            acknowledgement,
            tech: origin.tech.clone(),
            held,
        })
        .await?;
    if held {
        tracing::info!(%thread_id, reference = %reference, verdict = verdict_text(verdict), "message received and held for review");
    } else {
        app.outbox_wakeup.notify_one();
        tracing::info!(%thread_id, reference = %reference, verdict = verdict_text(verdict), "message received");
    }
    Ok(Submitted {
        thread_id,
        message_id,
        reference,
        token,
    })
}

/// One message of a thread, as the visitor sees it.
#[derive(Debug)]
pub struct ThreadMessage {
    pub author: Author,
    pub body: MessageBody,
    pub created_at: chrono::DateTime<Utc>,
}

/// A thread as its private link shows it.
#[derive(Debug)]
pub struct ThreadView {
    pub id: Uuid,
    pub reference: Reference,
    pub status: ThreadStatus,
    pub subject: Option<Subject>,
    pub created_at: chrono::DateTime<Utc>,
    pub messages: Vec<ThreadMessage>,
}

async fn thread_row<C: ConnectionTrait>(
    conn: &C,
    token: &ThreadToken,
) -> Result<Option<threads::Model>, DbErr> {
    threads::Entity::find()
        .filter(threads::Column::AccessTokenHash.eq(token.hash()))
        .one(conn)
        .await
}

/// The thread behind a private link, with its messages in order; `None` for an unknown link.
pub async fn thread_by_token(
    app: &AppState,
    token: &ThreadToken,
) -> Result<Option<ThreadView>, StoreError> {
    let Some(thread) = thread_row(&app.db, token).await? else {
        return Ok(None);
    };
    let rows = messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread.id))
        .filter(messages::Column::HeldReason.is_null())
        .order_by_asc(messages::Column::CreatedAt)
        .order_by_asc(messages::Column::Id)
        .all(&app.db)
        .await?;
    Ok(Some(ThreadView {
        id: thread.id,
        reference: stored_reference(&thread)?,
        status: ThreadStatus::parse(&thread.status).unwrap_or(ThreadStatus::Open),
        subject: thread.subject.map(Subject::from_stored),
        created_at: thread.created_at.with_timezone(&Utc),
        messages: rows
            .into_iter()
            .map(|m| ThreadMessage {
                author: Author::parse(&m.author).unwrap_or(Author::Visitor),
                body: MessageBody::from_stored(m.body_html),
                created_at: m.created_at.with_timezone(&Utc),
            })
            .collect(),
    }))
}

/// The reference a confirmation page shows for a private link. For an unknown link the
/// reference is derived from the link itself, so that the confirmation a bot gets after filling
/// the honeypot looks like everybody else's and reveals nothing about which links exist.
pub async fn confirmation_reference(
    app: &AppState,
    token: &ThreadToken,
) -> Result<Reference, DbErr> {
    Ok(match thread_row(&app.db, token).await? {
        Some(thread) => Reference::parse(&thread.reference)
            .unwrap_or_else(|| Reference::from_digest(&token.hash())),
        None => decoy_reference(app, token),
    })
}

/// What a filled honeypot gets instead of a thread: a link and reference that look real.
pub fn decoy(app: &AppState) -> (Reference, ThreadToken) {
    let token = ThreadToken::generate();
    (decoy_reference(app, &token), token)
}

fn decoy_reference(app: &AppState, token: &ThreadToken) -> Reference {
    Reference::from_digest(
        &app.sealer
            .keyed_digest("decoy-reference", token.as_str().as_bytes()),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum FollowUpError {
    #[error("no thread behind this link")]
    NotFound,
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

impl From<DbErr> for FollowUpError {
    fn from(e: DbErr) -> Self {
        FollowUpError::Submit(SubmitError::Db(e))
    }
}

impl From<StoreError> for FollowUpError {
    fn from(e: StoreError) -> Self {
        FollowUpError::Submit(match e {
            StoreError::Db(db) => SubmitError::Db(db),
            StoreError::Compose(compose) => SubmitError::Compose(compose),
            corrupt @ StoreError::CorruptReference(_) => SubmitError::Store(corrupt),
        })
    }
}

/// Why a stored conversation could not be read back or take a message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("stored reference of {0} is malformed")]
    CorruptReference(Uuid),
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// The reference a stored thread carries.
pub(crate) fn stored_reference(thread: &threads::Model) -> Result<Reference, StoreError> {
    Reference::parse(&thread.reference).ok_or(StoreError::CorruptReference(thread.id))
}

/// The visitor writes again in their thread; a closed or answered thread opens again.
pub async fn add_visitor_message(
    app: &AppState,
    origin: Origin,
    token: &ThreadToken,
    body: MessageBody,
) -> Result<Uuid, FollowUpError> {
    // The private link is the credential here; the captcha was solved when the thread began.
    admit(app, &origin, false).await?;
    let verdict = assess_follow_up(app, &body).await?;
    if verdict.action == Action::Reject {
        tracing::info!(
            verdict = verdict_text(&verdict),
            "follow-up refused as spam"
        );
        return Err(SubmitError::Refused(verdict.summary()).into());
    }
    let txn = crate::db::begin_write(&app.db).await?;
    let thread = thread_row(&txn, token)
        .await?
        .ok_or(FollowUpError::NotFound)?;
    let thread_id = thread.id;
    if verdict.action == Action::Hold {
        let id = insert_held_message(&txn, thread_id, &body, &spam_hold_reason(&verdict)).await?;
        crate::tally::count_outcome(&txn, crate::tally::Outcome::Held, 1).await?;
        txn.commit().await?;
        tracing::info!(%thread_id, verdict = verdict_text(&verdict), "visitor wrote again; held for review");
        return Ok(id);
    }
    let id = insert_message(&txn, thread_id, Author::Visitor, None, &body).await?;
    record_visitor_follow_up(app, &txn, thread, &body).await?;
    txn.commit().await?;
    app.outbox_wakeup.notify_one();
    tracing::info!(%thread_id, "visitor wrote again");
    Ok(id)
}

/// Stores one message of a thread.
pub(crate) async fn insert_message<C: ConnectionTrait>(
    conn: &C,
    thread_id: Uuid,
    author: Author,
    staff_id: Option<Uuid>,
    body: &MessageBody,
) -> Result<Uuid, DbErr> {
    let (id, row) = message_row(thread_id, author, staff_id, body);
    messages::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(id)
}

/// Stores a visitor's message that staff must look at before it joins the thread (a reply by
/// mail that failed authentication): the visitor's page does not show it, and nobody is told
/// by mail.
pub(crate) async fn insert_held_message<C: ConnectionTrait>(
    conn: &C,
    thread_id: Uuid,
    body: &MessageBody,
    reason: &str,
) -> Result<Uuid, DbErr> {
    let (id, mut row) = message_row(thread_id, Author::Visitor, None, body);
    row.held_reason = Set(Some(reason.to_owned()));
    messages::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    // Up to the top of the inbox, where staff find it.
    threads::Entity::update_many()
        .col_expr(
            threads::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(Utc::now().fixed_offset()),
        )
        .filter(threads::Column::Id.eq(thread_id))
        .exec(conn)
        .await?;
    Ok(id)
}

/// The row [`insert_message`] inserts, with its new id.
fn message_row(
    thread_id: Uuid,
    author: Author,
    staff_id: Option<Uuid>,
    body: &MessageBody,
) -> (Uuid, messages::ActiveModel) {
    let id = Uuid::now_v7();
    let row = messages::ActiveModel {
        id: Set(id),
        thread_id: Set(thread_id),
        author: Set(author.as_str().to_owned()),
        body_html: Set(body.html().to_owned()),
        created_at: Set(Utc::now().fixed_offset()),
        staff_id: Set(staff_id),
        held_reason: Set(None),
    };
    (id, row)
}

/// After a visitor wrote again (on the page or by e-mail): the thread opens again if it was
/// answered or closed, and staff are told.
pub(crate) async fn record_visitor_follow_up<C: ConnectionTrait>(
    app: &AppState,
    conn: &C,
    thread: threads::Model,
    body: &MessageBody,
) -> Result<(), StoreError> {
    let status = match ThreadStatus::parse(&thread.status) {
        Some(ThreadStatus::Answered | ThreadStatus::Closed) | None => ThreadStatus::Open,
        // A held conversation stays quiet until staff decide: nobody is told of this either.
        Some(ThreadStatus::Held) => {
            let mut active: threads::ActiveModel = thread.into();
            active.updated_at = Set(Utc::now().fixed_offset());
            active.update(conn).await?;
            return Ok(());
        }
        Some(other) => other,
    };
    let reference = stored_reference(&thread)?;
    let subject = thread.subject.clone().map(Subject::from_stored);
    let has_email = match thread.contact_id {
        Some(id) => contacts::Entity::find_by_id(id)
            .one(conn)
            .await?
            .is_some_and(|c| c.email_sealed.is_some()),
        None => false,
    };
    let thread_ref = mailers::ThreadRef {
        id: thread.id,
        reference: &reference,
        subject: subject.as_ref(),
        locale: Locale::parse(&thread.locale).unwrap_or(Locale::En),
    };
    mailers::notify_staff_of_follow_up(conn, app, &thread_ref, thread.contact_id, body, has_email)
        .await?;
    let mut active: threads::ActiveModel = thread.into();
    active.status = Set(status.as_str().to_owned());
    active.updated_at = Set(Utc::now().fixed_offset());
    active.update(conn).await?;
    Ok(())
}

/// Staff answered, by e-mail or from the inbox (`staff_id` is who, when known): the answer is
/// stored, the thread is marked answered, and the answer goes to the visitor through the outbox
/// if they gave an address that does not bounce. The one path for every staff answer.
pub(crate) async fn record_staff_answer<C: ConnectionTrait>(
    app: &AppState,
    conn: &C,
    thread: threads::Model,
    contact: Option<&contacts::Model>,
    staff_id: Option<Uuid>,
    body: &MessageBody,
) -> Result<Uuid, StoreError> {
    let id = insert_message(conn, thread.id, Author::Staff, staff_id, body).await?;
    let reference = stored_reference(&thread)?;
    let subject = thread.subject.clone().map(Subject::from_stored);
    if let Some(contact) = contact.filter(|c| c.email_sealed.is_some()) {
        let thread_ref = mailers::ThreadRef {
            id: thread.id,
            reference: &reference,
            subject: subject.as_ref(),
            locale: Locale::parse(&thread.locale).unwrap_or(Locale::En),
        };
        mailers::relay_staff_answer(conn, app, &thread_ref, contact.id, body).await?;
    }
    let mut active: threads::ActiveModel = thread.into();
    active.status = Set(ThreadStatus::Answered.as_str().to_owned());
    active.updated_at = Set(Utc::now().fixed_offset());
    active.update(conn).await?;
    Ok(id)
}
