//! `sealpost audit`: re-walks the audit log's chain against a signed checkpoint, and signs one.

use std::path::PathBuf;

use clap::Subcommand;

use sealpost::audit::{self, CheckpointError, checkpoints};
use sealpost::config::Settings;
use sealpost::db::DbSetupError;

use super::common::database;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Re-walk the hash chain and prove it extends the latest checkpoint `sealpost serve` wrote
    /// to <data_dir>/audit-checkpoints.jsonl; names the first broken entry, or the checkpoint
    /// it no longer extends, and exits 1.
    Verify {
        /// Check against this checkpoint instead (one from `sealpost audit checkpoint`, or a
        /// file of them, one per line: the last counts).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Print a signed checkpoint of the log's head (JSON), to keep somewhere else.
    Checkpoint,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error(transparent)]
    Verify(#[from] checkpoints::VerifyError),
    #[error(transparent)]
    Key(#[from] checkpoints::KeyError),
    #[error("{0}")]
    Checkpoint(CheckpointError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

pub async fn run(settings: &Settings, command: AuditCommand) -> Result<(), AuditError> {
    let conn = database(settings).await?;
    match command {
        AuditCommand::Verify { checkpoint } => {
            let verified =
                checkpoints::verify_extends(&conn, settings, checkpoint.as_deref()).await?;
            let extends = match verified.extends {
                checkpoints::Extends::Checkpoint(found) => format!("it extends {found}"),
                checkpoints::Extends::NoCheckpointYet(file) => format!(
                    "no checkpoint in {} yet: only the chain itself was checked, which a \
                     consistent rewrite by someone with database access (every hash recomputed, \
                     the head too) would pass; `sealpost serve` signs one at start-up and every \
                     audit.checkpoint_every_minutes{}",
                    file.display(),
                    if settings.audit.checkpoint_every().is_none() {
                        " (0 here: off)"
                    } else {
                        ""
                    }
                ),
            };
            let verification = verified.verification;
            println!(
                "the audit log verifies: {} entries, head {} {}",
                verification.entries, verification.head_seq, verification.head_hash
            );
            println!("{extends}");
        }
        AuditCommand::Checkpoint => {
            let key = checkpoints::site_key(settings)?;
            let checkpoint = audit::checkpoint(&conn, &key)
                .await
                .map_err(AuditError::Checkpoint)?;
            let json = serde_json::to_string_pretty(&checkpoint)?;
            println!("{json}");
        }
    }
    Ok(())
}
