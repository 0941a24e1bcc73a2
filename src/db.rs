//! Database connection and migrations. SQLite runs in WAL mode with foreign keys on and a busy
//! timeout; PostgreSQL may be pinned to a schema (`database.schema`).

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("could not create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("could not connect to the database ({url}): {source}")]
    Connect { url: String, source: DbErr },
    #[error("could not apply migrations: {0}")]
    Migrate(DbErr),
}

/// The URL with any password replaced, for messages and logs.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbSetupError> {
    connect_pool(settings, Pool::Main).await
}

/// Which pool: the service keeps one for everything, and the submission writers one of their
/// own (the group commit of new conversations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// `database.max_connections` connections, `application_name` "sealpost".
    Main,
    /// This many connections, `application_name` "sealpost-writer". On SQLite a commit
    /// checkpoints the WAL only past 4,000 pages, and the writers' own checkpointer copies
    /// pages back beside them meanwhile (see [`checkpoint`]).
    Writers(u32),
    /// Two connections for the outbox worker, `application_name` "sealpost-outbox" (see
    /// its worker loop).
    Outbox,
}

/// A pool of connections to the configured database. On PostgreSQL its connections show
/// under their `application_name` in `pg_stat_activity`.
pub async fn connect_pool(
    settings: &Settings,
    pool: Pool,
) -> Result<DatabaseConnection, DbSetupError> {
    let (max_connections, application_name, autocheckpoint) = match pool {
        Pool::Main => (settings.database.max_connections, "sealpost", "1000"),
        Pool::Writers(n) => (n, "sealpost-writer", "4000"),
        Pool::Outbox => (2, "sealpost-outbox", "1000"),
    };
    let url = settings.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| DbSetupError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
    }
    // One bound on waiting for the database: a free pool connection, a new connection, and
    // on SQLite the write lock. Past it a request fails fast with 503 rather than piling up.
    let wait = Duration::from_secs(settings.database.acquire_timeout_secs);
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(wait)
        .connect_timeout(wait)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(wait)
                .pragma("wal_autocheckpoint", autocheckpoint)
                // A WAL grown under a burst is cut back to this once checkpointed.
                .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string())
        });
    if url.starts_with("postgres") {
        // One `after_connect` hook for both: sqlx keeps only one, so sea-orm's own search-path
        // hook (`set_schema_search_path`) would be replaced by ours; it is done here instead.
        let search_path = (!settings.database.schema.is_empty())
            .then(|| search_path_sql(&settings.database.schema));
        let peers = database_peers(&url).await;
        // An `application_name` in the URL wins.
        options.map_sqlx_postgres_opts(move |pg| match pg.get_application_name() {
            Some(_) => pg,
            None => pg.application_name(application_name),
        });
        options.map_sqlx_postgres_pool_opts(move |pool| {
            let search_path = search_path.clone();
            let peers = peers.clone();
            pool.after_connect(move |conn, _| {
                let search_path = search_path.clone();
                let peers = peers.clone();
                Box::pin(async move {
                    nodelay::set_towards(&peers);
                    if let Some(sql) = search_path {
                        sea_orm::sqlx::Executor::execute(conn, sea_orm::sqlx::AssertSqlSafe(sql))
                            .await?;
                    }
                    Ok(())
                })
            })
        });
    }
    Database::connect(options)
        .await
        .map_err(|source| DbSetupError::Connect {
            url: redacted(&url),
            source,
        })
}

/// `SET search_path` for `database.schema` (one schema or a comma-separated list), each name
/// quoted unless it already is.
fn search_path_sql(schema: &str) -> String {
    let names: Vec<String> = schema
        .split(',')
        .map(str::trim)
        .map(|name| {
            if name.starts_with('"') {
                name.to_owned()
            } else {
                format!("\"{}\"", name.replace('"', "\"\""))
            }
        })
        .collect();
    format!("SET search_path = {}", names.join(","))
}

/// The addresses a PostgreSQL URL's host resolves to, with its port (5432 unless given);
/// none for a Unix socket.
async fn database_peers(url: &str) -> Vec<std::net::SocketAddr> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Vec::new();
    };
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Vec::new();
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port().unwrap_or(5432);
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => addrs.collect(),
        Err(_) => Vec::new(),
    }
}

/// sqlx 0.9.0 opens its PostgreSQL TCP connections without `TCP_NODELAY` (an upstream
/// regression, fixed upstream but not yet released). A statement larger than one segment,
/// such as a group commit's multi-row INSERT, then leaves its last partial segment waiting
/// for an acknowledgement that PostgreSQL delays by up to 40 ms: measured at 64 connections,
/// the submission writers sat "idle in transaction" between statements and the machine was
/// three quarters idle. sqlx does not hand out its socket, so after each new connection this
/// finds the process's TCP sockets connected to the database and sets the option on them
/// (through a duplicate of the descriptor, `pidfd_getfd`, which needs Linux 5.6). Setting it
/// again on a socket that has it is harmless. Elsewhere, or where it is refused, connections
/// stay as sqlx made them: correct, only slower.
pub mod nodelay {
    use std::net::SocketAddr;

    /// Sets `TCP_NODELAY` on every TCP socket of this process connected to one of `peers`;
    /// returns how many it set.
    pub fn set_towards(peers: &[SocketAddr]) -> usize {
        if peers.is_empty() {
            return 0;
        }
        let mut set = 0;
        each_socket(|socket| {
            let towards_database = socket
                .peer_addr()
                .ok()
                .and_then(|addr| addr.as_socket())
                .is_some_and(|addr| peers.contains(&addr));
            if towards_database && socket.set_tcp_nodelay(true).is_ok() {
                set += 1;
            }
        });
        set
    }

    /// Whether the TCP socket of this process bound to local `port` has `TCP_NODELAY`; `None`
    /// when there is no such socket (or it cannot be looked at). For diagnostics and tests.
    pub fn of_local_port(port: u16) -> Option<bool> {
        let mut found = None;
        each_socket(|socket| {
            let local = socket.local_addr().ok().and_then(|addr| addr.as_socket());
            if local.is_some_and(|addr| addr.port() == port) {
                found = socket.tcp_nodelay().ok();
            }
        });
        found
    }

    /// Calls `f` with each socket this process holds, through a duplicate of its descriptor.
    #[cfg(target_os = "linux")]
    fn each_socket(mut f: impl FnMut(&socket2::SockRef<'_>)) {
        use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
        let Ok(me) = pidfd_open(getpid(), PidfdFlags::empty()) else {
            tracing::debug!("pidfd_open refused; database connections keep Nagle's algorithm");
            return;
        };
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
            return;
        };
        for entry in entries.flatten() {
            let is_socket = std::fs::read_link(entry.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
            let fd = entry.file_name().to_str().and_then(|n| n.parse().ok());
            let copy = match fd {
                Some(fd) if is_socket => pidfd_getfd(&me, fd, PidfdGetfdFlags::empty()),
                _ => continue,
            };
            if let Ok(copy) = copy {
                f(&socket2::SockRef::from(&copy));
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn each_socket(_f: impl FnMut(&socket2::SockRef<'_>)) {}
}

/// The size (bytes) a checkpointed WAL file is truncated back to.
const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// A passive checkpoint of SQLite's WAL: copies committed pages back into the database file
/// without blocking writers or readers. Returns the WAL's length in pages; `None` on
/// PostgreSQL.
///
/// SQLite checkpoints inside the commit that pushes the WAL past `wal_autocheckpoint` pages:
/// that commit carries all the copying and its fsync while every submission of the next
/// batch waits. The group commit runs this beside the writers, on a connection of its
/// own, so that by the time a commit checkpoints there is little left to copy; the writers'
/// threshold is 4,000 pages (16 MiB) rather than 1,000. Measured at 16 connections on the
/// 2-core VM: 3,000 submissions/s (p99 15.5 ms) before, 3,740 (p99 14.2 ms) with both. Only
/// the commit's own checkpoint lets the WAL start over from its beginning (SQLite restarts it
/// when a writer begins after a complete checkpoint), so it stays; a WAL that grew under a
/// burst is cut back to `journal_size_limit`.
pub async fn checkpoint(db: &DatabaseConnection) -> Result<Option<i64>, DbErr> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return Ok(None);
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "PRAGMA wal_checkpoint(PASSIVE)",
        ))
        .await?;
    Ok(Some(
        row.and_then(|row| row.try_get_by_index::<i64>(1).ok())
            .unwrap_or(0),
    ))
}

/// Applies pending migrations; returns how many were applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<usize, DbSetupError> {
    let pending = Migrator::get_pending_migrations(db)
        .await
        .map_err(DbSetupError::Migrate)?
        .len();
    Migrator::up(db, None)
        .await
        .map_err(DbSetupError::Migrate)?;
    Ok(pending)
}

/// Whether the database answers and takes writes, for `/readyz`. On SQLite a held write lock
/// leaves reads working but refuses every submission, so the probe also takes the write lock
/// for a moment (waiting at most `database.acquire_timeout_secs`).
pub async fn ready(db: &DatabaseConnection) -> bool {
    if db.ping().await.is_err() {
        return false;
    }
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return true;
    }
    match begin_write(db).await {
        Ok(txn) => txn.rollback().await.is_ok(),
        Err(_) => false,
    }
}

/// Which write transaction it is: the busy ones are named, so that their waits for the
/// write lock and their lengths are told apart in `/metrics`
/// (`sealpost_db_write_wait_seconds`, `sealpost_db_write_hold_seconds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Writer {
    /// The group-commit writer's batches of new conversations.
    Submissions,
    /// The outbox worker claiming due mail.
    OutboxClaim,
    /// The outbox worker recording what it delivered.
    OutboxRecord,
    /// Everything else: staff answers, sign-ins, legal workflow, ...
    Other,
}

impl Writer {
    fn label(self) -> &'static str {
        match self {
            Writer::Submissions => "submissions",
            Writer::OutboxClaim => "outbox_claim",
            Writer::OutboxRecord => "outbox_record",
            Writer::Other => "other",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct WriterLabels {
    pub writer: &'static str,
}

type WriteHistograms = prometheus_client::metrics::family::Family<
    WriterLabels,
    prometheus_client::metrics::histogram::Histogram,
>;

fn write_histogram() -> prometheus_client::metrics::histogram::Histogram {
    // 50 µs to ~26 s.
    prometheus_client::metrics::histogram::Histogram::new(
        prometheus_client::metrics::histogram::exponential_buckets(0.000_05, 2.0, 20),
    )
}

/// How long write transactions waited to begin (on SQLite: for the write lock), per
/// [`Writer`], for every database of the process (the writers' pool has no `AppState`).
pub static WRITE_WAIT: std::sync::LazyLock<WriteHistograms> =
    std::sync::LazyLock::new(|| WriteHistograms::new_with_constructor(write_histogram));
/// How long write transactions held it, from `BEGIN` to the end of `COMMIT` or `ROLLBACK`.
pub static WRITE_HOLD: std::sync::LazyLock<WriteHistograms> =
    std::sync::LazyLock::new(|| WriteHistograms::new_with_constructor(write_histogram));

/// A transaction that writes, from [`begin_write`]: used like sea-orm's, and timed. On SQLite
/// it holds its database's [`write_gate`] until it has committed or rolled back.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    writer: Writer,
    began: std::time::Instant,
    gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.end(true).await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.end(false).await
    }

    /// Commits or rolls back, then gives the gate back and times the hold.
    async fn end(self, commit: bool) -> Result<(), DbErr> {
        let Self {
            txn,
            writer,
            began,
            gate,
        } = self;
        let done = if commit {
            txn.commit().await
        } else {
            txn.rollback().await
        };
        drop(gate);
        observe(&WRITE_HOLD, writer, began);
        done
    }
}

/// The write gate of a SQLite database file: every write transaction of this process on that
/// file takes it before `BEGIN IMMEDIATE` and gives it back after `COMMIT`, in the order they
/// asked (tokio's mutex is fair). SQLite has one writer at a time anyway; without the gate,
/// writers that find the lock taken poll for it with SQLite's busy handler, which sleeps
/// 1, 2, 5, ... up to 100 ms between tries and lets whoever asks last win a free lock, so under
/// load a submission could wait a second behind the outbox's claims. Other processes (the
/// CLI while the service runs) still meet the busy handler. `None` on PostgreSQL and for
/// in-memory databases.
fn write_gate(db: &DatabaseConnection) -> Option<std::sync::Arc<tokio::sync::Mutex<()>>> {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};
    static GATES: LazyLock<Mutex<HashMap<std::path::PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return None;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" {
        return None;
    }
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let mut gates = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(gates.entry(file).or_default().clone())
}

fn observe(histograms: &WriteHistograms, writer: Writer, since: std::time::Instant) {
    histograms
        .get_or_create(&WriterLabels {
            writer: writer.label(),
        })
        .observe(since.elapsed().as_secs_f64());
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.txn.is_mock_connection()
    }
}

/// Starts a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot upgrade to a writer once
/// another connection has committed, and fails at once with "database is locked" instead of
/// waiting its turn. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    begin_write_as(db, Writer::Other).await
}

/// [`begin_write`] for one of the named [`Writer`]s.
pub async fn begin_write_as(db: &DatabaseConnection, writer: Writer) -> Result<WriteTxn, DbErr> {
    let asked = std::time::Instant::now();
    let gate = match write_gate(db) {
        Some(gate) => {
            // The same bound as SQLite's own wait for the lock (`busy_timeout`).
            let wait = db
                .get_sqlite_connection_pool()
                .options()
                .get_acquire_timeout();
            Some(
                tokio::time::timeout(wait, gate.lock_owned())
                    .await
                    .map_err(|_| {
                        DbErr::Custom(format!(
                            "database is locked: no write turn within {} s",
                            wait.as_secs()
                        ))
                    })?,
            )
        }
        None => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    observe(&WRITE_WAIT, writer, asked);
    Ok(WriteTxn {
        txn,
        writer,
        began: std::time::Instant::now(),
        gate,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// With SQLite's own wait switched off (`busy_timeout` 0), a second `BEGIN IMMEDIATE`
    /// beside a held write lock fails at once with "database is locked": that the three
    /// writers below wait and then write, in the order they asked, is the gate's doing.
    #[tokio::test]
    async fn writers_of_one_process_take_turns_in_the_order_they_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("gate.db").display());
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::ZERO)
            });
        let db = Database::connect(options).await.expect("connect");
        db.execute_unprepared("CREATE TABLE turns (n INTEGER)")
            .await
            .expect("table");

        let first = begin_write(&db).await.expect("first writer");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut writers = Vec::new();
        for n in 1..=3 {
            let (db, order) = (db.clone(), order.clone());
            writers.push(tokio::spawn(async move {
                let txn = begin_write(&db).await?;
                order.lock().expect("order").push(n);
                txn.execute_unprepared(&format!("INSERT INTO turns VALUES ({n})"))
                    .await?;
                txn.commit().await
            }));
            // On this single-threaded runtime the writer now runs until it waits its turn.
            tokio::task::yield_now().await;
        }
        first
            .execute_unprepared("INSERT INTO turns VALUES (0)")
            .await
            .expect("insert");
        first.commit().await.expect("commit");
        for writer in writers {
            writer
                .await
                .expect("task")
                .expect("each writer got its turn");
        }
        assert_eq!(*order.lock().expect("order"), vec![1, 2, 3]);
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                "SELECT n FROM turns ORDER BY rowid",
            ))
            .await
            .expect("select");
        let written: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get_by_index(0).expect("n"))
            .collect();
        assert_eq!(written, vec![0, 1, 2, 3]);
    }
}
