//! The privacy policy's text: one Markdown file per language, from `site.policy_dir` or, when
//! that is empty, the text shipped in `config/policy/`. Read and rendered once at start-up, so a
//! broken file stops `sealpost serve` with the file and line instead of serving a broken page.
//!
//! A file may use placeholders, filled from the configuration so that the policy states the
//! periods the service really applies: `{operator_name}`, `{operator_address}`,
//! `{operator_contact}`, `{site_name}`, `{sealed_ip_days}`, `{closed_thread_days}`,
//! `{spam_days}`, `{min_group_size}`. A line `{if NAME}` starts a block kept only when NAME is
//! on (`captcha`, `form_views`, or a placeholder that is not empty), and a line `{end}` ends it.
//! Anything else in braces is refused, so a typo cannot reach visitors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use pulldown_cmark::{Parser, html};

use crate::config::Settings;
use crate::domain::Locale;

/// The shipped text, in the binary so that `cargo run` needs no file.
const SHIPPED: [(Locale, &str); 3] = [
    (Locale::En, include_str!("../config/policy/en.md")),
    (Locale::Ru, include_str!("../config/policy/ru.md")),
    (Locale::Kk, include_str!("../config/policy/kk.md")),
];

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("reading the privacy policy {path} (configuration key `site.policy_dir`)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the privacy policy has no text in the default language: {path} is missing \
         (configuration keys `site.policy_dir`, `site.default_locale`)"
    )]
    NoDefault { path: PathBuf },
    #[error("the privacy policy {file}, line {line}: {problem}")]
    Template {
        file: String,
        line: usize,
        problem: String,
    },
}

/// The rendered policy of one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPage {
    /// Cleaned HTML.
    pub html: String,
    /// The language of the text: the default one when the asked language has no file.
    pub language: Locale,
}

/// The policy in every language.
#[derive(Debug, Clone)]
pub struct PolicyText {
    pages: HashMap<Locale, PolicyPage>,
}

impl PolicyText {
    /// Reads and renders the policy for these settings.
    pub fn load(settings: &Settings) -> Result<Self, PolicyError> {
        let default = Locale::parse(&settings.site.default_locale).unwrap_or(Locale::En);
        let values = Values::of(settings);
        let dir = settings.site.policy_dir.trim();
        let mut sources: HashMap<Locale, (String, String)> = HashMap::new();
        if dir.is_empty() {
            for (locale, text) in SHIPPED {
                let name = format!("config/policy/{}.md (shipped)", locale.code());
                sources.insert(locale, (name, text.to_owned()));
            }
        } else {
            for locale in Locale::ALL {
                let path = Path::new(dir).join(format!("{}.md", locale.code()));
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        sources.insert(locale, (path.display().to_string(), text));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(PolicyError::Read { path, source }),
                }
            }
            if !sources.contains_key(&default) {
                return Err(PolicyError::NoDefault {
                    path: Path::new(dir).join(format!("{}.md", default.code())),
                });
            }
        }
        let mut pages = HashMap::new();
        for (locale, (name, text)) in &sources {
            let html = render(name, text, &values)?;
            pages.insert(
                *locale,
                PolicyPage {
                    html,
                    language: *locale,
                },
            );
        }
        for locale in Locale::ALL {
            if !pages.contains_key(&locale) {
                let fallback = pages[&default].clone();
                pages.insert(locale, fallback);
            }
        }
        Ok(Self { pages })
    }

    /// The policy for this language, or the default language's when it has none.
    pub fn page(&self, locale: Locale) -> &PolicyPage {
        &self.pages[&locale]
    }
}

/// What placeholders stand for, and which blocks are on.
struct Values {
    text: HashMap<&'static str, String>,
    switches: HashMap<&'static str, bool>,
}

impl Values {
    fn of(settings: &Settings) -> Self {
        let site = &settings.site;
        let operator_name = if site.operator_name.trim().is_empty() {
            site.name.trim().to_owned()
        } else {
            site.operator_name.trim().to_owned()
        };
        let text = HashMap::from([
            ("operator_name", operator_name),
            ("operator_address", site.operator_address.trim().to_owned()),
            ("operator_contact", site.operator_contact.trim().to_owned()),
            ("site_name", site.name.trim().to_owned()),
            (
                "sealed_ip_days",
                settings.retention.sealed_ip_days.to_string(),
            ),
            (
                "closed_thread_days",
                settings.retention.closed_thread_days.to_string(),
            ),
            ("spam_days", settings.retention.spam_days.to_string()),
            ("min_group_size", settings.stats.min_group_size.to_string()),
        ]);
        let switches = HashMap::from([
            ("captcha", settings.captcha.enabled),
            ("pow", settings.spam.pow.enabled),
            ("form_views", settings.stats.record_form_views),
        ]);
        Self { text, switches }
    }

    fn switch(&self, name: &str) -> Option<bool> {
        self.switches
            .get(name)
            .copied()
            .or_else(|| self.text.get(name).map(|v| !v.is_empty()))
    }
}

/// Fills the placeholders and blocks of one file, then renders its Markdown to cleaned HTML.
fn render(file: &str, text: &str, values: &Values) -> Result<String, PolicyError> {
    let problem = |line: usize, problem: String| PolicyError::Template {
        file: file.to_owned(),
        line,
        problem,
    };
    let mut markdown = String::with_capacity(text.len() + 256);
    // Whether each open block is kept, innermost last.
    let mut blocks: Vec<(usize, bool)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if let Some(name) = trimmed
            .strip_prefix("{if ")
            .and_then(|rest| rest.strip_suffix('}'))
        {
            let on = values.switch(name.trim()).ok_or_else(|| {
                problem(
                    number,
                    format!(
                        "`{{if {}}}` names nothing that can be on or off",
                        name.trim()
                    ),
                )
            })?;
            blocks.push((number, on));
            continue;
        }
        if trimmed == "{end}" {
            blocks
                .pop()
                .ok_or_else(|| problem(number, "`{end}` without an `{if ...}`".to_owned()))?;
            continue;
        }
        if blocks.iter().any(|(_, on)| !on) {
            continue;
        }
        markdown.push_str(&fill(line, values).map_err(|p| problem(number, p))?);
        markdown.push('\n');
    }
    if let Some((line, _)) = blocks.last() {
        return Err(problem(*line, "this `{if ...}` has no `{end}`".to_owned()));
    }
    let mut rendered = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut rendered, Parser::new(&markdown));
    Ok(CLEANER.clean(&rendered).to_string())
}

/// Replaces the placeholders of one line. A value is escaped for Markdown, so an operator's
/// name with a `*` or a `<` reads as written; an address or a web address becomes a link.
fn fill(line: &str, values: &Values) -> Result<String, String> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "a `{` without its `}`".to_owned())?;
        let name = &after[..close];
        let value = values
            .text
            .get(name)
            .ok_or_else(|| format!("unknown placeholder `{{{name}}}`"))?;
        out.push_str(&as_markdown(value));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` without its `{`".to_owned());
    }
    out.push_str(rest);
    Ok(out)
}

fn as_markdown(value: &str) -> String {
    let linkable = |v: &str| !v.contains(char::is_whitespace) && !v.contains(['<', '>']);
    if linkable(value) && value.starts_with("https://") {
        return format!("[{}](<{value}>)", escaped(value));
    }
    if linkable(value) && crate::domain::parse_address(value).is_ok() {
        return format!("[{}](<mailto:{value}>)", escaped(value));
    }
    escaped(value)
}

/// A value that reads as written in Markdown: every ASCII punctuation mark escaped.
fn escaped(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii_punctuation() {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Markdown may carry HTML; what reaches the page is the same small, safe subset whoever wrote
/// the file.
static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(std::collections::HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"));
    builder
});

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            text: HashMap::from([
                ("operator_name", "Shop *Ltd* <b>".to_owned()),
                ("operator_address", String::new()),
                ("operator_contact", "privacy@shop.example".to_owned()),
            ]),
            switches: HashMap::from([("captcha", false)]),
        }
    }

    #[test]
    fn placeholders_are_filled_escaped_and_addresses_become_links() {
        let html = render(
            "t",
            "Run by {operator_name}, write to {operator_contact}.",
            &values(),
        )
        .expect("renders");
        assert!(html.contains("Run by Shop *Ltd* &lt;b&gt;"), "{html}");
        assert!(
            html.contains(
                r#"<a href="mailto:privacy@shop.example" rel="noopener noreferrer">privacy@shop.example</a>"#
            ),
            "{html}"
        );
    }

    #[test]
    fn blocks_are_kept_or_dropped() {
        let text = "A\n{if captcha}\nB\n{end}\n{if operator_contact}\nC\n{end}\n{if operator_address}\nD\n{end}\n";
        let html = render("t", text, &values()).expect("renders");
        assert!(html.contains('A') && html.contains('C'), "{html}");
        assert!(!html.contains('B') && !html.contains('D'), "{html}");
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        for (text, line, says) in [
            (
                "ok\n{operatr_name}",
                2,
                "unknown placeholder `{operatr_name}`",
            ),
            ("{if weather}\n{end}", 1, "names nothing"),
            ("{if captcha}\nx", 1, "has no `{end}`"),
            ("x\n\n{end}", 3, "without an `{if"),
            ("a { b", 1, "without its `}`"),
        ] {
            let err = render("policy/en.md", text, &values()).expect_err(text);
            let message = err.to_string();
            assert!(
                message.contains(&format!("policy/en.md, line {line}")) && message.contains(says),
                "{text:?}: {message}"
            );
        }
    }

    #[test]
    fn html_in_the_file_is_cleaned() {
        let html = render(
            "t",
            "<script>alert(1)</script>\n\n[x](javascript:alert(1)) **ok**",
            &values(),
        )
        .expect("renders");
        assert!(
            !html.contains("script") && !html.contains("javascript"),
            "{html}"
        );
        assert!(html.contains("<strong>ok</strong>"), "{html}");
    }
}
