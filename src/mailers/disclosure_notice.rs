//! To the visitor: data about them was disclosed under a legal order. It names the authority
//! and the legal basis, never the staff who handled it, and may be held until a gag order ends.

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::templates::mail_templates;
use super::{ComposeError, Threading, to_visitor};
use crate::domain::{Categories, Instrument, Locale};
use crate::i18n::Tr;
use crate::outbox::{self, Kind, Recipient};
use crate::state::AppState;

/// The data of the mail's templates.
pub struct DisclosureNoticeMail {
    pub t: Tr,
    pub site: String,
    pub reference: String,
    pub authority: String,
    /// The legal basis, in the reader's language.
    pub instrument: String,
    /// What was disclosed, in the reader's language.
    pub categories: Vec<String>,
    /// The day of the disclosure, `YYYY-MM-DD`.
    pub date: String,
}

mail_templates!(
    DisclosureNoticeMail,
    [
        "mail/disclosure_notice/subject.txt",
        "mail/disclosure_notice/body.txt",
        "mail/disclosure_notice/body.html"
    ],
    DisclosureNoticeSubject,
    DisclosureNoticeText,
    DisclosureNoticeHtml
);

/// One data subject to tell, and what about.
pub struct DisclosureNotice<'a> {
    /// The visitor, whose sealed address the outbox opens at delivery.
    pub contact_id: Uuid,
    /// Their thread: the notice is answerable through its visitor-side alias.
    pub thread_id: Uuid,
    pub reference: &'a str,
    pub locale: Locale,
    pub authority: &'a str,
    pub instrument: Instrument,
    pub categories: &'a Categories,
}

/// Queues the notice, held until `not_before` (the end of a gag order) when there is one. It
/// starts a conversation of its own: it answers no earlier mail.
pub async fn enqueue_disclosure_notice<C: ConnectionTrait>(
    conn: &C,
    app: &AppState,
    notice: &DisclosureNotice<'_>,
    not_before: Option<DateTime<FixedOffset>>,
) -> Result<Uuid, ComposeError> {
    let t = Tr::new(notice.locale);
    let rendered = DisclosureNoticeMail {
        t,
        site: app.settings.site.name.clone(),
        reference: notice.reference.to_owned(),
        authority: notice.authority.to_owned(),
        instrument: t.get(&format!("instrument-{}", notice.instrument.as_str())),
        categories: notice
            .categories
            .iter()
            .map(|c| t.get(&format!("category-{}", c.as_str())))
            .collect(),
        date: Utc::now().format("%Y-%m-%d").to_string(),
    }
    .render()?;
    let mail = to_visitor(
        app,
        notice.thread_id,
        rendered,
        Some("auto-generated"),
        Threading::default(),
    )?;
    Ok(outbox::enqueue_not_before(
        conn,
        &app.sealer,
        Kind::DisclosureNotice,
        Some(notice.thread_id),
        Recipient::Visitor,
        Some(notice.contact_id),
        &mail,
        not_before,
    )
    .await?)
}
