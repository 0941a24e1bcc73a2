//! Three `sealpost serve` processes on one PostgreSQL schema behind no coordination but the
//! database: submissions and replies through all of them, each mail delivered exactly once
//! (counted by Message-ID at a real SMTP sink), the audit chain intact, and a session made on
//! one instance good on the others. Runs in the PostgreSQL pass of CI.

use std::collections::HashSet;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use sea_orm::{ConnectionTrait, Database};

use crate::helpers::{STAFF_PASSWORD, SmtpSink, csrf_of, header};

mod three_instances_share_one_postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(crate::helpers::Backend::Postgres(url)) = crate::helpers::Backend::postgres() {
            super::three_instances(url).await;
        }
    }
}

struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn sealpost(env: &[(String, String)], data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealpost"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SEALPOST_CONFIG_DIR", data_dir.join("no-config"))
        .env("SEALPOST__DATA_DIR", data_dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

async fn three_instances(url: String) {
    let Some(sink) = SmtpSink::start(0).await else {
        return;
    };
    let schema = format!("sealpost_multi_{}", uuid::Uuid::now_v7().simple());
    let admin_db = Database::connect(url.as_str()).await.expect("postgres");
    admin_db
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("schema");
    // One set of keys for all instances: each must open what another sealed.
    let env: Vec<(String, String)> = [
        ("SEALPOST__DATABASE__URL", url.as_str()),
        ("SEALPOST__DATABASE__SCHEMA", schema.as_str()),
        (
            "SEALPOST__SEAL__KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        (
            "SEALPOST__SEAL__INDEX_KEY",
            "HxEREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4=",
        ),
        ("SEALPOST__SERVER__LISTEN", "127.0.0.1:0"),
        ("SEALPOST__RATE_LIMIT__ENABLED", "false"),
        ("SEALPOST__STAFF__REQUIRE_SECOND_FACTOR", "false"),
        ("SEALPOST__MAIL__TRANSPORT", "smtp"),
        ("SEALPOST__MAIL__POLL_INTERVAL_MS", "50"),
        ("SEALPOST__LOG__FILTER", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([(
        "SEALPOST__MAIL__SMTP__URL".to_owned(),
        format!("smtp://{}", sink.addr),
    )])
    .collect();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let migrated = sealpost(&env, dirs[0].path())
        .arg("migrate")
        .output()
        .expect("migrate");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let mut add = sealpost(&env, dirs[0].path())
        .args([
            "staff",
            "add",
            "multi",
            "--role",
            "agent",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("staff add");
    use std::io::Write;
    add.stdin
        .take()
        .expect("stdin")
        .write_all(format!("{STAFF_PASSWORD}\n").as_bytes())
        .expect("password");
    assert!(add.wait().expect("wait").success());
    let key = sealpost(&env, dirs[0].path())
        .args(["apikey", "create", "--role", "agent", "--name", "multi"])
        .output()
        .expect("apikey");
    let key = String::from_utf8_lossy(&key.stdout).trim().to_owned();

    let instances: Vec<Instance> = dirs
        .iter()
        .map(|dir| {
            let mut child = sealpost(&env, dir.path())
                .arg("serve")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("serve");
            let line = std::io::BufReader::new(child.stdout.take().expect("stdout"))
                .lines()
                .next()
                .expect("a line")
                .expect("utf-8");
            let base = line
                .trim_start_matches("Sealpost is serving ")
                .trim_end_matches('/')
                .to_owned();
            Instance { child, base }
        })
        .collect();
    let client = reqwest::Client::new();

    // Thirty conversations, ten through each instance: a notification and an
    // acknowledgement each.
    let mut ids = Vec::new();
    for i in 0..30 {
        let resp = client
            .post(format!("{}/api/v1/messages", instances[i % 3].base))
            .json(&serde_json::json!({
                "email": format!("visitor{i}@example.org"),
                "body": format!("Message {i}"),
                "consent": true
            }))
            .send()
            .await
            .expect("submit");
        assert_eq!(resp.status(), 201);
        let body: serde_json::Value = resp.json().await.expect("json");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    // Nine answers, three through each instance.
    for (i, id) in ids.iter().take(9).enumerate() {
        let resp = client
            .post(format!(
                "{}/api/v1/messages/{id}/replies",
                instances[i % 3].base
            ))
            .bearer_auth(&key)
            .json(&serde_json::json!({ "body": format!("Answer {i}") }))
            .send()
            .await
            .expect("reply");
        assert_eq!(resp.status(), 201);
    }

    // A session made on the first instance works on the others.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = browser
        .get(format!("{}/staff/signin", instances[0].base))
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("page");
    let csrf = csrf_of(&page).expect("csrf");
    let signed_in = browser
        .post(format!("{}/staff/signin", instances[0].base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "multi"),
            ("password", STAFF_PASSWORD),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), 303);
    for instance in &instances[1..] {
        let inbox = browser
            .get(format!("{}/staff", instance.base))
            .send()
            .await
            .expect("inbox");
        assert_eq!(
            inbox.status(),
            200,
            "the session works on {}",
            instance.base
        );
    }

    // Every mail exactly once.
    let expected = 30 * 2 + 9;
    sink.wait_for(expected).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mails = sink.received();
    let message_ids: HashSet<String> = mails
        .iter()
        .map(|m| header(m, "Message-ID").expect("Message-ID"))
        .collect();
    assert_eq!(mails.len(), expected, "no mail twice, none missing");
    assert_eq!(message_ids.len(), expected);

    // One audit chain, unforked, although three processes appended to it.
    let db = Database::connect(format!("{url}?options=-csearch_path%3D{schema}").as_str())
        .await
        .expect("schema connection");
    let verification = sealpost::audit::verify(&db).await.expect("verify");
    assert!(verification.ok(), "{verification:?}");
    // The account, the key, the sign-in, and the unsealing of addresses by all three workers.
    assert!(verification.entries >= 4, "{verification:?}");
    db.close().await.ok();
    drop(instances);
    admin_db
        .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .ok();
}
