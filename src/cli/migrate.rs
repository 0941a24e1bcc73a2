//! `sealpost migrate`: applies pending database migrations and exits.

use sealpost::config::Settings;
use sealpost::db::{self, DbSetupError};

pub async fn run(settings: &Settings) -> Result<(), DbSetupError> {
    let conn = db::connect(settings).await?;
    let applied = db::migrate(&conn).await?;
    println!("sealpost: {applied} migration(s) applied; the database is up to date");
    Ok(())
}
