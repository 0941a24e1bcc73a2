//! `Idempotency-Key`: retries return the first answer byte for byte and do the work once.

use sea_orm::{EntityTrait, PaginatorTrait};
use sealpost::entities::{messages, outbox, threads};

use crate::helpers::{Backend, spawn_app, valid_message};

async fn post(
    app: &crate::helpers::TestApp,
    key: &str,
    body: &serde_json::Value,
) -> (u16, Option<String>, Vec<u8>) {
    let resp = app
        .client
        .post(app.url("/api/v1/messages"))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let replayed = resp
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, replayed, resp.bytes().await.expect("body").to_vec())
}

db_test!(a_retry_with_the_same_key_gets_the_first_answer_and_stores_nothing_new);
async fn a_retry_with_the_same_key_gets_the_first_answer_and_stores_nothing_new(backend: Backend) {
    let app = spawn_app(backend).await;

    let first = post(&app, "order-4411-attempt", &valid_message()).await;
    let again = post(&app, "order-4411-attempt", &valid_message()).await;
    let mut other = valid_message();
    other["body"] = "Something else entirely".into();
    let conflict = post(&app, "order-4411-attempt", &other).await;
    let too_long = post(&app, &"k".repeat(256), &valid_message()).await;

    assert_eq!(first.0, 201);
    assert_eq!(first.1, None);
    assert_eq!(again.0, 201);
    assert_eq!(again.1.as_deref(), Some("true"));
    assert_eq!(again.2, first.2, "byte for byte");
    assert_eq!(conflict.0, 422);
    assert!(String::from_utf8_lossy(&conflict.2).contains("different request"));
    assert_eq!(too_long.0, 400);
    assert_eq!(threads::Entity::find().count(app.db()).await.unwrap(), 1);
    // Without a key, the same body is a new message.
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    assert_eq!(threads::Entity::find().count(app.db()).await.unwrap(), 2);
}

db_test!(a_thousand_concurrent_replays_make_one_message_and_one_notification);
async fn a_thousand_concurrent_replays_make_one_message_and_one_notification(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = valid_message();

    let answers = futures_util::future::join_all(
        (0..1000).map(|_| post(&app, "one-key-for-a-thousand", &body)),
    )
    .await;

    let first = &answers[0];
    assert_eq!(first.0, 201, "{}", String::from_utf8_lossy(&first.2));
    for answer in &answers {
        assert_eq!(answer.0, 201);
        assert_eq!(answer.2, first.2, "every answer is the first one");
    }
    assert_eq!(
        answers.iter().filter(|a| a.1.is_none()).count(),
        1,
        "one did the work"
    );
    app.wait_for_outbox_idle().await;
    assert_eq!(threads::Entity::find().count(app.db()).await.unwrap(), 1);
    assert_eq!(messages::Entity::find().count(app.db()).await.unwrap(), 1);
    let mails = outbox::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(
        mails.iter().filter(|m| m.kind == "new_message").count(),
        1,
        "one notification"
    );
}

db_test!(replies_are_idempotent_per_caller);
async fn replies_are_idempotent_per_caller(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app.post_message(&valid_message()).await;
    let id = resp.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = sealpost::auth::api_key::create(
        app.db(),
        "system:test",
        "replies",
        sealpost::domain::Role::Agent,
        None,
    )
    .await
    .unwrap()
    .key;
    let reply = |text: &'static str| {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/messages/{id}/replies"));
        let key = key.clone();
        async move {
            client
                .post(url)
                .bearer_auth(key)
                .header("idempotency-key", "answer-1")
                .json(&serde_json::json!({ "body": text }))
                .send()
                .await
                .unwrap()
        }
    };

    let first = reply("It ships Monday.").await;
    let first_status = first.status();
    let first_body = first.bytes().await.unwrap();
    let again = reply("It ships Monday.").await;
    let changed = reply("It ships Tuesday.").await;

    assert_eq!(first_status, 201);
    assert_eq!(again.status(), 201);
    assert_eq!(again.bytes().await.unwrap(), first_body);
    assert_eq!(changed.status(), 422);
    assert_eq!(messages::Entity::find().count(app.db()).await.unwrap(), 2);
}
