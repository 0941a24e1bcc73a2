//! The audit chain at scale, for the benchmark kit (`bench/run`): appends N entries (default
//! 100,000) to a fresh SQLite database in transactions of 1,000, then 500 more in a
//! transaction each, then re-walks the whole chain with `audit::verify`. Prints one JSON line.
//!
//!     cargo bench --bench audit_chain -- 100000

use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database};
use sealpost::{audit, db};

const ALONE: usize = 500;

fn main() {
    // `cargo bench` passes flags of its own (`--bench`); the first number is ours.
    let entries: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(run(entries));
}

async fn run(entries: usize) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}/audit.db?mode=rwc", dir.path().display());
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).map_sqlx_sqlite_opts(|o| {
        // As the service runs it (db::connect).
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
    });
    let conn = Database::connect(options).await.expect("sqlite");
    Migrator::up(&conn, None).await.expect("migrations");

    let started = Instant::now();
    let mut appended = 0;
    while appended < entries {
        let txn = db::begin_write(&conn).await.expect("begin");
        for _ in 0..1000.min(entries - appended) {
            append(&txn, appended).await;
            appended += 1;
        }
        txn.commit().await.expect("commit");
    }
    let batched = started.elapsed();

    let started = Instant::now();
    for i in 0..ALONE {
        let txn = db::begin_write(&conn).await.expect("begin");
        append(&txn, entries + i).await;
        txn.commit().await.expect("commit");
    }
    let alone = started.elapsed();

    let started = Instant::now();
    let verification = audit::verify(&conn).await.expect("verify");
    let verify = started.elapsed();
    assert!(verification.ok(), "the chain must verify: {verification:?}");
    assert_eq!(verification.entries as usize, entries + ALONE);

    println!(
        "{}",
        serde_json::json!({
            "entries": verification.entries,
            "verify_secs": verify.as_secs_f64(),
            "append_batched_us": per_entry_us(batched, entries),
            "append_alone_us": per_entry_us(alone, ALONE),
        })
    );
}

async fn append(txn: &sea_orm::DatabaseTransaction, i: usize) {
    audit::record(
        txn,
        "system:bench",
        "bench.append",
        Some(&format!("thread {i}")),
        serde_json::json!({ "i": i, "reason": "benchmark entry of realistic size" }),
    )
    .await
    .expect("append");
}

fn per_entry_us(took: Duration, n: usize) -> f64 {
    took.as_secs_f64() * 1e6 / n.max(1) as f64
}
