//! The subcommands of `sealpost`, one file per group: each owns its clap definition and a `run`
//! that calls the same use cases as the pages and the API, then prints what came of it.

mod apikey;
mod audit;
mod common;
mod keygen;
mod migrate;
mod outbox;
mod retention;
mod serve;
mod staff;

use std::path::Path;

use clap::Subcommand;

use sealpost::config::{ConfigError, Settings};
use sealpost::telemetry;

#[derive(Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve the form, the API and the pages (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print fresh random keys for seal.key and seal.index_key (for production set-up).
    Keygen,
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: staff::StaffCommand,
    },
    /// Manage API keys for the staff API.
    Apikey {
        #[command(subcommand)]
        command: apikey::ApiKeyCommand,
    },
    /// Delete what is past its retention period.
    Retention {
        #[command(subcommand)]
        command: retention::RetentionCommand,
    },
    /// Check and anchor the audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Inspect and steer the mail outbox.
    Outbox {
        #[command(subcommand)]
        command: outbox::OutboxCommand,
    },
}

/// Why a command failed: the configuration, or the command's own error. `main` prints it with
/// its causes, one after the other.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
    #[error(transparent)]
    Migrate(#[from] sealpost::db::DbSetupError),
    #[error(transparent)]
    Staff(#[from] staff::StaffError),
    #[error(transparent)]
    ApiKey(#[from] apikey::ApiKeyCommandError),
    #[error(transparent)]
    Retention(#[from] retention::RetentionError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Outbox(#[from] outbox::OutboxError),
}

/// Runs `command` (`serve` when none is given) with the configuration in `config_dir`.
pub async fn run(config_dir: &Path, command: Option<Command>) -> Result<(), CliError> {
    let command = command.unwrap_or(Command::Serve);
    if let Command::Keygen = command {
        keygen::run();
        return Ok(());
    }
    let settings = Settings::load(config_dir)?;
    telemetry::init(&settings.log);
    match command {
        Command::Serve => Ok(serve::run(settings).await?),
        Command::Migrate => Ok(migrate::run(&settings).await?),
        // Printed above, before the configuration is loaded.
        Command::Keygen => Ok(()),
        Command::Staff { command } => Ok(staff::run(&settings, command).await?),
        Command::Apikey { command } => Ok(apikey::run(&settings, command).await?),
        Command::Retention { command } => Ok(retention::run(settings, command).await?),
        Command::Audit { command } => Ok(audit::run(&settings, command).await?),
        Command::Outbox { command } => Ok(outbox::run(&settings, command).await?),
    }
}

/// The error and its causes, one after the other, each after a colon (as `anyhow` printed them
/// with `{:#}`, so the messages operators see stay the same).
pub struct WithCauses<'a>(pub &'a CliError);

impl std::fmt::Display for WithCauses<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = std::error::Error::source(self.0);
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}
