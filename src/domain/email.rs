//! A visitor's e-mail address. Parsed with the `email_address` crate (RFC 5321/5322 syntax), then
//! restricted further to what can safely travel in SMTP and in a mail header. Also the reading of
//! the addresses and mailboxes that the configuration names and mail headers carry, as lettre
//! sends to them.

use lettre::Address;
use lettre::message::Mailbox;

use super::FieldProblem;

/// Why a configured or stored address is not one mail can be sent to or from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("`{input}` is not a mailbox such as \"Support <support@example.org>\" ({reason})")]
    NotAMailbox {
        input: String,
        #[source]
        reason: lettre::address::AddressError,
    },
    #[error("`{input}` is not an e-mail address ({reason})")]
    NotAnAddress {
        input: String,
        #[source]
        reason: lettre::address::AddressError,
    },
}

/// Reads a mailbox such as `Support <support@example.org>` (a bare address is one too).
pub fn parse_mailbox(s: &str) -> Result<Mailbox, AddressError> {
    s.parse::<Mailbox>()
        .map_err(|reason| AddressError::NotAMailbox {
            input: s.to_owned(),
            reason,
        })
}

/// Reads a bare address, ignoring the whitespace around it.
pub fn parse_address(s: &str) -> Result<Address, AddressError> {
    s.trim()
        .parse::<Address>()
        .map_err(|reason| AddressError::NotAnAddress {
            input: s.to_owned(),
            reason,
        })
}

#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// RFC 5321 limits a path to 254 characters.
    pub const MAX_CHARS: usize = 254;

    /// `Ok(None)` for an empty (optional) field.
    pub fn parse(input: &str) -> Result<Option<Self>, FieldProblem> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(FieldProblem::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        // Display names, comments and quoted local parts are legal RFC 5322 but have no place
        // in a contact form, and each is a way to smuggle text into a header.
        if trimmed.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, '<' | '>' | '"' | '(' | ')' | ',' | ';')
        }) {
            return Err(FieldProblem::InvalidEmail);
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            trimmed,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .map_err(|_| FieldProblem::InvalidEmail)?;
        if !parsed.domain().contains('.') {
            return Err(FieldProblem::InvalidEmail);
        }
        Ok(Some(Self(parsed.email().to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for the blind index: case does not distinguish addresses in practice.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// An address is personal data: it is never printed by `Debug`.
impl std::fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailAddress(<sealed>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_addresses_parse() {
        for ok in ["anna@example.org", "a.b+tag@sub.example.co.uk", " x@y.kz "] {
            assert!(
                matches!(EmailAddress::parse(ok), Ok(Some(_))),
                "{ok} should parse"
            );
        }
    }

    #[test]
    fn empty_is_absent() {
        assert_eq!(EmailAddress::parse(""), Ok(None));
    }

    #[test]
    fn malformed_and_header_tricks_are_refused() {
        for bad in [
            "no-at-sign",
            "a@b",
            "a@@example.org",
            "Eve <eve@example.org>",
            "eve@example.org\r\nBcc: x@example.org",
            "eve@example.org, bob@example.org",
            "\"quoted local\"@example.org",
            "eve@[127.0.0.1]",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(FieldProblem::InvalidEmail),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn configured_addresses_and_mailboxes_are_read_or_explained() {
        assert_eq!(
            parse_mailbox("Support <support@example.org>")
                .expect("a mailbox")
                .email
                .to_string(),
            "support@example.org"
        );
        assert_eq!(
            parse_address(" staff@example.org ")
                .expect("an address")
                .to_string(),
            "staff@example.org"
        );
        let bad = parse_mailbox("Support").expect_err("no address");
        assert!(
            bad.to_string().starts_with(
                "`Support` is not a mailbox such as \"Support <support@example.org>\" ("
            ),
            "{bad}"
        );
        let bad = parse_address("staff").expect_err("no domain");
        assert!(
            bad.to_string()
                .starts_with("`staff` is not an e-mail address ("),
            "{bad}"
        );
    }

    #[test]
    fn debug_never_shows_the_address() {
        let e = EmailAddress::parse("secret@example.org")
            .expect("ok")
            .expect("some");
        assert!(!format!("{e:?}").contains("secret"));
    }

    /// Characters that would break a header or an SMTP command, or smuggle text into one.
    const HEADER_BREAKING: &[char] = &[
        '\r', '\n', '\t', '\0', '\u{7f}', '\u{85}', ' ', '\u{a0}', '\u{2028}', ',', ';', '<', '>',
        '"', '(', ')',
    ];

    proptest! {
        /// Every case asserts: a plain address is taken exactly as typed, and the same address
        /// with one header-breaking character inside it is refused.
        #[test]
        fn an_address_with_a_header_breaking_character_is_refused_and_without_one_taken(
            local in "[a-z0-9]{1,10}([.+_-][a-z0-9]{1,10}){0,2}",
            domain in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,2}\\.[a-z]{2,6}",
            hostile in proptest::option::of((any::<prop::sample::Index>(), prop::sample::select(HEADER_BREAKING))),
        ) {
            let address = format!("{local}@{domain}");
            match hostile {
                None => {
                    let parsed = EmailAddress::parse(&address);
                    prop_assert!(
                        matches!(&parsed, Ok(Some(e)) if e.as_str() == address),
                        "{address:?} should be taken as typed, got {parsed:?}"
                    );
                }
                Some((at, c)) => {
                    // Inside the address, where trimming cannot take it away.
                    let at = 1 + at.index(address.len() - 1);
                    let mut input = address.clone();
                    input.insert(at, c);
                    prop_assert_eq!(
                        EmailAddress::parse(&input),
                        Err(FieldProblem::InvalidEmail),
                        "{:?} should be refused", input
                    );
                }
            }
        }
    }
}
