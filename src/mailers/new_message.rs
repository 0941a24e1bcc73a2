//! To staff: a visitor wrote, in a new thread or again in one. The mail comes from the thread's
//! staff-side alias (with the visitor's name, opened at delivery), so that staff can simply
//! reply to it.

use lettre::message::Mailbox;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::templates::mail_templates;
use super::{ComposeError, TO_STAFF, ThreadRef, Threading, alias, new_message_id, threading};
use crate::domain::{MessageBody, Reference, Subject};
use crate::i18n::Tr;
use crate::mail::Composed;
use crate::mail::relay_token::Direction;
use crate::outbox::{self, Kind, Recipient};
use crate::state::AppState;

/// The data of the mail's templates.
pub struct NewMessageMail {
    pub t: Tr,
    pub site: String,
    pub reference: String,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: String,
    pub follow_up: bool,
    pub has_email: bool,
    /// The thread in the staff inbox, where it can be answered too.
    pub inbox_url: String,
}

mail_templates!(
    NewMessageMail,
    [
        "mail/new_message/subject.txt",
        "mail/new_message/body.txt",
        "mail/new_message/body.html"
    ],
    NewMessageSubject,
    NewMessageText,
    NewMessageHtml
);

impl NewMessageMail {
    #[allow(clippy::too_many_arguments)] // one per part of the mail
    pub fn new(
        t: Tr,
        site: &str,
        reference: &Reference,
        subject: Option<&Subject>,
        body: &MessageBody,
        follow_up: bool,
        has_email: bool,
        inbox_url: String,
    ) -> Self {
        Self {
            t,
            site: site.to_owned(),
            reference: reference.to_string(),
            subject: subject.map(|s| s.as_str().to_owned()),
            body_text: body.to_text(),
            body_html: body.html().to_owned(),
            follow_up,
            has_email,
            inbox_url,
        }
    }
}

/// The notification of a new thread: the thread's first mail to staff. Only composed, because
/// the submission writer stores it with the thread in one batch.
pub fn staff_notification(
    app: &AppState,
    thread: &ThreadRef<'_>,
    body: &MessageBody,
    has_email: bool,
) -> Result<Composed, ComposeError> {
    compose(app, thread, body, false, has_email, Threading::default())
}

/// Queues the notification that the visitor wrote again (on the page or by e-mail), threaded
/// under the notifications before it.
pub async fn notify_staff_of_follow_up<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    thread: &ThreadRef<'_>,
    contact_id: Option<Uuid>,
    body: &MessageBody,
    has_email: bool,
) -> Result<Uuid, ComposeError> {
    let threading = threading(conn, thread.id, TO_STAFF).await?;
    let mail = compose(app, thread, body, true, has_email, threading)?;
    Ok(outbox::enqueue(
        conn,
        &app.sealer,
        Kind::NewMessage,
        Some(thread.id),
        Recipient::Staff,
        contact_id,
        &mail,
    )
    .await?)
}

fn compose(
    app: &AppState,
    thread: &ThreadRef<'_>,
    body: &MessageBody,
    follow_up: bool,
    has_email: bool,
    threading: Threading,
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
        message_id: new_message_id(&app.settings.mail.relay_domain),
        from,
        reply_to: Some(staff_alias),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        references: threading.references(),
        in_reply_to: threading.in_reply_to(),
        auto_submitted: Some("auto-generated".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Locale;

    #[test]
    fn a_new_message_mail_has_all_three_parts() {
        let body = MessageBody::parse("Hello <b>there</b> & welcome").expect("body");
        let subject = Subject::parse("Delivery").expect("ok");
        let reference = Reference::parse("SP-7KQ2-M9XD").expect("ref");
        let mail = NewMessageMail::new(
            Tr::new(Locale::En),
            "Shop",
            &reference,
            subject.as_ref(),
            &body,
            false,
            true,
            "https://feedback.example.org/staff/threads/1".into(),
        )
        .render()
        .expect("renders");
        assert_eq!(mail.subject, "Delivery [SP-7KQ2-M9XD]");
        assert!(
            mail.text
                .contains("staff inbox: https://feedback.example.org/staff/threads/1")
        );
        assert!(
            mail.html
                .contains("href=\"https://feedback.example.org/staff/threads/1\"")
        );
        assert!(mail.text.contains("Hello there & welcome"));
        assert!(mail.html.contains("Hello <b>there</b> &amp; welcome"));
        assert!(mail.text.contains("Reply to this e-mail"));
    }
}
