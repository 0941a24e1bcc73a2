//! The body of a message: plain text (escaped, never interpreted) or a small HTML subset cleaned
//! by ammonia against an allowlist. What is stored is always the cleaned HTML.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::FieldProblem;

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(HashSet::from([
            "p",
            "br",
            "b",
            "strong",
            "i",
            "em",
            "ul",
            "ol",
            "li",
            "blockquote",
            "code",
            "pre",
            "a",
        ]))
        .tag_attributes(std::collections::HashMap::from([(
            "a",
            HashSet::from(["href"]),
        )]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("nofollow noopener noreferrer"))
        .clean_content_tags(HashSet::from([
            "script", "style", "template", "textarea", "title",
        ]))
        .strip_comments(true);
    builder
});

/// A message body, cleaned and within limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody {
    html: String,
}

/// A control character other than the line breaks and tabs that text is made of.
fn is_forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

impl MessageBody {
    pub const MAX_CHARS: usize = 20_000;

    pub fn parse(input: &str) -> Result<Self, FieldProblem> {
        if input.trim().is_empty() {
            return Err(FieldProblem::Required);
        }
        if input.chars().count() > Self::MAX_CHARS {
            return Err(FieldProblem::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        // NUL and the other control characters no keyboard types: refused, not stripped, like
        // the one-line fields. PostgreSQL's text cannot even hold U+0000.
        if input.chars().any(is_forbidden_control) {
            return Err(FieldProblem::ControlCharacters);
        }
        let input = input.replace("\r\n", "\n");
        let html = if looks_like_html(&input) {
            CLEANER.clean(input.trim()).to_string()
        } else {
            plain_text_to_html(input.trim())
        };
        if html_is_blank(&html) {
            return Err(FieldProblem::Required);
        }
        Ok(Self { html })
    }

    /// A body that is plain text whatever it contains (mail text parts): escaped, never
    /// interpreted, and control characters dropped (a mail cannot be sent back to fix them).
    /// Over the limit it is refused, not cut: half an answer must not reach anyone.
    pub fn from_plain_text(input: &str) -> Result<Self, FieldProblem> {
        let text: String = input
            .replace("\r\n", "\n")
            .chars()
            .filter(|&c| !is_forbidden_control(c))
            .collect();
        if text.trim().is_empty() {
            return Err(FieldProblem::Required);
        }
        if text.trim().chars().count() > Self::MAX_CHARS {
            return Err(FieldProblem::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self {
            html: plain_text_to_html(text.trim()),
        })
    }

    /// Rebuilds a body read back from storage, where only cleaned HTML is ever written.
    pub fn from_stored(html: String) -> Self {
        Self { html }
    }

    /// The cleaned HTML, safe to render as is.
    pub fn html(&self) -> &str {
        &self.html
    }

    /// A plain-text rendition for the text part of mail: paragraphs and line breaks kept,
    /// list items dashed, links followed by their target, entities decoded.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.html.len());
        let mut rest = self.html.as_str();
        let mut link: Option<String> = None;
        while let Some(start) = rest.find('<') {
            out.push_str(&decode_entities(&rest[..start]));
            let Some(end) = rest[start..].find('>') else {
                break;
            };
            let tag = &rest[start + 1..start + end];
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            let closing = tag.starts_with('/');
            match (name.as_str(), closing) {
                ("br", _) => out.push('\n'),
                ("p" | "blockquote" | "pre" | "ul" | "ol", true) => out.push_str("\n\n"),
                ("li", false) => out.push_str("- "),
                ("li", true) => out.push('\n'),
                ("a", false) => {
                    link = tag
                        .split("href=\"")
                        .nth(1)
                        .and_then(|h| h.split('"').next())
                        .map(decode_entities);
                }
                ("a", true) => {
                    if let Some(href) = link.take() {
                        out.push_str(&format!(" <{href}>"));
                    }
                }
                _ => {}
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(&decode_entities(rest));
        out.trim().to_owned()
    }
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let Some(semi) = tail.find(';').filter(|i| *i <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A tag-like sequence such as `<p>`, `</em>` or `<a href=...>` makes the body HTML; a lone `<`
/// as in "a < b" or "<3" keeps it plain text.
fn looks_like_html(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.windows(2).enumerate().any(|(i, w)| {
        w[0] == b'<' && {
            let rest = &bytes[i + 1..];
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            let name_len = rest
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            name_len > 0
                && rest[0].is_ascii_alphabetic()
                && matches!(rest.get(name_len), Some(b'>' | b' ' | b'/' | b'\n' | b'\t'))
        }
    }) || s.contains("<!--")
}

fn plain_text_to_html(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(|line| escape_text(line.trim_end())).collect();
            format!("<p>{}</p>", lines.join("<br>"))
        })
        .collect()
}

/// Escapes text for an HTML text node (and, with quotes escaped, for an attribute).
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_is_blank(html: &str) -> bool {
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && !c.is_whitespace() => return false,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_characters_are_refused_but_line_breaks_and_tabs_are_text() {
        for bad in ["a\u{0}b", "bell\u{7}", "esc\u{1b}[31m", "c1\u{85}"] {
            assert_eq!(
                MessageBody::parse(bad).err(),
                Some(FieldProblem::ControlCharacters),
                "{bad:?}"
            );
        }
        assert!(MessageBody::parse("line one\r\nline\ttwo").is_ok());
        let from_mail = MessageBody::from_plain_text("mail\u{0} text").expect("kept");
        assert!(!from_mail.html().contains('\u{0}'));
        assert_eq!(
            MessageBody::from_plain_text(&"x".repeat(MessageBody::MAX_CHARS + 1)).err(),
            Some(FieldProblem::TooLong {
                max: MessageBody::MAX_CHARS
            })
        );
    }

    #[test]
    fn plain_text_is_escaped_not_interpreted() {
        let b = MessageBody::parse("I <3 your site & a < b").expect("ok");
        assert_eq!(b.html(), "<p>I &lt;3 your site &amp; a &lt; b</p>");
    }

    #[test]
    fn plain_text_keeps_paragraphs_and_lines() {
        let b = MessageBody::parse("Hello,\nsecond line\n\nNew paragraph").expect("ok");
        assert_eq!(b.html(), "<p>Hello,<br>second line</p><p>New paragraph</p>");
    }

    /// Found by the `form_decoder` fuzz target (fuzz/artifacts, 2026-11-24): `https:host` with
    /// no slashes is kept as the https link it is (WHATWG URL parsing), not anything else.
    #[test]
    fn a_link_without_slashes_after_the_scheme_stays_an_https_link() {
        let b = MessageBody::parse("<p>Hello <a href=\"https:xamxample.org\">there</a></p>")
            .expect("ok");
        assert_eq!(
            b.html(),
            "<p>Hello <a href=\"https:xamxample.org\" rel=\"nofollow noopener noreferrer\">there</a></p>"
        );
        let b = MessageBody::parse("<a href=\"javascript:xamxample.org\">x</a>").expect("ok");
        assert!(!b.html().contains("javascript"), "{}", b.html());
    }

    #[test]
    fn allowed_html_survives_and_links_are_defused() {
        let b = MessageBody::parse(
            r#"<p>See <a href="https://example.org" onclick="x()">this</a> <strong>now</strong></p>"#,
        )
        .expect("ok");
        assert_eq!(
            b.html(),
            r#"<p>See <a href="https://example.org" rel="nofollow noopener noreferrer">this</a> <strong>now</strong></p>"#
        );
    }

    #[test]
    fn scripts_and_dangerous_urls_are_removed() {
        let b = MessageBody::parse(
            r#"<p>hi<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a><a href="/relative">r</a></p>"#,
        )
        .expect("ok");
        assert!(!b.html().contains("script"));
        assert!(!b.html().contains("onerror"));
        assert!(!b.html().contains("javascript"));
        assert!(!b.html().contains("/relative"));
        assert!(b.html().starts_with("<p>hi"));
    }

    #[test]
    fn the_text_rendition_keeps_structure_and_decodes_entities() {
        let b = MessageBody::parse(
            "<p>Hi &amp; <b>welcome</b><br>line two</p><ul><li>one</li><li>two</li></ul><p>See <a href=\"https://example.org/?a=1&amp;b=2\">this</a></p>",
        )
        .expect("ok");
        assert_eq!(
            b.to_text(),
            "Hi & welcome\nline two\n\n- one\n- two\n\n\nSee this <https://example.org/?a=1&b=2>"
        );
        let plain = MessageBody::parse("a < b\n\nI <3 it").expect("ok");
        assert_eq!(plain.to_text(), "a < b\n\nI <3 it");
    }

    #[test]
    fn xmp_content_is_text() {
        let b = MessageBody::parse("<xmp><a href=\"javascript:x\">").expect("ok");
        assert_eq!(b.html(), "&lt;a href=\"javascript:x\"&gt;");
    }

    #[test]
    fn mailto_links_are_kept() {
        let b = MessageBody::parse(r#"<a href="mailto:a@example.org">mail</a>"#).expect("ok");
        assert!(b.html().contains("mailto:a@example.org"));
    }

    #[test]
    fn empty_or_markup_only_is_required() {
        assert_eq!(MessageBody::parse("  \n "), Err(FieldProblem::Required));
        assert_eq!(
            MessageBody::parse("<script>alert(1)</script>"),
            Err(FieldProblem::Required)
        );
    }

    #[test]
    fn the_limit_is_twenty_thousand_characters() {
        assert!(MessageBody::parse(&"я".repeat(20_000)).is_ok());
        assert_eq!(
            MessageBody::parse(&"я".repeat(20_001)),
            Err(FieldProblem::TooLong { max: 20_000 })
        );
    }

    const ALLOWED: [&str; 13] = [
        "p",
        "br",
        "b",
        "strong",
        "i",
        "em",
        "ul",
        "ol",
        "li",
        "blockquote",
        "code",
        "pre",
        "a",
    ];

    /// Every tag in cleaned output is on the allowlist and carries no attribute but href/rel.
    fn only_allowed_markup(html: &str) -> Result<(), String> {
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
            let tag = rest[start + 1..end].trim_start_matches('/');
            let mut parts = tag.split_whitespace();
            let name = parts.next().unwrap_or_default().to_ascii_lowercase();
            if !ALLOWED.contains(&name.as_str()) {
                return Err(format!("tag {name} in {html}"));
            }
            for attr in parts {
                let attr_name = attr.split('=').next().unwrap_or_default();
                if !matches!(
                    attr_name,
                    "href" | "rel" | "noopener" | "noreferrer\"" | "noreferrer"
                ) {
                    return Err(format!("attribute {attr_name} in {html}"));
                }
            }
            rest = &rest[end + 1..];
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn cleaned_output_carries_only_allowed_tags_and_attributes(input in "(<[a-z]{1,6}( on[a-z]+=x| href=\"javascript:x\")?>|[a-z <>/=\"']){1,60}") {
            if let Ok(b) = MessageBody::parse(&input) {
                prop_assert!(only_allowed_markup(b.html()).is_ok(), "{:?}", only_allowed_markup(b.html()));
                prop_assert!(!b.html().to_lowercase().contains("<a href=\"javascript"));
            }
        }
    }
}
