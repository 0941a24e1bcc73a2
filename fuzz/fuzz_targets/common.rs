//! What every cleaned body must be, whatever went in: only the allowlisted tags, attributes
//! only on links (`href` and `rel`), links only to http(s) and mailto. The cleaner writes text
//! `<` as `&lt;`, so every `<` left in its output opens a tag.

const TAGS: &[&str] = &[
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

pub fn assert_safe_html(html: &str) {
    let bytes = html.as_bytes();
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let start = at + offset;
        let mut end = start + 1;
        let mut quote = None;
        while end < bytes.len() {
            let c = bytes[end];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None if c == b'>' => break,
                None => {}
            }
            end += 1;
        }
        assert!(end < bytes.len(), "an unclosed tag in {html:?}");
        let inner = &html[start + 1..end];
        let closing = inner.starts_with('/');
        let inner = inner.strip_prefix('/').unwrap_or(inner);
        let name_len = inner
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let name = &inner[..name_len];
        assert!(TAGS.contains(&name), "tag <{name}> in {html:?}");
        let mut attrs = inner[name_len..].trim();
        assert!(
            !closing || attrs.is_empty(),
            "attributes on </{name}> in {html:?}"
        );
        while !attrs.is_empty() {
            let (attr, rest) = attrs.split_once("=\"").unwrap_or_else(|| {
                panic!("an attribute without a quoted value in <{inner}> in {html:?}")
            });
            let (value, rest) = rest
                .split_once('"')
                .unwrap_or_else(|| panic!("an unterminated value in <{inner}> in {html:?}"));
            let attr = attr.trim();
            assert!(
                name == "a" && (attr == "href" || attr == "rel"),
                "attribute {attr} on <{name}> in {html:?}"
            );
            if attr == "href" {
                // `https:host` is an https URL too (WHATWG URL parsing), so the scheme is what
                // counts, not the slashes.
                let url = value.replace("&amp;", "&").to_ascii_lowercase();
                let scheme = url.split_once(':').map(|(s, _)| s);
                assert!(
                    matches!(scheme, Some("http" | "https" | "mailto")),
                    "a link to {value:?} in {html:?}"
                );
            }
            attrs = rest.trim_start();
        }
        at = end + 1;
    }
}
