//! To the visitor: staff answered. The answer goes from the support address, so that the staff
//! member's own address and name never reach the visitor.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::templates::mail_templates;
use super::{ComposeError, ThreadRef, enqueue_to_visitor};
use crate::domain::{MessageBody, Reference, Subject};
use crate::i18n::Tr;
use crate::outbox::Kind;
use crate::state::AppState;

/// The data of the mail's templates.
pub struct StaffAnswerMail {
    pub t: Tr,
    pub site: String,
    pub reference: String,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: String,
}

mail_templates!(
    StaffAnswerMail,
    [
        "mail/staff_answer/subject.txt",
        "mail/staff_answer/body.txt",
        "mail/staff_answer/body.html"
    ],
    StaffAnswerSubject,
    StaffAnswerText,
    StaffAnswerHtml
);

impl StaffAnswerMail {
    pub fn new(
        t: Tr,
        site: &str,
        reference: &Reference,
        subject: Option<&Subject>,
        body: &MessageBody,
    ) -> Self {
        Self {
            t,
            site: site.to_owned(),
            reference: reference.to_string(),
            subject: subject.map(|s| s.as_str().to_owned()),
            body_text: body.to_text(),
            body_html: body.html().to_owned(),
        }
    }
}

/// Queues a staff answer to the visitor, threaded under the mails the visitor got before.
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
