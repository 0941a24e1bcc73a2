//! The visitor's private thread link `/t/{token}`.

use sea_orm::EntityTrait;
use sealpost::entities::threads;

use crate::helpers::{Backend, spawn_app, valid_message};

async fn submit(app: &crate::helpers::TestApp) -> (String, String) {
    let resp = app.post_message(&valid_message()).await;
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.expect("json");
    let url = body["thread_url"].as_str().expect("url");
    let path = url.trim_start_matches("http://127.0.0.1:8080").to_owned();
    (path, body["reference"].as_str().expect("ref").to_owned())
}

db_test!(the_private_link_shows_the_conversation);
async fn the_private_link_shows_the_conversation(backend: Backend) {
    let app = spawn_app(backend).await;
    let (path, reference) = submit(&app).await;

    let resp = app.get(&path).await;

    assert_eq!(resp.status(), 200);
    let page = resp.text().await.expect("body");
    assert!(page.contains(&reference));
    assert!(page.contains("when will my order arrive?"));
    assert!(page.contains("Question about delivery"));
    assert!(page.contains("No answer yet"));
    assert!(
        !page.contains("anna.k@example.org"),
        "the address is never shown"
    );
}

db_test!(the_visitor_can_write_again_in_the_thread);
async fn the_visitor_can_write_again_in_the_thread(backend: Backend) {
    let app = spawn_app(backend).await;
    let (path, _) = submit(&app).await;

    let resp = app
        .client
        .post(app.url(&path))
        .form(&[("body", "One more thing: <em>thanks</em>!")])
        .send()
        .await
        .expect("request");

    assert_eq!(resp.status(), 303);
    assert_eq!(app.count_messages().await, 2);
    let page = app.get(&path).await.text().await.expect("body");
    assert!(page.contains("One more thing: <em>thanks</em>!"));
    let thread = threads::Entity::find()
        .one(app.db())
        .await
        .expect("q")
        .expect("thread");
    assert_eq!(thread.status, "new", "an unanswered thread stays new");
}

db_test!(an_empty_follow_up_is_refused_with_the_thread_shown_again);
async fn an_empty_follow_up_is_refused_with_the_thread_shown_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let (path, reference) = submit(&app).await;

    let resp = app
        .client
        .post(app.url(&path))
        .form(&[("body", "  ")])
        .send()
        .await
        .expect("request");

    assert_eq!(resp.status(), 422);
    let page = resp.text().await.expect("body");
    assert!(page.contains(&reference));
    assert!(page.contains("id=\"body-error\""));
    assert_eq!(app.count_messages().await, 1);
}

db_test!(unknown_or_malformed_links_are_404);
async fn unknown_or_malformed_links_are_404(backend: Backend) {
    let app = spawn_app(backend).await;
    submit(&app).await;
    let unknown = format!("/t/{}", "A".repeat(43));

    assert_eq!(app.get(&unknown).await.status(), 404);
    assert_eq!(app.get("/t/short").await.status(), 404);
    let post = app
        .client
        .post(app.url(&unknown))
        .form(&[("body", "hello")])
        .send()
        .await
        .expect("request");
    assert_eq!(post.status(), 404);
    assert_eq!(app.count_messages().await, 1);
}

db_test!(concurrent_submissions_and_follow_ups_all_succeed);
async fn concurrent_submissions_and_follow_ups_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (path, _) = submit(&app).await;

    let follow_ups = (0..12).map(|i| {
        app.client
            .post(app.url(&path))
            .form(&[("body", format!("follow-up {i}"))])
            .send()
    });
    let submissions = (0..12).map(|i| {
        app.client
            .post(app.url("/api/v1/messages"))
            .json(&serde_json::json!({"body": format!("new {i}"), "email": "x@example.org", "consent": true}))
            .send()
    });
    let (a, b) = tokio::join!(
        futures_util::future::join_all(follow_ups),
        futures_util::future::join_all(submissions)
    );

    for resp in a {
        assert_eq!(
            resp.expect("r").status(),
            303,
            "a follow-up failed under concurrent writes"
        );
    }
    for resp in b {
        assert_eq!(
            resp.expect("r").status(),
            201,
            "a submission failed under concurrent writes"
        );
    }
    assert_eq!(app.count_messages().await, 1 + 12 + 12);
}
