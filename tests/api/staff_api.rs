//! The staff API: conversations and API keys over `/api/v1`, with an API key or a signed-in
//! session. Every staff response is checked for the visitor's address, which must never appear.

use std::collections::HashSet;

use sealpost::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, header, location, spawn_app, valid_message};

const VISITOR: &str = "anna.k@example.org";

/// A fresh API key with `role`.
async fn key(app: &TestApp, role: &str) -> String {
    sealpost::auth::api_key::create(
        app.db(),
        "system:test",
        &format!("{role} key"),
        Role::parse(role).expect("role"),
        None,
    )
    .await
    .expect("key created")
    .key
}

/// A staff API response: its status and JSON body, after checking that the body does not
/// contain the visitor's address.
async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert!(
        !text.contains(VISITOR),
        "a staff API response shows the visitor's address: {text}"
    );
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

async fn get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    read(
        app.client
            .get(app.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request"),
    )
    .await
}

async fn patch(app: &TestApp, key: &str, path: &str, body: &Value) -> (u16, Value) {
    read(
        app.client
            .patch(app.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request"),
    )
    .await
}

async fn post(app: &TestApp, key: &str, path: &str, body: &Value) -> (u16, Value) {
    read(
        app.client
            .post(app.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request"),
    )
    .await
}

async fn delete(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    read(
        app.client
            .delete(app.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request"),
    )
    .await
}

/// Submits a message from the visitor with this subject and body; returns the submission's
/// answer (`id`, `thread_id`, `reference`).
async fn submit(app: &TestApp, subject: &str, body: &str) -> Value {
    let mut msg = valid_message();
    msg["subject"] = json!(subject);
    msg["body"] = json!(body);
    let resp = app.post_message(&msg).await;
    assert_eq!(resp.status(), 201);
    resp.json().await.expect("json")
}

fn ids(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i[field].as_str().expect("id").to_owned())
        .collect()
}

db_test!(the_list_pages_through_every_thread_exactly_once);
async fn the_list_pages_through_every_thread_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let mut submitted = HashSet::new();
    for i in 0..5 {
        let sent = submit(
            &app,
            &format!("Question {i}"),
            &format!("Message number {i}"),
        )
        .await;
        submitted.insert(sent["id"].as_str().expect("id").to_owned());
    }

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = "/api/v1/messages?limit=2".to_owned();
    loop {
        let (status, page) = get(&app, &agent, &path).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        assert!(page["items"].as_array().expect("items").len() <= 2);
        seen.extend(ids(&page, "id"));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/messages?limit=2&cursor={cursor}"),
            None => {
                assert!(page["next_cursor"].is_null());
                break;
            }
        }
        assert!(pages < 10, "the cursor does not advance");
    }

    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5, "no thread twice: {seen:?}");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), submitted);
}

db_test!(a_listed_thread_shows_its_summary);
async fn a_listed_thread_shows_its_summary(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let sent = submit(
        &app,
        "Where is my parcel?",
        "Hello,\nwhen will my order arrive?",
    )
    .await;

    let (status, page) = get(&app, &agent, "/api/v1/messages").await;

    assert_eq!(status, 200);
    let item = &page["items"][0];
    assert_eq!(item["id"], sent["id"]);
    assert_eq!(item["thread_id"], sent["thread_id"]);
    assert_eq!(item["reference"], sent["reference"]);
    assert_eq!(item["subject"], "Where is my parcel?");
    assert_eq!(item["status"], "new");
    assert_eq!(item["message_count"], 1);
    assert_eq!(item["last_author"], "visitor");
    assert_eq!(item["excerpt"], "Hello, when will my order arrive?");
    assert!(item["created_at"].is_string() && item["updated_at"].is_string());
    assert!(page["next_cursor"].is_null());
}

db_test!(the_list_filters_by_status);
async fn the_list_filters_by_status(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let first = submit(&app, "First", "One").await;
    let second = submit(&app, "Second", "Two").await;
    submit(&app, "Third", "Three").await;
    let (status, _) = patch(
        &app,
        &agent,
        &format!("/api/v1/messages/{}", second["id"].as_str().expect("id")),
        &json!({"status": "closed"}),
    )
    .await;
    assert_eq!(status, 200);

    let (_, closed) = get(&app, &agent, "/api/v1/messages?status=closed").await;
    let (_, new) = get(&app, &agent, "/api/v1/messages?status=new").await;
    let (_, spam) = get(&app, &agent, "/api/v1/messages?status=spam").await;

    assert_eq!(ids(&closed, "id"), vec![second["id"].as_str().expect("id")]);
    assert_eq!(closed["items"][0]["status"], "closed");
    let new_ids = ids(&new, "id");
    assert_eq!(new_ids.len(), 2);
    assert!(new_ids.contains(&first["id"].as_str().expect("id").to_owned()));
    assert!(ids(&spam, "id").is_empty());
}

db_test!(the_list_searches_subjects_and_bodies);
async fn the_list_searches_subjects_and_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let by_subject = submit(&app, "Broken Zipper", "It came apart.").await;
    let by_body = submit(&app, "Complaint", "The ZIPPER on my bag broke.").await;
    submit(&app, "Delivery", "Where is my parcel?").await;

    let (status, found) = get(&app, &agent, "/api/v1/messages?q=zipper").await;
    let (_, none) = get(&app, &agent, "/api/v1/messages?q=umbrella").await;

    assert_eq!(status, 200);
    let found: HashSet<String> = ids(&found, "id").into_iter().collect();
    let expected: HashSet<String> = [&by_subject, &by_body]
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(found, expected);
    assert!(ids(&none, "id").is_empty());
}

db_test!(bad_list_parameters_are_400_problems);
async fn bad_list_parameters_are_400_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    submit(&app, "Hello", "Hello there").await;

    for query in [
        "status=pending",
        "cursor=not-a-cursor",
        "limit=0",
        "limit=101",
        "limit=many",
    ] {
        let resp = app
            .client
            .get(app.url(&format!("/api/v1/messages?{query}")))
            .bearer_auth(&agent)
            .send()
            .await
            .expect("request");
        assert_eq!(
            resp.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
        let (status, problem) = read(resp).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert_eq!(problem["code"], "malformed_request", "{query}");
    }
    let (status, page) = get(&app, &agent, "/api/v1/messages?limit=100").await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
}

db_test!(one_thread_reads_with_its_messages_and_visitor_but_no_address);
async fn one_thread_reads_with_its_messages_and_visitor_but_no_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let sent = submit(
        &app,
        "Question about delivery",
        "Hello,\nwhen will it <b>arrive</b>?",
    )
    .await;
    let message_id = sent["id"].as_str().expect("id");
    let thread_id = sent["thread_id"].as_str().expect("thread id");

    let (status, thread) = get(&app, &agent, &format!("/api/v1/messages/{message_id}")).await;
    let (by_thread_status, by_thread) =
        get(&app, &agent, &format!("/api/v1/messages/{thread_id}")).await;

    assert_eq!(status, 200, "{thread}");
    assert_eq!(thread["id"], message_id);
    assert_eq!(thread["thread_id"], thread_id);
    assert_eq!(thread["reference"], sent["reference"]);
    assert_eq!(thread["subject"], "Question about delivery");
    assert_eq!(thread["status"], "new");
    assert_eq!(thread["locale"], "en");
    assert_eq!(thread["visitor"]["name"], "Anna Karenina");
    assert_eq!(thread["visitor"]["reachable_by_mail"], true);
    let alias = thread["visitor"]["alias"].as_str().expect("alias");
    assert!(alias.ends_with("@relay.sealpost.localhost"), "{alias}");
    let messages = thread["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], message_id);
    assert_eq!(messages[0]["author"], "visitor");
    assert!(messages[0]["staff_login"].is_null());
    assert!(
        messages[0]["body_html"]
            .as_str()
            .expect("html")
            .contains("<b>arrive</b>")
    );
    assert!(
        messages[0]["body_text"]
            .as_str()
            .expect("text")
            .contains("when will it arrive?")
    );
    assert_eq!(by_thread_status, 200);
    assert_eq!(by_thread, thread);
}

db_test!(unknown_and_malformed_ids_are_404_problems);
async fn unknown_and_malformed_ids_are_404_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    submit(&app, "Hello", "Hello there").await;
    let unknown = uuid::Uuid::now_v7();

    for id in [unknown.to_string(), "not-a-uuid".to_owned()] {
        let path = format!("/api/v1/messages/{id}");
        let (got, problem) = get(&app, &agent, &path).await;
        assert_eq!(got, 404, "{id}");
        assert_eq!(problem["code"], "not_found");
        let (patched, _) = patch(&app, &agent, &path, &json!({"status": "closed"})).await;
        assert_eq!(patched, 404, "{id}");
        let (replied, _) = post(
            &app,
            &agent,
            &format!("{path}/replies"),
            &json!({"body": "Hello"}),
        )
        .await;
        assert_eq!(replied, 404, "{id}");
    }
    assert_eq!(app.count_messages().await, 1);
}

db_test!(patch_sets_the_status_and_refuses_what_it_does_not_know);
async fn patch_sets_the_status_and_refuses_what_it_does_not_know(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let sent = submit(&app, "Hello", "Hello there").await;
    let path = format!("/api/v1/messages/{}", sent["id"].as_str().expect("id"));

    let (status, updated) = patch(&app, &agent, &path, &json!({"status": "closed"})).await;
    let (_, read_back) = get(&app, &agent, &path).await;
    let (bad_status, bad) = patch(&app, &agent, &path, &json!({"status": "archived"})).await;
    let (extra_status, extra) = patch(
        &app,
        &agent,
        &path,
        &json!({"status": "open", "subject": "Changed"}),
    )
    .await;

    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "closed");
    assert_eq!(updated["id"], sent["id"]);
    assert_eq!(updated["messages"].as_array().expect("messages").len(), 1);
    assert_eq!(read_back["status"], "closed");
    assert_eq!(bad_status, 422);
    assert_eq!(bad["code"], "validation_failed");
    assert_eq!(bad["errors"][0]["field"], "status");
    assert_eq!(bad["errors"][0]["code"], "unsupported");
    assert_eq!(extra_status, 400, "unknown fields are refused: {extra}");
    assert_eq!(extra["code"], "malformed_request");
    let (_, still) = get(&app, &agent, &path).await;
    assert_eq!(still["status"], "closed");
    assert_eq!(still["subject"], "Hello");
}

db_test!(a_reply_is_stored_and_mailed_to_the_visitor_from_the_support_address);
async fn a_reply_is_stored_and_mailed_to_the_visitor_from_the_support_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let sent = submit(&app, "Where is my order?", "Hello, where is my order?").await;
    // The acknowledgement to the visitor and the notification to staff.
    app.wait_for_emails(2).await;
    let message_id = sent["id"].as_str().expect("id");

    let (status, created) = post(
        &app,
        &agent,
        &format!("/api/v1/messages/{message_id}/replies"),
        &json!({"body": "Your parcel left today.<script>alert(1)</script>"}),
    )
    .await;

    assert_eq!(status, 201, "{created}");
    assert_eq!(created["thread_id"], sent["thread_id"]);
    let (_, thread) = get(&app, &agent, &format!("/api/v1/messages/{message_id}")).await;
    let messages = thread["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["id"], created["id"]);
    assert_eq!(messages[1]["author"], "staff");
    assert!(messages[1]["staff_login"].is_null(), "an API key is nobody");
    let html = messages[1]["body_html"].as_str().expect("html");
    assert!(html.contains("Your parcel left today."), "{html}");
    assert!(!html.contains("script"), "the body is cleaned: {html}");
    assert_eq!(thread["status"], "answered");

    let mails = app.wait_for_emails(3).await;
    let answer = mails
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Re: Where is my order?")))
        .expect("the answer is mailed to the visitor");
    assert_eq!(header(answer, "To").as_deref(), Some(VISITOR));
    assert_eq!(
        header(answer, "From").as_deref(),
        Some("Support <support@sealpost.localhost>")
    );
    assert!(crate::helpers::text_body(answer).contains("Your parcel left today."));
}

db_test!(an_empty_or_too_long_reply_is_refused_field_by_field);
async fn an_empty_or_too_long_reply_is_refused_field_by_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let sent = submit(&app, "Hello", "Hello there").await;
    let path = format!(
        "/api/v1/messages/{}/replies",
        sent["id"].as_str().expect("id")
    );

    let (empty_status, empty) = post(&app, &agent, &path, &json!({"body": "  \n "})).await;
    let (long_status, long) = post(&app, &agent, &path, &json!({"body": "x".repeat(20_001)})).await;
    let (missing_status, _) = post(&app, &agent, &path, &json!({})).await;

    assert_eq!(empty_status, 422);
    assert_eq!(empty["errors"][0]["field"], "body");
    assert_eq!(empty["errors"][0]["code"], "required");
    assert_eq!(long_status, 422);
    assert_eq!(long["errors"][0]["code"], "too_long");
    assert_eq!(missing_status, 400);
    assert_eq!(app.count_messages().await, 1);
}

db_test!(the_session_cookie_works_and_changes_need_the_csrf_token);
async fn the_session_cookie_works_and_changes_need_the_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let sent = submit(&app, "Hello", "Hello there").await;
    let path = format!("/api/v1/messages/{}", sent["id"].as_str().expect("id"));
    let browser = app.signed_in("agnes", "agent").await;
    assert!(!browser.csrf.is_empty());

    let (listed, page) = read(browser.get("/api/v1/messages").await).await;
    let (without_token, refused) = read(
        browser
            .client
            .patch(browser.url(&path))
            .json(&json!({"status": "closed"}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    let (wrong_token, _) = read(
        browser
            .client
            .patch(browser.url(&path))
            .header("X-CSRF-Token", "not-the-token")
            .json(&json!({"status": "closed"}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    let (with_token, updated) = read(
        browser
            .client
            .patch(browser.url(&path))
            .header("X-CSRF-Token", &browser.csrf)
            .json(&json!({"status": "closed"}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    let (replied, _) = read(
        browser
            .client
            .post(browser.url(&format!("{path}/replies")))
            .header("X-CSRF-Token", &browser.csrf)
            .json(&json!({"body": "On its way."}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    let (_, thread) = read(browser.get(&path).await).await;

    assert_eq!(listed, 200);
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
    assert_eq!(without_token, 403);
    assert_eq!(refused["code"], "forbidden");
    assert_eq!(wrong_token, 403);
    assert_eq!(with_token, 200, "{updated}");
    assert_eq!(updated["status"], "closed");
    assert_eq!(replied, 201);
    assert_eq!(thread["messages"][1]["staff_login"], "agnes");
}

db_test!(an_answer_and_a_status_from_the_inbox_pages_show_in_the_api);
async fn an_answer_and_a_status_from_the_inbox_pages_show_in_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let sent = submit(&app, "Hello", "Hello there").await;
    let thread_id = sent["thread_id"].as_str().expect("thread id");
    let browser = app.signed_in("boris", "agent").await;

    let answered = browser
        .post_multipart(
            &format!("/staff/threads/{thread_id}/replies"),
            &[("body", "Answered from the inbox.")],
        )
        .await;
    let closed = browser
        .post(
            &format!("/staff/threads/{thread_id}/status"),
            &[("status", "spam")],
        )
        .await;

    assert_eq!(answered.status(), 303);
    assert_eq!(closed.status(), 303);
    let (_, thread) = get(&app, &agent, &format!("/api/v1/messages/{thread_id}")).await;
    assert_eq!(thread["status"], "spam");
    assert_eq!(thread["messages"][1]["staff_login"], "boris");
    assert!(
        thread["messages"][1]["body_text"]
            .as_str()
            .expect("text")
            .contains("Answered from the inbox.")
    );
}

db_test!(after_an_answer_the_thread_says_it_was_sent_and_the_inbox_shows_the_answer);
async fn after_an_answer_the_thread_says_it_was_sent_and_the_inbox_shows_the_answer(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let agent = key(&app, "agent").await;
    let sent = submit(&app, "Parcel", "Where is my parcel?").await;
    let thread_id = sent["thread_id"].as_str().expect("thread id");
    let browser = app.signed_in("boris", "agent").await;
    let before = browser
        .get(&format!("/staff/threads/{thread_id}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(!before.contains("Your answer is sent"), "{before}");

    let answered = browser
        .post_multipart(
            &format!("/staff/threads/{thread_id}/replies"),
            &[("body", "It left the warehouse today.")],
        )
        .await;

    assert_eq!(answered.status(), 303);
    let to = location(&answered);
    assert!(
        to.starts_with(&format!("/staff/threads/{thread_id}?sent=1#m-")),
        "{to}"
    );
    let page = browser
        .get(to.split('#').next().expect("path"))
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("Your answer is sent: it is on the visitor&#39;s private page, and the e-mail to them is on its way."),
        "{page}"
    );
    let inbox = browser.get("/staff").await.text().await.expect("inbox");
    assert!(inbox.contains("It left the warehouse today."), "{inbox}");
    assert!(!inbox.contains("Where is my parcel?"), "{inbox}");
    let (_, list) = get(&app, &agent, "/api/v1/messages").await;
    assert_eq!(list["items"][0]["excerpt"], "It left the warehouse today.");
    assert_eq!(list["items"][0]["last_author"], "staff");
}

db_test!(credentials_and_roles_are_enforced);
async fn credentials_and_roles_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    let sent = submit(&app, "Hello", "Hello there").await;
    let thread = format!("/api/v1/messages/{}", sent["id"].as_str().expect("id"));
    let agent = key(&app, "agent").await;
    let legal = key(&app, "legal").await;
    let revoked =
        sealpost::auth::api_key::create(app.db(), "system:test", "old", Role::Admin, None)
            .await
            .expect("key");
    sealpost::auth::api_key::revoke(app.db(), "system:test", revoked.id)
        .await
        .expect("revoked");

    let anonymous = app.get("/api/v1/messages").await;
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .expect("header")
            .starts_with("Bearer")
    );
    assert_eq!(read(anonymous).await.1["code"], "unauthorized");
    let (anonymous_thread, _) = read(app.get(&thread).await).await;
    assert_eq!(anonymous_thread, 401);
    for path in ["/api/v1/messages", thread.as_str(), "/api/v1/api-keys"] {
        let (status, problem) = get(&app, &revoked.key, path).await;
        assert_eq!(status, 401, "revoked key on {path}");
        assert_eq!(problem["code"], "unauthorized");
        let (status, _) = get(&app, "spk_made-up", path).await;
        assert_eq!(status, 401, "made-up key on {path}");
    }
    for path in ["/api/v1/messages", thread.as_str()] {
        let (status, problem) = get(&app, &legal, path).await;
        assert_eq!(status, 403, "legal key on {path}");
        assert_eq!(problem["code"], "forbidden");
    }
    let (legal_patch, _) = patch(&app, &legal, &thread, &json!({"status": "closed"})).await;
    assert_eq!(legal_patch, 403);
    let (agent_keys, problem) = get(&app, &agent, "/api/v1/api-keys").await;
    assert_eq!(agent_keys, 403);
    assert_eq!(problem["code"], "forbidden");
    let (agent_create, _) = post(
        &app,
        &agent,
        "/api/v1/api-keys",
        &json!({"name": "mine", "role": "admin"}),
    )
    .await;
    assert_eq!(agent_create, 403);
    let (agent_revoke, _) = delete(&app, &agent, &format!("/api/v1/api-keys/{}", revoked.id)).await;
    assert_eq!(agent_revoke, 403);
    let (_, still) = get(&app, &agent, &thread).await;
    assert_eq!(still["status"], "new", "nothing changed");
}

db_test!(admins_create_list_and_revoke_api_keys);
async fn admins_create_list_and_revoke_api_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = key(&app, "admin").await;

    let (created_status, created) = post(
        &app,
        &admin,
        "/api/v1/api-keys",
        &json!({"name": "  Help desk  ", "role": "agent"}),
    )
    .await;
    assert_eq!(created_status, 201, "{created}");
    let new_key = created["key"].as_str().expect("key").to_owned();
    let new_id = created["id"].as_str().expect("id").to_owned();
    assert!(new_key.starts_with("spk_"));
    assert_eq!(created["name"], "Help desk");
    assert_eq!(created["role"], "agent");

    let (works, _) = get(&app, &new_key, "/api/v1/messages").await;
    assert_eq!(works, 200);
    let (agent_on_keys, _) = get(&app, &new_key, "/api/v1/api-keys").await;
    assert_eq!(agent_on_keys, 403);

    let resp = app
        .client
        .get(app.url("/api/v1/api-keys"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    let (listed_status, listed) = read(resp).await;
    assert_eq!(listed_status, 200);
    let text = listed.to_string();
    assert!(!text.contains(&new_key), "the key is shown only once");
    assert!(!text.contains(&admin));
    assert!(!text.contains("hash"));
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let item = items
        .iter()
        .find(|i| i["id"] == new_id.as_str())
        .expect("listed");
    assert_eq!(item["name"], "Help desk");
    assert_eq!(item["role"], "agent");
    assert!(item["created_at"].is_string());
    assert!(item["last_used_at"].is_string(), "it was used above");
    assert!(item["revoked_at"].is_null());
    let mut fields: Vec<&str> = item
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "created_at",
            "id",
            "last_used_at",
            "name",
            "revoked_at",
            "role"
        ]
    );

    let (revoked, body) = delete(&app, &admin, &format!("/api/v1/api-keys/{new_id}")).await;
    assert_eq!(revoked, 204);
    assert!(body.is_null());
    let (after, _) = get(&app, &new_key, "/api/v1/messages").await;
    assert_eq!(after, 401);
    let (_, listed) = get(&app, &admin, "/api/v1/api-keys").await;
    let item = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == new_id.as_str())
        .cloned()
        .expect("still listed");
    assert!(item["revoked_at"].is_string());
    let (again, _) = delete(&app, &admin, &format!("/api/v1/api-keys/{new_id}")).await;
    assert_eq!(again, 204, "revoking twice is harmless");
    let (unknown, problem) = delete(
        &app,
        &admin,
        &format!("/api/v1/api-keys/{}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!(unknown, 404);
    assert_eq!(problem["code"], "not_found");
    let (malformed, _) = delete(&app, &admin, "/api/v1/api-keys/nope").await;
    assert_eq!(malformed, 404);
}

db_test!(bad_api_key_requests_are_refused_field_by_field);
async fn bad_api_key_requests_are_refused_field_by_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = key(&app, "admin").await;

    let (bad_role, role_problem) = post(
        &app,
        &admin,
        "/api/v1/api-keys",
        &json!({"name": "x", "role": "root"}),
    )
    .await;
    let (no_name, name_problem) = post(
        &app,
        &admin,
        "/api/v1/api-keys",
        &json!({"name": " ", "role": "agent"}),
    )
    .await;
    let (long_name, long_problem) = post(
        &app,
        &admin,
        "/api/v1/api-keys",
        &json!({"name": "n".repeat(101), "role": "agent"}),
    )
    .await;
    let (extra, _) = post(
        &app,
        &admin,
        "/api/v1/api-keys",
        &json!({"name": "x", "role": "agent", "key": "spk_mine"}),
    )
    .await;

    assert_eq!(bad_role, 422);
    assert_eq!(role_problem["errors"][0]["field"], "role");
    assert_eq!(no_name, 422);
    assert_eq!(name_problem["errors"][0]["field"], "name");
    assert_eq!(name_problem["errors"][0]["code"], "required");
    assert_eq!(long_name, 422);
    assert_eq!(long_problem["errors"][0]["code"], "too_long");
    assert_eq!(extra, 400);
    let (_, listed) = get(&app, &admin, "/api/v1/api-keys").await;
    assert_eq!(listed["items"].as_array().expect("items").len(), 1);
}

db_test!(the_openapi_document_declares_both_staff_security_schemes);
async fn the_openapi_document_declares_both_staff_security_schemes(backend: Backend) {
    let app = spawn_app(backend).await;

    let doc: Value = app
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .expect("json");

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["type"], "http");
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    assert_eq!(schemes["session_cookie"]["type"], "apiKey");
    assert_eq!(schemes["session_cookie"]["in"], "cookie");
    assert_eq!(schemes["session_cookie"]["name"], "sealpost_session");
    let either = json!([{"api_key": []}, {"session_cookie": []}]);
    let messages = &doc["paths"]["/v1/messages"];
    assert_eq!(messages["get"]["security"], either);
    assert!(
        messages["post"]["security"].is_null(),
        "submitting stays public"
    );
    for (path, method) in [
        ("/v1/messages/{id}", "get"),
        ("/v1/messages/{id}", "patch"),
        ("/v1/messages/{id}/replies", "post"),
        ("/v1/api-keys", "get"),
        ("/v1/api-keys", "post"),
        ("/v1/api-keys/{id}", "delete"),
    ] {
        assert_eq!(
            doc["paths"][path][method]["security"], either,
            "{method} {path}"
        );
    }
    assert!(
        doc["info"]["description"]
            .as_str()
            .expect("description")
            .contains("Authorization: Bearer spk_")
    );
}
