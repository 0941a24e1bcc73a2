//! Short public references such as `SP-7KQ2-M9XD`: random (so one says nothing about another),
//! from an alphabet without the look-alikes 0/O and 1/I.

use rand::Rng;

const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);

impl Reference {
    /// A fresh reference: 40 random bits from the operating system's generator.
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        let mut pick = || ALPHABET[rng.gen_range(0..ALPHABET.len())] as char;
        let a: String = (0..4).map(|_| pick()).collect();
        let b: String = (0..4).map(|_| pick()).collect();
        Self(format!("SP-{a}-{b}"))
    }

    /// Accepts a reference as people type it: any case, with or without the dashes.
    pub fn parse(input: &str) -> Option<Self> {
        let compact: String = input
            .trim()
            .to_ascii_uppercase()
            .chars()
            .filter(|c| *c != '-')
            .collect();
        let body = compact.strip_prefix("SP")?;
        if body.len() != 8 || !body.bytes().all(|b| ALPHABET.contains(&b)) {
            return None;
        }
        Some(Self(format!("SP-{}-{}", &body[..4], &body[4..])))
    }

    /// The first reference written in a text as Sealpost writes it (`SP-7KQ2-M9XD`, any case),
    /// such as the one in a mail's subject.
    pub fn find_in(text: &str) -> Option<Self> {
        let upper = text.to_ascii_uppercase();
        upper.match_indices("SP-").find_map(|(i, _)| {
            let candidate = upper.get(i..i + 12)?;
            let glued = upper[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                || upper[i + 12..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric());
            (candidate.as_bytes()[7] == b'-' && !glued)
                .then(|| Self::parse(candidate))
                .flatten()
        })
    }

    /// A reference derived from bytes (a keyed hash), for decoy confirmations.
    pub fn from_digest(digest: &[u8]) -> Self {
        let chars: Vec<char> = digest
            .iter()
            .take(8)
            .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
            .collect();
        let s: String = chars.iter().collect();
        Self(format!("SP-{}-{}", &s[..4], &s[4..]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_found_in_a_subject() {
        assert_eq!(
            Reference::find_in("Re: Where is my order? [sp-7kq2-m9xd]").map(|r| r.0),
            Some("SP-7KQ2-M9XD".to_owned())
        );
        assert_eq!(Reference::find_in("Re: WASP-7KQ2-M9XD"), None);
        assert_eq!(Reference::find_in("SP-7KQ2-M9XD1"), None);
        assert_eq!(Reference::find_in("Re: nothing"), None);
    }

    #[test]
    fn generated_references_have_the_documented_shape() {
        for _ in 0..1000 {
            let r = Reference::generate();
            let s = r.as_str();
            assert_eq!(s.len(), 12);
            assert!(s.starts_with("SP-"));
            assert_eq!(&s[7..8], "-");
            assert!(!s[3..].contains(['0', 'O', '1', 'I']), "{s}");
            assert_eq!(Reference::parse(s), Some(r.clone()));
        }
    }

    #[test]
    fn generated_references_do_not_repeat() {
        let set: std::collections::HashSet<String> =
            (0..10_000).map(|_| Reference::generate().0).collect();
        assert_eq!(set.len(), 10_000);
    }

    #[test]
    fn parse_is_forgiving_about_case_and_dashes_but_not_letters() {
        assert_eq!(
            Reference::parse("sp7kq2m9xd").map(|r| r.0),
            Some("SP-7KQ2-M9XD".into())
        );
        assert_eq!(Reference::parse("SP-7KQ2-M9X0"), None);
        assert_eq!(Reference::parse("SP-7KQ2-M9X"), None);
    }
}
