//! `sealpost retention`: the retention sweeper, run once by hand.

use clap::Subcommand;

use sealpost::config::Settings;
use sealpost::privacy;
use sealpost::startup::{self, StartupError};

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Run the sweeper once (as `sealpost serve` does every retention.interval_minutes).
    Run,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

pub async fn run(settings: Settings, command: RetentionCommand) -> Result<(), RetentionError> {
    match command {
        RetentionCommand::Run => {
            let state = startup::build_state(settings).await?;
            let swept = privacy::sweep(&state).await?;
            println!(
                "retention: {} sealed IPs forgotten, {} closed and {} spam conversations deleted, {} kept under a legal hold",
                swept.sealed_ips_forgotten,
                swept.closed_threads_deleted,
                swept.spam_threads_deleted,
                swept.held_and_kept
            );
        }
    }
    Ok(())
}
