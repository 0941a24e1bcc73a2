//! The spam defences that read a message, through the real form, the JSON API, the staff pages
//! and the staff API: a spammy message is held and tells nobody, approval sends its mails
//! exactly once, a message over the reject score is refused and stores nothing, the form's fill
//! time and the same text from many addresses add to the score, held replies wait, and the
//! statistics count what was held, approved and marked as spam.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use sealpost::entities::{messages, outbox, threads};

use crate::helpers::{Backend, TestApp, TestAppBuilder, valid_form, valid_message};

/// Two phrases of the lists and three links: 5.0 + 3.0, over the hold score (5), under the
/// reject score (15).
const HOLDABLE: &str = "We offer cheap SEO services and link building for your shop. \
    See https://a.example/offer https://b.example/prices https://c.example/cases";

/// Six phrases (capped at 10) and five links (6.0): over the reject score.
const REFUSABLE: &str = "Buy backlinks! Online casino, crypto investment, make money online, \
    SEO services, link building: https://a.example https://b.example https://c.example \
    https://d.example https://e.example";

fn form_with(body: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut form = valid_form();
    for field in form.iter_mut() {
        if field.0 == "body" {
            field.1 = body;
        }
    }
    form
}

async fn thread_rows(app: &TestApp) -> Vec<threads::Model> {
    threads::Entity::find()
        .all(app.db())
        .await
        .expect("threads")
}

async fn outbox_states(app: &TestApp) -> Vec<String> {
    let mut states: Vec<String> = outbox::Entity::find()
        .all(app.db())
        .await
        .expect("outbox")
        .into_iter()
        .map(|row| row.state)
        .collect();
    states.sort();
    states
}

async fn api(
    app: &TestApp,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let request = match method {
        "PATCH" => app.client.patch(app.url(path)),
        _ => app.client.get(app.url(path)),
    }
    .bearer_auth(key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let resp = request.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The stamp of a form freshly shown, as a browser would post it back.
async fn shown_stamp(app: &TestApp) -> String {
    let page = app.get("/").await.text().await.expect("form");
    let at = page.find("name=\"shown\" value=\"").expect("a stamp") + 20;
    page[at..at + page[at..].find('"').expect("end")].to_owned()
}

db_test!(a_spammy_message_is_held_and_tells_nobody_until_approved_once);
async fn a_spammy_message_is_held_and_tells_nobody_until_approved_once(backend: Backend) {
    let app = TestAppBuilder::new(backend).spawn().await;
    let agent = app.signed_in("agent1", "agent").await;

    let resp = app.post_form(&form_with(HOLDABLE)).await;

    // The visitor sees the usual confirmation: the hold is staff's business.
    assert_eq!(resp.status(), 303);
    assert!(crate::helpers::location(&resp).starts_with("/sent/"));
    let rows = thread_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let thread = &rows[0];
    assert_eq!(thread.status, "held");
    let verdict = thread.spam_verdict.clone().expect("a verdict");
    assert!(verdict.contains("spam_phrases 5.0"), "{verdict}");
    assert!(verdict.contains("links 3.0"), "{verdict}");
    assert_eq!(outbox_states(&app).await, ["held", "held"]);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(
        app.sent_emails().is_empty(),
        "a held message notifies nobody"
    );

    // Staff find it under Held, not under New, with the verdict and the two buttons.
    let held = agent
        .get("/staff?status=held")
        .await
        .text()
        .await
        .expect("list");
    assert!(held.contains(&thread.reference), "listed under Held");
    let new = agent
        .get("/staff?status=new")
        .await
        .text()
        .await
        .expect("list");
    assert!(!new.contains(&thread.reference), "not under New");
    let page = agent
        .get(&format!("/staff/threads/{}", thread.id))
        .await
        .text()
        .await
        .expect("thread");
    assert!(page.contains("Held for review."), "{page}");
    assert!(page.contains(&verdict), "staff see why");
    assert!(page.contains(">Approve</button>"));

    // Approve, twice (a double click, a second agent): the mails go out once.
    for _ in 0..2 {
        let resp = agent
            .post(
                &format!("/staff/threads/{}/status", thread.id),
                &[("status", "new")],
            )
            .await;
        assert_eq!(resp.status(), 303);
    }
    let mails = app.wait_for_emails(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(
        app.sent_emails().len(),
        2,
        "notification and acknowledgement, once"
    );
    assert!(
        mails
            .iter()
            .any(|m| crate::helpers::mail_mentions(m, &thread.reference))
    );
    assert_eq!(outbox_states(&app).await, ["sent", "sent"]);
    let after: threads::Model = threads::Entity::find_by_id(thread.id)
        .one(app.db())
        .await
        .expect("read")
        .expect("row");
    assert_eq!(after.status, "new");
}

db_test!(approving_by_the_api_twice_at_once_sends_the_mails_once);
async fn approving_by_the_api_twice_at_once_sends_the_mails_once(backend: Backend) {
    let app = TestAppBuilder::new(backend).spawn().await;
    let key = app.api_key("agent").await;
    let mut msg = valid_message();
    msg["body"] = json!(HOLDABLE);
    let resp = app.post_message(&msg).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_owned();

    let (status, list) = api(&app, &key, "GET", "/api/v1/messages?status=held", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["items"][0]["status"], "held");
    let (_, detail) = api(&app, &key, "GET", &format!("/api/v1/messages/{id}"), None).await;
    assert!(
        detail["spam_verdict"]
            .as_str()
            .is_some_and(|v| v.starts_with("score 8.0")),
        "{detail}"
    );
    // `held` is the defences' to give.
    let (status, problem) = api(
        &app,
        &key,
        "PATCH",
        &format!("/api/v1/messages/{id}"),
        Some(json!({"status": "held"})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");

    let path = format!("/api/v1/messages/{id}");
    let body = json!({"status": "open"});
    let (a, b) = tokio::join!(
        api(&app, &key, "PATCH", &path, Some(body.clone())),
        api(&app, &key, "PATCH", &path, Some(body.clone())),
    );
    assert_eq!((a.0, b.0), (200, 200));
    app.wait_for_emails(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(app.sent_emails().len(), 2);
    let (_, list) = api(&app, &key, "GET", "/api/v1/messages?status=held", None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
}

db_test!(spam_keeps_the_mails_unsent_and_not_spam_sends_them);
async fn spam_keeps_the_mails_unsent_and_not_spam_sends_them(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__STATS__MIN_GROUP_SIZE", "1")
        .spawn()
        .await;
    let agent = app.signed_in("agent1", "agent").await;
    assert_eq!(app.post_form(&form_with(HOLDABLE)).await.status(), 303);
    let thread = thread_rows(&app).await.remove(0);

    let resp = agent
        .post(
            &format!("/staff/threads/{}/status", thread.id),
            &[("status", "spam")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(app.sent_emails().is_empty(), "spam sends nothing");
    assert_eq!(outbox_states(&app).await, ["held", "held"]);
    let spam = agent
        .get("/staff?status=spam")
        .await
        .text()
        .await
        .expect("list");
    assert!(spam.contains(&thread.reference));
    let page = agent
        .get(&format!("/staff/threads/{}", thread.id))
        .await
        .text()
        .await
        .expect("thread");
    assert!(page.contains(">Not spam</button>"));

    agent
        .post(
            &format!("/staff/threads/{}/status", thread.id),
            &[("status", "new")],
        )
        .await;
    app.wait_for_emails(2).await;
    assert_eq!(outbox_states(&app).await, ["sent", "sent"]);

    // The day's review: one held, one marked as spam, one approved (k = 1 here).
    let key = app.api_key("admin").await;
    let (status, report) = api(&app, &key, "GET", "/api/v1/stats", None).await;
    assert_eq!(status, 200, "{report}");
    let count = |outcome: &str| {
        report["spam_review"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["value"] == outcome))
            .map(|r| r["count"].clone())
    };
    assert_eq!(count("held"), Some(json!(1)), "{report}");
    assert_eq!(count("spam"), Some(json!(1)));
    assert_eq!(count("approved"), Some(json!(1)));
}

db_test!(a_message_over_the_reject_score_is_refused_and_nothing_is_stored);
async fn a_message_over_the_reject_score_is_refused_and_nothing_is_stored(backend: Backend) {
    let app = TestAppBuilder::new(backend).spawn().await;
    let mut msg = valid_message();
    msg["body"] = json!(REFUSABLE);

    let api_resp = app.post_message(&msg).await;
    let page = app.post_form(&form_with(REFUSABLE)).await;

    assert_eq!(api_resp.status(), 422);
    let problem: Value = api_resp.json().await.expect("json");
    assert_eq!(problem["code"], "message_refused");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.contains("casino") && !detail.contains("links 6"),
        "the refusal does not say which signals fired: {detail}"
    );
    assert_eq!(page.status(), 422);
    let page = page.text().await.expect("page");
    assert!(page.contains("cannot be accepted as written"), "{page}");
    assert!(page.contains("Online casino"), "the visitor's text is kept");
    assert_eq!(app.count_threads().await, 0);
    assert_eq!(app.count_contacts().await, 0);
    assert!(outbox_states(&app).await.is_empty());
}

db_test!(a_form_sent_back_at_once_or_never_shown_adds_to_the_score);
async fn a_form_sent_back_at_once_or_never_shown_adds_to_the_score(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SPAM__MIN_FILL_SECS", "60")
        .spawn()
        .await;
    // A form shown and sent back within the minute: filled_fast (3.0), not enough to hold.
    let stamp = shown_stamp(&app).await;
    let mut fast = valid_form();
    fast.push(("shown", &stamp));
    assert_eq!(app.post_form(&fast).await.status(), 303);
    // A forged stamp: form_not_shown (2.0).
    let mut forged = valid_form();
    forged.push(("shown", "1700000000.00000000deadbeef"));
    assert_eq!(app.post_form(&forged).await.status(), 303);
    // Fast, with one phrase and two links (2.5 + 1.5): together over the hold score.
    let mut fast_and_spammy =
        form_with("Best SEO services here: https://a.example https://b.example");
    fast_and_spammy.push(("shown", &stamp));
    assert_eq!(app.post_form(&fast_and_spammy).await.status(), 303);

    let mut verdicts: Vec<(String, Option<String>)> = thread_rows(&app)
        .await
        .into_iter()
        .map(|t| (t.status, t.spam_verdict))
        .collect();
    verdicts.sort();
    assert_eq!(
        verdicts,
        vec![
            (
                "held".to_owned(),
                Some("score 7.0: filled_fast 3.0, links 1.5, spam_phrases 2.5".to_owned())
            ),
            (
                "new".to_owned(),
                Some("score 2.0: form_not_shown 2.0".to_owned())
            ),
            (
                "new".to_owned(),
                Some("score 3.0: filled_fast 3.0".to_owned())
            ),
        ]
    );
}

db_test!(the_same_text_from_many_addresses_is_held);
async fn the_same_text_from_many_addresses_is_held(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SPAM__HOLD_SCORE", "3")
        .spawn()
        .await;
    let text = "Hello, I would like to offer you a partnership. Please reply.";
    let mut statuses = Vec::new();
    for (i, email) in [
        "a@one.example",
        "b@two.example",
        "c@three.example",
        "a@one.example",
    ]
    .iter()
    .enumerate()
    {
        let mut msg = valid_message();
        msg["body"] = json!(text);
        msg["email"] = json!(email);
        msg["subject"] = json!(format!("Partnership {i}"));
        assert_eq!(app.post_message(&msg).await.status(), 201);
        let rows = thread_rows(&app).await;
        let newest = rows.iter().max_by_key(|t| t.created_at).expect("a thread");
        statuses.push(newest.status.clone());
    }
    // The first two are alone; the third comes from a third address (3.0, the hold score set
    // here); the fourth is the first sender again, still two others.
    assert_eq!(statuses, ["new", "new", "held", "held"]);
    // Case and spacing do not make a text new.
    let mut msg = valid_message();
    msg["body"] = json!("HELLO, I would like to offer   you a partnership. Please reply.");
    msg["email"] = json!("d@four.example");
    assert_eq!(app.post_message(&msg).await.status(), 201);
    let held = thread_rows(&app)
        .await
        .into_iter()
        .filter(|t| t.status == "held")
        .count();
    assert_eq!(held, 3);
}

db_test!(a_spammy_reply_on_the_private_page_waits_and_approval_tells_staff);
async fn a_spammy_reply_on_the_private_page_waits_and_approval_tells_staff(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__MAIL__ACKNOWLEDGE_VISITOR", "false")
        .spawn()
        .await;
    let agent = app.signed_in("agent1", "agent").await;
    let resp = app.post_form(&valid_form()).await;
    let token = crate::helpers::location(&resp)
        .trim_start_matches("/sent/")
        .split('?')
        .next()
        .expect("token")
        .to_owned();
    app.wait_for_emails(1).await;

    let reply = app
        .client
        .post(app.url(&format!("/t/{token}")))
        .form(&[("body", HOLDABLE)])
        .send()
        .await
        .expect("reply");
    assert_eq!(reply.status(), 303, "the visitor is not told");
    let held: Vec<messages::Model> = messages::Entity::find()
        .filter(messages::Column::HeldReason.is_not_null())
        .all(app.db())
        .await
        .expect("held");
    assert_eq!(held.len(), 1);
    assert!(
        held[0]
            .held_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("the spam defences held it: score 8.0")),
        "{:?}",
        held[0].held_reason
    );
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(
        app.sent_emails().len(),
        1,
        "nobody was told of the held reply"
    );
    let thread_id = held[0].thread_id;
    let page = agent
        .get(&format!("/staff/threads/{thread_id}"))
        .await
        .text()
        .await
        .expect("thread");
    assert!(page.contains("The visitor wrote again, but the spam defences held it"));
    let visitor_page = app
        .get(&format!("/t/{token}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(
        !visitor_page.contains("link building"),
        "not part of the conversation yet"
    );
    let list = agent
        .get("/staff?status=held")
        .await
        .text()
        .await
        .expect("list");
    assert!(
        list.contains("SP-"),
        "a conversation with a held reply is under Held"
    );

    let resp = agent
        .post(
            &format!("/staff/threads/{thread_id}/messages/{}/release", held[0].id),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let mails = app.wait_for_emails(2).await;
    assert!(crate::helpers::mail_mentions(&mails[1], "link building"));
    let visitor_page = app
        .get(&format!("/t/{token}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(visitor_page.contains("link building"));
}

/// The GTUBE test string: every Rspamd refuses a message that carries it.
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

db_test!(with_rspamd_every_message_is_scored_and_staff_decisions_teach_it);
async fn with_rspamd_every_message_is_scored_and_staff_decisions_teach_it(backend: Backend) {
    let Some(builder) = TestAppBuilder::new(backend).with_rspamd().await else {
        return;
    };
    let app = builder.spawn().await;
    let rspamd = app.rspamd.as_ref().expect("the test's Rspamd");
    let agent = app.signed_in("agent1", "agent").await;

    // GTUBE: Rspamd's score alone is over the reject score.
    let mut gtube = valid_message();
    gtube["body"] = json!(format!("Hello,\n{GTUBE}\nBest regards"));
    let refused = app.post_message(&gtube).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(app.count_threads().await, 0, "nothing stored");

    // A friendly message is scored, found clean and goes through.
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    let clean = thread_rows(&app).await.remove(0);
    assert_eq!(clean.status, "new");
    let verdict = clean
        .spam_verdict
        .clone()
        .expect("Rspamd's verdict is kept");
    assert!(verdict.contains("rspamd "), "{verdict}");

    // A held one is marked as spam, then taken back: Rspamd learns both.
    assert_eq!(app.post_form(&form_with(HOLDABLE)).await.status(), 303);
    let held = thread_rows(&app)
        .await
        .into_iter()
        .find(|t| t.status == "held")
        .expect("held");
    let before = rspamd.learned();
    agent
        .post(
            &format!("/staff/threads/{}/status", held.id),
            &[("status", "spam")],
        )
        .await;
    let after_spam = rspamd.learned();
    assert_eq!(
        after_spam.0,
        before.0 + 1,
        "learned as spam: {before:?} -> {after_spam:?}"
    );
    agent
        .post(
            &format!("/staff/threads/{}/status", held.id),
            &[("status", "new")],
        )
        .await;
    let after_ham = rspamd.learned();
    assert_eq!(
        after_ham.1,
        after_spam.1 + 1,
        "learned as ham: {after_spam:?} -> {after_ham:?}"
    );

    // What Rspamd kept of these messages names none of the visitors.
    let history = rspamd.controller("history").await.to_string();
    for visitor in [
        "anna.k@example.org",
        "Anna Karenina",
        "dmitri.k@example.org",
        "Dmitri",
    ] {
        assert!(
            !history.contains(visitor),
            "Rspamd's history names {visitor}"
        );
    }
}

db_test!(when_rspamd_does_not_answer_a_message_is_held_not_lost);
async fn when_rspamd_does_not_answer_a_message_is_held_not_lost(backend: Backend) {
    let port = crate::helpers::free_port();
    let app = TestAppBuilder::new(backend)
        .set(
            "SEALPOST__SPAM__RSPAMD__URL",
            &format!("http://127.0.0.1:{port}"),
        )
        .set("SEALPOST__SPAM__RSPAMD__TIMEOUT_SECS", "2")
        .spawn()
        .await;

    assert_eq!(app.post_message(&valid_message()).await.status(), 201);

    let thread = thread_rows(&app).await.remove(0);
    assert_eq!(thread.status, "held");
    assert_eq!(
        thread.spam_verdict.as_deref(),
        Some("score 0.0: rspamd_unavailable")
    );
    assert_eq!(outbox_states(&app).await, ["held", "held"]);
}
