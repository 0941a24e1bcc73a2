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
    assert_ne!(a, String::from_utf8_lossy(&b.stdout));
}
