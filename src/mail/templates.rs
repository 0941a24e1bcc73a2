//! One function per kind of mail, building it from typed data with the templates in
//! `templates/mail/<kind>/` (subject, text body, HTML body), in the reader's language.

use askama::Template;

use crate::domain::{MessageBody, Reference, Subject};
use crate::i18n::Tr;

/// The three rendered parts of a mail.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Declares the three templates of one kind of mail over a shared data struct.
macro_rules! mail_templates {
    ($data:ident, [$sp:literal, $tp:literal, $hp:literal], $subject:ident, $text:ident, $html:ident) => {
        #[derive(Template)]
        #[template(path = $sp)]
        struct $subject<'a> {
            d: &'a $data,
        }
        #[derive(Template)]
        #[template(path = $tp)]
        struct $text<'a> {
            d: &'a $data,
        }
        #[derive(Template)]
        #[template(path = $hp)]
        struct $html<'a> {
            d: &'a $data,
        }
        impl<'a> std::ops::Deref for $subject<'a> {
            type Target = $data;
            fn deref(&self) -> &$data {
                self.d
            }
        }
        impl<'a> std::ops::Deref for $text<'a> {
            type Target = $data;
            fn deref(&self) -> &$data {
                self.d
            }
        }
        impl<'a> std::ops::Deref for $html<'a> {
            type Target = $data;
            fn deref(&self) -> &$data {
                self.d
            }
        }
        impl $data {
            pub fn render(&self) -> Result<Rendered, askama::Error> {
                Ok(Rendered {
                    subject: one_line(&$subject { d: self }.render()?),
                    text: $text { d: self }.render()?,
                    html: $html { d: self }.render()?,
                })
            }
        }
    };
}

/// Subjects are one line, whatever the template's trailing newline.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// To staff: a visitor wrote (a new thread, or again in one).
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

/// To the visitor: we have your message.
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

/// To the visitor: staff answered.
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

/// To staff: an answer by e-mail was not passed on to the visitor, and why.
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

/// To the visitor: data about them was disclosed under a legal order. Names the authority and
/// the legal basis, never the staff who handled it.
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

    #[test]
    fn subjects_never_span_lines() {
        assert_eq!(one_line("a\n b \r\n"), "a b");
    }
}
