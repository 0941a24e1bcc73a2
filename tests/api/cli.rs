//! The `sealpost` command as an operator runs it.

use std::process::Command;

fn sealpost(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealpost"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SEALPOST__DATA_DIR", data_dir)
        .env("SEALPOST_CONFIG_DIR", data_dir.join("no-config"));
    cmd
}

#[test]
fn migrate_creates_the_sqlite_database_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("dir");

    let first = sealpost(dir.path()).arg("migrate").output().expect("run");
    let second = sealpost(dir.path()).arg("migrate").output().expect("run");

    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("migration(s) applied"));
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("0 migration(s) applied"));
    assert!(dir.path().join("sealpost.db").is_file());
}

#[test]
fn a_malformed_value_stops_start_up_with_the_key_named() {
    let dir = tempfile::tempdir().expect("dir");

    let out = sealpost(dir.path())
        .env("SEALPOST__SERVER__LISTEN", "nowhere")
        .arg("serve")
        .output()
        .expect("run");

    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.listen"), "{err}");
}

#[test]
fn production_refuses_to_start_with_development_secrets() {
    let dir = tempfile::tempdir().expect("dir");

    let out = sealpost(dir.path())
        .env("SEALPOST_ENV", "production")
        .env("SEALPOST__SITE__BASE_URL", "https://feedback.example.org")
        .env("SEALPOST__SEAL__KEY_ID", "2026-11")
        .env("SEALPOST__CAPTCHA__SITE_KEY", "site")
        .env(
            "SEALPOST__CAPTCHA__SECRET",
            "0x1234567890abcdef1234567890abcdef12345678",
        )
        .output()
        .expect("run");

    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("seal.key"), "{err}");
    assert!(
        !dir.path().join("sealpost.db").exists(),
        "nothing is created on refusal"
    );
}

#[test]
fn a_mistake_in_the_policy_text_stops_start_up_with_its_file_and_line() {
    let dir = tempfile::tempdir().expect("dir");
    let policy = dir.path().join("policy");
    std::fs::create_dir(&policy).expect("mkdir");
    std::fs::write(policy.join("en.md"), "## Ours\n\nRun by {operator_nme}.\n").expect("write");

    let out = sealpost(dir.path())
        .env("SEALPOST__SITE__POLICY_DIR", &policy)
        .arg("serve")
        .output()
        .expect("run");

    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("en.md, line 3") && err.contains("unknown placeholder `{operator_nme}`"),
        "{err}"
    );

    // A folder without the default language's text is refused as such.
    std::fs::remove_file(policy.join("en.md")).expect("rm");
    std::fs::write(policy.join("ru.md"), "## Наша\n").expect("write");
    let out = sealpost(dir.path())
        .env("SEALPOST__SITE__POLICY_DIR", &policy)
        .arg("serve")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("en.md is missing"), "{err}");
}

#[test]
fn an_unknown_profile_is_refused() {
    let dir = tempfile::tempdir().expect("dir");

    let out = sealpost(dir.path())
        .env("SEALPOST_ENV", "staging")
        .arg("migrate")
        .output()
        .expect("run");

    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SEALPOST_ENV"));
}

#[test]
fn keygen_prints_two_fresh_keys() {
    let dir = tempfile::tempdir().expect("dir");

    let a = sealpost(dir.path()).arg("keygen").output().expect("run");
    let b = sealpost(dir.path()).arg("keygen").output().expect("run");

    assert!(a.status.success());
    let a = String::from_utf8_lossy(&a.stdout).into_owned();
    assert!(a.contains("SEALPOST__SEAL__KEY=") && a.contains("SEALPOST__SEAL__INDEX_KEY="));
    assert!(a.contains("SEALPOST__AUDIT__SIGNING_KEY="));
    assert_ne!(a, String::from_utf8_lossy(&b.stdout));
}

fn staff_add(
    dir: &std::path::Path,
    login: &str,
    role: &str,
    password: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut child = sealpost(dir)
        .args(["staff", "add", login, "--role", role, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write");
    child.wait_with_output().expect("output")
}

#[test]
fn the_first_admin_is_created_from_the_command_line_with_a_hashed_password() {
    let dir = tempfile::tempdir().expect("dir");

    let out = staff_add(
        dir.path(),
        "Anna.Admin",
        "admin",
        "correct horse battery staple orbit",
    );

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("`anna.admin` created (admin)"));
    let db = std::fs::read(dir.path().join("sealpost.db")).expect("db");
    let wal = std::fs::read(dir.path().join("sealpost.db-wal")).unwrap_or_default();
    let all = [db, wal].concat();
    assert!(
        all.windows(10).any(|w| w == b"$argon2id$"),
        "an argon2id hash is stored"
    );
    assert!(
        !all.windows(13).any(|w| w == b"battery stapl"),
        "the password is not"
    );
}

#[test]
fn weak_passwords_duplicate_logins_and_bad_roles_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("dir");

    let short = staff_add(dir.path(), "boris", "agent", "Sh0rt!pw");
    let guessable = staff_add(dir.path(), "boris", "agent", "password12345");
    let created = staff_add(
        dir.path(),
        "boris",
        "agent",
        "violet kettle marches under snow",
    );
    let again = staff_add(
        dir.path(),
        "BORIS",
        "legal",
        "another quite strong passphrase here",
    );
    let role = staff_add(
        dir.path(),
        "carl",
        "root",
        "violet kettle marches under snow",
    );

    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    assert!(!guessable.status.success());
    assert!(String::from_utf8_lossy(&guessable.stderr).contains("too easy to guess"));
    assert!(created.status.success());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert!(!role.status.success());
    assert!(String::from_utf8_lossy(&role.stderr).contains("not a role"));
}

#[test]
fn accounts_are_disabled_and_enabled_by_login() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(
        staff_add(
            dir.path(),
            "dina",
            "legal",
            "violet kettle marches under snow"
        )
        .status
        .success()
    );

    let disable = sealpost(dir.path())
        .args(["staff", "disable", "Dina"])
        .output()
        .expect("run");
    let enable = sealpost(dir.path())
        .args(["staff", "enable", "dina"])
        .output()
        .expect("run");
    let unknown = sealpost(dir.path())
        .args(["staff", "disable", "nobody"])
        .output()
        .expect("run");
    let no_tty = sealpost(dir.path())
        .args(["staff", "add", "erik", "--role", "agent"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");

    assert!(disable.status.success());
    assert!(String::from_utf8_lossy(&disable.stdout).contains("`dina` disabled"));
    assert!(enable.status.success());
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no staff account `nobody`"));
    assert!(!no_tty.status.success());
    assert!(String::from_utf8_lossy(&no_tty.stderr).contains("--password-stdin"));
}

#[test]
fn a_forced_reset_prints_a_one_time_link_and_the_old_password_stops_working() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(
        staff_add(
            dir.path(),
            "fedor",
            "agent",
            "violet kettle marches under snow"
        )
        .status
        .success()
    );

    let reset = sealpost(dir.path())
        .args(["staff", "reset", "Fedor"])
        .output()
        .expect("run");
    let unknown = sealpost(dir.path())
        .args(["staff", "reset", "nobody"])
        .output()
        .expect("run");

    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let out = String::from_utf8_lossy(&reset.stdout);
    assert!(out.contains("http://127.0.0.1:8080/staff/reset/"), "{out}");
    assert!(!out.contains("violet"));
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no staff account `nobody`"));
    let db = std::fs::read(dir.path().join("sealpost.db")).expect("db");
    let token = out
        .split("/staff/reset/")
        .nth(1)
        .expect("token")
        .trim()
        .to_owned();
    assert!(
        !db.windows(token.len()).any(|w| w == token.as_bytes()),
        "only a hash of the link is stored"
    );
}

#[test]
fn an_api_key_is_printed_once_and_listed_without_its_secret() {
    let dir = tempfile::tempdir().expect("dir");

    let created = sealpost(dir.path())
        .args([
            "apikey",
            "create",
            "--role",
            "agent",
            "--name",
            "helpdesk bridge",
        ])
        .output()
        .expect("run");
    let listed = sealpost(dir.path())
        .args(["apikey", "list"])
        .output()
        .expect("run");
    let bad_role = sealpost(dir.path())
        .args(["apikey", "create", "--role", "root", "--name", "x"])
        .output()
        .expect("run");
    let no_name = sealpost(dir.path())
        .args(["apikey", "create", "--role", "agent", "--name", "  "])
        .output()
        .expect("run");

    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let key = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(key.starts_with("spk_") && key.len() > 40, "{key}");
    let list = String::from_utf8_lossy(&listed.stdout);
    assert!(
        list.contains("helpdesk bridge") && list.contains("agent"),
        "{list}"
    );
    assert!(!list.contains(&key));
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("not a role"));
    assert!(!no_name.status.success());
    assert!(String::from_utf8_lossy(&no_name.stderr).contains("key name"));
}

#[test]
fn audit_verify_and_checkpoints_catch_tampering() {
    let dir = tempfile::tempdir().expect("dir");
    for login in ["gleb", "galina", "gosha"] {
        assert!(
            staff_add(
                dir.path(),
                login,
                "agent",
                "violet kettle marches under snow"
            )
            .status
            .success()
        );
    }
    let run = |args: &[&str]| sealpost(dir.path()).args(args).output().expect("run");

    let verified = run(&["audit", "verify"]);
    let checkpoint = run(&["audit", "checkpoint"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(String::from_utf8_lossy(&verified.stdout).contains("3 entries"));
    assert!(checkpoint.status.success());
    let file = dir.path().join("checkpoint.json");
    std::fs::write(&file, &checkpoint.stdout).expect("write");
    let cp: serde_json::Value = serde_json::from_slice(&checkpoint.stdout).expect("json");
    assert_eq!(cp["seq"], 3);

    // The log grows: it still extends the checkpoint.
    assert!(
        staff_add(
            dir.path(),
            "gavrila",
            "agent",
            "violet kettle marches under snow"
        )
        .status
        .success()
    );
    let extends = run(&["audit", "verify", "--checkpoint", file.to_str().unwrap()]);
    assert!(
        extends.status.success(),
        "{}",
        String::from_utf8_lossy(&extends.stderr)
    );

    // A forged checkpoint is refused.
    let mut forged = cp.clone();
    forged["seq"] = 2.into();
    let forged_file = dir.path().join("forged.json");
    std::fs::write(&forged_file, forged.to_string()).expect("write");
    let refused = run(&[
        "audit",
        "verify",
        "--checkpoint",
        forged_file.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signature"));

    // Behind the application's back: an entry changed.
    let target = tamper_with_entry_2(dir.path());
    assert_eq!(
        target, "someone-else",
        "entry 2 was rewritten once the trigger was dropped"
    );
    let broken = run(&["audit", "verify"]);
    assert_eq!(broken.status.code(), Some(1));
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains("broken at entry 2"), "{err}");
    let against = run(&["audit", "verify", "--checkpoint", file.to_str().unwrap()]);
    assert!(!against.status.success());
}

/// Drops the update trigger, edits entry 2 behind the application's back, and returns the
/// target that entry 2 has now, read back from the database.
fn tamper_with_entry_2(dir: &std::path::Path) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let url = format!("sqlite://{}?mode=rw", dir.join("sealpost.db").display());
    tokio::runtime::Runtime::new()
        .expect("rt")
        .block_on(async move {
            let db = sea_orm::Database::connect(url).await.expect("db");
            for statement in [
                "DROP TRIGGER audit_log_no_update",
                "UPDATE audit_log SET target = 'someone-else' WHERE seq = 2",
            ] {
                db.execute_unprepared(statement).await.expect("sql");
            }
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT target FROM audit_log WHERE seq = 2",
                ))
                .await
                .expect("sql")
                .expect("entry 2");
            row.try_get::<String>("", "target").expect("target")
        })
}

#[test]
fn a_retention_run_reports_what_it_removed() {
    let dir = tempfile::tempdir().expect("dir");

    let out = sealpost(dir.path())
        .args(["retention", "run"])
        .output()
        .expect("run");

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 sealed IPs forgotten, 0 closed and 0 spam conversations deleted"),
        "{text}"
    );
    let verified = sealpost(dir.path())
        .args(["audit", "verify"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&verified.stdout).contains("1 entries"));
}

#[test]
fn sigterm_stops_the_server_cleanly_at_its_deadline_even_with_a_request_in_flight() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().expect("dir");
    // The shutdown deadline (1 s) is well inside the body timeout (30 s): a request whose body
    // never comes can only be cut off by the deadline, and is answered 408 if it is not.
    let mut child = sealpost(dir.path())
        .env("SEALPOST__SERVER__LISTEN", "127.0.0.1:0")
        .env("SEALPOST__SERVER__SHUTDOWN_TIMEOUT_SECS", "1")
        .env("SEALPOST__SERVER__BODY_TIMEOUT_SECS", "30")
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let addr = first
        .trim_start_matches("Sealpost is serving http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // In flight: the server has begun to read the body (it says "100 Continue"), which never
    // comes whole.
    let mut in_flight = std::net::TcpStream::connect(&addr).expect("connect");
    in_flight
        .write_all(
            b"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Expect: 100-continue\r\nContent-Length: 4000\r\n\r\n",
        )
        .expect("write");
    let mut continued = [0u8; 25];
    in_flight.read_exact(&mut continued).expect("read");
    assert!(
        continued.starts_with(b"HTTP/1.1 100 Continue"),
        "{}",
        String::from_utf8_lossy(&continued)
    );
    in_flight.write_all(br#"{"body": "Hel"#).expect("write");

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");

    assert!(status.success(), "{status:?}");
    let mut after = Vec::new();
    let _ = in_flight.read_to_end(&mut after);
    assert!(
        after.is_empty(),
        "the request in flight was answered before the server stopped, so the shutdown \
         deadline did not end it: {}",
        String::from_utf8_lossy(&after)
    );
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "no longer accepting"
    );
}

/// The command lines the README gives: every `cargo run -- ...`, and every line of a shell block
/// that starts with `sealpost` or `sealpostctl` (which passes its arguments on), as the words
/// after the program, cut at a comment, a redirection or a pipe. Placeholders become values.
fn readme_command_lines(readme: &str) -> Vec<Vec<String>> {
    fn words(text: &str) -> Vec<String> {
        let end = text
            .find(['`', '#', '>', '|', '&', '\\', '('])
            .unwrap_or(text.len());
        text[..end]
            .split_whitespace()
            .map(|word| match word {
                "ID" => "0b1f6a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b".to_owned(),
                "FILE" => "head.json".to_owned(),
                "LOGIN" => "olga".to_owned(),
                _ => word.to_owned(),
            })
            .collect()
    }
    let mut lines = Vec::new();
    let mut in_shell = false;
    for line in readme.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_shell = !in_shell && trimmed == "```sh";
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("cargo run -- ") {
            rest = &rest[at + "cargo run -- ".len()..];
            lines.push(words(rest));
        }
        if in_shell {
            for program in ["sealpost ", "sealpostctl "] {
                if let Some(args) = trimmed.strip_prefix(program) {
                    lines.push(words(args));
                }
            }
        }
    }
    lines
}

#[test]
fn every_command_line_the_readme_gives_is_one_the_cli_takes() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let lines = readme_command_lines(&readme);
    assert!(
        lines.len() >= 25,
        "only {} command lines found",
        lines.len()
    );
    for required in [
        "staff add olga --role agent",
        "apikey create --role agent --name helpdesk",
        "audit verify --checkpoint head.json",
        "outbox status",
    ] {
        assert!(
            lines.iter().any(|l| l.join(" ") == required),
            "the README no longer says `cargo run -- {required}`"
        );
    }

    let dir = tempfile::tempdir().expect("dir");
    for args in &lines {
        // With --help appended, clap still reads every word before it: an unknown command or
        // option, or a value it cannot parse (a role, an id), fails before any help is shown.
        let out = sealpost(dir.path())
            .args(args)
            .arg("--help")
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("Usage: sealpost"),
            "`sealpost {}` from the README is not a command line the CLI takes: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        !dir.path().join("sealpost.db").exists(),
        "--help ran a command"
    );
}

#[test]
fn the_readme_command_lines_are_found_and_a_wrong_one_is_caught() {
    let lines = readme_command_lines(
        "Run `cargo run -- outbox retry ID` or\n```sh\nsealpost audit verify --checkpoint FILE  # x\nsealpostctl staff add LOGIN --role admin\n```\nsealpost prose\n",
    );
    let joined: Vec<String> = lines.iter().map(|l| l.join(" ")).collect();
    assert_eq!(
        joined,
        [
            "outbox retry 0b1f6a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
            "audit verify --checkpoint head.json",
            "staff add olga --role admin",
        ]
    );
    let dir = tempfile::tempdir().expect("dir");
    let wrong = sealpost(dir.path())
        .args(["staff", "add", "olga", "--rôle", "agent", "--help"])
        .output()
        .expect("run");
    assert!(
        !wrong.status.success(),
        "an unknown option before --help is refused"
    );
}
