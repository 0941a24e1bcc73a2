//! The relay between visitors and staff. Outbound: the mails each side gets, composed here and
//! enqueued in the caller's transaction. Inbound: mail to a relay alias, from either side,
//! arriving over SMTP or HTTP, goes through [`receive`] — one path for both.

use lettre::message::Mailbox;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::domain::{Locale, MessageBody, Reference, Subject, ThreadToken};
use crate::entities::outbox as outbox_rows;
use crate::i18n::Tr;
use crate::mail::relay_token::{Direction, RelayToken};
use crate::mail::templates::{NewMessageMail, Rendered, StaffAnswerMail, VisitorAckMail};
use crate::mail::{self, Composed};
use crate::outbox::{self, Kind, Recipient};
use crate::state::AppState;

/// What the relay needs to know of a thread.
pub struct ThreadRef<'a> {
    pub id: Uuid,
    pub reference: &'a Reference,
    pub subject: Option<&'a Subject>,
    pub locale: Locale,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("rendering mail: {0}")]
    Template(#[from] askama::Error),
    #[error("mail configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl From<ComposeError> for DbErr {
    fn from(e: ComposeError) -> Self {
        match e {
            ComposeError::Db(db) => db,
            other => DbErr::Custom(other.to_string()),
        }
    }
}

fn alias(app: &AppState, thread_id: Uuid, direction: Direction) -> Result<Mailbox, ComposeError> {
    let address =
        RelayToken::new(thread_id, direction).alias(&app.sealer, &app.settings.mail.relay_domain);
    mail::parse_address(&address)
        .map(|a| Mailbox::new(None, a))
        .map_err(ComposeError::Config)
}

fn support(app: &AppState) -> Result<Mailbox, ComposeError> {
    mail::parse_mailbox(&app.settings.mail.support_from).map_err(ComposeError::Config)
}

/// The Message-ID of the first mail of `kind` in a thread, to thread later mails under it.
async fn first_message_id<C: ConnectionTrait>(
    conn: &C,
    thread_id: Uuid,
    kind: Kind,
) -> Result<Option<String>, DbErr> {
    Ok(outbox_rows::Entity::find()
        .filter(outbox_rows::Column::ThreadId.eq(thread_id))
        .filter(outbox_rows::Column::Kind.eq(kind.as_str()))
        .order_by_asc(outbox_rows::Column::CreatedAt)
        .one(conn)
        .await?
        .map(|row| row.message_id))
}

/// Tells staff that a visitor wrote. The mail comes from the thread's staff-side alias (with
/// the visitor's name, opened at delivery), so that staff can simply reply to it.
pub async fn notify_staff<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    thread: &ThreadRef<'_>,
    contact_id: Option<Uuid>,
    body: &MessageBody,
    follow_up: bool,
    has_email: bool,
) -> Result<Uuid, ComposeError> {
    let first = first_message_id(conn, thread.id, Kind::NewMessage).await?;
    let mail = staff_notification(app, thread, body, follow_up, has_email, first)?;
    Ok(outbox::enqueue(
        conn,
        Kind::NewMessage,
        Some(thread.id),
        Recipient::Staff,
        contact_id,
        &mail,
    )
    .await?)
}

/// The mail [`notify_staff`] enqueues; `first` is the Message-ID of the thread's first
/// notification, if there was one, to thread this one under it.
pub fn staff_notification(
    app: &AppState,
    thread: &ThreadRef<'_>,
    body: &MessageBody,
    follow_up: bool,
    has_email: bool,
    first: Option<String>,
) -> Result<Composed, ComposeError> {
    let rendered = NewMessageMail::new(
        Tr::new(app.default_locale()),
        &app.settings.site.name,
        thread.reference,
        thread.subject,
        body,
        follow_up,
        has_email,
        format!("{}/staff/threads/{}", app.settings.base_url(), thread.id),
    )
    .render()?;
    let staff_alias = alias(app, thread.id, Direction::FromStaff)?;
    let from = Mailbox::new(
        Some(format!("Visitor via {}", app.settings.site.name)),
        staff_alias.email.clone(),
    );
    Ok(Composed {
        message_id: outbox::new_message_id(&app.settings.mail.relay_domain),
        from,
        reply_to: Some(staff_alias),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        references: first.clone(),
        in_reply_to: first,
        auto_submitted: Some("auto-generated".into()),
    })
}

/// The mail that confirms to the visitor that their new message arrived, with the reference
/// and private link. It is the thread's first mail to the visitor.
pub fn visitor_acknowledgement(
    app: &AppState,
    thread: &ThreadRef<'_>,
    token: &ThreadToken,
) -> Result<Composed, ComposeError> {
    let rendered = VisitorAckMail {
        t: Tr::new(thread.locale),
        site: app.settings.site.name.clone(),
        reference: thread.reference.to_string(),
        thread_url: app.thread_url(token),
    }
    .render()?;
    to_visitor(app, thread.id, rendered, Some("auto-replied"), None)
}

/// Sends a staff answer on to the visitor, from the support address: the staff member's own
/// address and name never reach the visitor.
pub async fn relay_staff_answer<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    thread: &ThreadRef<'_>,
    contact_id: Uuid,
    body: &MessageBody,
) -> Result<Uuid, ComposeError> {
    let rendered = StaffAnswerMail::new(
        Tr::new(thread.locale),
        &app.settings.site.name,
        thread.reference,
        thread.subject,
        body,
    )
    .render()?;
    enqueue_to_visitor(
        conn,
        app,
        Kind::StaffAnswer,
        thread.id,
        contact_id,
        rendered,
        None,
    )
    .await
}

/// Queues a mail to the visitor of a thread: from the support address, answers going to the
/// visitor's alias, threaded under the first mail the visitor got.
async fn enqueue_to_visitor<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    kind: Kind,
    thread_id: Uuid,
    contact_id: Uuid,
    rendered: Rendered,
    auto_submitted: Option<&str>,
) -> Result<Uuid, ComposeError> {
    let first = first_message_id(conn, thread_id, Kind::VisitorAck).await?;
    let mail = to_visitor(app, thread_id, rendered, auto_submitted, first)?;
    Ok(outbox::enqueue(
        conn,
        kind,
        Some(thread_id),
        Recipient::Visitor,
        Some(contact_id),
        &mail,
    )
    .await?)
}

/// A mail to the visitor from the support address, answerable through the thread's
/// visitor-side alias.
fn to_visitor(
    app: &AppState,
    thread_id: Uuid,
    rendered: Rendered,
    auto_submitted: Option<&str>,
    first: Option<String>,
) -> Result<Composed, ComposeError> {
    Ok(Composed {
        message_id: outbox::new_message_id(&app.settings.mail.relay_domain),
        from: support(app)?,
        reply_to: Some(alias(app, thread_id, Direction::FromVisitor)?),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        references: first.clone(),
        in_reply_to: first,
        auto_submitted: auto_submitted.map(str::to_owned),
    })
}

/// Mail arriving for the relay domain, from the SMTP listener or `POST /api/v1/inbound`.
pub struct Inbound<'a> {
    /// The envelope sender; `None` or empty for the null reverse path `<>`.
    pub envelope_from: Option<&'a str>,
    /// The envelope recipients (or, over HTTP, the addresses the caller names).
    pub recipients: Vec<String>,
    pub raw: &'a [u8],
}

/// What became of an inbound mail that was not refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Stored in the thread and relayed to the other side.
    Relayed { thread_id: Uuid },
    /// A bounce, recorded against the mail it reports on.
    BounceRecorded,
    /// Automatic mail (auto-reply, list, daemon): accepted and dropped, so that no loop starts.
    Dropped,
}

/// Why an inbound mail is refused. Over SMTP each is a 5xx during the dialogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such recipient")]
    UnknownRecipient,
    #[error("relay token is forged or altered")]
    ForgedToken,
    #[error("the sender may not write to this address")]
    StrangerSender,
    #[error("the mail has no readable text")]
    Empty,
    #[error("the mail cannot be parsed")]
    Malformed,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl From<ComposeError> for ReceiveError {
    fn from(e: ComposeError) -> Self {
        ReceiveError::Db(e.into())
    }
}

/// Checks one envelope recipient, as the SMTP listener does at `RCPT TO`: it must be a
/// relay alias with a valid token for a thread that exists.
pub async fn check_recipient(app: &AppState, recipient: &str) -> Result<RelayToken, ReceiveError> {
    use crate::mail::relay_token::TokenError;
    let token = RelayToken::from_address(recipient, &app.sealer, &app.settings.mail.relay_domain)
        .map_err(|e| match e {
        TokenError::NotAnAlias => Refusal::UnknownRecipient,
        TokenError::Forged => Refusal::ForgedToken,
    })?;
    let exists = crate::entities::threads::Entity::find_by_id(token.thread_id)
        .one(&app.db)
        .await?
        .is_some();
    if !exists {
        return Err(Refusal::UnknownRecipient.into());
    }
    Ok(token)
}

/// The thread and side a mail is for: from its recipients, or, when the alias was lost, from
/// the Message-IDs it answers.
async fn route(
    app: &AppState,
    mail: &Inbound<'_>,
    parsed: &crate::mail::inbound::Parsed<'_>,
) -> Result<RelayToken, ReceiveError> {
    let mut refusal = Refusal::UnknownRecipient;
    for recipient in &mail.recipients {
        match check_recipient(app, recipient).await {
            Ok(token) => return Ok(token),
            Err(ReceiveError::Refused(Refusal::ForgedToken)) => refusal = Refusal::ForgedToken,
            Err(ReceiveError::Refused(_)) => {}
            Err(other) => return Err(other),
        }
    }
    if refusal == Refusal::ForgedToken {
        return Err(refusal.into());
    }
    let ids = parsed.referenced_ids();
    if !ids.is_empty() {
        let row = outbox_rows::Entity::find()
            .filter(outbox_rows::Column::MessageId.is_in(ids))
            .one(&app.db)
            .await?;
        if let Some(row) = row
            && let Some(thread_id) = row.thread_id
        {
            let direction = if row.kind == Kind::NewMessage.as_str() {
                Direction::FromStaff
            } else {
                Direction::FromVisitor
            };
            return Ok(RelayToken::new(thread_id, direction));
        }
    }
    Err(refusal.into())
}

/// Records a bounce against the mail it reports on; an address that keeps bouncing gets no
/// more acknowledgements.
async fn record_bounce(
    app: &AppState,
    parsed: &crate::mail::inbound::Parsed<'_>,
) -> Result<(), DbErr> {
    let text = parsed.all_text();
    let suffix = format!("@{}>", app.settings.mail.relay_domain);
    let ids: Vec<String> = text
        .split(|c: char| c.is_whitespace())
        .filter(|w| w.starts_with('<') && w.ends_with(&suffix))
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        tracing::info!("bounce for no mail of ours; dropped");
        return Ok(());
    }
    let rows = outbox_rows::Entity::find()
        .filter(outbox_rows::Column::MessageId.is_in(ids))
        .all(&app.db)
        .await?;
    for row in rows {
        tracing::warn!(outbox_id = %row.id, kind = %row.kind, "mail bounced");
        let contact_id = row.contact_id.filter(|_| row.recipient == "visitor");
        let mut active: outbox_rows::ActiveModel = row.into();
        active.last_error = Set(Some(
            "bounced: the receiving server sent a delivery failure report".into(),
        ));
        active.update(&app.db).await?;
        if let Some(contact_id) = contact_id {
            crate::entities::contacts::Entity::update_many()
                .col_expr(
                    crate::entities::contacts::Column::Bounces,
                    sea_orm::sea_query::ExprTrait::add(
                        sea_orm::sea_query::Expr::col(crate::entities::contacts::Column::Bounces),
                        1,
                    ),
                )
                .filter(crate::entities::contacts::Column::Id.eq(contact_id))
                .exec(&app.db)
                .await?;
        }
    }
    Ok(())
}

/// Replaces the addresses of either side found in a text with the alias of the thread.
fn hide_addresses(
    app: &AppState,
    text: &str,
    contact: Option<&crate::entities::contacts::Model>,
    alias: &str,
) -> String {
    crate::mail::inbound::hide_addresses(text, alias, &app.settings.mail.relay_domain, |word| {
        let is_staff = app
            .settings
            .mail
            .staff_addresses
            .iter()
            .any(|s| s.eq_ignore_ascii_case(word));
        is_staff
            || contact
                .and_then(|c| c.email_index.as_ref())
                .is_some_and(|index| {
                    crate::domain::EmailAddress::parse(word)
                        .ok()
                        .flatten()
                        .is_some_and(|e| &app.sealer.email_index(&e) == index)
                })
    })
}

/// Takes in a mail for the relay domain: one code path for SMTP and HTTP. A staff answer goes
/// to the visitor from the support address; a visitor's mail joins the thread and notifies
/// staff. Either way the mail is rebuilt from its new text, never forwarded, so none of the
/// sender's headers travel on.
pub async fn receive(app: &AppState, mail: Inbound<'_>) -> Result<Received, ReceiveError> {
    let outcome = receive_counted(app, mail).await;
    app.metrics.inbound_mail(match &outcome {
        Ok(_) => "accepted",
        Err(ReceiveError::Refused(_)) => "refused",
        Err(_) => "failed",
    });
    outcome
}

async fn receive_counted(app: &AppState, mail: Inbound<'_>) -> Result<Received, ReceiveError> {
    use crate::entities::{contacts, threads};
    use crate::mail::inbound::{Automatic, Parsed};

    let parsed = Parsed::parse(mail.raw).ok_or(Refusal::Malformed)?;
    match parsed.automatic(mail.envelope_from) {
        Some(Automatic::Bounce) => {
            record_bounce(app, &parsed).await?;
            return Ok(Received::BounceRecorded);
        }
        Some(Automatic::Other) => {
            tracing::info!("automatic mail to the relay dropped");
            return Ok(Received::Dropped);
        }
        None => {}
    }
    let token = route(app, &mail, &parsed).await?;
    let thread = threads::Entity::find_by_id(token.thread_id)
        .one(&app.db)
        .await?
        .ok_or(Refusal::UnknownRecipient)?;
    let contact = match thread.contact_id {
        Some(id) => contacts::Entity::find_by_id(id).one(&app.db).await?,
        None => None,
    };
    let sender = parsed.from_address().unwrap_or_default();
    let allowed = match token.direction {
        Direction::FromStaff => app
            .settings
            .mail
            .staff_addresses
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&sender)),
        Direction::FromVisitor => {
            let index = crate::domain::EmailAddress::parse(&sender)
                .ok()
                .flatten()
                .map(|e| app.sealer.email_index(&e));
            index.is_some() && contact.as_ref().and_then(|c| c.email_index.clone()) == index
        }
    };
    if !allowed {
        tracing::warn!(thread_id = %thread.id, "relay mail from a sender not on this thread refused");
        return Err(Refusal::StrangerSender.into());
    }
    let reader_alias = match token.direction {
        Direction::FromStaff => RelayToken::new(thread.id, Direction::FromVisitor),
        Direction::FromVisitor => RelayToken::new(thread.id, Direction::FromStaff),
    }
    .alias(&app.sealer, &app.settings.mail.relay_domain);
    let text = hide_addresses(app, &parsed.new_text(), contact.as_ref(), &reader_alias);
    let body = MessageBody::from_plain_text(&text).map_err(|_| Refusal::Empty)?;

    let txn = crate::db::begin_write(&app.db).await?;
    let thread_id = thread.id;
    match token.direction {
        Direction::FromStaff => {
            crate::messages::record_staff_answer(app, &txn, thread, contact.as_ref(), None, &body)
                .await?;
        }
        Direction::FromVisitor => {
            crate::messages::insert_message(
                &txn,
                thread.id,
                crate::domain::Author::Visitor,
                None,
                &body,
            )
            .await?;
            crate::messages::record_visitor_follow_up(app, &txn, thread, &body).await?;
        }
    }
    txn.commit().await?;
    app.outbox_wakeup.notify_one();
    tracing::info!(%thread_id, "relay mail stored");
    Ok(Received::Relayed { thread_id })
}
