//! Reading inbound mail: what kind of mail it is (a person's answer, an automatic reply, a
//! bounce), who sent it, and the new text in it — without the quoted history, the signature,
//! or anybody's address.

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};

use super::reply;

/// A parsed inbound mail and what the relay needs of it.
pub struct Parsed<'a> {
    message: Message<'a>,
}

/// Why a mail gets no automatic handling (RFC 3834 and common practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    /// A delivery status notification: recorded against the outbox row it reports on.
    Bounce,
    /// An auto-reply, list or bulk mail, or mail from a mailer daemon: ignored.
    Other,
}

impl<'a> Parsed<'a> {
    pub fn parse(raw: &'a [u8]) -> Option<Self> {
        let message = MessageParser::default().parse(raw)?;
        // A mail without any header is not a mail.
        if message.headers().is_empty() {
            return None;
        }
        Some(Self { message })
    }

    fn header_text(&self, name: &str) -> Option<String> {
        self.message
            .header(name)
            .and_then(|v| match v {
                HeaderValue::Text(t) => Some(t.to_string()),
                HeaderValue::TextList(l) => Some(l.join(",")),
                _ => None,
            })
            .or_else(|| self.message.header_raw(name).map(|r| r.trim().to_owned()))
    }

    /// The address in `From:`.
    pub fn from_address(&self) -> Option<String> {
        self.message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(|a| a.trim().to_owned())
    }

    /// The addresses in `To` and `Cc`, for callers that know no envelope.
    pub fn header_recipients(&self) -> Vec<String> {
        [self.message.to(), self.message.cc()]
            .into_iter()
            .flatten()
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address().map(str::to_owned))
            .collect()
    }

    /// Message-IDs this mail answers (`In-Reply-To`, then `References`), with angle brackets.
    pub fn referenced_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for value in [self.message.in_reply_to(), self.message.references()] {
            match value {
                HeaderValue::Text(t) => ids.push(format!("<{t}>")),
                HeaderValue::TextList(list) => ids.extend(list.iter().map(|t| format!("<{t}>"))),
                _ => {}
            }
        }
        ids
    }

    /// Whether this is automatic mail, given the envelope sender (`None` or empty for `<>`).
    pub fn automatic(&self, envelope_from: Option<&str>) -> Option<Automatic> {
        let is_report = self.message.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        });
        let daemon = |addr: &str| {
            let local = addr
                .split('@')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            local == "mailer-daemon" || local == "postmaster"
        };
        let null_sender =
            envelope_from.is_none_or(|f| f.trim().trim_matches(['<', '>']).is_empty());
        let from_daemon =
            self.from_address().is_some_and(|a| daemon(&a)) || envelope_from.is_some_and(daemon);
        if is_report || (null_sender && from_daemon) {
            return Some(Automatic::Bounce);
        }
        let auto_submitted = self.header_text("Auto-Submitted").map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        if auto_submitted.is_some_and(|v| !v.is_empty() && v != "no") {
            return Some(Automatic::Other);
        }
        let precedence = self
            .header_text("Precedence")
            .map(|v| v.trim().to_ascii_lowercase());
        if precedence.is_some_and(|p| matches!(p.as_str(), "bulk" | "junk" | "list")) {
            return Some(Automatic::Other);
        }
        if null_sender || from_daemon || self.message.header("List-Id").is_some() {
            return Some(Automatic::Other);
        }
        None
    }

    /// The whole mail as text, for finding the Message-ID a bounce reports on.
    pub fn all_text(&self) -> String {
        String::from_utf8_lossy(self.message.raw_message()).into_owned()
    }

    /// The display name in `From:` ("Boris Staffer"), when there is one.
    pub fn from_display_name(&self) -> Option<String> {
        self.message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.name())
            .map(|n| n.trim().trim_matches('"').trim().to_owned())
            .filter(|n| !n.is_empty())
    }

    /// Every address the sender's own headers name (`From`, `Reply-To`, `Sender`): the writer's
    /// side, whatever the text says.
    pub fn sender_addresses(&self) -> Vec<String> {
        [
            self.message.from(),
            self.message.reply_to(),
            self.message.sender(),
        ]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address().map(|a| a.trim().to_owned()))
        .collect()
    }

    pub fn subject(&self) -> Option<&str> {
        self.message.subject()
    }

    /// The text the sender wrote, without quoted history and signature. The HTML part decides
    /// when there is one, since its structure marks the quote; otherwise the plain part.
    pub fn new_text(&self, author: &reply::Author<'_>) -> Result<String, Unreadable> {
        let html: Vec<&str> = self
            .message
            .html_bodies()
            .filter(|p| p.is_text_html())
            .filter_map(|p| p.text_contents())
            .collect();
        let plain: Vec<&str> = self
            .message
            .text_bodies()
            .filter(|p| p.is_text() && !p.is_text_html())
            .filter_map(|p| p.text_contents())
            .collect();
        let html = html.join("\n");
        if !html.is_empty() && reply::readable_html(&html) {
            return Ok(reply::from_html(&html, author));
        }
        if !plain.is_empty() {
            return Ok(reply::from_plain(&plain.join("\n\n"), author));
        }
        if !html.is_empty() {
            return Err(Unreadable::HtmlTooLarge);
        }
        Ok(String::new())
    }
}

/// Why the text of a mail cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// An HTML part over [`reply::MAX_HTML_BYTES`] or nested deeper than
    /// [`reply::MAX_HTML_DEPTH`], and no plain part beside it.
    HtmlTooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn automatic_mail_is_recognised() {
        let auto = mail(
            "From: a@example.org\r\nAuto-Submitted: auto-replied",
            "away",
        );
        assert_eq!(
            Parsed::parse(&auto)
                .expect("parses")
                .automatic(Some("a@example.org")),
            Some(Automatic::Other)
        );
        let bulk = mail("From: a@example.org\r\nPrecedence: bulk", "news");
        assert_eq!(
            Parsed::parse(&bulk)
                .expect("parses")
                .automatic(Some("a@example.org")),
            Some(Automatic::Other)
        );
        let daemon = mail("From: MAILER-DAEMON@mx.example.org", "failed");
        assert_eq!(
            Parsed::parse(&daemon).expect("parses").automatic(None),
            Some(Automatic::Bounce)
        );
        let person = mail("From: a@example.org\r\nAuto-Submitted: no", "hi");
        assert_eq!(
            Parsed::parse(&person)
                .expect("parses")
                .automatic(Some("a@example.org")),
            None
        );
        let null = mail("From: a@example.org", "hi");
        assert_eq!(
            Parsed::parse(&null).expect("parses").automatic(Some("<>")),
            Some(Automatic::Other)
        );
    }
}
