//! The relay between visitors and staff. Outbound: the mails each side gets, composed here and
//! enqueued in the caller's transaction. Inbound: mail to a relay alias, from either side,
//! arriving over SMTP or HTTP, goes through [`receive`] — one path for both.

use lettre::message::Mailbox;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::domain::{Locale, MessageBody, Reference, Subject, ThreadToken};
use crate::entities::outbox as outbox_rows;
use crate::i18n::Tr;
use crate::mail::relay_token::{Direction, RelayToken};
use crate::mail::templates::{NewMessageMail, StaffAnswerMail, VisitorAckMail};
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
    let rendered = NewMessageMail::new(
        Tr::new(app.default_locale()),
        &app.settings.site.name,
        thread.reference,
        thread.subject,
        body,
        follow_up,
        has_email,
    )
    .render()?;
    let staff_alias = alias(app, thread.id, Direction::FromStaff)?;
    let from = Mailbox::new(
        Some(format!("Visitor via {}", app.settings.site.name)),
        staff_alias.email.clone(),
    );
    let first = first_message_id(conn, thread.id, Kind::NewMessage).await?;
    let mail = Composed {
        message_id: outbox::new_message_id(&app.settings.mail.relay_domain),
        from,
        reply_to: Some(staff_alias),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        references: first.clone(),
        in_reply_to: first,
        auto_submitted: Some("auto-generated".into()),
    };
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

/// Confirms to the visitor that the message arrived, with the reference and private link.
pub async fn acknowledge_visitor<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    thread: &ThreadRef<'_>,
    contact_id: Uuid,
    token: &ThreadToken,
) -> Result<Uuid, ComposeError> {
    let rendered = VisitorAckMail {
        t: Tr::new(thread.locale),
        site: app.settings.site.name.clone(),
        reference: thread.reference.to_string(),
        thread_url: app.thread_url(token),
    }
    .render()?;
    let mail = Composed {
        message_id: outbox::new_message_id(&app.settings.mail.relay_domain),
        from: support(app)?,
        reply_to: Some(alias(app, thread.id, Direction::FromVisitor)?),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        in_reply_to: None,
        references: None,
        auto_submitted: Some("auto-replied".into()),
    };
    Ok(outbox::enqueue(
        conn,
        Kind::VisitorAck,
        Some(thread.id),
        Recipient::Visitor,
        Some(contact_id),
        &mail,
    )
    .await?)
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
    let first = first_message_id(conn, thread.id, Kind::VisitorAck).await?;
    let mail = Composed {
        message_id: outbox::new_message_id(&app.settings.mail.relay_domain),
        from: support(app)?,
        reply_to: Some(alias(app, thread.id, Direction::FromVisitor)?),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        references: first.clone(),
        in_reply_to: first,
        auto_submitted: None,
    };
    Ok(outbox::enqueue(
        conn,
        Kind::StaffAnswer,
        Some(thread.id),
        Recipient::Visitor,
        Some(contact_id),
        &mail,
    )
    .await?)
}
