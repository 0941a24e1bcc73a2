//! Every mail Sealpost sends, one file per kind: the data its templates need
//! (`templates/mail/<kind>/`) and the function that composes it and, where the mail is not part
//! of a larger write, queues it in the caller's transaction. What the kinds share lives here
//! once: who a mail comes from, the relay aliases answers go to, the Message-ID, and the
//! `In-Reply-To`/`References` that keep each side's mails in one conversation.
//!
//! Mailers sit below the use cases that cause mail and above the outbox that delivers it.

pub mod approval_request;
pub mod deadline_reminder;
pub mod disclosure_notice;
pub mod new_message;
pub mod relay_notice;
pub mod reset_link;
pub mod staff_answer;
pub mod templates;
pub mod visitor_ack;

use lettre::message::Mailbox;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::domain::{
    AddressError, EmailAddress, Locale, Reference, Subject, parse_address, parse_mailbox,
};
use crate::entities::outbox as outbox_rows;
use crate::mail::Composed;
use crate::mail::relay_token::{Direction, RelayToken};
use crate::outbox::{self, Kind, Recipient};
use crate::state::AppState;
use templates::Rendered;

pub use approval_request::ask_for_approval;
pub use deadline_reminder::remind_of_deadline;
pub use disclosure_notice::{DisclosureNotice, enqueue_disclosure_notice};
pub use new_message::{notify_staff_of_follow_up, staff_notification};
pub use relay_notice::{NotPassedOn, notify_staff_not_passed_on};
pub use reset_link::enqueue_reset_link;
pub use staff_answer::relay_staff_answer;
pub use visitor_ack::visitor_acknowledgement;

/// What a mail needs to know of its thread.
pub struct ThreadRef<'a> {
    pub id: Uuid,
    pub reference: &'a Reference,
    pub subject: Option<&'a Subject>,
    pub locale: Locale,
}

/// Why a mail could not be composed or queued.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("rendering mail: {0}")]
    Template(#[from] askama::Error),
    #[error("mail configuration: {0}")]
    Config(#[from] AddressError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// A fresh Message-ID on the relay domain.
pub fn new_message_id(relay_domain: &str) -> String {
    format!("<{}@{relay_domain}>", Uuid::now_v7().simple())
}

/// The thread's relay alias for mail written from `direction`'s side.
fn alias(app: &AppState, thread_id: Uuid, direction: Direction) -> Result<Mailbox, ComposeError> {
    let address =
        RelayToken::new(thread_id, direction).alias(&app.sealer, &app.settings.mail.relay_domain);
    Ok(Mailbox::new(None, parse_address(&address)?))
}

/// `mail.support_from`: the sender of every mail to a visitor and of notices to staff.
fn support(app: &AppState) -> Result<Mailbox, ComposeError> {
    Ok(parse_mailbox(&app.settings.mail.support_from)?)
}

/// The name visitors see staff under: the display name of `mail.support_from`, else the site.
pub fn support_name(app: &AppState) -> String {
    support(app)
        .ok()
        .and_then(|m| m.name)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| app.settings.site.name.clone())
}

/// The Message-IDs already sent to one side of a thread (`kinds`), first and latest: a new
/// mail answers the latest and refers to both, so that every client keeps one conversation.
#[derive(Debug, Default, Clone)]
struct Threading {
    first: Option<String>,
    latest: Option<String>,
}

impl Threading {
    fn in_reply_to(&self) -> Option<String> {
        self.latest.clone().or_else(|| self.first.clone())
    }

    fn references(&self) -> Option<String> {
        match (&self.first, &self.latest) {
            (Some(first), Some(latest)) if first != latest => Some(format!("{first} {latest}")),
            (Some(one), _) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        }
    }
}

async fn threading<C: ConnectionTrait>(
    conn: &C,
    thread_id: Uuid,
    kinds: &[Kind],
) -> Result<Threading, DbErr> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let query = || {
        outbox_rows::Entity::find()
            .filter(outbox_rows::Column::ThreadId.eq(thread_id))
            .filter(outbox_rows::Column::Kind.is_in(kinds.clone()))
    };
    let first = query()
        .order_by_asc(outbox_rows::Column::CreatedAt)
        .order_by_asc(outbox_rows::Column::Id)
        .one(conn)
        .await?
        .map(|row| row.message_id);
    let latest = query()
        .order_by_desc(outbox_rows::Column::CreatedAt)
        .order_by_desc(outbox_rows::Column::Id)
        .one(conn)
        .await?
        .map(|row| row.message_id);
    Ok(Threading { first, latest })
}

/// The kinds of mail each side gets.
const TO_STAFF: &[Kind] = &[Kind::NewMessage];
const TO_VISITOR: &[Kind] = &[Kind::VisitorAck, Kind::StaffAnswer, Kind::DisclosureNotice];

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
    let threading = threading(conn, thread_id, TO_VISITOR).await?;
    let mail = to_visitor(app, thread_id, rendered, auto_submitted, threading)?;
    Ok(outbox::enqueue(
        conn,
        &app.sealer,
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
    threading: Threading,
) -> Result<Composed, ComposeError> {
    Ok(Composed {
        message_id: new_message_id(&app.settings.mail.relay_domain),
        from: support(app)?,
        reply_to: Some(alias(app, thread_id, Direction::FromVisitor)?),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        references: threading.references(),
        in_reply_to: threading.in_reply_to(),
        auto_submitted: auto_submitted.map(str::to_owned),
    })
}

/// What a mail to the legal users says of a disclosure request: its case number, who filed it,
/// its deadline and its page; never a data subject.
pub struct LegalRequestRef<'a> {
    pub id: Uuid,
    pub case_number: &'a str,
    pub filed_by: &'a str,
    pub deadline: chrono::NaiveDate,
}

impl LegalRequestRef<'_> {
    fn url(&self, app: &AppState) -> String {
        format!(
            "{}/staff/legal/requests/{}",
            app.settings.base_url(),
            self.id
        )
    }
}

/// Queues one mail from the support address to each of `to` (legal users' own addresses);
/// returns how many.
async fn enqueue_to_legal_users<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    kind: Kind,
    rendered: &Rendered,
    to: &[EmailAddress],
) -> Result<usize, ComposeError> {
    for address in to {
        let mail = Composed {
            message_id: new_message_id(&app.settings.mail.relay_domain),
            from: support(app)?,
            reply_to: None,
            subject: rendered.subject.clone(),
            text: rendered.text.clone(),
            html: rendered.html.clone(),
            references: None,
            in_reply_to: None,
            auto_submitted: Some("auto-generated".into()),
        };
        outbox::enqueue(
            conn,
            &app.sealer,
            kind,
            None,
            Recipient::Address(address.clone()),
            None,
            &mail,
        )
        .await?;
    }
    Ok(to.len())
}
