//! Relay aliases: `reply+TOKEN@relay-domain`, where the token names a thread and the side that
//! may write to it, signed with a keyed MAC so that a forged or altered token is refused.
//! Hex keeps the alias intact through MTAs that change the case of local parts.

use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::seal::Sealer;

const MAC_BYTES: usize = 10;
const PREFIX: &str = "reply+";

/// Who writes to an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Given to staff in notifications: mail to it comes from staff and goes on to the visitor.
    FromStaff,
    /// Given to the visitor: mail to it comes from the visitor and goes on to staff.
    FromVisitor,
}

impl Direction {
    fn byte(self) -> u8 {
        match self {
            Direction::FromStaff => b's',
            Direction::FromVisitor => b'v',
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            b's' => Some(Direction::FromStaff),
            b'v' => Some(Direction::FromVisitor),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayToken {
    pub thread_id: Uuid,
    pub direction: Direction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a relay alias of this site")]
    NotAnAlias,
    #[error("relay token is malformed or forged")]
    Forged,
}

fn mac(sealer: &Sealer, payload: &[u8]) -> Vec<u8> {
    let mut digest = sealer.keyed_digest("relay-token/v1", payload);
    digest.truncate(MAC_BYTES);
    digest
}

fn payload(thread_id: Uuid, direction: Direction) -> Vec<u8> {
    let mut p = thread_id.as_bytes().to_vec();
    p.push(direction.byte());
    p
}

impl RelayToken {
    pub fn new(thread_id: Uuid, direction: Direction) -> Self {
        Self {
            thread_id,
            direction,
        }
    }

    pub fn encode(&self, sealer: &Sealer) -> String {
        let mut bytes = payload(self.thread_id, self.direction);
        bytes.extend(mac(sealer, &bytes));
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn alias(&self, sealer: &Sealer, relay_domain: &str) -> String {
        format!("{PREFIX}{}@{relay_domain}", self.encode(sealer))
    }

    pub fn decode(token: &str, sealer: &Sealer) -> Result<Self, TokenError> {
        let token = token.to_ascii_lowercase();
        // Checked before slicing by bytes: a multi-byte character would split mid-way.
        if token.len() != 2 * (17 + MAC_BYTES) || !token.is_ascii() {
            return Err(TokenError::Forged);
        }
        let bytes: Vec<u8> = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| TokenError::Forged)?;
        let (body, tag) = bytes.split_at(17);
        if !bool::from(mac(sealer, body).ct_eq(tag)) {
            return Err(TokenError::Forged);
        }
        let thread_id = Uuid::from_slice(&body[..16]).map_err(|_| TokenError::Forged)?;
        let direction = Direction::from_byte(body[16]).ok_or(TokenError::Forged)?;
        Ok(Self::new(thread_id, direction))
    }

    /// Reads an envelope or header address: `reply+TOKEN@relay-domain`, in any case.
    pub fn from_address(
        address: &str,
        sealer: &Sealer,
        relay_domain: &str,
    ) -> Result<Self, TokenError> {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = address.rsplit_once('@').ok_or(TokenError::NotAnAlias)?;
        if !domain.eq_ignore_ascii_case(relay_domain) {
            return Err(TokenError::NotAnAlias);
        }
        let lower = local.to_ascii_lowercase();
        let token = lower.strip_prefix(PREFIX).ok_or(TokenError::NotAnAlias)?;
        Self::decode(token, sealer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(index: u8) -> Sealer {
        Sealer::new("k", &[1; 32], &[index; 32]).expect("keys")
    }

    #[test]
    fn an_alias_round_trips_in_any_case() {
        let s = sealer(7);
        let t = RelayToken::new(Uuid::now_v7(), Direction::FromStaff);
        let alias = t.alias(&s, "relay.example.org");
        assert!(alias.len() <= 64 + 1 + "relay.example.org".len());
        assert_eq!(
            RelayToken::from_address(&alias, &s, "relay.example.org"),
            Ok(t)
        );
        assert_eq!(
            RelayToken::from_address(&alias.to_uppercase(), &s, "RELAY.example.org"),
            Ok(t)
        );
    }

    #[test]
    fn a_changed_token_or_another_key_is_refused() {
        let s = sealer(7);
        let t = RelayToken::new(Uuid::now_v7(), Direction::FromVisitor);
        let encoded = t.encode(&s);
        // Flip the direction byte: the MAC no longer matches.
        let mut forged = encoded.clone();
        forged.replace_range(32..34, "73");
        assert_eq!(RelayToken::decode(&forged, &s), Err(TokenError::Forged));
        assert_eq!(
            RelayToken::decode(&encoded, &sealer(8)),
            Err(TokenError::Forged)
        );
        assert_eq!(RelayToken::decode("zz", &s), Err(TokenError::Forged));
    }

    /// Found by the `reply_token` fuzz target (2026-11-24): a token of the right length in
    /// bytes that starts with a three-byte character panicked while being cut into hex pairs.
    #[test]
    fn a_token_with_multibyte_characters_is_refused_not_a_panic() {
        let s = sealer(7);
        let crash = format!("\u{1213}{}\u{19}{}", ">".repeat(18), ">".repeat(32));
        assert_eq!(crash.len(), 54);
        assert_eq!(RelayToken::decode(&crash, &s), Err(TokenError::Forged));
        assert_eq!(
            RelayToken::from_address(
                &format!("reply+{crash}@relay.example.org"),
                &s,
                "relay.example.org"
            ),
            Err(TokenError::Forged)
        );
        let euro = format!("€{}", "a".repeat(51));
        assert_eq!(RelayToken::decode(&euro, &s), Err(TokenError::Forged));
    }

    #[test]
    fn other_domains_and_local_parts_are_not_aliases() {
        let s = sealer(7);
        let t = RelayToken::new(Uuid::now_v7(), Direction::FromVisitor).encode(&s);
        assert_eq!(
            RelayToken::from_address(&format!("reply+{t}@other.example"), &s, "relay.example.org"),
            Err(TokenError::NotAnAlias)
        );
        assert_eq!(
            RelayToken::from_address("postmaster@relay.example.org", &s, "relay.example.org"),
            Err(TokenError::NotAnAlias)
        );
    }
}
