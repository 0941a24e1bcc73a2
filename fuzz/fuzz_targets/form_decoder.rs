//! The visitor form's decoder: a request (the first line of the input is its Content-Type,
//! the rest its body, URL-encoded or multipart) read into fields, turned into a draft and
//! parsed into a submission. Never panics; what parses holds only what the domain types allow.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use poem::http::{HeaderValue, Method, header};
use sealpost::domain::Locale;
use sealpost::web::form_data::FormData;

#[path = "common.rs"]
mod common;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
});

fn one_line(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}'))
}

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(content_type) = HeaderValue::from_bytes(content_type) else {
        return;
    };
    let req = poem::Request::builder()
        .method(Method::POST)
        .header(header::CONTENT_TYPE, content_type)
        .finish();
    let body = poem::Body::from(body.to_vec());
    RUNTIME.block_on(async {
        let Ok(posted) = FormData::read(&req, body).await else {
            return;
        };
        let _ = (
            posted.all("consent"),
            posted.file("order"),
            posted.has("lang"),
        );
        match posted.draft().parse(Locale::En, "2026-11-24") {
            Ok(new) => {
                common::assert_safe_html(new.body.html());
                let _ = new.body.to_text();
                if let Some(name) = &new.name {
                    assert!(one_line(name.as_str()) && name.as_str().chars().count() <= 100);
                }
                if let Some(subject) = &new.subject {
                    assert!(one_line(subject.as_str()) && subject.as_str().chars().count() <= 200);
                }
            }
            Err(problems) => assert!(!problems.is_empty()),
        }
    });
});
