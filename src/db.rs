//! Database connection and migrations. SQLite runs in WAL mode with foreign keys on and a busy
//! timeout; PostgreSQL may be pinned to a schema (`database.schema`).

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
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
        .max_connections(settings.database.max_connections)
        .min_connections(1)
        .acquire_timeout(wait)
        .connect_timeout(wait)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(wait)
        });
    if !settings.database.schema.is_empty() {
        options.set_schema_search_path(settings.database.schema.clone());
    }
    Database::connect(options)
        .await
        .map_err(|source| DbSetupError::Connect {
            url: redacted(&url),
            source,
        })
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
