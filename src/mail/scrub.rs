//! What of one side of a conversation must not reach the other. Run on the new text of a relayed
//! mail, after quotes and signatures are cut: the writer's addresses (and every relay alias but
//! the reader's own) become the reader's alias of the thread; for staff, also their name and
//! the phone numbers of their closing block.
//!
//! Addresses are found by where they are, not by how the text splits into words: every `@`
//! with an address's characters on both sides is a candidate, whatever surrounds it (`*a@b*`,
//! `(a@b)`, `mailto:A@B`, `/a@b/`).

/// What to take out of a text going to the other side.
#[derive(Debug, Default)]
pub struct Scrub<'a> {
    /// What an address of the writer's side becomes: the reader's alias of the thread.
    pub alias: &'a str,
    /// The relay domain: every alias on it but `alias` is replaced.
    pub relay_domain: &'a str,
    /// Addresses replaced wherever they appear, in any case.
    pub addresses: Vec<String>,
    /// Every address on these domains (or their subdomains) is replaced.
    pub domains: Vec<String>,
    /// Display names replaced, whole and in any case, by `name_replacement`.
    pub full_names: Vec<String>,
    /// Single words of those names, replaced as whole words when written as given.
    pub name_words: Vec<String>,
    pub name_replacement: &'a str,
    /// Whether the lines of the closing block that carry a phone number are dropped.
    pub closing_phones: bool,
}

/// Characters an address's local part may hold (RFC 5322 `atext` and the dot), and letters of
/// any script for internationalized addresses.
fn is_local_char(c: char) -> bool {
    c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || c == '-'
}

/// Where an address-like span stands in `text`: `(start, at, end)` byte offsets.
fn address_spans(text: &str) -> Vec<(usize, usize, usize)> {
    let mut spans = Vec::new();
    let mut last_end = 0;
    for (at, _) in text.match_indices('@') {
        if at < last_end {
            continue;
        }
        let mut start = at;
        for (i, c) in text[last_end..at].char_indices().rev() {
            if is_local_char(c) {
                start = last_end + i;
            } else {
                break;
            }
        }
        let mut end = at + 1;
        for (i, c) in text[at + 1..].char_indices() {
            if is_domain_char(c) {
                end = at + 1 + i + c.len_utf8();
            } else {
                break;
            }
        }
        while end > at + 1 && text[..end].ends_with(['.', '-']) {
            end -= 1;
        }
        while start < at && text[start..].starts_with('.') {
            start += 1;
        }
        let domain = &text[at + 1..end];
        if start < at && domain.contains('.') {
            spans.push((start, at, end));
            last_end = end;
        }
    }
    spans
}

/// Replaces every address-like span of `text` with `with`, whoever's it is.
pub fn replace_every_address(text: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, at, end) in address_spans(text) {
        let from = *candidates(text, start, at).last().unwrap_or(&start);
        out.push_str(&text[copied..from]);
        out.push_str(with);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The ways a span may be read: itself, then without the punctuation it starts with.
fn candidates(text: &str, start: usize, at: usize) -> Vec<usize> {
    let mut starts = vec![start];
    let mut next = start;
    for c in text[start..at].chars() {
        if c.is_alphanumeric() {
            break;
        }
        next += c.len_utf8();
        if next < at {
            starts.push(next);
        }
    }
    starts
}

fn on_domain(domain: &str, of: &str) -> bool {
    let domain = domain.to_lowercase();
    let of = of.trim().trim_start_matches('@').to_lowercase();
    !of.is_empty()
        && (domain == of
            || domain
                .strip_suffix(&of)
                .is_some_and(|head| head.ends_with('.')))
}

impl Scrub<'_> {
    /// Where, from `start`, the span should be replaced; `None` to keep it.
    fn replace_from(
        &self,
        text: &str,
        (start, at, end): (usize, usize, usize),
        is_party: &impl Fn(&str) -> bool,
    ) -> Option<usize> {
        let domain = &text[at + 1..end];
        let starts = candidates(text, start, at);
        let from_letter = *starts.last().unwrap_or(&start);
        if on_domain(domain, self.relay_domain) {
            let own = starts
                .iter()
                .any(|&s| text[s..end].eq_ignore_ascii_case(self.alias));
            return (!own).then_some(from_letter);
        }
        for &s in &starts {
            let candidate = &text[s..end];
            if self
                .addresses
                .iter()
                .any(|a| a.trim().eq_ignore_ascii_case(candidate))
                || is_party(candidate)
            {
                return Some(s);
            }
        }
        self.domains
            .iter()
            .any(|d| on_domain(domain, d))
            .then_some(from_letter)
    }

    /// The text with every address, name and closing-block phone of the writer's side taken
    /// out. `is_party` names further addresses of the writer (the visitor's, by blind index).
    pub fn apply(&self, text: &str, is_party: impl Fn(&str) -> bool) -> String {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for span in address_spans(text) {
            if let Some(from) = self.replace_from(text, span, &is_party) {
                out.push_str(&text[copied..from]);
                out.push_str(self.alias);
                copied = span.2;
            }
        }
        out.push_str(&text[copied..]);
        // Whatever the spans missed: a known address left anywhere, even inside another word
        // ("xstaff@shop.example"), in any case, goes too.
        for address in self.addresses.iter().map(|a| a.trim()) {
            if address.contains('@') && !address.eq_ignore_ascii_case(self.alias) {
                out = replace_any_case(&out, address, self.alias);
            }
        }
        let mut out = self.replace_names(&out);
        if self.closing_phones {
            out = drop_closing_phones(&out);
        }
        out
    }

    fn replace_names(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for name in self.full_names.iter().filter(|n| !n.trim().is_empty()) {
            out = replace_words(&out, name.trim(), self.name_replacement, true);
        }
        for word in &self.name_words {
            if word.chars().filter(|c| c.is_alphabetic()).count() >= 3 {
                out = replace_words(&out, word, self.name_replacement, false);
            }
        }
        out
    }
}

/// Replaces every occurrence of `needle`, in any ASCII case.
fn replace_any_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() || !needle.is_ascii() {
        return text.replace(needle, with);
    }
    let lower = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (i, _) in lower.match_indices(&needle) {
        if i < copied {
            continue;
        }
        out.push_str(&text[copied..i]);
        out.push_str(with);
        copied = i + needle.len();
    }
    out.push_str(&text[copied..]);
    out
}

/// Replaces `word` where it stands as a whole word (no letter or digit on either side).
fn replace_words(text: &str, word: &str, with: &str, any_case: bool) -> String {
    let (haystack, needle) = if any_case {
        (text.to_lowercase(), word.to_lowercase())
    } else {
        (text.to_owned(), word.to_owned())
    };
    // Lower-casing may change byte lengths; then only an exact match is safe to splice.
    if haystack.len() != text.len() || needle.len() != word.len() {
        return if any_case {
            replace_words(text, word, with, false)
        } else {
            text.to_owned()
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (i, _) in haystack.match_indices(&needle) {
        if i < copied {
            continue;
        }
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        if before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric) {
            continue;
        }
        out.push_str(&text[copied..i]);
        out.push_str(with);
        copied = i + word.len();
    }
    out.push_str(&text[copied..]);
    out
}

const PHONE_LABELS: &[&str] = &[
    "tel",
    "phone",
    "mobile",
    "mob",
    "cell",
    "fax",
    "т",
    "тел",
    "телефон",
    "моб",
    "мобильный",
    "факс",
    "ұялы",
    "whatsapp",
    "telegram",
];

/// Whether a line carries a phone number: 7 to 15 digits in a run of digits and separators
/// that starts with `+` or `(`, has two groups or more, or follows a phone label.
pub fn has_phone(line: &str) -> bool {
    let lower = line.to_lowercase();
    let labelled = lower
        .split(|c: char| !c.is_alphabetic())
        .any(|w| PHONE_LABELS.contains(&w));
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts = c.is_ascii_digit()
            || ((c == '+' || c == '(') && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        let glued = i > 0 && chars[i - 1].is_alphanumeric();
        if !starts || glued {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut digits = 0;
        let mut groups = 0;
        let mut in_group = false;
        while j < chars.len() && (chars[j].is_ascii_digit() || " -.()/+\u{a0}".contains(chars[j])) {
            if chars[j].is_ascii_digit() {
                digits += 1;
                if !in_group {
                    groups += 1;
                    in_group = true;
                }
            } else {
                in_group = false;
            }
            j += 1;
        }
        let followed_by_letter = chars.get(j).is_some_and(|c| c.is_alphanumeric());
        if (7..=15).contains(&digits)
            && !followed_by_letter
            && (c == '+' || c == '(' || groups >= 2 || labelled)
        {
            return true;
        }
        i = j.max(i + 1);
    }
    false
}

/// Drops the lines with a phone number from the closing block: the last paragraph, when it is
/// six lines or fewer.
fn drop_closing_phones(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let start = lines
        .iter()
        .rposition(|l| l.trim().is_empty())
        .map_or(0, |i| i + 1);
    if lines.len() - start > 6 {
        return text.to_owned();
    }
    let kept: Vec<&str> = lines[..start]
        .iter()
        .copied()
        .chain(lines[start..].iter().copied().filter(|l| !has_phone(l)))
        .collect();
    kept.join("\n").trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff_scrub() -> Scrub<'static> {
        Scrub {
            alias: "reply+v1@relay.example.org",
            relay_domain: "relay.example.org",
            addresses: vec!["staff@shop.example".into()],
            domains: vec!["shop.example".into()],
            full_names: vec!["Boris Staffer".into()],
            name_words: vec!["Boris".into(), "Staffer".into()],
            name_replacement: "Support",
            closing_phones: true,
        }
    }

    #[test]
    fn staff_addresses_in_any_wrapping_give_way_to_the_alias() {
        let s = staff_scrub();
        let text = "Write *staff@shop.example*, (STAFF@SHOP.EXAMPLE), mailto:boris@shop.example, \
                    /b.s@eu.shop.example/ or reply+s9@relay.example.org; not help@other.example.";
        assert_eq!(
            s.apply(text, |_| false),
            "Write *reply+v1@relay.example.org*, (reply+v1@relay.example.org), \
             mailto:reply+v1@relay.example.org, /reply+v1@relay.example.org/ or \
             reply+v1@relay.example.org; not help@other.example."
        );
    }

    #[test]
    fn a_known_address_inside_another_word_goes_too() {
        let s = staff_scrub();
        assert_eq!(
            s.apply("see xSTAFF@shop.example.com now", |_| false),
            "see xreply+v1@relay.example.org.com now"
        );
    }

    #[test]
    fn the_readers_own_alias_stays() {
        let s = staff_scrub();
        assert_eq!(
            s.apply("Reply to reply+V1@relay.example.org.", |_| false),
            "Reply to reply+V1@relay.example.org."
        );
    }

    #[test]
    fn a_party_address_found_by_the_callback_is_replaced() {
        let s = Scrub {
            alias: "reply+s1@relay.example.org",
            relay_domain: "relay.example.org",
            ..Scrub::default()
        };
        assert_eq!(
            s.apply("me: _anna.k@example.org_", |a| a == "anna.k@example.org"),
            "me: _reply+s1@relay.example.org_"
        );
    }

    #[test]
    fn names_are_replaced_as_whole_words() {
        let s = staff_scrub();
        assert_eq!(
            s.apply("boris staffer and Boris here; Borisov stays.", |_| false),
            "Support and Support here; Borisov stays."
        );
    }

    #[test]
    fn phones_of_the_closing_block_go_and_order_numbers_stay() {
        assert!(has_phone("+1 555 0100"));
        assert!(has_phone("Tel. 8 727 123 45 67"));
        assert!(has_phone("(555) 010-0100"));
        assert!(has_phone("Моб.: 87011234567"));
        assert!(!has_phone("Order 12345678 ships"));
        assert!(!has_phone("Tracking 1Z999AA10123456784"));
        assert!(!has_phone("Mon–Fri 9:00–18:00"));
        let s = staff_scrub();
        assert_eq!(
            s.apply(
                "Call +1 555 0100 for returns.\n\nShop support\n+1 555 0199\nMon–Fri",
                |_| false
            ),
            "Call +1 555 0100 for returns.\n\nShop support\nMon–Fri"
        );
    }
}
