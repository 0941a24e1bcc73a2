//! To the legal users: an open disclosure request's deadline is near (or has passed). Queued
//! once per request by the reminder job, in the transaction that records it was sent; like the
//! approval request it names only the case number and the page.

use sea_orm::ConnectionTrait;

use super::templates::mail_templates;
use super::{ComposeError, LegalRequestRef, enqueue_to_legal_users};
use crate::domain::EmailAddress;
use crate::i18n::Tr;
use crate::outbox::Kind;
use crate::state::AppState;

/// The data of the mail's templates.
pub struct DeadlineReminderMail {
    pub t: Tr,
    pub site: String,
    pub case_number: String,
    pub filed_by: String,
    /// `YYYY-MM-DD`.
    pub deadline: String,
    /// Whether the deadline has passed already.
    pub overdue: bool,
    /// The request's page.
    pub url: String,
}

mail_templates!(
    DeadlineReminderMail,
    [
        "mail/deadline_reminder/subject.txt",
        "mail/deadline_reminder/body.txt",
        "mail/deadline_reminder/body.html"
    ],
    DeadlineReminderSubject,
    DeadlineReminderText,
    DeadlineReminderHtml
);

/// Queues one reminder per address, in the caller's transaction.
pub async fn remind_of_deadline<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    request: &LegalRequestRef<'_>,
    overdue: bool,
    to: &[EmailAddress],
) -> Result<usize, ComposeError> {
    let rendered = DeadlineReminderMail {
        t: Tr::new(app.default_locale()),
        site: app.settings.site.name.clone(),
        case_number: request.case_number.to_owned(),
        filed_by: request.filed_by.to_owned(),
        deadline: request.deadline.to_string(),
        overdue,
        url: request.url(app),
    }
    .render()?;
    enqueue_to_legal_users(conn, app, Kind::DeadlineReminder, &rendered, to).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Locale;

    #[test]
    fn a_reminder_says_whether_the_deadline_passed() {
        let mail = |overdue| {
            DeadlineReminderMail {
                t: Tr::new(Locale::En),
                site: "Shop".into(),
                case_number: "2-345/2026".into(),
                filed_by: "lawyer-one".into(),
                deadline: "2026-12-15".into(),
                overdue,
                url: "https://feedback.example.org/staff/legal/requests/1".into(),
            }
            .render()
            .expect("renders")
        };
        let near = mail(false);
        assert_eq!(near.subject, "Deadline near: disclosure request 2-345/2026");
        assert!(near.text.contains("its deadline is near"));
        assert!(near.text.contains("Deadline: 2026-12-15"));
        assert!(mail(true).text.contains("its deadline has passed"));
    }
}
