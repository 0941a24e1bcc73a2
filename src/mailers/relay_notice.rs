//! To staff: an answer by e-mail was not passed on to the visitor, and why. Sent when the
//! site's own MTA accepted the answer already, so that a refusal cannot reach the sender.

use uuid::Uuid;

use super::templates::mail_templates;
use super::{ComposeError, TO_STAFF, new_message_id, support, threading};
use crate::i18n::Tr;
use crate::mail::Composed;
use crate::outbox::{self, Kind, Recipient};
use crate::state::AppState;

/// The data of the mail's templates.
pub struct RelayNoticeMail {
    pub t: Tr,
    pub site: String,
    pub reference: String,
    /// Why, in the reader's language.
    pub reason: String,
    /// The thread in the staff inbox, where it can be answered.
    pub inbox_url: String,
}

mail_templates!(
    RelayNoticeMail,
    [
        "mail/relay_notice/subject.txt",
        "mail/relay_notice/body.txt",
        "mail/relay_notice/body.html"
    ],
    RelayNoticeSubject,
    RelayNoticeText,
    RelayNoticeHtml
);

/// Why an answer was not passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPassedOn {
    /// Its HTML was too large or too deeply nested to read, with no plain-text part.
    Unreadable,
    /// Its new text was longer than a message may be.
    TooLong,
    /// It had no new text.
    Empty,
}

impl NotPassedOn {
    fn message_key(self) -> &'static str {
        match self {
            NotPassedOn::Unreadable => "mail-relay-notice-unreadable",
            NotPassedOn::TooLong => "mail-relay-notice-too-long",
            NotPassedOn::Empty => "mail-relay-notice-empty",
        }
    }
}

/// Queues the notice in a transaction of its own (nothing else is written with it), threaded
/// under the thread's notifications to staff, and wakes the outbox.
pub async fn notify_staff_not_passed_on(
    app: &AppState,
    thread_id: Uuid,
    reference: &str,
    why: NotPassedOn,
) -> Result<(), ComposeError> {
    let t = Tr::new(app.default_locale());
    let rendered = RelayNoticeMail {
        t,
        site: app.settings.site.name.clone(),
        reference: reference.to_owned(),
        reason: t.get(why.message_key()),
        inbox_url: format!("{}/staff/threads/{}", app.settings.base_url(), thread_id),
    }
    .render()?;
    let threading = threading(&app.db, thread_id, TO_STAFF).await?;
    let composed = Composed {
        message_id: new_message_id(&app.settings.mail.relay_domain),
        from: support(app)?,
        reply_to: None,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        references: threading.references(),
        in_reply_to: threading.in_reply_to(),
        auto_submitted: Some("auto-replied".into()),
    };
    let txn = crate::db::begin_write(&app.db).await?;
    outbox::enqueue(
        &txn,
        &app.sealer,
        Kind::RelayNotice,
        Some(thread_id),
        Recipient::Staff,
        None,
        &composed,
    )
    .await?;
    txn.commit().await?;
    app.outbox_wakeup.notify_one();
    Ok(())
}
