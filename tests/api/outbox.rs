//! The outbox against a real SMTP server on 127.0.0.1 (aiosmtpd): delivery, outages, dead
//! mail, and the operator's `sealpost outbox` command.

use std::collections::HashMap;

use sea_orm::EntityTrait;
use sealpost::entities::outbox;
use serde_json::json;

use crate::helpers::{
    Backend, SmtpSink, TestAppBuilder, free_port, header, mail_mentions, valid_message,
};

db_test!(notifications_are_delivered_over_smtp_to_a_real_server);
async fn notifications_are_delivered_over_smtp_to_a_real_server(backend: Backend) {
    let Some(sink) = SmtpSink::start(0).await else {
        return;
    };
    let app = TestAppBuilder::new(backend)
        .with_smtp_to(sink.addr)
        .spawn()
        .await;

    let resp = app.post_message(&valid_message()).await;
    assert_eq!(resp.status(), 201);

    let mails = sink.wait_for(2).await;
    let staff = mails
        .iter()
        .find(|m| header(m, "To").is_some_and(|t| t.contains("staff@")))
        .expect("staff mail");
    assert!(!mail_mentions(staff, "anna.k@example.org"));
    let status = app.wait_for_outbox_idle().await;
    assert_eq!((status.sent, status.dead), (2, 0));
}

db_test!(mail_waits_while_the_smtp_server_is_down_and_none_is_lost_or_sent_twice);
async fn mail_waits_while_the_smtp_server_is_down_and_none_is_lost_or_sent_twice(backend: Backend) {
    if !SmtpSink::available() {
        SmtpSink::start(0).await;
        return;
    }
    let port = free_port();
    let app = TestAppBuilder::new(backend)
        .with_smtp_to(([127, 0, 0, 1], port).into())
        .spawn()
        .await;

    for i in 0..5 {
        let resp = app
            .post_message(&json!({"body": format!("message {i}"), "consent": true}))
            .await;
        assert_eq!(resp.status(), 201);
    }
    // Let the worker fail at least once against the closed port.
    let mut failed_once = false;
    for _ in 0..100 {
        let rows = outbox::Entity::find().all(app.db()).await.expect("q");
        if rows
            .iter()
            .all(|r| r.attempts >= 1 && r.last_error.is_some())
        {
            failed_once = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(failed_once, "every mail saw the outage");
    assert_eq!(
        sealpost::outbox::status(app.db())
            .await
            .expect("status")
            .sent,
        0
    );

    let sink = SmtpSink::start(port).await.expect("sink");
    let mails = sink.wait_for(5).await;
    let status = app.wait_for_outbox_idle().await;

    assert_eq!((status.sent, status.dead), (5, 0));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mails_after = sink.received();
    assert_eq!(mails_after.len(), mails.len(), "nothing arrives twice");
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for m in &mails_after {
        *by_id
            .entry(header(m, "Message-ID").expect("id"))
            .or_default() += 1;
    }
    assert!(by_id.values().all(|n| *n == 1), "{by_id:?}");
    assert_eq!(by_id.len(), 5);
}

db_test!(a_permanent_refusal_makes_the_mail_dead_at_once);
async fn a_permanent_refusal_makes_the_mail_dead_at_once(backend: Backend) {
    let Some(sink) = SmtpSink::start(0).await else {
        return;
    };
    let app = TestAppBuilder::new(backend)
        .with_smtp_to(sink.addr)
        .set("SEALPOST__MAIL__STAFF_ADDRESSES", "reject-me@example.org")
        .set("SEALPOST__MAIL__ACKNOWLEDGE_VISITOR", "false")
        .spawn()
        .await;

    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    let status = app.wait_for_outbox_idle().await;

    assert_eq!((status.sent, status.dead), (0, 1));
    let row = outbox::Entity::find()
        .one(app.db())
        .await
        .expect("q")
        .expect("row");
    assert_eq!(row.attempts, 1, "no retries after a 5xx");
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("550"), "{error}");
    assert!(
        !error.contains("reject-me"),
        "the recipient is not stored in the error: {error}"
    );
    assert!(
        !crate::helpers::captured_logs().contains("reject-me@"),
        "nor logged"
    );
    assert!(sink.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_command_reports_and_requeues_dead_mail() {
    let Some(sink) = SmtpSink::start(0).await else {
        return;
    };
    let app = TestAppBuilder::new(Backend::Sqlite)
        .with_smtp_to(sink.addr)
        .set("SEALPOST__MAIL__STAFF_ADDRESSES", "reject-me@example.org")
        .set("SEALPOST__MAIL__ACKNOWLEDGE_VISITOR", "false")
        .spawn()
        .await;
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    app.wait_for_outbox_idle().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sealpost"))
            .args(args)
            .env("SEALPOST__DATA_DIR", app.data_dir.path())
            .env("SEALPOST_CONFIG_DIR", app.data_dir.path().join("none"))
            .output()
            .expect("run")
    };

    let status = run(&["outbox", "status"]);
    let retry = run(&["outbox", "retry", "--dead"]);
    let missing = run(&["outbox", "retry", "01a20e77-05e4-71c5-8377-c1118054f3d2"]);
    let neither = run(&["outbox", "retry"]);

    assert!(status.status.success());
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(out.contains("dead     1"), "{out}");
    assert!(out.contains("sent     0"), "{out}");
    assert!(retry.status.success());
    assert!(String::from_utf8_lossy(&retry.stdout).contains("1 mail(s)"));
    assert!(!missing.status.success(), "an unknown id is an error");
    assert!(!neither.status.success(), "an id or --dead is required");
}

/// Waits (bounded) until the only outbox row satisfies `done`.
async fn wait_row(
    app: &crate::helpers::TestApp,
    done: impl Fn(&outbox::Model) -> bool,
) -> outbox::Model {
    for _ in 0..200 {
        let rows = outbox::Entity::find().all(app.db()).await.expect("q");
        if let Some(row) = rows.into_iter().find(|r| done(r)) {
            return row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the outbox row never got there");
}

db_test!(a_failing_mail_is_retried_like_a_mail_queue_and_given_up_after_five_days);
async fn a_failing_mail_is_retried_like_a_mail_queue_and_given_up_after_five_days(
    backend: Backend,
) {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    // Nothing listens on the port: every attempt fails temporarily. The clock is compressed by
    // moving the row's times, not by waiting.
    let app = TestAppBuilder::new(backend)
        .with_smtp_to(([127, 0, 0, 1], free_port()).into())
        .set("SEALPOST__MAIL__RETRY_BASE_SECS", "300")
        .spawn()
        .await;
    let resp = app
        .post_message(
            &json!({"body": "no address, so one mail: the notification", "consent": true}),
        )
        .await;
    assert_eq!(resp.status(), 201);

    let first = wait_row(&app, |r| r.attempts == 1 && r.state == "pending").await;
    let wait = (first.next_attempt_at - chrono::Utc::now().fixed_offset()).num_seconds();
    assert!(
        (230..=360).contains(&wait),
        "first retry after ~300 s, not {wait}"
    );

    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::NextAttemptAt,
            Expr::value(chrono::Utc::now().fixed_offset() - chrono::Duration::seconds(1)),
        )
        .filter(outbox::Column::Id.eq(first.id))
        .exec(app.db())
        .await
        .unwrap();
    let second = wait_row(&app, |r| r.attempts == 2 && r.state == "pending").await;
    let wait = (second.next_attempt_at - chrono::Utc::now().fixed_offset()).num_seconds();
    assert!((470..=720).contains(&wait), "then ~600 s, not {wait}");

    // Five days and an hour later, still failing: given up.
    let now = chrono::Utc::now().fixed_offset();
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::CreatedAt,
            Expr::value(now - chrono::Duration::hours(121)),
        )
        .col_expr(
            outbox::Column::NextAttemptAt,
            Expr::value(now - chrono::Duration::seconds(1)),
        )
        .filter(outbox::Column::Id.eq(first.id))
        .exec(app.db())
        .await
        .unwrap();
    let dead = wait_row(&app, |r| r.state == "dead").await;
    assert_eq!(dead.attempts, 3);
    assert!(
        dead.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("gave up after 3 attempts"),
        "{:?}",
        dead.last_error
    );
}

db_test!(mail_in_many_batches_is_each_delivered_once);
async fn mail_in_many_batches_is_each_delivered_once(backend: Backend) {
    // The worker claims the next batch while it delivers the current one.
    let Some(sink) = SmtpSink::start(0).await else {
        return;
    };
    let app = TestAppBuilder::new(backend)
        .with_smtp_to(sink.addr)
        .set("SEALPOST__MAIL__BATCH_SIZE", "3")
        .set("SEALPOST__MAIL__SMTP__MAX_CONNECTIONS", "2")
        .spawn()
        .await;
    for i in 0..20 {
        let mut body = valid_message();
        body["subject"] = format!("Question {i}").into();
        assert_eq!(app.post_message(&body).await.status(), 201);
    }
    sink.wait_for(40).await;
    let status = app.wait_for_outbox_idle().await;
    assert_eq!((status.sent, status.dead, status.pending), (40, 0, 0));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for m in sink.received() {
        *by_id
            .entry(header(&m, "Message-ID").expect("id"))
            .or_default() += 1;
    }
    assert_eq!(by_id.len(), 40, "every mail arrived");
    assert!(by_id.values().all(|n| *n == 1), "none twice: {by_id:?}");
}

db_test!(a_batch_claimed_ahead_is_put_back_at_shutdown);
async fn a_batch_claimed_ahead_is_put_back_at_shutdown(backend: Backend) {
    // An SMTP server that accepts connections and never says a word: the first batch hangs
    // until the SMTP timeout while the second is claimed ahead of it. The timeout is the window
    // in which both batches must be seen claimed, so it is generous for a loaded machine.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let app = TestAppBuilder::new(backend)
        .with_smtp_to(addr)
        .set("SEALPOST__MAIL__BATCH_SIZE", "2")
        .set("SEALPOST__MAIL__SMTP__MAX_CONNECTIONS", "1")
        .set("SEALPOST__MAIL__SMTP__TIMEOUT_SECS", "4")
        .spawn()
        .await;
    // Four mails committed at once, so that the worker finds a full batch and the next one.
    let txn = sea_orm::TransactionTrait::begin(app.db()).await.unwrap();
    for i in 0..4 {
        enqueue_staff_mail(&txn, &app, &format!("ahead-{i}"), &format!("Mail {i}")).await;
    }
    txn.commit().await.unwrap();
    let state_of = |rows: &[outbox::Model]| {
        rows.iter()
            .map(|r| (r.state.clone(), r.attempts))
            .collect::<Vec<_>>()
    };
    let mut all_claimed = false;
    for _ in 0..200 {
        let rows = outbox::Entity::find().all(app.db()).await.unwrap();
        if rows.len() == 4 && rows.iter().all(|r| r.state == "sending") {
            all_claimed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        all_claimed,
        "both batches are claimed while the first is being sent"
    );
    app.stop();
    // The first batch times out and is recorded for a retry; the second, never attempted, is
    // put back as it was instead of waiting out its lease.
    let mut rows = Vec::new();
    for _ in 0..300 {
        rows = outbox::Entity::find().all(app.db()).await.unwrap();
        if rows.iter().all(|r| r.state == "pending") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut states = state_of(&rows);
    states.sort();
    assert_eq!(
        states,
        vec![
            ("pending".to_owned(), 0),
            ("pending".to_owned(), 0),
            ("pending".to_owned(), 1),
            ("pending".to_owned(), 1),
        ],
        "attempted mail waits for its retry, the batch claimed ahead is released untouched"
    );
    held.abort();
}

db_test!(the_worker_takes_back_run_out_leases_and_leaves_live_leases_and_held_mail_alone);
async fn the_worker_takes_back_run_out_leases_and_leaves_live_leases_and_held_mail_alone(
    backend: Backend,
) {
    use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
    let Some(sink) = SmtpSink::start(0).await else {
        return;
    };
    let app = TestAppBuilder::new(backend)
        .with_smtp_to(sink.addr)
        .set("SEALPOST__MAIL__POLL_INTERVAL_MS", "50")
        .spawn()
        .await;
    let now = chrono::Utc::now().fixed_offset();
    let hour = chrono::Duration::hours(1);
    // (subject, state, lease_until, not_before): written in one transaction, so that the
    // worker sees them only as they are meant.
    let cases = [
        ("lease ran out", "sending", Some(now - hour), None),
        ("lease still held", "sending", Some(now + hour), None),
        (
            "held until tomorrow",
            "pending",
            None,
            Some(now + hour * 24),
        ),
        ("due", "pending", None, None),
    ];
    let txn = sealpost::db::begin_write(app.db()).await.unwrap();
    for (subject, state, lease_until, not_before) in cases {
        let id = enqueue_staff_mail(&txn, &app, &subject.replace(' ', "-"), subject).await;
        outbox::Entity::update_many()
            .set(outbox::ActiveModel {
                state: Set(state.into()),
                lease_until: Set(lease_until),
                // As `sealpost outbox retry` leaves a held mail: due by its attempt time.
                next_attempt_at: Set(now - hour),
                not_before: Set(not_before),
                ..Default::default()
            })
            .filter(outbox::Column::Id.eq(id))
            .exec(&txn)
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();

    let mails = sink.wait_for(2).await;
    let mut subjects: Vec<String> = mails.iter().filter_map(|m| header(m, "Subject")).collect();
    subjects.sort();
    assert_eq!(subjects, ["due", "lease ran out"]);
    let states = || async {
        outbox::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.subject, r.state))
            .collect::<HashMap<String, String>>()
    };
    let mut state = states().await;
    for _ in 0..200 {
        if state["lease ran out"] == "sent" && state["due"] == "sent" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        state = states().await;
    }
    assert_eq!(state["lease ran out"], "sent");
    assert_eq!(state["due"], "sent");
    assert_eq!(
        state["lease still held"], "sending",
        "another worker's claim"
    );
    assert_eq!(state["held until tomorrow"], "pending");
    assert_eq!(sink.received().len(), 2, "nothing else was sent");
}

/// Queues one small mail to staff (`<{local}@relay.test>`) in `txn`; returns its row id.
async fn enqueue_staff_mail(
    txn: &impl sea_orm::ConnectionTrait,
    app: &crate::helpers::TestApp,
    local: &str,
    subject: &str,
) -> uuid::Uuid {
    let mail = sealpost::mail::Composed {
        message_id: format!("<{local}@relay.test>"),
        from: "Sealpost <reply@relay.test>".parse().unwrap(),
        reply_to: None,
        subject: subject.into(),
        text: "Hello".into(),
        html: "<p>Hello</p>".into(),
        in_reply_to: None,
        references: None,
        auto_submitted: Some("auto-generated".into()),
    };
    sealpost::outbox::enqueue(
        txn,
        &app.state.sealer,
        sealpost::outbox::Kind::StaffAnswer,
        None,
        sealpost::outbox::Recipient::Staff,
        None,
        &mail,
    )
    .await
    .unwrap()
}
