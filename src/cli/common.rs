//! What several commands share: the database with its migrations applied, and the parser of
//! `--role`.

use sea_orm::DatabaseConnection;

use sealpost::config::Settings;
use sealpost::db::{self, DbSetupError};
use sealpost::domain::Role;

/// The database, with pending migrations applied: what every command on it starts with.
pub async fn database(settings: &Settings) -> Result<DatabaseConnection, DbSetupError> {
    let conn = db::connect(settings).await?;
    db::migrate(&conn).await?;
    Ok(conn)
}

/// What `--role` refuses.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a role: use agent, legal or admin")]
pub struct NotARole(String);

/// The value parser of `--role`.
pub fn parse_role(s: &str) -> Result<Role, NotARole> {
    Role::parse(s).ok_or_else(|| NotARole(s.to_owned()))
}
