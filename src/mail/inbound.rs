//! Reading inbound mail: what kind of mail it is (a person's answer, an automatic reply, a
//! bounce), who sent it, and the new text in it — without the quoted history, the signature,
//! or anybody's address.

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};

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

    /// The text the sender wrote: the plain part (or the HTML part as text), cut before the
    /// quoted history and the signature.
    pub fn new_text(&self) -> String {
        let text = self
            .message
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default();
        cut_quoted(&text)
    }
}

/// Lines that start the quoted history in common mail clients (English, Russian, Kazakh).
fn starts_history(line: &str, next: Option<&str>) -> bool {
    let l = line.trim();
    let lower = l.to_lowercase();
    if l.starts_with('>') {
        return true;
    }
    if l.starts_with("-----Original Message-----")
        || l.starts_with("-----Исходное сообщение-----")
        || l.starts_with("________________")
        || l.starts_with("-------- Forwarded Message")
        || l.starts_with("-------- Пересылаемое сообщение")
    {
        return true;
    }
    // "On Mon, 1 Jan 2026 at 10:00, Someone <a@b> wrote:" may wrap onto a second line.
    let attribution = |s: &str| {
        let s = s.trim_end().to_lowercase();
        s.ends_with("wrote:")
            || s.ends_with("пишет:")
            || s.ends_with("написал:")
            || s.ends_with("написала:")
            || s.ends_with("написал(а):")
            || s.ends_with("жазды:")
    };
    if attribution(l) && (lower.starts_with("on ") || lower.contains('@') || lower.contains(',')) {
        return true;
    }
    if lower.starts_with("on ") && next.is_some_and(attribution) {
        return true;
    }
    // Outlook's header block: "From: ..." at the start of a line after the answer.
    lower.starts_with("from: ") || lower.starts_with("от: ")
}

/// Cuts a mail text at the first line of quoted history or at the signature delimiter.
pub fn cut_quoted(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n");
    let lines: Vec<&str> = normalized.lines().collect();
    let mut kept = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if *line == "-- " || *line == "--" {
            break;
        }
        if starts_history(line, lines.get(i + 1).copied()) {
            break;
        }
        kept.push(*line);
    }
    kept.join("\n").trim().to_owned()
}

/// Every address-like word of a text, as it appears, for the leak guard.
pub fn addresses_in(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || "<>()[]{},;:\"'".contains(c))
        .map(|w| w.trim_matches(|c: char| c == '.' || c == '!' || c == '?'))
        .filter(|w| {
            w.split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
        })
        .collect()
}

/// Replaces every address of `text` that `is_party` names (staff's or the visitor's) with
/// `alias`; the relay domain's own addresses stay.
pub fn hide_addresses(
    text: &str,
    alias: &str,
    relay_domain: &str,
    is_party: impl Fn(&str) -> bool,
) -> String {
    let ours = format!("@{}", relay_domain.to_ascii_lowercase());
    let mut out = text.to_owned();
    for word in addresses_in(text) {
        if is_party(word) && !word.to_ascii_lowercase().ends_with(&ours) {
            out = out.replace(word, alias);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn quoted_history_and_signatures_are_cut() {
        let text = "Thanks, we ship on Monday.\n\nBest\n-- \nAnna, Shop support\n+1 555\n";
        assert_eq!(cut_quoted(text), "Thanks, we ship on Monday.\n\nBest");
        let gmail =
            "Yes.\n\nOn Tue, 24 Nov 2026 at 10:00, Shop <reply+abc@relay.example>\nwrote:\n> old";
        assert_eq!(cut_quoted(gmail), "Yes.");
        let ru = "Да, конечно.\n\n24.11.2026, 10:00, Магазин пишет:\n> старое";
        assert_eq!(cut_quoted(ru), "Да, конечно.");
        let outlook = "Sure.\n\n-----Original Message-----\nFrom: someone";
        assert_eq!(cut_quoted(outlook), "Sure.");
        let outlook2 = "Sure.\n________________________________\nFrom: staff@example.org";
        assert_eq!(cut_quoted(outlook2), "Sure.");
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

    #[test]
    fn the_parties_addresses_give_way_to_the_alias() {
        let party = |w: &str| w.eq_ignore_ascii_case("anna@example.org");
        assert_eq!(
            hide_addresses(
                "mail ANNA@example.org or reply+1@relay.example.org, not bob@example.net",
                "reply+2@relay.example.org",
                "relay.example.org",
                party
            ),
            "mail reply+2@relay.example.org or reply+1@relay.example.org, not bob@example.net"
        );
    }

    #[test]
    fn addresses_are_found_in_text() {
        assert_eq!(
            addresses_in("write to <anna@example.org>, or bob@mail.example.com."),
            vec!["anna@example.org", "bob@mail.example.com"]
        );
        assert!(addresses_in("no @ here, user@localhost").is_empty());
    }
}
