//! To one staff account, at its own address: the one-time link to choose a new password that
//! its owner asked for on the sign-in page. The same link as a forced reset's; the address is
//! not in the row, the outbox reads it from the account at delivery.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::templates::mail_templates;
use super::{ComposeError, new_message_id, support};
use crate::mail::Composed;
use crate::outbox::{self, Kind, Recipient};
use crate::state::AppState;

/// The data of the mail's templates.
pub struct ResetLinkMail {
    pub site: String,
    pub login: String,
    pub link: String,
    pub hours: i64,
}

mail_templates!(
    ResetLinkMail,
    [
        "mail/reset_link/subject.txt",
        "mail/reset_link/body.txt",
        "mail/reset_link/body.html"
    ],
    ResetLinkSubject,
    ResetLinkText,
    ResetLinkHtml
);

/// Queues the link in the caller's transaction (the one that stores the link's hash).
pub async fn enqueue_reset_link<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    staff_id: Uuid,
    login: &str,
    link: String,
) -> Result<Uuid, ComposeError> {
    let rendered = ResetLinkMail {
        site: app.settings.site.name.clone(),
        login: login.to_owned(),
        link,
        hours: app.settings.staff.reset_link_hours,
    }
    .render()?;
    let mail = Composed {
        message_id: new_message_id(&app.settings.mail.relay_domain),
        from: support(app)?,
        reply_to: None,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        references: None,
        in_reply_to: None,
        auto_submitted: Some("auto-generated".into()),
    };
    Ok(outbox::enqueue(
        conn,
        &app.sealer,
        Kind::ResetLink,
        None,
        Recipient::Account(staff_id),
        None,
        &mail,
    )
    .await?)
}
