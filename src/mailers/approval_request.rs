//! To the other legal users: a disclosure request was filed and waits for a second person's
//! approval (four eyes). It names the request by its case number and links to its page; it
//! never names a data subject, an address or anything of a conversation.

use sea_orm::ConnectionTrait;

use super::templates::mail_templates;
use super::{ComposeError, LegalRequestRef, enqueue_to_legal_users};
use crate::domain::EmailAddress;
use crate::i18n::Tr;
use crate::outbox::Kind;
use crate::state::AppState;

/// The data of the mail's templates.
pub struct ApprovalRequestMail {
    pub t: Tr,
    pub site: String,
    pub case_number: String,
    pub filed_by: String,
    /// `YYYY-MM-DD`.
    pub deadline: String,
    /// The request's page.
    pub url: String,
}

mail_templates!(
    ApprovalRequestMail,
    [
        "mail/approval_request/subject.txt",
        "mail/approval_request/body.txt",
        "mail/approval_request/body.html"
    ],
    ApprovalRequestSubject,
    ApprovalRequestText,
    ApprovalRequestHtml
);

/// Queues one mail per address, in the caller's transaction (the one that files the request).
pub async fn ask_for_approval<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    request: &LegalRequestRef<'_>,
    to: &[EmailAddress],
) -> Result<usize, ComposeError> {
    let rendered = ApprovalRequestMail {
        t: Tr::new(app.default_locale()),
        site: app.settings.site.name.clone(),
        case_number: request.case_number.to_owned(),
        filed_by: request.filed_by.to_owned(),
        deadline: request.deadline.to_string(),
        url: request.url(app),
    }
    .render()?;
    enqueue_to_legal_users(conn, app, Kind::ApprovalRequest, &rendered, to).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Locale;

    #[test]
    fn an_approval_request_names_the_case_and_links_to_it() {
        let mail = ApprovalRequestMail {
            t: Tr::new(Locale::En),
            site: "Shop".into(),
            case_number: "2-345/2026".into(),
            filed_by: "lawyer-one".into(),
            deadline: "2026-12-15".into(),
            url: "https://feedback.example.org/staff/legal/requests/1".into(),
        }
        .render()
        .expect("renders");
        assert_eq!(
            mail.subject,
            "Disclosure request 2-345/2026 awaits your approval"
        );
        assert!(
            mail.text
                .contains("Open the request: https://feedback.example.org/staff/legal/requests/1")
        );
        assert!(mail.text.contains("Filed by: lawyer-one"));
        assert!(
            mail.html
                .contains("href=\"https://feedback.example.org/staff/legal/requests/1\"")
        );
    }
}
