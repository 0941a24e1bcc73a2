//! `POST /api/v1/messages`: what an integrator sees.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sealpost::domain::EmailAddress;
use sealpost::entities::{contacts, messages, threads};
use serde_json::{Value, json};

use crate::helpers::{Backend, spawn_app, valid_message};

async fn problem(resp: reqwest::Response) -> Value {
    assert_eq!(
        resp.headers()["content-type"],
        "application/problem+json",
        "errors are problem documents"
    );
    resp.json().await.expect("problem json")
}

db_test!(a_valid_submission_is_stored_and_answered_with_reference_and_private_link);
async fn a_valid_submission_is_stored_and_answered_with_reference_and_private_link(
    backend: Backend,
) {
    let app = spawn_app(backend).await;

    let resp = app.post_message(&valid_message()).await;

    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    let reference = body["reference"].as_str().expect("reference");
    assert!(
        reference.starts_with("SP-") && reference.len() == 12,
        "{reference}"
    );
    let thread_url = body["thread_url"].as_str().expect("thread_url");
    assert!(
        thread_url.starts_with("http://127.0.0.1:8080/t/"),
        "{thread_url}"
    );
    let thread = threads::Entity::find()
        .filter(threads::Column::Reference.eq(reference))
        .one(app.db())
        .await
        .expect("query")
        .expect("thread stored");
    assert_eq!(thread.status, "new");
    assert_eq!(thread.subject.as_deref(), Some("Question about delivery"));
    assert_eq!(thread.consent_policy_version, "2026-11-24");
    assert_eq!(thread.locale, "en");
    let stored = messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread.id))
        .all(app.db())
        .await
        .expect("query");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id.to_string(), body["id"].as_str().expect("id"));
    assert_eq!(
        stored[0].body_html,
        "<p>Hello,<br>when will my order arrive?</p>"
    );
    assert_eq!(stored[0].author, "visitor");
}

db_test!(contact_data_is_sealed_and_never_readable_in_the_database);
async fn contact_data_is_sealed_and_never_readable_in_the_database(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app.post_message(&valid_message()).await;
    assert_eq!(resp.status(), 201);

    let raw = app.raw_database_bytes().await;
    for secret in ["anna.k@example.org", "anna.k", "Anna Karenina", "Karenina"] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret:?} found in the stored bytes"
        );
    }
    let contact = contacts::Entity::find()
        .one(app.db())
        .await
        .expect("query")
        .expect("contact stored");
    assert!(contact.email_sealed.as_ref().is_some_and(|c| c.len() > 40));
    assert!(contact.name_sealed.is_some());
    assert!(contact.ip_sealed.is_some(), "the raw IP is kept sealed");
    let email = EmailAddress::parse("ANNA.K@example.org")
        .expect("ok")
        .expect("some");
    assert_eq!(
        contact.email_index,
        Some(app.state.sealer.email_index(&email)),
        "the blind index finds the address, whatever its case"
    );
}

db_test!(a_message_without_contact_details_is_accepted);
async fn a_message_without_contact_details_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app
        .post_message(&json!({"body": "Anonymous praise.", "consent": true, "locale": "kk-KZ"}))
        .await;

    assert_eq!(resp.status(), 201);
    let contact = contacts::Entity::find()
        .one(app.db())
        .await
        .expect("q")
        .expect("ip contact");
    assert!(contact.email_sealed.is_none() && contact.name_sealed.is_none());
    let thread = threads::Entity::find()
        .one(app.db())
        .await
        .expect("q")
        .expect("thread");
    assert_eq!(thread.locale, "kk");
}

db_test!(every_refused_field_is_reported_at_once_and_nothing_is_stored);
async fn every_refused_field_is_reported_at_once_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app
        .post_message(&json!({
            "name": "Eve\r\nBcc: victim@example.org",
            "email": "not-an-address",
            "subject": "s".repeat(201),
            "body": "   ",
            "locale": "xx",
            "consent": false
        }))
        .await;

    assert_eq!(resp.status(), 422);
    let p = problem(resp).await;
    assert_eq!(p["code"], "validation_failed");
    assert_eq!(p["status"], 422);
    assert!(p["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    let mut fields: Vec<(String, String)> = p["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("body".into(), "required".into()),
            ("consent".into(), "required".into()),
            ("email".into(), "invalid_email".into()),
            ("locale".into(), "unsupported".into()),
            ("name".into(), "control_characters".into()),
            ("subject".into(), "too_long".into()),
        ]
    );
    assert_eq!(app.count_threads().await, 0);
    assert_eq!(app.count_contacts().await, 0);
}

db_test!(a_body_over_twenty_thousand_characters_is_refused);
async fn a_body_over_twenty_thousand_characters_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app
        .post_message(&json!({"body": "ж".repeat(20_001), "consent": true}))
        .await;

    assert_eq!(resp.status(), 422);
    let p = problem(resp).await;
    assert_eq!(p["errors"][0]["field"], "body");
    assert_eq!(p["errors"][0]["code"], "too_long");
    assert_eq!(app.count_messages().await, 0);
}

db_test!(html_in_the_body_is_cleaned_and_plain_text_is_escaped);
async fn html_in_the_body_is_cleaned_and_plain_text_is_escaped(backend: Backend) {
    let app = spawn_app(backend).await;

    let html = app
        .post_message(&json!({
            "body": "<p onclick=\"steal()\">Hi <b>there</b><script>alert(1)</script> <a href=\"javascript:alert(1)\">x</a> <a href=\"https://example.org\">site</a></p><img src=x onerror=alert(1)>",
            "consent": true
        }))
        .await;
    let plain = app
        .post_message(&json!({"body": "I <3 you & 2 > 1", "consent": true}))
        .await;

    assert_eq!(html.status(), 201);
    assert_eq!(plain.status(), 201);
    let mut bodies: Vec<String> = messages::Entity::find()
        .all(app.db())
        .await
        .expect("q")
        .into_iter()
        .map(|m| m.body_html)
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        vec![
            "<p>Hi <b>there</b> <a rel=\"nofollow noopener noreferrer\">x</a> <a href=\"https://example.org\" rel=\"nofollow noopener noreferrer\">site</a></p>".to_owned(),
            "<p>I &lt;3 you &amp; 2 &gt; 1</p>".to_owned(),
        ]
    );
}

db_test!(malformed_json_is_a_400_problem_and_nothing_is_stored);
async fn malformed_json_is_a_400_problem_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("syntax", b"{\"body\": \"x\", ".to_vec()),
        ("missing required field", b"{\"body\": \"x\"}".to_vec()),
        (
            "wrong type",
            b"{\"body\": {\"text\": \"x\"}, \"consent\": \"yes\"}".to_vec(),
        ),
        (
            "unknown field",
            b"{\"body\": \"x\", \"consent\": true, \"admin\": true}".to_vec(),
        ),
        (
            "invalid utf-8",
            b"{\"body\": \"\xff\xfe\", \"consent\": true}".to_vec(),
        ),
        (
            "deep nesting",
            format!(
                "{{\"body\": {}\"x\"{}, \"consent\": true}}",
                "[".repeat(5000),
                "]".repeat(5000)
            )
            .into_bytes(),
        ),
        ("not an object", b"[1,2,3]".to_vec()),
    ];
    for (case, body) in cases {
        let resp = app
            .client
            .post(app.url("/api/v1/messages"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 400, "{case}");
        let p = problem(resp).await;
        assert_eq!(p["code"], "malformed_request", "{case}");
        assert!(
            !p["detail"].as_str().unwrap_or_default().is_empty(),
            "{case}"
        );
    }
    assert_eq!(app.count_threads().await, 0);
}

db_test!(a_wrong_content_type_is_a_415_problem);
async fn a_wrong_content_type_is_a_415_problem(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app
        .client
        .post(app.url("/api/v1/messages"))
        .header("content-type", "text/plain")
        .body("body=hello&consent=true")
        .send()
        .await
        .expect("request");

    assert_eq!(resp.status(), 415);
    assert_eq!(problem(resp).await["code"], "unsupported_media_type");
    assert_eq!(app.count_threads().await, 0);
}

db_test!(a_request_over_64_kib_is_a_413_problem_announced_or_not);
async fn a_request_over_64_kib_is_a_413_problem_announced_or_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = json!({"body": "x".repeat(70_000), "consent": true}).to_string();

    let announced = app
        .client
        .post(app.url("/api/v1/messages"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("request");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let chunked = app
        .client
        .post(app.url("/api/v1/messages"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("request");

    assert_eq!(announced.status(), 413);
    assert_eq!(problem(announced).await["code"], "payload_too_large");
    assert_eq!(chunked.status(), 413);
    assert_eq!(problem(chunked).await["code"], "payload_too_large");
    assert_eq!(app.count_threads().await, 0);
}

db_test!(a_policy_version_other_than_the_current_one_is_refused);
async fn a_policy_version_other_than_the_current_one_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut msg = valid_message();
    msg["policy_version"] = json!("2020-01-01");

    let resp = app.post_message(&msg).await;

    assert_eq!(resp.status(), 422);
    assert_eq!(problem(resp).await["errors"][0]["field"], "policy_version");
    assert_eq!(app.count_threads().await, 0);
}

db_test!(a_policy_version_left_out_is_the_current_one_and_an_empty_one_is_missing);
async fn a_policy_version_left_out_is_the_current_one_and_an_empty_one_is_missing(
    backend: Backend,
) {
    let app = spawn_app(backend).await;

    let mut empty = valid_message();
    empty["policy_version"] = json!("  ");
    let resp = app.post_message(&empty).await;
    assert_eq!(resp.status(), 422);
    let body = problem(resp).await;
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["errors"][0]["field"], "policy_version");
    assert_eq!(body["errors"][0]["code"], "required", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("empty") && !m.contains("not the current")),
        "{body}"
    );
    assert_eq!(app.count_threads().await, 0);

    // An old one is still a changed policy, not a missing field.
    let mut old = valid_message();
    old["policy_version"] = json!("2020-01-01");
    let body = problem(app.post_message(&old).await).await;
    assert_eq!(body["errors"][0]["field"], "policy_version");
    assert_eq!(body["errors"][0]["code"], "unsupported", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not the current privacy policy version")),
        "{body}"
    );

    // Left out (and `null`), it is the current version, as documented.
    let mut null = valid_message();
    null["policy_version"] = Value::Null;
    for msg in [valid_message(), null] {
        let resp = app.post_message(&msg).await;
        assert_eq!(resp.status(), 201);
    }
    let stored = threads::Entity::find().all(app.db()).await.expect("query");
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .all(|t| t.consent_policy_version == "2026-11-24")
    );
}

db_test!(unknown_api_paths_and_methods_are_problems_too);
async fn unknown_api_paths_and_methods_are_problems_too(backend: Backend) {
    let app = spawn_app(backend).await;

    let missing = app.get("/api/v1/nothing-here").await;
    // `GET /api/v1/messages` is the staff list now; nothing answers `DELETE`.
    let wrong_method = app
        .client
        .delete(app.url("/api/v1/messages"))
        .send()
        .await
        .expect("request");

    assert_eq!(missing.status(), 404);
    assert_eq!(problem(missing).await["code"], "not_found");
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(problem(wrong_method).await["code"], "method_not_allowed");
}

db_test!(references_are_unique_across_many_submissions);
async fn references_are_unique_across_many_submissions(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut refs = std::collections::HashSet::new();
    for i in 0..40 {
        let resp = app
            .post_message(&json!({"body": format!("message {i}"), "consent": true}))
            .await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.expect("json");
        refs.insert(body["reference"].as_str().expect("ref").to_owned());
    }
    assert_eq!(refs.len(), 40);
    assert_eq!(app.count_threads().await, 40);
}
