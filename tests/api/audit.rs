//! The audit log: what is recorded, that the database refuses to change it, and that
//! verification catches every kind of tampering done behind the application's back.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ActiveValue::Unchanged, ColumnTrait, ConnectionTrait,
    DbBackend, EntityTrait, QueryFilter, QueryOrder,
};
use sealpost::audit;
use sealpost::entities::{audit_head, audit_log};
use sha2::{Digest, Sha256};

use crate::helpers::{
    Backend, STAFF_PASSWORD, TestApp, TestAppBuilder, captured_logs, spawn_app, valid_message,
    wait_for,
};

/// The login and password of the failed sign-ins in [`some_history`].
const UNKNOWN_LOGIN: &str = "nobody";
const WRONG_PASSWORD: &str = "not the password at all";

async fn entries(app: &TestApp) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .order_by_asc(audit_log::Column::Seq)
        .all(app.db())
        .await
        .unwrap()
}

/// A few entries of different kinds, made through the pages.
async fn some_history(app: &TestApp) {
    app.add_staff("audrey", "agent").await;
    let mut browser = app.browser();
    browser.sign_in("audrey", WRONG_PASSWORD).await;
    browser.sign_in(UNKNOWN_LOGIN, WRONG_PASSWORD).await;
    assert_eq!(
        browser.sign_in("audrey", STAFF_PASSWORD).await.status(),
        303
    );
    browser.refresh_csrf().await;
    browser.post("/staff/signout", &[]).await;
}

async fn drop_triggers(app: &TestApp) {
    let sql: &[&str] = match app.db().get_database_backend() {
        DbBackend::Postgres => &["DROP TRIGGER audit_log_no_change ON audit_log"],
        _ => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ],
    };
    for statement in sql {
        app.db().execute_unprepared(statement).await.unwrap();
    }
}

db_test!(sign_ins_failures_and_account_changes_are_recorded_and_the_chain_verifies);
async fn sign_ins_failures_and_account_changes_are_recorded_and_the_chain_verifies(
    backend: Backend,
) {
    let app = spawn_app(backend).await;

    some_history(&app).await;

    let rows = entries(&app).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "staff.created",
            "staff.sign_in_failed",
            "staff.sign_in_failed",
            "staff.signed_in",
            "staff.signed_out"
        ]
    );
    assert_eq!(rows[1].target.as_deref(), Some("audrey"));
    assert!(rows[1].details.contains("wrong_password"));
    assert_eq!(rows[2].target, None, "an unknown login is not written down");
    assert!(rows[2].details.contains("unknown_login"));
    app.assert_audit_never_mentions(&[UNKNOWN_LOGIN, WRONG_PASSWORD])
        .await;
    assert!(rows[3].actor.starts_with("staff:"));
    for pair in rows.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    let verification = audit::verify(app.db()).await.unwrap();
    assert!(verification.ok(), "{verification:?}");
    assert_eq!(verification.entries, 5);
}

db_test!(the_database_refuses_to_change_or_delete_entries);
async fn the_database_refuses_to_change_or_delete_entries(backend: Backend) {
    let app = spawn_app(backend).await;
    some_history(&app).await;

    let update = app
        .db()
        .execute_unprepared("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
        .await;
    let delete = app
        .db()
        .execute_unprepared("DELETE FROM audit_log WHERE seq = 2")
        .await;

    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    if app.db().get_database_backend() == DbBackend::Postgres {
        let truncate = app.db().execute_unprepared("TRUNCATE audit_log").await;
        assert!(truncate.unwrap_err().to_string().contains("append-only"));
    }
    assert!(audit::verify(app.db()).await.unwrap().ok());
}

db_test!(verification_names_the_first_edited_deleted_or_reordered_entry);
async fn verification_names_the_first_edited_deleted_or_reordered_entry(backend: Backend) {
    // Each kind of tampering on a fresh log of five entries: (what, how, first broken entry).
    let cases: Vec<(&str, Tamper, i64)> = vec![
        (
            "an edited detail",
            Tamper::Sql(vec![
                "UPDATE audit_log SET details = '{\"reason\":\"nothing happened\"}' WHERE seq = 2",
            ]),
            2,
        ),
        (
            "an edited actor",
            Tamper::Sql(vec!["UPDATE audit_log SET actor = 'system' WHERE seq = 4"]),
            4,
        ),
        (
            "a deleted entry in the middle",
            Tamper::Sql(vec!["DELETE FROM audit_log WHERE seq = 3"]),
            3,
        ),
        (
            "a deleted last entry",
            Tamper::Sql(vec!["DELETE FROM audit_log WHERE seq = 5"]),
            5,
        ),
        (
            "two entries swapped",
            Tamper::Sql(vec![
                "UPDATE audit_log SET seq = -1 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = -1",
            ]),
            2,
        ),
        (
            "an entry given another entry's hash",
            Tamper::Sql(vec![
                "UPDATE audit_log SET hash = (SELECT hash FROM audit_log WHERE seq = 1) WHERE seq = 3",
            ]),
            3,
        ),
        (
            "an entry edited with its own hash recomputed",
            Tamper::Rewrite {
                from: 3,
                through: 3,
                head: false,
            },
            4,
        ),
        (
            "the chain rewritten to its end, the head left alone",
            Tamper::Rewrite {
                from: 2,
                through: 5,
                head: false,
            },
            5,
        ),
    ];
    for (what, tamper, first_broken) in cases {
        let app = spawn_app(backend.clone()).await;
        some_history(&app).await;
        assert!(audit::verify(app.db()).await.unwrap().ok());
        drop_triggers(&app).await;

        match tamper {
            Tamper::Sql(statements) => {
                for statement in statements {
                    app.db().execute_unprepared(statement).await.unwrap();
                }
            }
            Tamper::Rewrite {
                from,
                through,
                head,
            } => rewrite(&app, from, through, head).await,
        }

        let verification = audit::verify(app.db()).await.unwrap();
        let broken = verification
            .broken
            .unwrap_or_else(|| panic!("{what} went unnoticed"));
        assert_eq!(broken.seq, first_broken, "{what}: {}", broken.problem);
    }
}

enum Tamper {
    Sql(Vec<&'static str>),
    Rewrite { from: i64, through: i64, head: bool },
}

/// An entry's hash as anyone who has read `src/audit.rs` can compute it — written out again
/// here, as the one who rewrites the log would.
fn forged_hash(row: &audit_log::Model, details: &str, prev_hash: &[u8]) -> Vec<u8> {
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    let at = row
        .at
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let canonical = serde_json::json!([
        "sealpost-audit/v1",
        row.seq,
        at,
        row.actor,
        row.action,
        row.target,
        details,
        hex(prev_hash),
    ]);
    Sha256::digest(canonical.to_string().as_bytes()).to_vec()
}

/// What someone with database access (and the triggers dropped) can do: change entry `from`'s
/// details, recompute its hash and, up to `through`, every later entry's link and hash; with
/// `head`, move the head to the new last hash as well.
async fn rewrite(app: &TestApp, from: i64, through: i64, head: bool) {
    let rows = entries(app).await;
    let mut prev = match rows.iter().find(|r| r.seq == from - 1) {
        Some(before) => before.hash.clone(),
        None => vec![0u8; 32],
    };
    for row in rows.iter().filter(|r| (from..=through).contains(&r.seq)) {
        let details = if row.seq == from {
            r#"{"reason":"nothing happened"}"#.to_owned()
        } else {
            row.details.clone()
        };
        let hash = forged_hash(row, &details, &prev);
        audit_log::ActiveModel {
            seq: Unchanged(row.seq),
            details: Set(details),
            prev_hash: Set(prev.clone()),
            hash: Set(hash.clone()),
            ..Default::default()
        }
        .update(app.db())
        .await
        .unwrap();
        prev = hash;
    }
    if head {
        audit_head::Entity::update_many()
            .col_expr(audit_head::Column::Hash, Expr::value(prev))
            .filter(audit_head::Column::Id.eq(1))
            .exec(app.db())
            .await
            .unwrap();
    }
}

/// Checkpoints are signed every 0.01 minutes (0.6 s) in the tests that watch them.
const OFTEN: &str = "0.01";

fn checkpoint_file(app: &TestApp) -> std::path::PathBuf {
    app.data_dir.path().join("audit-checkpoints.jsonl")
}

/// Every checkpoint in the app's checkpoint file, oldest first (a line still being written is
/// left out).
fn checkpoints(app: &TestApp) -> Vec<audit::Checkpoint> {
    std::fs::read_to_string(checkpoint_file(app))
        .unwrap_or_default()
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Waits for the file's last checkpoint to reach `seq`, and returns it.
async fn wait_for_checkpoint(app: &TestApp, seq: i64) -> audit::Checkpoint {
    let last = wait_for(|| checkpoints(app).pop().filter(|c| c.seq >= seq))
        .await
        .unwrap_or_else(|| panic!("no checkpoint of entry {seq}: {:?}", checkpoints(app)));
    assert_eq!(last.seq, seq, "the head moved on unexpectedly");
    last
}

/// Runs `sealpost ARGS` on the app's data directory and database.
async fn sealpost(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = app.command();
    command.args(args);
    let out = tokio::task::spawn_blocking(move || command.output().expect("run sealpost"))
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

db_test!(a_consistent_rewrite_of_the_whole_chain_passes_the_walk_but_not_the_automatic_checkpoint);
async fn a_consistent_rewrite_of_the_whole_chain_passes_the_walk_but_not_the_automatic_checkpoint(
    backend: Backend,
) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__AUDIT__CHECKPOINT_EVERY_MINUTES", OFTEN)
        .spawn()
        .await;
    some_history(&app).await;
    let signed = wait_for_checkpoint(&app, 5).await;
    let (code, out, err) = sealpost(&app, &["audit", "verify"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!(
            "it extends checkpoint 5 {} signed at",
            signed.hash
        )),
        "{out}"
    );

    // Entry 2 changed, every hash after it recomputed, the head moved along.
    drop_triggers(&app).await;
    rewrite(&app, 2, 5, true).await;

    let walk = audit::verify(app.db()).await.unwrap();
    assert!(walk.ok(), "the rewrite is consistent: {walk:?}");
    assert_eq!(walk.head_seq, 5);
    assert_ne!(walk.head_hash, signed.hash);
    // The server's next round notices and signs nothing.
    let file = checkpoint_file(&app).display().to_string();
    wait_for(|| {
        captured_logs()
            .lines()
            .any(|l| l.contains("AUDIT CHECKPOINT REFUSED") && l.contains(&file))
            .then_some(())
    })
    .await
    .expect("the server refuses to sign the rewritten head");
    assert_eq!(checkpoints(&app).pop(), Some(signed.clone()));
    let (code, out, err) = sealpost(&app, &["audit", "verify"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        err.contains(&format!(
            "the audit log no longer extends checkpoint 5 {} signed at {} (the latest in {file}): \
             entry 5 has another hash now",
            signed.hash, signed.at
        )),
        "{err}"
    );
}

db_test!(the_server_signs_a_checkpoint_at_start_up_and_then_on_its_schedule);
async fn the_server_signs_a_checkpoint_at_start_up_and_then_on_its_schedule(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__AUDIT__CHECKPOINT_EVERY_MINUTES", OFTEN)
        .spawn()
        .await;

    let at_start = wait_for_checkpoint(&app, 0).await;
    app.add_staff("bea", "agent").await;
    wait_for_checkpoint(&app, 1).await;
    app.add_staff("boris", "agent").await;
    let last = wait_for_checkpoint(&app, 2).await;
    // A round after that one, with nothing new to sign: it says so, or (wrongly) signs again.
    let file = checkpoint_file(&app).display().to_string();
    let seen = captured_logs().len();
    wait_for(|| {
        let said_so = captured_logs()
            .get(seen..)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("not signed again") && l.contains(&file));
        (said_so || checkpoints(&app).len() > 3).then_some(())
    })
    .await
    .expect("another round");

    let written = checkpoints(&app);
    let seqs: Vec<i64> = written.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [0, 1, 2], "one checkpoint per head, none repeated");
    assert_eq!(written[0], at_start);
    let key = audit::signing_key(&app.state.settings, &app.state.sealer).unwrap();
    for checkpoint in &written {
        audit::check_checkpoint(app.db(), checkpoint, &key.verifying_key())
            .await
            .unwrap_or_else(|e| panic!("{checkpoint:?}: {e}"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(checkpoint_file(&app))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner may read it: {mode:o}");
    }
    let logs = captured_logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("audit checkpoint signed and written")
                && l.contains(&last.hash)
                && l.contains(&last.signature)
                && l.contains("\"seq\":2")),
        "the checkpoint is logged with its seq, hash and signature"
    );
}

db_test!(a_log_that_only_grew_after_the_checkpoint_still_verifies);
async fn a_log_that_only_grew_after_the_checkpoint_still_verifies(backend: Backend) {
    // This server signs nothing itself; `sealpost serve` below does, once, at its start.
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__AUDIT__CHECKPOINT_EVERY_MINUTES", "0")
        .spawn()
        .await;
    some_history(&app).await;
    let file = checkpoint_file(&app).display().to_string();
    let (code, out, err) = sealpost(&app, &["audit", "verify"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!(
            "no checkpoint in {file} yet: only the chain itself was checked"
        )),
        "{out}"
    );
    let mut serve = app
        .command()
        .env("SEALPOST__SERVER__LISTEN", "127.0.0.1:0")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sealpost serve");
    let signed = wait_for_checkpoint(&app, 5).await;
    serve.kill().expect("stop sealpost serve");
    serve.wait().expect("sealpost serve stopped");

    app.add_staff("late-comer", "agent").await;
    let (code, out, err) = sealpost(&app, &["audit", "verify"]).await;
    let (given_code, given_out, given_err) =
        sealpost(&app, &["audit", "verify", "--checkpoint", &file]).await;

    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("6 entries, head 6"), "{out}");
    assert!(
        out.contains(&format!(
            "it extends checkpoint 5 {} signed at {} (the latest in {file})",
            signed.hash, signed.at
        )),
        "{out}"
    );
    assert_eq!(given_code, Some(0), "{given_err}");
    assert!(
        given_out.contains(&format!(
            "it extends checkpoint 5 {} signed at {} (from {file})",
            signed.hash, signed.at
        )),
        "{given_out}"
    );
}

/// `sealpost audit verify --checkpoint FILE` with `checkpoint` written to FILE.
async fn verify_against(
    app: &TestApp,
    checkpoint: &audit::Checkpoint,
) -> (Option<i32>, String, String) {
    let file = app.data_dir.path().join("given-checkpoint.json");
    std::fs::write(&file, serde_json::to_string(checkpoint).unwrap()).unwrap();
    let file = file.display().to_string();
    sealpost(app, &["audit", "verify", "--checkpoint", &file]).await
}

db_test!(verify_against_a_named_checkpoint_says_what_it_checked_and_names_what_differs);
async fn verify_against_a_named_checkpoint_says_what_it_checked_and_names_what_differs(
    backend: Backend,
) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__AUDIT__CHECKPOINT_EVERY_MINUTES", "0")
        .spawn()
        .await;
    some_history(&app).await;
    let (code, printed, err) = sealpost(&app, &["audit", "checkpoint"]).await;
    assert_eq!(code, Some(0), "{err}");
    let signed: audit::Checkpoint = serde_json::from_str(&printed).expect("a checkpoint");
    assert_eq!(signed.seq, 5);
    let file = app.data_dir.path().join("kept-elsewhere.json");
    std::fs::write(&file, &printed).unwrap();
    let file = file.display().to_string();
    app.add_staff("late-comer", "agent").await;
    let head = audit::verify(app.db()).await.unwrap();

    let (code, out, err) = sealpost(&app, &["audit", "verify", "--checkpoint", &file]).await;

    assert_eq!(code, Some(0), "{err}");
    for line in [
        format!("checked against the checkpoint (from {file}):"),
        format!(
            "  checkpoint: entry 5 (the log had 5 entries), hash {}",
            signed.hash
        ),
        format!(
            "  signed at {} by the key {} (this site's audit key); the signature is valid",
            signed.at, signed.public_key
        ),
        "  the log's entry 5 has that hash".to_owned(),
        "  the chain is intact from entry 1 to the head: 6 entries re-walked".to_owned(),
        "  1 entry after it (entry 6)".to_owned(),
        format!("  current head: entry 6, hash {}", head.head_hash),
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "no line {line:?} in:\n{out}"
        );
    }

    // A checkpoint edited by hand: its signature no longer covers it.
    let mut edited = signed.clone();
    edited.seq = 4;
    let (code, out, err) = verify_against(&app, &edited).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        err.contains("checkpoint 4 ") && err.contains("signature is not valid"),
        "{err}"
    );

    // One that names another key: both keys are named.
    let mut foreign = signed.clone();
    foreign.public_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let (code, _, err) = verify_against(&app, &foreign).await;
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!(
            "it names the key {}, this site's is {}",
            foreign.public_key, signed.public_key
        )),
        "{err}"
    );

    // The log rewritten consistently from entry 2 on: the chain walks, the checkpoint catches
    // it, and the message names both hashes of entry 5.
    drop_triggers(&app).await;
    rewrite(&app, 2, 6, true).await;
    let now = entries(&app).await;
    let entry_5 = now.iter().find(|e| e.seq == 5).expect("entry 5");
    let rewritten: String = entry_5.hash.iter().map(|b| format!("{b:02x}")).collect();
    assert!(audit::verify(app.db()).await.unwrap().ok());

    let (code, out, err) = sealpost(&app, &["audit", "verify", "--checkpoint", &file]).await;

    assert_eq!(code, Some(1), "{out}");
    assert!(
        err.contains(&format!(
            "no longer extends checkpoint 5 {} signed at {} (from {file}): entry 5 has another \
             hash now: {rewritten} in the log, {} in the checkpoint",
            signed.hash, signed.at, signed.hash
        )),
        "{err}"
    );
}

db_test!(unsealing_a_name_for_a_staff_page_is_recorded);
async fn unsealing_a_name_for_a_staff_page_is_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    app.wait_for_outbox_idle().await;
    let browser = app.signed_in("ulla", "agent").await;
    let thread = sealpost::entities::threads::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();

    let page = browser
        .get(&format!("/staff/threads/{}", thread.id))
        .await
        .text()
        .await
        .unwrap();

    assert!(page.contains("Anna Karenina"));
    let rows = entries(&app).await;
    let delivery = rows
        .iter()
        .find(|r| r.action == "contact.unsealed" && r.actor == "system")
        .expect("opening the address to deliver mail is recorded");
    assert!(delivery.details.contains("mail_delivery"));
    let view = rows
        .iter()
        .rev()
        .find(|r| r.action == "contact.unsealed")
        .unwrap();
    assert!(view.actor.starts_with("staff:"));
    assert!(view.details.contains("staff_view"));
    app.assert_audit_never_mentions(&["anna.k@example.org", "Anna Karenina"])
        .await;
    assert!(audit::verify(app.db()).await.unwrap().ok());
}

db_test!(legal_and_admin_read_and_verify_the_log_over_the_api);
async fn legal_and_admin_read_and_verify_the_log_over_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    some_history(&app).await;
    let legal = audit_key(&app, sealpost::domain::Role::Legal).await;
    let agent = audit_key(&app, sealpost::domain::Role::Agent).await;
    let get = |path: &'static str, key: String| {
        let client = app.client.clone();
        let url = app.url(path);
        async move { client.get(url).bearer_auth(key).send().await.unwrap() }
    };

    let first: serde_json::Value = get("/api/v1/audit?limit=3", legal.clone())
        .await
        .json()
        .await
        .unwrap();
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["seq"], 1);
    assert_eq!(items[0]["action"], "staff.created");
    assert_eq!(items[1]["prev_hash"], items[0]["hash"]);
    assert_eq!(first["next_after"], 3);
    let rest: serde_json::Value = get("/api/v1/audit?after=3", legal.clone())
        .await
        .json()
        .await
        .unwrap();
    assert!(rest["items"].as_array().unwrap().len() >= 4, "{rest}");
    assert!(rest["next_after"].is_null());
    let ok: serde_json::Value = get("/api/v1/audit/verify", legal.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(get("/api/v1/audit", agent.clone()).await.status(), 403);
    assert_eq!(get("/api/v1/audit/verify", agent).await.status(), 403);
    assert_eq!(
        get("/api/v1/audit?limit=0", legal.clone()).await.status(),
        400
    );

    drop_triggers(&app).await;
    app.db()
        .execute_unprepared("UPDATE audit_log SET action = 'nothing' WHERE seq = 2")
        .await
        .unwrap();
    let broken: serde_json::Value = get("/api/v1/audit/verify", legal)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(broken["ok"], false);
    assert_eq!(broken["broken"]["seq"], 2);
}

async fn audit_key(app: &TestApp, role: sealpost::domain::Role) -> String {
    sealpost::auth::api_key::create(app.db(), "system:test", "audit", role, None)
        .await
        .unwrap()
        .key
}
