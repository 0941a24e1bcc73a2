//! The body cleaner (ammonia against an allowlist, or plain text escaped): never panics, and
//! whatever goes in, only the allowlisted HTML comes out; the text rendition never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost::domain::MessageBody;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(body) = MessageBody::parse(input) {
        common::assert_safe_html(body.html());
        let _ = body.to_text();
    }
    if let Ok(body) = MessageBody::from_plain_text(input) {
        common::assert_safe_html(body.html());
        let _ = body.to_text();
    }
});
