//! The per-IP submission limit, and the client IP it is keyed on.

use serde_json::json;

use crate::helpers::{Backend, TestAppBuilder, valid_form, valid_message};

fn limited(backend: Backend) -> TestAppBuilder {
    TestAppBuilder::new(backend)
        .set("SEALPOST__RATE_LIMIT__ENABLED", "true")
        .set("SEALPOST__RATE_LIMIT__PER_MINUTE", "1")
        .set("SEALPOST__RATE_LIMIT__BURST", "2")
}

db_test!(past_the_limit_submissions_get_429_with_retry_after_and_are_not_stored);
async fn past_the_limit_submissions_get_429_with_retry_after_and_are_not_stored(backend: Backend) {
    let app = limited(backend).spawn().await;

    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    let api = app.post_message(&valid_message()).await;
    let page = app.post_form(&valid_form()).await;

    assert_eq!(api.status(), 429);
    let retry: u64 = api.headers()["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let p: serde_json::Value = api.json().await.expect("json");
    assert_eq!(p["code"], "rate_limited");
    assert_eq!(page.status(), 429);
    assert!(page.headers().contains_key("retry-after"));
    assert!(
        page.text()
            .await
            .expect("body")
            .contains("value=\"Dmitri Karamazov\"")
    );
    assert_eq!(app.count_threads().await, 2);
}

db_test!(forwarded_for_is_ignored_from_an_untrusted_peer);
async fn forwarded_for_is_ignored_from_an_untrusted_peer(backend: Backend) {
    let app = limited(backend).spawn().await;
    let send = |ip: &'static str| {
        app.client
            .post(app.url("/api/v1/messages"))
            .header("x-forwarded-for", ip)
            .json(&json!({"body": "hi", "consent": true}))
            .send()
    };

    assert_eq!(send("198.51.100.1").await.expect("r").status(), 201);
    assert_eq!(send("198.51.100.2").await.expect("r").status(), 201);
    assert_eq!(
        send("198.51.100.3").await.expect("r").status(),
        429,
        "a made-up X-Forwarded-For must not buy a fresh limit"
    );
}

db_test!(forwarded_for_is_believed_from_a_trusted_proxy);
async fn forwarded_for_is_believed_from_a_trusted_proxy(backend: Backend) {
    let app = limited(backend)
        .set("SEALPOST__SERVER__TRUSTED_PROXIES", "127.0.0.1/32,::1/128")
        .spawn()
        .await;
    let send = |ip: &'static str| {
        app.client
            .post(app.url("/api/v1/messages"))
            .header("x-forwarded-for", ip)
            .json(&json!({"body": "hi", "consent": true}))
            .send()
    };

    for _ in 0..2 {
        assert_eq!(send("198.51.100.1").await.expect("r").status(), 201);
    }
    assert_eq!(send("198.51.100.1").await.expect("r").status(), 429);
    assert_eq!(
        send("198.51.100.2").await.expect("r").status(),
        201,
        "another client behind the proxy has its own limit"
    );
}
