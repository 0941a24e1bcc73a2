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
/// own (see [`crate::group_commit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// `database.max_connections` connections, `application_name` "sealpost".
    Main,
    /// This many connections, `application_name` "sealpost-writer". On SQLite a commit
    /// checkpoints the WAL only past 4,000 pages, and the writers' own checkpointer copies
    /// pages back beside them meanwhile (see [`checkpoint`]).
    Writers(u32),
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
/// batch waits. [`crate::group_commit`] runs this beside the writers, on a connection of its
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

/// Starts a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot upgrade to a writer once
/// another connection has committed, and fails at once with "database is locked" instead of
/// waiting its turn. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
