//! The new words of a reply: what a person typed above (or below, or between) the history
//! their mail client quoted, without that history and without their signature.
//!
//! HTML is decided on before it is flattened, because the structure is what marks the quote in
//! the clients people use (Gmail's `gmail_quote`, Apple Mail's and Thunderbird's
//! `blockquote type="cite"`, Outlook's `divRplyFwdMsg` and `border-top` divider, Yahoo's
//! `yahoo_quoted`); the HTML is then read as a browser renders it, into lines, and the
//! plain-text rules run on those lines as on a plain-text mail: `>` quotes and their
//! attribution ("On … wrote:", "… пишет:", "… жазды:"), Outlook's `From:`/`Sent:` header block,
//! "-----Original Message-----", forwarded-message markers, the `-- ` delimiter, "Sent from my
//! iPhone" and the like. Last, signatures without a delimiter: the sender's saved signature, and
//! the closing block that starts with the sender's own name.
//!
//! The same decisions as talon's and GitHub's email_reply_parser, written for our clients and
//! languages (English, Russian, Kazakh). Everything here is pure: no IO, no configuration.

use ego_tree::iter::Edge;
use scraper::{Html, Node};

/// Who wrote the reply, for the signature rules.
#[derive(Debug, Default, Clone, Copy)]
pub struct Author<'a> {
    /// The display name of `From:` ("Boris Staffer").
    pub display_name: Option<&'a str>,
    /// A signature the sender saved (staff do, on their account page).
    pub saved_signature: Option<&'a str>,
}

/// Stands for a quote container removed from HTML, so that the attribution line above it is
/// recognised as such in the text.
const QUOTE_MARK: &str = "\u{1}quote";

/// The largest HTML part read; a bigger one is not a reply a person wrote.
pub const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;

/// The deepest nesting of elements read. HTML parsers spend time in the square of the depth
/// (every new element looks through the stack of open ones), so an "HTML bomb" of nested
/// `<div>`s would hold a thread for minutes; mail clients nest a few dozen deep.
pub const MAX_HTML_DEPTH: usize = 512;

/// Whether an HTML part is one a person's mail client wrote: within [`MAX_HTML_BYTES`] and
/// [`MAX_HTML_DEPTH`] (estimated from the tags, without parsing).
pub fn readable_html(html: &str) -> bool {
    html.len() <= MAX_HTML_BYTES && nesting_estimate(html) <= MAX_HTML_DEPTH
}

/// The deepest nesting the tags of `html` describe, counting every start tag of an element
/// that can hold others and every end tag.
fn nesting_estimate(html: &str) -> usize {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];
    let bytes = html.as_bytes();
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'<') {
        i += offset + 1;
        match bytes.get(i) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b'!') if bytes[i..].starts_with(b"!--") => match html[i..].find("-->") {
                Some(end) => i += end + 3,
                None => break,
            },
            Some(c) if c.is_ascii_alphabetic() => {
                let name: String = html[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
                    .collect::<String>()
                    .to_ascii_lowercase();
                let end = html[i..].find('>').map_or(html.len(), |e| i + e);
                let self_closing = html[..end].ends_with('/');
                if !VOID.contains(&name.as_str()) && !self_closing {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                i = end.min(html.len());
            }
            _ => {}
        }
        if i >= bytes.len() {
            break;
        }
    }
    deepest
}

/// The new text of an HTML reply.
pub fn from_html(html: &str, author: &Author<'_>) -> String {
    let lines = render_html(html);
    finish(lines, author)
}

/// The new text of a plain-text reply.
pub fn from_plain(text: &str, author: &Author<'_>) -> String {
    let lines = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .map(str::to_owned)
        .collect();
    finish(lines, author)
}

fn finish(lines: Vec<String>, author: &Author<'_>) -> String {
    // Control characters go first: dropped later (a message body holds none), they would
    // join what stood around them only after the addresses were looked for, as in
    // `boris@SHOP\0\0.example` (found by the `inbound_mail` fuzz target).
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| {
            if l == QUOTE_MARK {
                return l;
            }
            l.replace(['\u{a0}', '\u{2007}', '\u{202f}'], " ")
                .chars()
                .filter(|&c| !c.is_control() || c == '\t')
                .collect()
        })
        .collect();
    let kept = cut_history(&lines);
    let kept = cut_signatures(kept, author);
    tidy(&kept)
}

/// Trailing blanks go, runs of blank lines become one, and the whole is trimmed.
pub fn tidy(lines: &[String]) -> String {
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    for line in lines {
        let line = line.trim_end();
        // Where quoted lines were taken out between two pieces of new text, a blank line
        // keeps them apart.
        let line = if line == QUOTE_MARK { "" } else { line };
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------------------------
// HTML, read as it renders

/// What an element means for the reply.
#[derive(Debug, PartialEq, Eq)]
enum Role {
    /// Shown: its text is read.
    Shown,
    /// Quoted history or an attribution in a container of its own: left out, and marked.
    Quote,
    /// A signature in a container of its own, or something no reader sees: left out.
    Hidden,
    /// History starts here and runs to the end of the mail.
    Cut,
}

fn has_class(el: &scraper::node::Element, name: &str) -> bool {
    el.classes().any(|c| c.eq_ignore_ascii_case(name))
}

fn style_of(el: &scraper::node::Element) -> String {
    el.attr("style")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn role(node: ego_tree::NodeRef<'_, Node>, el: &scraper::node::Element) -> Role {
    let name = el.name();
    if matches!(
        name,
        "head" | "style" | "script" | "title" | "template" | "img" | "svg" | "object" | "iframe"
    ) {
        return Role::Hidden;
    }
    let id = el.id().unwrap_or_default().to_ascii_lowercase();
    // Outlook on the web and new Outlook: the reply header and everything after it.
    if matches!(
        id.as_str(),
        "divrplyfwdmsg" | "appendonsend" | "mail-editor-reference-message-container"
    ) || has_class(el, "OutlookMessageHeader")
    {
        return Role::Cut;
    }
    // Outlook desktop marks where its automatic signature begins; the divider and the quoted
    // mail follow it.
    if name == "a" && el.attr("name").is_some_and(|n| n == "_MailAutoSig") {
        return Role::Cut;
    }
    let style = style_of(el);
    if style.contains("display:none") || style.contains("visibility:hidden") {
        return Role::Hidden;
    }
    // Outlook desktop's divider: a block with a top border whose text is a reply header.
    if name == "div" && style.contains("border-top") && starts_with_header_label(node) {
        return Role::Cut;
    }
    if has_class(el, "moz-forward-container") {
        return Role::Cut;
    }
    // Gmail's `gmail_quote` div holds the attribution and the blockquote, and text typed
    // below the quote ends up inside it too: the div itself is shown, its two parts are not.
    // An attribution block that opens a forward: the forwarded mail follows it unquoted.
    if (has_class(el, "gmail_attr") || has_class(el, "moz-cite-prefix"))
        && leading_text(node, 80)
            .lines()
            .next()
            .is_some_and(is_history_marker)
    {
        return Role::Cut;
    }
    if name == "blockquote"
        || [
            "gmail_attr",
            "moz-cite-prefix",
            "mail-quote-collapse",
            "yahoo_quoted",
            "protonmail_quote",
            "zmail_extra",
        ]
        .iter()
        .any(|c| has_class(el, c))
    {
        return Role::Quote;
    }
    let signature_id = id.contains("signature") || id == "zm-_id_-sgn";
    let signature_class = el
        .classes()
        .any(|c| c.to_ascii_lowercase().contains("signature"));
    if signature_id || signature_class {
        return Role::Hidden;
    }
    Role::Shown
}

/// The first `chars` characters of the text inside a node, lines kept at `<br>`s.
fn leading_text(node: ego_tree::NodeRef<'_, Node>, chars: usize) -> String {
    let mut text = String::new();
    for n in node.descendants() {
        match n.value() {
            Node::Text(t) => text.push_str(t),
            Node::Element(el) if el.name() == "br" || is_block(el.name()) => text.push('\n'),
            _ => {}
        }
        if text.trim_start().chars().count() > chars {
            break;
        }
    }
    text.trim_start().to_owned()
}

/// Whether the text inside a node begins with a reply-header label such as `From:`.
fn starts_with_header_label(node: ego_tree::NodeRef<'_, Node>) -> bool {
    header_label(&leading_text(node, 40)).is_some_and(|l| l.is_from)
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "div"
            | "p"
            | "li"
            | "ul"
            | "ol"
            | "tr"
            | "table"
            | "tbody"
            | "thead"
            | "tfoot"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "pre"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "center"
            | "address"
            | "dl"
            | "dt"
            | "dd"
            | "form"
            | "hr"
            | "figure"
            | "body"
            | "html"
            | "blockquote"
    )
}

/// A `<p>` with no bottom margin (Outlook's `MsoNormal`, or a zero margin in its style) is
/// one line; any other is a paragraph with a gap after it.
fn paragraph_has_gap(el: &scraper::node::Element) -> bool {
    if el
        .classes()
        .any(|c| c.to_ascii_lowercase().starts_with("mso"))
    {
        return false;
    }
    let style = style_of(el);
    !(style.contains("margin:0")
        || style.contains("margin-bottom:0")
        || style.contains("margin:0px")
        || style.contains("margin-bottom:0px"))
}

/// Lines as a browser lays them out.
#[derive(Default)]
struct Lines {
    done: Vec<String>,
    current: String,
}

impl Lines {
    /// Starts a new line unless the current one is empty.
    fn break_line(&mut self) {
        // A no-break space is content (Outlook's empty paragraphs are one).
        if self.current.chars().any(|c| !c.is_ascii_whitespace()) {
            self.done.push(std::mem::take(&mut self.current));
        } else {
            self.current.clear();
        }
    }

    /// `<br>`: always ends the current line, even an empty one.
    fn hard_break(&mut self) {
        self.done.push(std::mem::take(&mut self.current));
    }

    /// Ends a paragraph: a blank line follows.
    fn paragraph(&mut self) {
        self.break_line();
        if self.done.last().is_some_and(|l| !l.trim().is_empty()) {
            self.done.push(String::new());
        }
    }

    fn mark(&mut self, mark: &str) {
        self.break_line();
        self.done.push(mark.to_owned());
    }

    fn text(&mut self, text: &str, preformatted: bool) {
        if preformatted {
            let mut parts = text.split('\n');
            if let Some(first) = parts.next() {
                self.current.push_str(first);
            }
            for part in parts {
                self.hard_break();
                self.current.push_str(part);
            }
            return;
        }
        let space = |c: char| c.is_ascii_whitespace();
        let mut pending_space = text.starts_with(space);
        for word in text.split(space).filter(|w| !w.is_empty()) {
            if pending_space && !self.current.is_empty() && !self.current.ends_with(' ') {
                self.current.push(' ');
            }
            self.current.push_str(word);
            pending_space = true;
        }
        if text.ends_with(space) && !self.current.is_empty() && !self.current.ends_with(' ') {
            self.current.push(' ');
        }
    }

    /// The text written since `mark` (a length of `current` on the same line).
    fn since(&self, line: usize, column: usize) -> Option<&str> {
        (self.done.len() == line).then(|| self.current.get(column..).unwrap_or_default())
    }

    fn finish(mut self) -> Vec<String> {
        self.break_line();
        self.done
    }
}

/// Where a link began, to tell at its end whether its text names its target.
struct OpenLink {
    node: ego_tree::NodeId,
    target: String,
    line: usize,
    column: usize,
}

fn link_target(href: &str) -> Option<String> {
    let href = href.trim();
    let lower = href.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("mailto:").map(|_| &href[7..]) {
        let address = rest.split('?').next().unwrap_or_default();
        let decoded = percent_encoding::percent_decode_str(address)
            .decode_utf8_lossy()
            .into_owned();
        return (!decoded.is_empty()).then_some(decoded);
    }
    (lower.starts_with("http://") || lower.starts_with("https://")).then(|| href.to_owned())
}

fn render_html(html: &str) -> Vec<String> {
    let document = Html::parse_document(html);
    let mut out = Lines::default();
    let mut skipping: Option<ego_tree::NodeId> = None;
    let mut preformatted = 0usize;
    let mut link: Option<OpenLink> = None;
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(text) => out.text(text, preformatted > 0),
                    Node::Element(el) => match role(node, el) {
                        Role::Cut => return out.finish(),
                        Role::Quote => {
                            out.mark(QUOTE_MARK);
                            skipping = Some(node.id());
                        }
                        Role::Hidden => skipping = Some(node.id()),
                        Role::Shown => {
                            let name = el.name();
                            if name == "br" {
                                out.hard_break();
                            } else if is_block(name) {
                                out.break_line();
                            }
                            if name == "pre" {
                                preformatted += 1;
                            }
                            if name == "li" {
                                out.current.push_str("- ");
                            }
                            if matches!(name, "td" | "th") && !out.current.is_empty() {
                                out.current.push(' ');
                            }
                            if name == "a"
                                && link.is_none()
                                && let Some(target) = el.attr("href").and_then(link_target)
                            {
                                link = Some(OpenLink {
                                    node: node.id(),
                                    target,
                                    line: out.done.len(),
                                    column: out.current.len(),
                                });
                            }
                        }
                    },
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if let Some(id) = skipping {
                    if id == node.id() {
                        skipping = None;
                    }
                    continue;
                }
                let Node::Element(el) = node.value() else {
                    continue;
                };
                let name = el.name();
                if link.as_ref().is_some_and(|l| l.node == node.id())
                    && let Some(open) = link.take()
                {
                    let text = out
                        .since(open.line, open.column)
                        .map(|t| t.trim().to_owned());
                    let named = text.as_deref().is_some_and(|t| {
                        t.eq_ignore_ascii_case(&open.target)
                            || t.trim_start_matches("mailto:")
                                .eq_ignore_ascii_case(&open.target)
                    });
                    if !named {
                        if !out.current.ends_with(' ') && !out.current.is_empty() {
                            out.current.push(' ');
                        }
                        out.current.push_str(&format!("<{}>", open.target));
                    }
                }
                if name == "pre" {
                    preformatted = preformatted.saturating_sub(1);
                }
                if name == "p" {
                    if paragraph_has_gap(el) {
                        out.paragraph();
                    } else {
                        out.break_line();
                    }
                } else if is_block(name) {
                    out.break_line();
                }
            }
        }
    }
    out.finish()
}

// ---------------------------------------------------------------------------------------------
// Quoted history in text

fn is_quote(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with('>') || l == QUOTE_MARK
}

/// A reply-header label at the start of a line: `From:`, `От:`, `*Sent:*` …
struct Label {
    is_from: bool,
}

const FROM_LABELS: &[&str] = &["from", "от", "кімнен", "кімден", "de", "von"];
const OTHER_LABELS: &[&str] = &[
    "sent",
    "date",
    "to",
    "cc",
    "subject",
    "отправлено",
    "дата",
    "кому",
    "копия",
    "тема",
    "жіберілген",
    "жіберілді",
    "күні",
    "кімге",
    "көшірме",
    "тақырып",
    "envoyé",
    "à",
    "objet",
    "gesendet",
    "an",
    "betreff",
];

fn header_label(line: &str) -> Option<Label> {
    let l = line.trim_start().trim_start_matches(['*', '_']);
    let (word, _) = l.split_once(':')?;
    let word = word.trim_end_matches(['*', '_']).trim().to_lowercase();
    if FROM_LABELS.contains(&word.as_str()) {
        Some(Label { is_from: true })
    } else if OTHER_LABELS.contains(&word.as_str()) {
        Some(Label { is_from: false })
    } else {
        None
    }
}

/// Outlook's header block at line `i`: a `From:` line and, within the six lines after it (or on
/// the same line), at least two more header labels.
fn header_block_at(lines: &[String], i: usize) -> bool {
    if !header_label(&lines[i]).is_some_and(|l| l.is_from) {
        return false;
    }
    let same_line = OTHER_LABELS
        .iter()
        .filter(|label| {
            let lower = lines[i].to_lowercase();
            lower.contains(&format!(" {label}:")) || lower.contains(&format!("*{label}:"))
        })
        .count();
    if same_line >= 2 {
        return true;
    }
    let following = lines[i + 1..]
        .iter()
        .take(6)
        .filter(|l| header_label(l).is_some_and(|l| !l.is_from))
        .count();
    following >= 2
}

/// "-----Original Message-----", "-------- Forwarded Message --------" and their translations.
fn is_history_marker(line: &str) -> bool {
    let l = line.trim();
    if !l.starts_with("--") && !l.starts_with("——") {
        return false;
    }
    let inner = l.trim_matches(|c: char| c == '-' || c == '—' || c.is_whitespace());
    let lower = inner.to_lowercase();
    [
        "original message",
        "forwarded message",
        "исходное сообщение",
        "пересылаемое сообщение",
        "пересланное сообщение",
        "перенаправленное сообщение",
        "бастапқы хабар",
        "бастапқы хабарлама",
        "қайта жіберілген хабар",
        "қайта жіберілген хабарлама",
        "жіберілген хабарлама",
        "message transféré",
        "weitergeleitete nachricht",
    ]
    .iter()
    .any(|m| lower == *m || lower.starts_with(&format!("{m} ")))
}

/// Apple Mail's forward, which has no dashes: "Begin forwarded message:".
fn is_forward_intro(line: &str) -> bool {
    let lower = line.trim().to_lowercase();
    [
        "begin forwarded message:",
        "начало переадресованного сообщения:",
        "начало пересылаемого сообщения:",
        "қайта жіберілген хабарламаның басы:",
    ]
    .contains(&lower.as_str())
}

fn is_underscore_rule(line: &str) -> bool {
    let l = line.trim();
    l.len() >= 10 && l.chars().all(|c| c == '_')
}

fn is_signature_delimiter(line: &str) -> bool {
    let l = line.trim_end();
    l == "--" || l == "-- " || l == "—" || l == "__"
}

/// The line a mobile client adds under the text.
fn is_mobile_signature(line: &str) -> bool {
    let l = line.trim().trim_end_matches(['.', '!']).to_lowercase();
    if l.is_empty() || l.split_whitespace().count() > 8 {
        return false;
    }
    [
        "sent from my ",
        "sent from outlook",
        "sent from mail for windows",
        "sent from yahoo mail",
        "sent from the yahoo mail",
        "sent from samsung",
        "sent from gmail",
        "sent via ",
        "get outlook for ",
        "отправлено с ",
        "отправлено из ",
        "отправлено через ",
        "получить outlook для ",
        "sent with proton mail",
    ]
    .iter()
    .any(|p| l.starts_with(p))
        || l.ends_with("жіберілді") && l.split_whitespace().count() <= 4
}

/// How strongly a line reads as the attribution above a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attribution {
    /// "On … wrote:" and its translations: history whatever follows.
    Strong,
    /// "…, Anna <a@b>:" (Gmail's Russian form, Yandex, Mail.ru): only above a quote.
    Weak,
}

fn attribution_of(text: &str) -> Option<Attribution> {
    let t = text.trim();
    if !t.ends_with(':') || t.chars().count() > 400 {
        return None;
    }
    let lower = t.to_lowercase();
    let has_verb = [
        "wrote:",
        "writes:",
        "said:",
        "пишет:",
        "написал:",
        "написала:",
        "написал(а):",
        "написали:",
        "жазды:",
        "жазған:",
        "былай деп жазды:",
        "a écrit :",
        "a écrit:",
        "schrieb:",
    ]
    .iter()
    .any(|v| lower.ends_with(v));
    let looks_like_date_or_address =
        lower.contains('@') || lower.chars().any(|c| c.is_ascii_digit()) || lower.contains(',');
    if has_verb && (lower.starts_with("on ") || looks_like_date_or_address) {
        return Some(Attribution::Strong);
    }
    // "Anna wrote:" alone reads as an attribution only right above a quote.
    if has_verb && t.split_whitespace().count() <= 8 {
        return Some(Attribution::Weak);
    }
    if lower.contains('@') && (lower.contains('<') || lower.contains(',')) {
        return Some(Attribution::Weak);
    }
    None
}

/// The attribution starting at line `i`, on one line or wrapped over two: its strength and
/// how many lines it takes.
fn attribution_at(lines: &[String], i: usize) -> Option<(Attribution, usize)> {
    if let Some(a) = attribution_of(&lines[i]) {
        return Some((a, 1));
    }
    let next = lines.get(i + 1)?;
    if lines[i].trim().is_empty() || next.trim().is_empty() || is_quote(next) {
        return None;
    }
    attribution_of(&format!("{} {}", lines[i].trim(), next.trim())).map(|a| (a, 2))
}

fn next_non_blank(lines: &[String], from: usize) -> Option<&str> {
    lines[from.min(lines.len())..]
        .iter()
        .map(String::as_str)
        .find(|l| !l.trim().is_empty())
}

/// Removes quoted history: quotes and their attributions wherever they are (the text around
/// them stays), and from a header block or history marker to the end. A signature (after its
/// delimiter, or a mobile client's line) runs to the next quote: a top-posted reply ends there,
/// and a bottom-posted one goes on below the quote.
fn cut_history(lines: &[String]) -> Vec<String> {
    let mut kept = Vec::with_capacity(lines.len());
    let mut in_signature = false;
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if is_quote(line) {
            // A quote ends the paragraph (or the signature) before it.
            in_signature = false;
            kept.push(QUOTE_MARK.to_owned());
            i += 1;
            continue;
        }
        if in_signature {
            i += 1;
            continue;
        }
        if is_signature_delimiter(line) || is_mobile_signature(line) {
            in_signature = true;
            i += 1;
            continue;
        }
        if is_history_marker(line)
            || is_forward_intro(line)
            || header_block_at(lines, i)
            || (is_underscore_rule(line)
                && (i + 1..(i + 3).min(lines.len())).any(|j| header_block_at(lines, j)))
        {
            break;
        }
        if let Some((strength, len)) = attribution_at(lines, i) {
            match next_non_blank(lines, i + len) {
                Some(next) if is_quote(next) => {
                    i += len;
                    continue;
                }
                None => break,
                Some(_) if strength == Attribution::Strong => break,
                Some(_) => {}
            }
        }
        kept.push(line.clone());
        i += 1;
    }
    kept
}

// ---------------------------------------------------------------------------------------------
// Signatures without a delimiter

fn normalize(line: &str) -> String {
    line.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Removes the sender's saved signature and what follows it, then the closing block that
/// starts with the sender's own name.
fn cut_signatures(mut lines: Vec<String>, author: &Author<'_>) -> Vec<String> {
    if let Some(signature) = author.saved_signature {
        let wanted: Vec<String> = signature
            .lines()
            .map(normalize)
            .filter(|l| !l.is_empty())
            .collect();
        if !wanted.is_empty() {
            let present: Vec<(usize, String)> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| (i, normalize(l)))
                .filter(|(_, l)| !l.is_empty())
                .collect();
            if let Some(start) = present
                .windows(wanted.len())
                .position(|w| w.iter().map(|(_, l)| l).eq(wanted.iter()))
            {
                lines.truncate(present[start].0);
            }
        }
    }
    if let Some(name) = author.display_name {
        let parts = name_parts(name);
        if !parts.is_empty() {
            let non_blank: Vec<usize> = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty() && l.as_str() != QUOTE_MARK)
                .map(|(i, _)| i)
                .collect();
            let tail = &non_blank[non_blank.len().saturating_sub(12)..];
            for &i in tail {
                match closing_name_line(&lines[i], name, &parts) {
                    Some(ClosingLine::Name) => {
                        lines.truncate(i);
                        break;
                    }
                    Some(ClosingLine::SignOff(keep)) => {
                        lines.truncate(i);
                        lines.push(keep);
                        break;
                    }
                    None => {}
                }
            }
        }
    }
    lines
}

/// The words of a display name a closing line may consist of (two letters or more).
pub fn name_parts(display_name: &str) -> Vec<String> {
    display_name
        .split(|c: char| c.is_whitespace() || c == ',' || c == '"' || c == '\'')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-'))
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .map(str::to_owned)
        .collect()
}

enum ClosingLine {
    /// The line is the name (with a title, perhaps): it and all below go.
    Name,
    /// "Thanks, Boris": the sign-off stays, the name and all below go.
    SignOff(String),
}

fn is_separator(c: char) -> bool {
    matches!(c, ',' | '|' | '-' | '–' | '—' | '/' | '(' | '·' | '•')
}

/// Strips a leading run of name parts (whole words, in any order) from `line`.
fn strip_name<'l>(line: &'l str, parts: &[String]) -> Option<&'l str> {
    let mut rest = line.trim_start();
    let mut matched = false;
    loop {
        let next = parts.iter().find_map(|p| {
            rest.strip_prefix(p.as_str())
                .filter(|after| !after.starts_with(|c: char| c.is_alphanumeric()))
        });
        match next {
            Some(after) => {
                matched = true;
                rest = after.trim_start_matches([' ', '.']);
            }
            None => break,
        }
    }
    matched.then_some(rest)
}

fn closing_name_line(line: &str, full_name: &str, parts: &[String]) -> Option<ClosingLine> {
    let l = line.trim();
    if l.chars().count() > 100 {
        return None;
    }
    let full = full_name.trim().trim_matches('"');
    let after_full = l
        .get(..full.len())
        .filter(|head| head.to_lowercase() == full.to_lowercase())
        .map(|_| &l[full.len()..])
        .filter(|after| !after.starts_with(|c: char| c.is_alphanumeric()));
    let after_name = after_full.or_else(|| strip_name(l, parts));
    if let Some(rest) = after_name {
        let rest = rest.trim();
        if rest.is_empty()
            || rest.starts_with(is_separator)
            || rest.chars().all(|c| !c.is_alphanumeric())
        {
            return Some(ClosingLine::Name);
        }
    }
    // "Thanks, Boris" / "С уважением, Борис Сидоров".
    let (sign_off, name) = l.rsplit_once([',', '!'])?;
    let name = name.trim();
    let sign_off = sign_off.trim();
    if sign_off.is_empty() || sign_off.split_whitespace().count() > 4 || name.is_empty() {
        return None;
    }
    let rest = strip_name(name, parts)?;
    rest.trim()
        .chars()
        .all(|c| !c.is_alphanumeric())
        .then(|| ClosingLine::SignOff(format!("{},", sign_off.trim_end_matches(','))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BORIS: Author<'static> = Author {
        display_name: Some("Boris Staffer"),
        saved_signature: None,
    };

    #[test]
    fn a_delimited_signature_and_a_gmail_quote_are_cut_from_plain_text() {
        let text = "Yes, it left today.\n\nBest\n-- \nBoris Staffer\n+1 555 0100\n\n\
                    On Tue, 24 Nov 2026 at 10:00, Anna Karenina via Sealpost <\n\
                    reply+abc@relay.example> wrote:\n> Hello,\n> my order 1234";
        assert_eq!(
            from_plain(text, &Author::default()),
            "Yes, it left today.\n\nBest"
        );
    }

    #[test]
    fn bottom_posted_and_inline_answers_keep_only_the_new_lines() {
        let text =
            "Anna wrote:\n> Where is my order?\n\nIt left today.\n\n> Can I pay by card?\nYes.";
        assert_eq!(
            from_plain(text, &Author::default()),
            "It left today.\n\nYes."
        );
    }

    #[test]
    fn outlook_header_blocks_end_the_text_in_any_of_our_languages() {
        for (from, sent) in [
            ("From:", "Sent:"),
            ("От:", "Отправлено:"),
            ("Кімнен:", "Жіберілген:"),
        ] {
            let text = format!(
                "Done.\n\n{from} Anna <reply+1@relay.example>\n{sent} 24 Nov\nTo: Shop\nSubject: Re: x\n\nHello"
            );
            assert_eq!(from_plain(&text, &Author::default()), "Done.", "{from}");
        }
    }

    #[test]
    fn a_line_that_merely_starts_with_from_is_kept() {
        let text = "From: tomorrow we ship daily.\nThanks";
        assert_eq!(
            from_plain(text, &Author::default()),
            "From: tomorrow we ship daily.\nThanks"
        );
    }

    #[test]
    fn the_closing_block_from_the_senders_name_down_is_cut() {
        let text = "It left today.\n\nBest regards,\nBoris Staffer | Shop support\n+1 555 0100";
        assert_eq!(from_plain(text, &BORIS), "It left today.\n\nBest regards,");
        let first_name = "It left today.\n\nThanks,\nBoris\nShop support";
        assert_eq!(from_plain(first_name, &BORIS), "It left today.\n\nThanks,");
        let one_line = "It left today.\n\nThanks, Boris\nShop support";
        assert_eq!(from_plain(one_line, &BORIS), "It left today.\n\nThanks,");
        let mid_text = "Boris here. It left today.";
        assert_eq!(from_plain(mid_text, &BORIS), "Boris here. It left today.");
    }

    #[test]
    fn a_saved_signature_is_cut_wherever_it_appears() {
        let author = Author {
            display_name: None,
            saved_signature: Some("Shop support team\nMon–Fri 9:00–18:00"),
        };
        let text = "It left today.\n\nShop  support team\n\nMon–Fri 9:00–18:00\n";
        assert_eq!(from_plain(text, &author), "It left today.");
    }

    /// Found by the `inbound_mail` fuzz target (2026-12-01): NULs between the parts of an
    /// address hid it from the scrub, and the body's own cleaning then joined it up again.
    #[test]
    fn control_characters_are_gone_before_anyone_looks_for_addresses() {
        assert_eq!(
            from_plain(
                "Write to boris@SHOP\u{0}\u{0}\u{0}.example today",
                &Author::default()
            ),
            "Write to boris@SHOP.example today"
        );
    }

    #[test]
    fn mobile_signatures_end_the_text() {
        assert_eq!(
            from_plain("Ок, отправим.\n\nОтправлено с iPhone\n\n> старое", &BORIS),
            "Ок, отправим."
        );
    }

    #[test]
    fn outlook_web_html_is_cut_at_its_reply_header() {
        let html = r#"<html><body><div>It left today.</div><div><br></div>
            <div>Boris Staffer<br>Shop support, +1 555 0100</div>
            <div id="appendonsend"></div><hr style="display:inline-block;width:98%">
            <div id="divRplyFwdMsg"><b>From:</b> Anna &lt;reply+1@relay.example&gt;<br>
            <b>Sent:</b> Tuesday</div><div>Hello, my order 1234</div></body></html>"#;
        assert_eq!(from_html(html, &BORIS), "It left today.");
    }

    #[test]
    fn outlook_desktop_html_stops_at_the_divider_and_reads_mso_paragraphs_as_lines() {
        let html = "<div class=WordSection1><p class=MsoNormal>Hello Anna,<o:p></o:p></p>\
            <p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>It left today.<o:p></o:p></p>\
            <p class=MsoNormal>Second line.<o:p></o:p></p>\
            <div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>\
            <p class=MsoNormal><b>From:</b> Anna<br><b>Sent:</b> x</p></div>\
            <p class=MsoNormal>my order 1234</p></div>";
        assert_eq!(
            from_html(html, &Author::default()),
            "Hello Anna,\n\nIt left today.\nSecond line."
        );
    }

    #[test]
    fn gmail_html_keeps_the_text_around_its_quote_and_drops_its_signature() {
        let html = r#"<div dir="ltr">Above.<div><br></div><div>-- <br><div class="gmail_signature">Boris</div></div></div>
            <br><div class="gmail_quote"><div class="gmail_attr">On Tue, Anna wrote:<br></div>
            <blockquote class="gmail_quote">my order 1234</blockquote></div><div>Below.</div>"#;
        assert_eq!(from_html(html, &Author::default()), "Above.\n\nBelow.");
    }

    #[test]
    fn apple_mail_attribution_outside_the_blockquote_goes_with_it() {
        let html = r#"<div>Bottom answer follows.</div><div><br><div>On 24 Nov 2026, at 10:00, Anna &lt;reply+1@relay.example&gt; wrote:</div>
            <br><blockquote type="cite"><div>my order 1234</div></blockquote></div><div>It left today.</div>"#;
        assert_eq!(
            from_html(html, &Author::default()),
            "Bottom answer follows.\n\nIt left today."
        );
    }

    #[test]
    fn paragraphs_links_and_hidden_text_read_as_rendered() {
        let html = r#"<p>One <a href="https://shop.example/track?id=1">track it</a>.</p>
            <p style="margin:0">Two</p><p style="margin:0">Three</p>
            <span style="display:none">preheader</span><p><a href="https://x.example/">https://x.example/</a></p>"#;
        assert_eq!(
            from_html(html, &Author::default()),
            "One track it <https://shop.example/track?id=1>.\n\nTwo\nThree\nhttps://x.example/"
        );
    }

    #[test]
    fn an_html_bomb_is_not_readable_and_a_deep_reply_is() {
        let bomb = format!("{}deep{}", "<div>".repeat(50_000), "</div>".repeat(50_000));
        assert!(!readable_html(&bomb));
        let flat = "<div>a</div><br><img src=x><p>b</p>".repeat(10_000);
        assert!(readable_html(&flat));
        let deep = format!("{}deep{}", "<div>".repeat(400), "</div>".repeat(400));
        assert!(readable_html(&deep));
        assert_eq!(from_html(&deep, &Author::default()), "deep");
    }
}
