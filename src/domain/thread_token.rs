//! The secret in a visitor's private thread link (`/t/{token}`). Only its SHA-256 is stored, so a
//! copy of the database does not open anybody's conversation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43;

#[derive(Clone, PartialEq, Eq)]
pub struct ThreadToken(String);

impl ThreadToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn parse(input: &str) -> Option<Self> {
        (input.len() == TOKEN_CHARS
            && URL_SAFE_NO_PAD
                .decode(input)
                .is_ok_and(|b| b.len() == TOKEN_BYTES))
        .then(|| Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the database keeps.
    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }
}

/// The token is a credential: never printed by `Debug`.
impl std::fmt::Debug for ThreadToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThreadToken(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = ThreadToken::generate();
        let b = ThreadToken::generate();
        assert_ne!(a, b);
        assert_eq!(ThreadToken::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.hash().len(), 32);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert!(ThreadToken::parse("short").is_none());
        assert!(ThreadToken::parse(&"*".repeat(43)).is_none());
    }
}
