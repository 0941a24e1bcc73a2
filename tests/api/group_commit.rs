//! Group commit: concurrent submissions are written together, each exactly once with its mails
//! and its statistics, and a row that cannot be written fails only its own submission.

use chrono::Utc;
use futures_util::future::join_all;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sealpost::entities::{daily_stats, messages, outbox, threads};
use sealpost::group_commit::NewConversation;
use sealpost::mail::Composed;
use sealpost::outbox::{Kind, Recipient};
use uuid::Uuid;

use crate::helpers::{Backend, TestAppBuilder, valid_message};

db_test!(concurrent_submissions_are_each_stored_once_with_their_mail_and_counts);
async fn concurrent_submissions_are_each_stored_once_with_their_mail_and_counts(backend: Backend) {
    const N: usize = 300;
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__MAIL__DELIVER", "false")
        .spawn()
        .await;
    let answers = join_all((0..N).map(|i| {
        let app = &app;
        async move {
            let mut body = valid_message();
            body["subject"] = format!("Question {i}").into();
            let response = app.post_message(&body).await;
            assert_eq!(response.status(), 201, "submission {i}");
            let created: serde_json::Value = response.json().await.unwrap();
            created["thread_id"].as_str().unwrap().to_owned()
        }
    }))
    .await;
    let distinct: std::collections::HashSet<_> = answers.iter().collect();
    assert_eq!(distinct.len(), N, "every submission has its own thread");

    assert_eq!(app.count_threads().await, N as u64);
    assert_eq!(app.count_messages().await, N as u64);
    assert_eq!(app.count_contacts().await, N as u64);
    for id in answers.iter().take(20) {
        let id: Uuid = id.parse().unwrap();
        let thread = threads::Entity::find_by_id(id).one(app.db()).await.unwrap();
        assert!(thread.is_some(), "the thread of a 201 is stored");
        let mails = outbox::Entity::find()
            .filter(outbox::Column::ThreadId.eq(id))
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(
            mails, 2,
            "one notification and one acknowledgement per thread"
        );
    }
    let notifications = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("new_message"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(notifications, N as u64);
    let total: i64 = daily_stats::Entity::find()
        .filter(daily_stats::Column::Kind.eq("submission"))
        .filter(daily_stats::Column::Dimension.eq("total"))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|row| row.count)
        .sum();
    assert_eq!(total, N as i64, "the day's count adds up over batches");
}

db_test!(a_row_that_cannot_be_written_fails_only_its_own_submission);
async fn a_row_that_cannot_be_written_fails_only_its_own_submission(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__MAIL__DELIVER", "false")
        .spawn()
        .await;
    let writer = &app.state.writer;
    // Twelve conversations at once; the seventh reuses the first one's reference, which the
    // schema refuses. Sent together, they land in the same batch or in a few.
    let conversations: Vec<_> = (0..12)
        .map(|i| {
            conversation(
                &app.state.sealer,
                if i == 6 { "SP-DUPE-0000" } else { "" },
                i,
            )
        })
        .collect();
    let first = writer
        .store(conversation(&app.state.sealer, "SP-DUPE-0000", 99))
        .await;
    assert!(first.is_ok(), "the first use of the reference is stored");
    let outcomes = join_all(conversations.into_iter().map(|c| writer.store(c))).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        if i == 6 {
            assert!(outcome.is_err(), "the duplicate reference is refused");
        } else {
            assert!(outcome.is_ok(), "conversation {i}: {outcome:?}");
        }
    }
    assert_eq!(app.count_threads().await, 12);
    assert_eq!(app.count_messages().await, 12);
    let mails = outbox::Entity::find().count(app.db()).await.unwrap();
    assert_eq!(
        mails, 12,
        "no mail of the refused conversation is left behind"
    );
    let orphans = messages::Entity::find()
        .filter(
            messages::Column::ThreadId.is_not_in(
                threads::Entity::find()
                    .all(app.db())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|t| t.id),
            ),
        )
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(orphans, 0);
}

/// A conversation without a contact, with `reference` or a fresh one.
fn conversation(sealer: &sealpost::seal::Sealer, reference: &str, i: usize) -> NewConversation {
    let now = Utc::now().fixed_offset();
    let thread_id = Uuid::now_v7();
    let reference = if reference.is_empty() {
        format!("SP-T{:03}-{}", i, &Uuid::new_v4().simple().to_string()[..4])
    } else {
        reference.to_owned()
    };
    let mail = Composed {
        message_id: format!("<{}@relay.test>", Uuid::now_v7().simple()),
        from: "Visitor <reply@relay.test>".parse().unwrap(),
        reply_to: None,
        subject: format!("Question {i}"),
        text: "Hello".into(),
        html: "<p>Hello</p>".into(),
        in_reply_to: None,
        references: None,
        auto_submitted: Some("auto-generated".into()),
    };
    NewConversation {
        contact: None,
        thread: threads::ActiveModel {
            id: Set(thread_id),
            reference: Set(reference),
            access_token_hash: Set(Uuid::new_v4().as_bytes().to_vec()),
            contact_id: Set(None),
            subject: Set(Some(format!("Question {i}"))),
            locale: Set("en".into()),
            status: Set("new".into()),
            consent_policy_version: Set("test".into()),
            created_at: Set(now),
            updated_at: Set(now),
            spam_verdict: Set(None),
            text_digest: Set(None),
        },
        message: messages::ActiveModel {
            id: Set(Uuid::now_v7()),
            thread_id: Set(thread_id),
            author: Set("visitor".into()),
            body_html: Set("<p>Hello</p>".into()),
            created_at: Set(now),
            staff_id: Set(None),
            held_reason: Set(None),
        },
        notification: sealpost::outbox::new_row(
            sealer,
            Uuid::now_v7(),
            Kind::NewMessage,
            Some(thread_id),
            Recipient::Staff,
            None,
            &mail,
            None,
        ),
        acknowledgement: None,
        tech: None,
        held: false,
    }
}

/// sqlx 0.9.0 leaves Nagle's algorithm on for PostgreSQL; a group commit's multi-row INSERT is
/// larger than a segment, and its last partial segment then waits up to 40 ms for a delayed
/// acknowledgement. Every connection the service opens must have `TCP_NODELAY`.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_have_tcp_nodelay() {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    use sealpost::db::nodelay;

    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = TestAppBuilder::new(backend).spawn().await;
    // A submission goes through the writers' own pool, the inbox through the main one.
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    let mut checked = 0;
    for _ in 0..3 {
        let txn = app.db().begin().await.unwrap();
        let row = txn
            .query_one_raw(Statement::from_string(
                txn.get_database_backend(),
                "SELECT inet_client_port() AS port",
            ))
            .await
            .unwrap()
            .expect("a row");
        let port: i32 = row.try_get("", "port").unwrap();
        let port = u16::try_from(port).expect("a TCP connection (not a Unix socket)");
        assert_eq!(
            nodelay::of_local_port(port),
            Some(true),
            "the connection from local port {port} has TCP_NODELAY"
        );
        checked += 1;
        txn.commit().await.unwrap();
    }
    assert_eq!(checked, 3);
    // The writers' own pool, named in pg_stat_activity. Connections of other tests running
    // at the same time may be listed too; they are this process's as well, so they count.
    let rows = app
        .db()
        .query_all_raw(Statement::from_string(
            app.db().get_database_backend(),
            "SELECT client_port FROM pg_stat_activity \
             WHERE application_name = 'sealpost-writer' AND client_port > 0",
        ))
        .await
        .unwrap();
    let mut writers = 0;
    for row in rows {
        let port: i32 = row.try_get("", "client_port").unwrap();
        // None: another process's connection, or one closed since.
        if let Some(nodelay) = nodelay::of_local_port(u16::try_from(port).unwrap()) {
            assert!(
                nodelay,
                "the writer connection from port {port} has TCP_NODELAY"
            );
            writers += 1;
        }
    }
    assert!(writers > 0, "the writers' connections were found");
}

/// On SQLite the writers' commits checkpoint the WAL only past 4,000 pages; a checkpointer
/// beside them copies committed pages into the database file meanwhile, so a few hundred
/// submissions reach the database file itself well before that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_checkpointed_beside_the_writers() {
    let app = TestAppBuilder::new(Backend::Sqlite)
        .set("SEALPOST__MAIL__DELIVER", "false")
        .spawn()
        .await;
    let file = app.data_dir.path().join("sealpost.db");
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let before = size();
    join_all((0..100).map(|i| {
        let app = &app;
        async move {
            let mut body = valid_message();
            body["body"] = format!("Message {i}: {}", "words ".repeat(300)).into();
            assert_eq!(app.post_message(&body).await.status(), 201);
        }
    }))
    .await;
    let wal = app.data_dir.path().join("sealpost.db-wal");
    let wal_size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        wal_size < 4000 * 4096,
        "the WAL ({wal_size} bytes) is below the writers' own checkpoint threshold"
    );
    let grown = crate::helpers::wait_for(|| (size() > before + 200_000).then_some(())).await;
    assert!(
        grown.is_some(),
        "the database file grew from {before} to {} bytes",
        size()
    );
}
