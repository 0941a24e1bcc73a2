//! The visitor's own data (download, erase) from the private link, erasure by address, and the
//! retention sweeper.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sealpost::entities::{audit_log, contacts, messages, outbox, threads};

use crate::helpers::{Backend, TestApp, spawn_app, valid_message};

async fn submit(app: &TestApp, email: &str) -> String {
    let mut message = valid_message();
    message["email"] = email.into();
    let resp = app.post_message(&message).await;
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.unwrap();
    body["thread_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://127.0.0.1:8080")
        .to_owned()
}

async fn actions(app: &TestApp) -> Vec<String> {
    audit_log::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

db_test!(the_visitor_downloads_everything_held_about_their_conversation);
async fn the_visitor_downloads_everything_held_about_their_conversation(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = submit(&app, "anna.k@example.org").await;
    app.wait_for_outbox_idle().await;

    let resp = app.get(&format!("{path}/export")).await;

    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let export: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(export["contact"]["email"], "anna.k@example.org");
    assert_eq!(export["contact"]["name"], "Anna Karenina");
    assert_eq!(export["contact"]["ip"], "127.0.0.1");
    assert_eq!(export["messages"][0]["author"], "visitor");
    assert!(
        export["messages"][0]["body_html"]
            .as_str()
            .unwrap()
            .contains("when will my order arrive?")
    );
    assert!(export["mails"].as_array().unwrap().len() >= 2);
    assert!(actions(&app).await.contains(&"contact.unsealed".to_owned()));
    let page = app.get(&path).await.text().await.unwrap();
    assert!(page.contains(&format!("{path}/export")));
    assert!(page.contains(&format!("{path}/erase")));
    assert_eq!(
        app.get("/t/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/export")
            .await
            .status(),
        404
    );
}

db_test!(withdrawing_consent_erases_the_conversation_and_its_contact_data);
async fn withdrawing_consent_erases_the_conversation_and_its_contact_data(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = submit(&app, "anna.k@example.org").await;
    let other = submit(&app, "boris@example.org").await;
    app.wait_for_outbox_idle().await;

    let confirm = app.get(&format!("{path}/erase")).await;
    assert_eq!(confirm.status(), 200);
    assert!(
        confirm
            .text()
            .await
            .unwrap()
            .contains("Erase this conversation?")
    );
    let erased = app
        .client
        .post(app.url(&format!("{path}/erase")))
        .send()
        .await
        .unwrap();

    assert_eq!(erased.status(), 200);
    assert!(erased.text().await.unwrap().contains("Erased"));
    assert_eq!(app.get(&path).await.status(), 404, "the link is dead");
    assert_eq!(threads::Entity::find().count(app.db()).await.unwrap(), 1);
    assert_eq!(messages::Entity::find().count(app.db()).await.unwrap(), 1);
    assert_eq!(contacts::Entity::find().count(app.db()).await.unwrap(), 1);
    let left = outbox::Entity::find().all(app.db()).await.unwrap();
    assert!(
        left.iter().all(|m| m.thread_id.is_some()),
        "no orphaned mail"
    );
    assert_eq!(app.get(&other).await.status(), 200, "the other one stays");
    assert!(actions(&app).await.contains(&"visitor.erased".to_owned()));
    assert!(sealpost::audit::verify(app.db()).await.unwrap().ok());
}

db_test!(an_admin_erases_every_conversation_of_an_address);
async fn an_admin_erases_every_conversation_of_an_address(backend: Backend) {
    let app = spawn_app(backend).await;
    submit(&app, "Anna.K@example.org").await;
    submit(&app, "anna.k@example.org").await;
    let other = submit(&app, "boris@example.org").await;
    let admin = app.signed_in("erika", "admin").await;

    let resp = admin
        .post("/staff/admin/erase", &[("email", "ANNA.K@example.org")])
        .await;
    let bad = admin
        .post("/staff/admin/erase", &[("email", "not an address")])
        .await;

    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("2 conversations of that address erased"),
        "{page}"
    );
    // The address was typed in upper case: an echo would be too.
    assert!(
        !page.to_lowercase().contains("anna.k@example.org"),
        "{page}"
    );
    assert_eq!(bad.status(), 422);
    assert_eq!(threads::Entity::find().count(app.db()).await.unwrap(), 1);
    assert_eq!(app.get(&other).await.status(), 200);
    let erasure = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("privacy.erased_by_address"))
        .one(app.db())
        .await
        .unwrap();
    assert!(erasure.is_some(), "the erasure is audited");
    // ...without the address it was asked for, in any column of any entry.
    app.assert_audit_never_mentions(&["anna.k@example.org", "anna.k"])
        .await;
}

db_test!(the_sweeper_deletes_exactly_what_is_past_its_period);
async fn the_sweeper_deletes_exactly_what_is_past_its_period(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..6 {
        submit(&app, &format!("v{i}@example.org")).await;
    }
    app.wait_for_outbox_idle().await;
    let all = threads::Entity::find().all(app.db()).await.unwrap();
    let days_ago = |d: i64| (chrono::Utc::now() - chrono::Duration::days(d)).fixed_offset();
    // 0: closed 400 days ago (due), 1: closed 100 days ago (not due), 2: spam 40 days ago (due),
    // 3: spam 10 days ago (not due), 4: new but 400 days old (never swept), 5: fresh.
    let plan = [
        ("closed", 400),
        ("closed", 100),
        ("spam", 40),
        ("spam", 10),
        ("new", 400),
    ];
    for (thread, (status, age)) in all.iter().zip(plan) {
        threads::Entity::update_many()
            .col_expr(threads::Column::Status, Expr::value(status))
            .col_expr(threads::Column::UpdatedAt, Expr::value(days_ago(age)))
            .filter(threads::Column::Id.eq(thread.id))
            .exec(app.db())
            .await
            .unwrap();
    }
    // Two contacts are older than the 30 days a sealed IP is kept.
    for thread in all.iter().skip(4) {
        contacts::Entity::update_many()
            .col_expr(contacts::Column::CreatedAt, Expr::value(days_ago(31)))
            .filter(contacts::Column::Id.eq(thread.contact_id.unwrap()))
            .exec(app.db())
            .await
            .unwrap();
    }

    let swept = sealpost::privacy::sweep(&app.state).await.unwrap();
    let again = sealpost::privacy::sweep(&app.state).await.unwrap();

    assert_eq!(swept.closed_threads_deleted, 1);
    assert_eq!(swept.spam_threads_deleted, 1);
    assert_eq!(swept.sealed_ips_forgotten, 2);
    assert_eq!(again, sealpost::privacy::Swept::default(), "nothing twice");
    let left: Vec<uuid::Uuid> = threads::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left.len(), 4);
    assert!(!left.contains(&all[0].id) && !left.contains(&all[2].id));
    let without_ip = contacts::Entity::find()
        .filter(contacts::Column::IpSealed.is_null())
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(without_ip, 2);
    let runs = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("retention.swept"))
        .all(app.db())
        .await
        .unwrap();
    assert!(runs.len() >= 2);
    assert!(
        runs.iter()
            .any(|r| r.details.contains("\"closed_threads_deleted\":1"))
    );
}

async fn hold(app: &TestApp, subject: &str) {
    let lawyer = app.signed_in("p-lawyer", "legal").await;
    let placed = lawyer
        .post(
            "/staff/legal/holds",
            &[
                ("subject", subject),
                ("reason", "Preservation order 7/2026."),
            ],
        )
        .await;
    assert_eq!(placed.status(), 200);
}

db_test!(held_data_is_neither_erased_nor_swept);
async fn held_data_is_neither_erased_nor_swept(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = submit(&app, "anna.k@example.org").await;
    submit(&app, "anna.k@example.org").await;
    app.wait_for_outbox_idle().await;
    hold(&app, "anna.k@example.org").await;
    let old = (chrono::Utc::now() - chrono::Duration::days(400)).fixed_offset();
    threads::Entity::update_many()
        .col_expr(threads::Column::Status, Expr::value("closed"))
        .col_expr(threads::Column::UpdatedAt, Expr::value(old))
        .exec(app.db())
        .await
        .unwrap();
    contacts::Entity::update_many()
        .col_expr(contacts::Column::CreatedAt, Expr::value(old))
        .exec(app.db())
        .await
        .unwrap();

    let erase = app
        .client
        .post(app.url(&format!("{path}/erase")))
        .send()
        .await
        .unwrap();
    let status = erase.status();
    let page = erase.text().await.unwrap();
    let admin = app.signed_in("p-admin", "admin").await;
    let by_address = admin
        .post("/staff/admin/erase", &[("email", "anna.k@example.org")])
        .await
        .text()
        .await
        .unwrap();
    let swept = sealpost::privacy::sweep(&app.state).await.unwrap();

    assert_eq!(status, 409);
    assert!(page.contains("It is held"), "the page says it is held");
    assert!(!page.to_lowercase().contains("preservation"), "but not why");
    assert!(
        by_address.contains("0 conversations of that address erased; 2 kept under a legal hold")
    );
    assert_eq!(swept.closed_threads_deleted, 0);
    assert_eq!(swept.sealed_ips_forgotten, 0);
    assert!(swept.held_and_kept >= 2);
    assert_eq!(threads::Entity::find().count(app.db()).await.unwrap(), 2);
    assert_eq!(
        contacts::Entity::find()
            .filter(contacts::Column::IpSealed.is_not_null())
            .count(app.db())
            .await
            .unwrap(),
        2
    );
    assert!(sealpost::audit::verify(app.db()).await.unwrap().ok());
}
