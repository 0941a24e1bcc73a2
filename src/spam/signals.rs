//! The built-in content signals: what a message's own text tells about it. Each is a pure
//! function of the text, so it is the same on every instance and testable without a server.
//! The lists of known spam phrases ship in `config/spam/` (one file per language, every list
//! checked whatever the form's language: spam rarely writes in the visitor's language).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::Signal;
use crate::domain::MessageBody;

/// Each link after the first adds this much...
const PER_LINK: f64 = 1.5;
/// ...up to this.
const MAX_LINKS: f64 = 8.0;
/// A link whose text names another host than it leads to.
const PER_DISGUISED_LINK: f64 = 5.0;
const MAX_DISGUISED_LINKS: f64 = 10.0;
/// A forum-style `[url=...]` link: pasted by a spam tool, never typed by a visitor.
const PER_BBCODE_LINK: f64 = 3.0;
const MAX_BBCODE_LINKS: f64 = 9.0;
const PER_PHRASE: f64 = 2.5;
const MAX_PHRASES: f64 = 10.0;
/// A word of Latin and Cyrillic letters together ("vіagra" with a Cyrillic і): written to slip
/// past filters. Russian or Kazakh text with English words in it is not that.
const PER_MIXED_WORD: f64 = 2.0;
const MAX_MIXED_WORDS: f64 = 8.0;

/// The shipped phrase lists, lower-cased: `config/spam/<language>.txt`, `#` starts a comment.
static PHRASES: LazyLock<Vec<String>> = LazyLock::new(|| {
    [
        include_str!("../../config/spam/en.txt"),
        include_str!("../../config/spam/ru.txt"),
        include_str!("../../config/spam/kk.txt"),
    ]
    .iter()
    .flat_map(|list| list.lines())
    .map(|line| line.split('#').next().unwrap_or_default().trim())
    .filter(|line| !line.is_empty())
    .map(normalize)
    .collect()
});

/// Lower case, one space between words: how text is compared with the phrase lists.
pub fn normalize(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every content signal of a message: its subject and its cleaned body (the links are read
/// from its HTML, the words from `text`, the body as [`MessageBody::to_text`] renders it), so a message scores the same whether it came
/// through the form, the API or a mail.
pub fn content(subject: Option<&str>, body: &MessageBody, text: &str) -> Vec<Signal> {
    let mut signals = Vec::new();
    let anchors = anchors(body.html());
    let mut links: BTreeSet<String> = anchors
        .iter()
        .map(|(href, _)| href.to_lowercase())
        .collect();
    links.extend(bare_links(text));
    if links.len() > 1 {
        signals.push(Signal::new(
            "links",
            (PER_LINK * (links.len() - 1) as f64).min(MAX_LINKS),
        ));
    }
    let disguised = anchors
        .iter()
        .filter(|(href, text)| disguises(href, text))
        .count();
    if disguised > 0 {
        signals.push(Signal::new(
            "disguised_links",
            (PER_DISGUISED_LINK * disguised as f64).min(MAX_DISGUISED_LINKS),
        ));
    }
    let bbcode = text.to_lowercase().matches("[url=").count();
    if bbcode > 0 {
        signals.push(Signal::new(
            "bbcode_links",
            (PER_BBCODE_LINK * bbcode as f64).min(MAX_BBCODE_LINKS),
        ));
    }
    let words = normalize(&format!("{} {text}", subject.unwrap_or_default()));
    let phrases = PHRASES
        .iter()
        .filter(|phrase| contains_phrase(&words, phrase))
        .count();
    if phrases > 0 {
        signals.push(Signal::new(
            "spam_phrases",
            (PER_PHRASE * phrases as f64).min(MAX_PHRASES),
        ));
    }
    let mixed = mixed_script_words(&words);
    if mixed > 0 {
        signals.push(Signal::new(
            "mixed_scripts",
            (PER_MIXED_WORD * mixed as f64).min(MAX_MIXED_WORDS),
        ));
    }
    signals
}

/// Whether `phrase` occurs in `words` on word boundaries ("sex" is not in "Essex").
fn contains_phrase(words: &str, phrase: &str) -> bool {
    words.match_indices(phrase).any(|(at, found)| {
        let before = words[..at].chars().next_back();
        let after = words[at + found.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The links of the cleaned HTML as (target, text). The cleaner writes every anchor as
/// `<a href="..." rel="...">text</a>`, so a scan finds them all.
fn anchors(html: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<a href=\"") {
        rest = &rest[start + 9..];
        let Some(end) = rest.find('"') else { break };
        let href = unescape(&rest[..end]);
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let after = &rest[open_end + 1..];
        let close = after.find("</a>").unwrap_or(after.len());
        found.push((href, strip_tags(&unescape(&after[..close]))));
        rest = &after[close..];
    }
    found
}

fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Links written out in plain text: `http://`, `https://` and `www.` words.
fn bare_links(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ')'))
        .filter_map(|word| {
            let lower = word.to_lowercase();
            let start = ["https://", "http://", "www."]
                .iter()
                .filter_map(|p| lower.find(p))
                .min()?;
            let link = lower[start..].trim_end_matches(['.', ',', ';', ':', '!', '?']);
            (link.len() > 4).then(|| link.to_owned())
        })
        .collect()
}

/// The host a link or a text naming one points at: `https://www.shop.example/x` → `shop.example`.
fn host_of(text: &str) -> Option<String> {
    let lower = text.trim().to_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let host = rest
        .split(['/', '?', '#', ':', ' '])
        .next()
        .unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    let looks_like_host = host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    looks_like_host.then(|| host.to_owned())
}

/// A link whose text looks like an address of another host than the one it leads to.
fn disguises(href: &str, text: &str) -> bool {
    if href.starts_with("mailto:") {
        return false;
    }
    match (host_of(href), host_of(text)) {
        (Some(target), Some(shown)) => {
            target != shown
                && !target.ends_with(&format!(".{shown}"))
                && !shown.ends_with(&format!(".{target}"))
        }
        _ => false,
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{052F}')
}

/// Words that hold both Latin and Cyrillic letters.
fn mixed_script_words(words: &str) -> usize {
    words
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| {
            word.chars().any(|c| c.is_ascii_alphabetic()) && word.chars().any(is_cyrillic)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals_of(text: &str) -> Vec<(&'static str, f64)> {
        let body = MessageBody::parse(text).expect("a body");
        content(None, &body, &body.to_text())
            .into_iter()
            .map(|s| (s.name, s.score))
            .collect()
    }

    fn names_of(html: &str) -> Vec<&'static str> {
        signals_of(html).into_iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn a_friendly_message_with_one_link_has_no_signal() {
        assert!(
            signals_of("Hello! The order page https://shop.example/orders/5 shows an error.")
                .is_empty()
        );
        assert!(signals_of("Здравствуйте! Где мой заказ? Номер 12345.").is_empty());
        assert!(signals_of("Сәлеметсіз бе! Тапсырыс бойынша сұрақ бар.").is_empty());
    }

    #[test]
    fn many_links_add_up_to_a_cap() {
        let text = (0..3)
            .map(|i| format!("https://a{i}.example/"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(signals_of(&text), vec![("links", 3.0)]);
        let many = (0..20)
            .map(|i| format!("www.site{i}.example"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(signals_of(&many), vec![("links", MAX_LINKS)]);
    }

    #[test]
    fn a_link_that_shows_another_host_is_disguised() {
        let html = r#"<p>Your account: <a href="https://evil.example/login">bank.example</a></p>"#;
        assert_eq!(names_of(html), vec!["disguised_links"]);
        let honest = r#"<p><a href="https://www.bank.example/login">bank.example</a> and <a href="https://x.example/">here</a></p>"#;
        assert_eq!(names_of(honest), vec!["links"]);
    }

    #[test]
    fn phrases_are_found_in_every_language_on_word_boundaries() {
        assert_eq!(
            signals_of("We offer cheap SEO services, Buy   Backlinks now"),
            vec![("spam_phrases", 5.0)]
        );
        assert_eq!(
            signals_of("Раскрутка сайта недорого, пишите"),
            vec![("spam_phrases", 2.5)]
        );
        // "casino" is a phrase; "casinos" in a word of its own is not "casino" at a boundary.
        assert!(signals_of("The Essex casinos report").is_empty());
    }

    #[test]
    fn words_mixing_scripts_are_counted_but_mixed_text_is_not() {
        assert_eq!(
            signals_of("Cheap v\u{0456}\u{0430}gra and \u{0441}\u{0430}sin\u{043e} here"),
            vec![("mixed_scripts", 4.0)]
        );
        assert!(signals_of("Мой заказ на сайте shop.example не пришёл, order 55").is_empty());
    }

    #[test]
    fn forum_links_are_a_spam_tool_s_signature() {
        assert_eq!(
            signals_of("[url=https://x.example]cheap[/url]"),
            vec![("bbcode_links", 3.0)]
        );
    }
}
