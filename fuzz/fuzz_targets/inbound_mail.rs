//! The inbound mail path without the database: parse a raw mail, classify it (bounce,
//! automatic), read its addresses and new text (the quote and signature cut), take the staff
//! side out as the relay does for a staff answer, clean it into a body and rebuild the mail
//! that goes to the visitor. Never panics; the body is only allowlisted HTML; the rebuilt mail
//! builds and parses; and no staff address survives.
//!
//! The last is judged by an oracle that shares nothing with the code it judges: a plain,
//! case-insensitive substring search for every configured staff address and every address
//! the mail's own `From`, `Reply-To` and `Sender` name, over every decoded part and header of
//! the rebuilt mail (the scrub finds addresses around each `@`; the oracle does not parse
//! addresses at all).
#![no_main]

use lettre::message::Mailbox;
use libfuzzer_sys::fuzz_target;
use sealpost::domain::{Locale, MessageBody, Reference};
use sealpost::i18n::Tr;
use sealpost::mail::Composed;
use sealpost::mail::inbound::Parsed;
use sealpost::mail::reply::{Author, name_parts};
use sealpost::mail::scrub::Scrub;
use sealpost::mailers::staff_answer::StaffAnswerMail;

#[path = "common.rs"]
mod common;

const RELAY: &str = "relay.example.org";
const ALIAS: &str =
    "reply+0123456789abcdef0123456789abcdef760123456789abcdef0123@relay.example.org";
/// As `mail.staff_addresses` would list them.
const STAFF: &[&str] = &["Staff@Shop.example", "boris@shop.example"];

/// Everything the rebuilt mail says, decoded, in lower case.
fn everything(raw: &[u8]) -> String {
    let Some(m) = mail_parser::MessageParser::default().parse(raw) else {
        return String::from_utf8_lossy(raw).to_lowercase();
    };
    let mut all = String::from_utf8_lossy(raw).into_owned();
    for i in 0..m.text_body_count() {
        all.push_str(&m.body_text(i).unwrap_or_default());
    }
    for i in 0..m.html_body_count() {
        all.push_str(&m.body_html(i).unwrap_or_default());
    }
    for h in m.headers() {
        all.push_str(&format!("{:?}", h.value()));
    }
    all.to_lowercase()
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
    let name = parsed.from_display_name();
    let author = Author {
        display_name: name.as_deref(),
        saved_signature: Some("Shop support team\nMon–Fri 9–18"),
    };
    let Ok(text) = parsed.new_text(&author) else {
        return;
    };
    let seen = parsed.sender_addresses();
    let mut addresses: Vec<String> = STAFF.iter().map(|s| s.to_string()).collect();
    addresses.extend(seen.iter().cloned());
    let scrub = Scrub {
        alias: ALIAS,
        relay_domain: RELAY,
        addresses: addresses.clone(),
        domains: vec!["shop.example".into()],
        full_names: name.clone().into_iter().collect(),
        name_words: name.as_deref().map(name_parts).unwrap_or_default(),
        name_replacement: "Shop Support",
        closing_phones: true,
    };
    let hidden = scrub.apply(&text, |_| false);
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
        from: "Shop <support@support.example>".parse().expect("mailbox"),
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
    let said = everything(&raw);
    for address in &addresses {
        let needle = address.trim().to_lowercase();
        // The rebuilt mail's own addresses (its From, To and Reply-To) are not the staff
        // side's, whatever the fuzzed mail claims.
        let own = [ALIAS, "support@support.example", "visitor@visitor.example"];
        if needle.contains('@') && !own.iter().any(|o| o.contains(&needle)) {
            assert!(
                !said.contains(&needle),
                "{address:?} reached the visitor in {said:?}"
            );
        }
    }
});
