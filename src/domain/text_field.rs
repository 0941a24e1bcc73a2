//! Single-line plain-text fields that may end up in mail headers: a visitor's name and a subject.
//! Control characters (CR and LF above all) are refused, not stripped, so that what the visitor
//! typed is never silently changed into something else.

use super::FieldProblem;

fn parse_line(input: &str, max: usize) -> Result<Option<String>, FieldProblem> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() || is_line_separator(c))
    {
        return Err(FieldProblem::ControlCharacters);
    }
    if trimmed.chars().count() > max {
        return Err(FieldProblem::TooLong { max });
    }
    Ok(Some(trimmed.to_owned()))
}

/// U+2028/U+2029 are not `is_control` but break lines in many mail readers.
fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// The name a visitor chose to give, at most 100 characters, one line.
#[derive(Clone, PartialEq, Eq)]
pub struct VisitorName(String);

impl VisitorName {
    pub const MAX_CHARS: usize = 100;

    /// `Ok(None)` for an empty (optional) field.
    pub fn parse(input: &str) -> Result<Option<Self>, FieldProblem> {
        Ok(parse_line(input, Self::MAX_CHARS)?.map(Self))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name is personal data: it is never printed by `Debug`.
impl std::fmt::Debug for VisitorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitorName(<sealed>)")
    }
}

/// A message subject, at most 200 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    pub const MAX_CHARS: usize = 200;

    /// `Ok(None)` for an empty (optional) field.
    pub fn parse(input: &str) -> Result<Option<Self>, FieldProblem> {
        Ok(parse_line(input, Self::MAX_CHARS)?.map(Self))
    }

    /// Rebuilds a subject read back from storage, where it was stored already parsed.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_and_blank_are_absent() {
        assert_eq!(Subject::parse(""), Ok(None));
        assert_eq!(Subject::parse("   "), Ok(None));
        assert!(VisitorName::parse("\t ").expect("blank is fine").is_none());
    }

    #[test]
    fn crlf_is_refused() {
        assert_eq!(
            Subject::parse("Hello\r\nBcc: victim@example.org"),
            Err(FieldProblem::ControlCharacters)
        );
        assert_eq!(
            VisitorName::parse("Eve\nX-Header: 1"),
            Err(FieldProblem::ControlCharacters)
        );
        assert_eq!(
            Subject::parse("a\u{2028}b"),
            Err(FieldProblem::ControlCharacters)
        );
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let cyrillic = "ж".repeat(100);
        assert!(VisitorName::parse(&cyrillic).is_ok());
        assert_eq!(
            VisitorName::parse(&format!("{cyrillic}ж")),
            Err(FieldProblem::TooLong { max: 100 })
        );
        assert_eq!(
            Subject::parse(&"s".repeat(201)),
            Err(FieldProblem::TooLong { max: 200 })
        );
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        let s = Subject::parse("  Order 42  ")
            .expect("ok")
            .expect("present");
        assert_eq!(s.as_str(), "Order 42");
    }

    proptest! {
        #[test]
        fn a_parsed_subject_never_contains_a_control_character(input in "\\PC*|.*[\\r\\n].*") {
            if let Ok(Some(s)) = Subject::parse(&input) {
                prop_assert!(!s.as_str().chars().any(|c| c.is_control()));
                prop_assert!(s.as_str().chars().count() <= Subject::MAX_CHARS);
            }
        }
    }
}
