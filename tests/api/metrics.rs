//! `GET /metrics`: scraped with its token, in the Prometheus text format, with the names the
//! README documents; labels hold routes, never private links.

use crate::helpers::{Backend, TestAppBuilder, spawn_app, valid_message};

const TOKEN: &str = "scraper-token-for-tests-only";

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

db_test!(a_scrape_shows_requests_the_outbox_deliveries_and_sign_in_failures);
async fn a_scrape_shows_requests_the_outbox_deliveries_and_sign_in_failures(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__METRICS__TOKEN", TOKEN)
        .spawn()
        .await;
    let resp = app.post_message(&valid_message()).await;
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.unwrap();
    let link = body["thread_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://127.0.0.1:8080")
        .to_owned();
    assert_eq!(app.get(&link).await.status(), 200);
    app.wait_for_outbox_idle().await;
    app.add_staff("mila", "agent").await;
    app.browser()
        .sign_in("mila", "not the password at all")
        .await;

    let anonymous = app.get("/metrics").await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    let scraped = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();

    assert_eq!(anonymous.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    assert_eq!(
        value(
            &text,
            r#"sealpost_http_requests_total{method="POST",route="/api/v1/messages",status="201"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"sealpost_http_requests_total{method="GET",route="/t/:token",status="200"}"#
        ),
        Some(1.0)
    );
    let token = link.trim_start_matches("/t/");
    assert!(!text.contains(token), "a private link became a label");
    assert!(text.contains("sealpost_http_request_duration_seconds_bucket{"));
    assert_eq!(
        value(&text, r#"sealpost_outbox_deliveries_total{outcome="sent"}"#),
        Some(2.0)
    );
    assert_eq!(
        value(&text, r#"sealpost_outbox_mails{state="sent"}"#),
        Some(2.0)
    );
    assert_eq!(
        value(&text, r#"sealpost_outbox_mails{state="pending"}"#),
        Some(0.0)
    );
    assert_eq!(
        value(&text, "sealpost_outbox_oldest_pending_age_seconds"),
        Some(0.0)
    );
    assert_eq!(value(&text, "sealpost_signin_failures_total"), Some(1.0));
    // What the paths wait on: each mail built once, its batch timed.
    assert_eq!(value(&text, "sealpost_outbox_build_count"), Some(2.0));
    assert!(
        value(
            &text,
            r#"sealpost_outbox_batch_phase_count{phase="deliver"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // The write-lock figures are the process's (the test binary runs many servers).
    for writer in ["submissions", "outbox_claim", "outbox_record"] {
        for measure in ["wait", "hold"] {
            let series = format!(r#"sealpost_db_write_{measure}_count{{writer="{writer}"}}"#);
            assert!(
                value(&text, &series).is_some_and(|n| n >= 1.0),
                "{series} missing: {text}"
            );
        }
    }
}

db_test!(metrics_are_off_without_a_token);
async fn metrics_are_off_without_a_token(backend: Backend) {
    let app = spawn_app(backend).await;

    assert_eq!(app.get("/metrics").await.status(), 404);
}
