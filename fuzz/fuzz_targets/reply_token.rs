//! Relay aliases (`reply+TOKEN@relay-domain`) and private thread links: parsing never panics,
//! a token of ours round-trips in any case, and nothing but a token of ours verifies.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealpost::domain::ThreadToken;
use sealpost::mail::relay_token::{Direction, RelayToken};
use sealpost::seal::Sealer;

const DOMAIN: &str = "relay.example.org";

static SEALER: LazyLock<Sealer> =
    LazyLock::new(|| Sealer::new("k1", &[7; 32], &[9; 32]).expect("test keys"));

fuzz_target!(|data: &[u8]| {
    let sealer = &*SEALER;
    if let Some((id, rest)) = data.split_first_chunk::<16>() {
        let direction = if rest.first().is_some_and(|b| b % 2 == 0) {
            Direction::FromStaff
        } else {
            Direction::FromVisitor
        };
        let token = RelayToken::new(uuid::Uuid::from_bytes(*id), direction);
        let alias = token.alias(sealer, DOMAIN);
        assert_eq!(RelayToken::from_address(&alias, sealer, DOMAIN), Ok(token));
        let shouted = format!("<{}>", alias.to_uppercase());
        assert_eq!(
            RelayToken::from_address(&shouted, sealer, DOMAIN),
            Ok(token)
        );
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = RelayToken::from_address(text, sealer, DOMAIN) {
        // Only what we signed verifies: the address holds our own encoding of the token.
        let ours = token.encode(sealer);
        assert!(
            text.to_ascii_lowercase().contains(&ours),
            "{text:?} verified as {token:?}"
        );
    }
    if let Ok(token) = RelayToken::decode(text, sealer) {
        assert_eq!(token.encode(sealer), text.to_ascii_lowercase());
    }
    if let Some(token) = ThreadToken::parse(text) {
        assert_eq!(token.as_str(), text);
        assert_eq!(token.hash().len(), 32);
    }
});
