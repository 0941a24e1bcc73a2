//! Mail header injection: whatever a visitor types into a field that reaches a header (their
//! name in the notification's From, the subject in every Subject), no mail gains or splits a
//! header. Line breaks are refused at the edge; what passes (encoded words, Unicode line
//! separators, overlong text) is carried as data, encoded by the mail builder.

use serde_json::json;

use crate::helpers::{Backend, spawn_app};

/// Every header name of a raw mail (unfolded), lower-cased.
fn header_names(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n")
        .filter(|line| !line.starts_with([' ', '\t']))
        .filter_map(|line| {
            line.split_once(':')
                .map(|(name, _)| name.trim().to_lowercase())
        })
        .collect()
}

db_test!(line_breaks_in_header_fields_are_refused_at_the_edge);
async fn line_breaks_in_header_fields_are_refused_at_the_edge(backend: Backend) {
    let app = spawn_app(backend).await;
    for (field, value) in [
        ("name", "Eve\r\nBcc: victim@example.org"),
        ("name", "Eve\nBcc: victim@example.org"),
        ("subject", "Hello\r\nBcc: victim@example.org"),
        ("subject", "Hello\rX-Injected: 1"),
        ("subject", "Hello\u{0}there"),
        ("name", "Eve\u{2028}Bcc: victim@example.org"),
        ("subject", "Subject\u{2029}X-Injected: yes"),
        ("subject", "Subject\u{85}Bcc: victim@example.org"),
    ] {
        let mut body = json!({"body": "hi", "consent": true, "email": "eve@example.org"});
        body[field] = value.into();

        let resp = app.post_message(&body).await;

        assert_eq!(resp.status(), 422, "{field}: {value:?}");
    }
    assert_eq!(app.count_threads().await, 0);
}

db_test!(what_passes_stays_inside_its_header_in_every_mail);
async fn what_passes_stays_inside_its_header_in_every_mail(backend: Backend) {
    let app = spawn_app(backend).await;
    let hostile = [
        (
            "=?utf-8?q?Eve=0D=0ABcc:_victim@example.org?=",
            "=?utf-8?b?SGVsbG8NCkJjYzogdmljdGltQGV4YW1wbGUub3Jn?=",
        ),
        (
            "Eve: Bcc victim@example.org; X-Injected: 1",
            "Re: Bcc: victim@example.org, X-Injected: yes",
        ),
        (
            "Ева «Ночная» Smith, <eve@evil.example>",
            &"A very long subject without any break at all ".repeat(4),
        ),
    ];
    for (name, subject) in hostile {
        let resp = app
            .post_message(&json!({
                "name": name,
                "subject": subject,
                "email": "eve@example.org",
                "body": "Header test",
                "consent": true
            }))
            .await;
        assert_eq!(resp.status(), 201, "{name:?} / {subject:?}");
    }

    // A notification to staff and an acknowledgement to the visitor for each.
    let mails = app.wait_for_emails(6).await;
    for raw in &mails {
        let names = header_names(raw);
        for forbidden in ["bcc", "x-injected"] {
            assert!(
                !names.contains(&forbidden.to_owned()),
                "{forbidden} in {names:?}"
            );
        }
        for single in ["from", "to", "subject", "message-id"] {
            assert_eq!(
                names.iter().filter(|n| *n == single).count(),
                1,
                "exactly one {single}: {names:?}"
            );
        }
        let to = crate::helpers::header(raw, "To").unwrap_or_default();
        assert!(!to.contains("victim"), "{to}");
        // The From address is ours; a visitor's name cannot smuggle in another mailbox.
        let parsed = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("mail");
        let from: Vec<String> = parsed
            .from()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.address().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(from.len(), 1, "{from:?}");
        assert!(
            from[0].ends_with("sealpost.localhost"),
            "the sender is one of ours: {from:?}"
        );
        // Lines stay within SMTP's limit.
        let text = String::from_utf8_lossy(raw);
        assert!(text.split("\r\n").all(|line| line.len() <= 998));
    }
}
