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

/// What was checked against a checkpoint the chain extends, one fact a line.
fn against(found: &checkpoints::Found, log: &audit::Verification) -> String {
    let cp = &found.checkpoint;
    let after = log.head_seq - cp.seq;
    // Sequence numbers run from 1 without gaps: the checkpoint's is the log's length then.
    let (position, matched) = if cp.seq == 0 {
        (
            "entry 0 (the log was empty)".to_owned(),
            "that is the genesis hash, as an empty log has".to_owned(),
        )
    } else {
        (
            format!("entry {0} (the log had {0} entries)", cp.seq),
            format!("the log's entry {} has that hash", cp.seq),
        )
    };
    let after = match after {
        0 => "no entries after it: the checkpoint is the current head".to_owned(),
        1 => format!("1 entry after it (entry {})", log.head_seq),
        n => format!(
            "{n} entries after it (entries {} to {})",
            cp.seq + 1,
            log.head_seq
        ),
    };
    format!(
        "checked against the checkpoint ({origin}):\n\
         \x20 checkpoint: {position}, hash {hash}\n\
         \x20 signed at {at} by the key {key} (this site's audit key); the signature is valid\n\
         \x20 {matched}\n\
         \x20 the chain is intact from entry 1 to the head: {entries} entries re-walked\n\
         \x20 {after}\n\
         \x20 current head: entry {head_seq}, hash {head_hash}\n",
        origin = found.origin,
        hash = cp.hash,
        at = cp.at,
        key = cp.public_key,
        entries = log.entries,
        head_seq = log.head_seq,
        head_hash = log.head_hash,
    )
}

pub async fn run(settings: &Settings, command: AuditCommand) -> Result<(), AuditError> {
    let conn = database(settings).await?;
    match command {
        AuditCommand::Verify { checkpoint } => {
            let verified =
                checkpoints::verify_extends(&conn, settings, checkpoint.as_deref()).await?;
            let extends = match &verified.extends {
                checkpoints::Extends::Checkpoint(found) => format!(
                    "{}it extends {found}",
                    against(found, &verified.verification)
                ),
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
