//! The inbound mail path without the database: parse a raw mail, classify it (bounce,
//! automatic), read its addresses and new text, hide the parties' addresses behind the alias,
//! clean it into a body and rebuild the mail that goes on. Never panics; no party's address
//! survives; the body is only allowlisted HTML; the rebuilt mail builds and parses.
#![no_main]

use lettre::message::Mailbox;
use libfuzzer_sys::fuzz_target;
use sealpost::domain::{Locale, MessageBody, Reference};
use sealpost::i18n::Tr;
use sealpost::mail::Composed;
use sealpost::mail::inbound::{Parsed, addresses_in, hide_addresses};
use sealpost::mail::templates::StaffAnswerMail;

#[path = "common.rs"]
mod common;

const RELAY: &str = "relay.example.org";
const ALIAS: &str =
    "reply+0123456789abcdef0123456789abcdef760123456789abcdef0123@relay.example.org";

/// In this target the parties are everybody at example.org.
fn is_party(word: &str) -> bool {
    word.rsplit_once('@')
        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case("example.org"))
}

fuzz_target!(|data: &[u8]| {
    let Some(parsed) = Parsed::parse(data) else {
        return;
    };
    let _ = parsed.automatic(Some("someone@example.org"));
    let _ = parsed.automatic(None);
    let _ = (
        parsed.referenced_ids(),
        parsed.header_recipients(),
        parsed.from_address(),
    );
    let _ = parsed.all_text();
    let text = parsed.new_text();
    let hidden = hide_addresses(&text, ALIAS, RELAY, is_party);
    for word in addresses_in(&hidden) {
        assert!(!is_party(word), "{word:?} left in {hidden:?}");
    }
    let Ok(body) = MessageBody::from_plain_text(&hidden) else {
        return;
    };
    common::assert_safe_html(body.html());
    let rendered = StaffAnswerMail::new(
        Tr::new(Locale::En),
        "Shop",
        &Reference::generate(),
        None,
        &body,
    )
    .render()
    .expect("the answer mail renders");
    let composed = Composed {
        message_id: "<fuzz@relay.example.org>".into(),
        from: "Shop <support@shop.example>".parse().expect("mailbox"),
        reply_to: Some(ALIAS.parse::<Mailbox>().expect("alias")),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        in_reply_to: None,
        references: None,
        auto_submitted: None,
    };
    let to: Mailbox = "visitor@visitor.example".parse().expect("mailbox");
    let mail = composed.build(&[to]).expect("the rebuilt mail builds");
    let raw = mail.formatted();
    assert!(
        Parsed::parse(&raw).is_some(),
        "the rebuilt mail does not parse"
    );
});
