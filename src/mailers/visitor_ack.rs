//! To the visitor: we have your message, with its reference and private link. It is the
//! thread's first mail to the visitor.

use super::templates::mail_templates;
use super::{ComposeError, ThreadRef, Threading, to_visitor};
use crate::domain::ThreadToken;
use crate::i18n::Tr;
use crate::mail::Composed;
use crate::state::AppState;

/// The data of the mail's templates.
pub struct VisitorAckMail {
    pub t: Tr,
    pub site: String,
    pub reference: String,
    pub subject: Option<String>,
    pub thread_url: String,
}

mail_templates!(
    VisitorAckMail,
    [
        "mail/visitor_ack/subject.txt",
        "mail/visitor_ack/body.txt",
        "mail/visitor_ack/body.html"
    ],
    VisitorAckSubject,
    VisitorAckText,
    VisitorAckHtml
);

/// The acknowledgement of a new thread. Only composed, because the submission writer stores
/// it with the thread in one batch.
pub fn visitor_acknowledgement(
    app: &AppState,
    thread: &ThreadRef<'_>,
    token: &ThreadToken,
) -> Result<Composed, ComposeError> {
    let rendered = VisitorAckMail {
        t: Tr::new(thread.locale),
        site: app.settings.site.name.clone(),
        reference: thread.reference.to_string(),
        subject: thread.subject.map(|s| s.as_str().to_owned()),
        thread_url: app.thread_url(token),
    }
    .render()?;
    to_visitor(
        app,
        thread.id,
        rendered,
        Some("auto-replied"),
        Threading::default(),
    )
}
