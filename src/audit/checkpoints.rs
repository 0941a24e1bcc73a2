//! Signed checkpoints kept outside the database: the file `<data_dir>/audit-checkpoints.jsonl`,
//! one [`Checkpoint`] per line, that `sealpost serve` appends to at start-up and every
//! `audit.checkpoint_every_minutes` (each also logged), and that `sealpost audit verify` checks
//! the log against. Someone who can rewrite the database but not this file cannot forge a head
//! that verifies.
//!
//! A new checkpoint is signed only when the log still extends the file's last one: a head forged
//! by rewriting the chain between two rounds is refused (and logged as an error), never signed.
//! With several instances on one PostgreSQL, each writes the file in its own data directory.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use sea_orm::ConnectionTrait;
use tokio_util::sync::CancellationToken;

use super::{Broken, Checkpoint, CheckpointError, Verification, check_checkpoint, sign, verify};
use crate::config::Settings;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "audit-checkpoints.jsonl";

/// A checkpoint line is about 300 bytes; the last one is looked for in this much of the end.
const TAIL_BYTES: u64 = 16 * 1024;

/// Where `sealpost serve` keeps its checkpoints.
pub fn file_path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {problem}", .path.display())]
    Malformed { path: PathBuf, problem: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The file's last checkpoint; `None` when the file does not exist yet or is empty.
pub fn latest(path: &Path) -> Result<Option<Checkpoint>, FileError> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let len = file.metadata().map_err(io(path))?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start)).map_err(io(path))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(io(path))?;
    // Read from the middle of the file, the first line is only the end of one.
    let whole_lines = if start > 0 {
        match tail.iter().position(|&b| b == b'\n') {
            Some(at) => &tail[at + 1..],
            None => &[][..],
        }
    } else {
        &tail[..]
    };
    let text = String::from_utf8_lossy(whole_lines);
    let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        if start > 0 {
            return Err(FileError::Malformed {
                path: path.to_owned(),
                problem: format!("no whole line in its last {TAIL_BYTES} bytes"),
            });
        }
        return Ok(None);
    };
    serde_json::from_str(line)
        .map(Some)
        .map_err(|e| FileError::Malformed {
            path: path.to_owned(),
            problem: format!("its last line is not a checkpoint ({e})"),
        })
}

/// A checkpoint from a file an operator names: one checkpoint as `sealpost audit checkpoint`
/// prints it, or a file of them, one per line (the last counts).
pub fn read(path: &Path) -> Result<Checkpoint, FileError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    if let Ok(checkpoint) = serde_json::from_str(&text) {
        return Ok(checkpoint);
    }
    latest(path)?.ok_or_else(|| FileError::Malformed {
        path: path.to_owned(),
        problem: "it holds no checkpoint".into(),
    })
}

/// Appends one checkpoint as one line. The file is created readable by its owner only. Appends
/// from this process are serialized by a lock, and an advisory file lock keeps other processes
/// out while the line is written, so that lines never interleave.
pub fn append(path: &Path, checkpoint: &Checkpoint) -> Result<(), FileError> {
    static APPENDING: Mutex<()> = Mutex::new(());
    let mut line = serde_json::to_vec(checkpoint).map_err(|e| FileError::Malformed {
        path: path.to_owned(),
        problem: e.to_string(),
    })?;
    line.push(b'\n');
    let _guard = APPENDING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(path))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.lock().map_err(io(path))?;
    file.write_all(&line).map_err(io(path))?;
    file.sync_data().map_err(io(path))?;
    Ok(())
}

/// One round: checks the chain, checks that the log still extends the file's last checkpoint,
/// and signs and appends the head unless that checkpoint names it already. Returns the new
/// checkpoint, or `None` when the head has not moved.
pub async fn write_next<C: ConnectionTrait>(
    conn: &C,
    key: &SigningKey,
    path: &Path,
) -> Result<Option<Checkpoint>, CheckpointError> {
    let previous = latest(path)?;
    let verification = verify(conn).await?;
    if let Some(broken) = verification.broken {
        return Err(CheckpointError::Broken(broken));
    }
    if let Some(previous) = &previous {
        check_checkpoint(conn, previous, &key.verifying_key()).await?;
        if previous.seq == verification.head_seq && previous.hash == verification.head_hash {
            return Ok(None);
        }
    }
    let checkpoint = sign(verification.head_seq, verification.head_hash, key);
    append(path, &checkpoint)?;
    Ok(Some(checkpoint))
}

/// The serve loop: a round at start-up and then every `every`, until `shutdown`.
pub async fn run<C: ConnectionTrait>(
    conn: &C,
    key: SigningKey,
    path: PathBuf,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => match write_next(conn, &key, &path).await {
                Ok(Some(checkpoint)) => tracing::info!(
                    seq = checkpoint.seq,
                    hash = %checkpoint.hash,
                    at = %checkpoint.at,
                    signature = %checkpoint.signature,
                    file = %path.display(),
                    "audit checkpoint signed and written"
                ),
                Ok(None) => tracing::debug!(
                    file = %path.display(),
                    "audit checkpoint not signed again: no new entries since the last one"
                ),
                Err(CheckpointError::Db(e)) => tracing::warn!(
                    error = %e,
                    "no audit checkpoint this round: the database could not be read"
                ),
                Err(e) => tracing::error!(
                    error = %e,
                    file = %path.display(),
                    "AUDIT CHECKPOINT REFUSED: the audit log may have been tampered with; no \
                     checkpoint is signed until this is looked into (`sealpost audit verify`)"
                ),
            }
        }
    }
}

/// Why the site's checkpoint key could not be had from the settings.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("setting up the sealing keys")]
    Sealer(#[source] crate::seal::SealError),
    #[error(transparent)]
    SigningKey(#[from] super::SigningKeyError),
}

/// The key that signs this site's checkpoints, from the settings alone (for a command that runs
/// without the service's state).
pub fn site_key(settings: &Settings) -> Result<SigningKey, KeyError> {
    let sealer = crate::seal::Sealer::from_settings(&settings.seal, &settings.data_dir)
        .map_err(KeyError::Sealer)?;
    Ok(super::signing_key(settings, &sealer)?)
}

/// Where the checkpoint the log was checked against came from.
#[derive(Debug)]
pub enum Origin {
    /// A file the operator named.
    Named(PathBuf),
    /// The last line of the file `sealpost serve` writes.
    Latest(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Named(path) => write!(f, "from {}", path.display()),
            Origin::Latest(path) => write!(f, "the latest in {}", path.display()),
        }
    }
}

/// A checkpoint and where it came from; displayed as messages name it.
#[derive(Debug)]
pub struct Found {
    pub checkpoint: Checkpoint,
    pub origin: Origin,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cp = &self.checkpoint;
        write!(
            f,
            "checkpoint {} {} signed at {} ({})",
            cp.seq, cp.hash, cp.at, self.origin
        )
    }
}

/// What an intact chain was proved against.
#[derive(Debug)]
pub enum Extends {
    /// A checkpoint it still extends.
    Checkpoint(Found),
    /// Nothing: the file `sealpost serve` writes (named here) holds no checkpoint yet, so only
    /// the chain itself was checked.
    NoCheckpointYet(PathBuf),
}

/// An intact chain and what it extends.
#[derive(Debug)]
pub struct Verified {
    pub verification: Verification,
    pub extends: Extends,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error(
        "the audit log is broken at entry {}: {} ({} entries before it verify)",
        .broken.seq, .broken.problem, .entries
    )]
    Broken { broken: Broken, entries: i64 },
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the audit log no longer extends {found}: {why}; the log was rewritten after that \
         checkpoint was signed"
    )]
    Diverged { found: Found, why: String },
    #[error("{found} is refused: {refusal}")]
    Refused {
        found: Found,
        refusal: CheckpointError,
    },
}

/// Re-walks the chain, then proves that it still extends `checkpoint` (a file the operator
/// names, see [`read`]) or, without one, the latest checkpoint in the data directory's file.
pub async fn verify_extends<C: ConnectionTrait>(
    conn: &C,
    settings: &Settings,
    checkpoint: Option<&Path>,
) -> Result<Verified, VerifyError> {
    let verification = verify(conn).await?;
    if let Some(broken) = verification.broken.clone() {
        return Err(VerifyError::Broken {
            broken,
            entries: verification.entries,
        });
    }
    let automatic = file_path(&settings.data_dir);
    let found = match checkpoint {
        Some(path) => Some(Found {
            checkpoint: read(path)?,
            origin: Origin::Named(path.to_owned()),
        }),
        None => latest(&automatic)?.map(|checkpoint| Found {
            checkpoint,
            origin: Origin::Latest(automatic.clone()),
        }),
    };
    let Some(found) = found else {
        return Ok(Verified {
            verification,
            extends: Extends::NoCheckpointYet(automatic),
        });
    };
    let key = site_key(settings)?;
    match check_checkpoint(conn, &found.checkpoint, &key.verifying_key()).await {
        Ok(()) => Ok(Verified {
            verification,
            extends: Extends::Checkpoint(found),
        }),
        Err(CheckpointError::Diverged(why)) => Err(VerifyError::Diverged { found, why }),
        Err(refusal) => Err(VerifyError::Refused { found, refusal }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn checkpoint(seq: i64) -> Checkpoint {
        sign(
            seq,
            format!("{seq:064x}"),
            &SigningKey::from_bytes(&[7u8; 32]),
        )
    }

    #[test]
    fn the_last_line_is_the_latest_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_path(dir.path());
        assert_eq!(latest(&path).unwrap(), None);

        append(&path, &checkpoint(1)).unwrap();
        append(&path, &checkpoint(2)).unwrap();

        let last = latest(&path).unwrap().expect("a checkpoint");
        assert_eq!((last.seq, last.hash), (2, format!("{:064x}", 2)));
        assert_eq!(read(&path).unwrap().seq, 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
    }

    #[test]
    fn the_latest_is_found_at_the_end_of_a_long_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_path(dir.path());
        for seq in 1..=200 {
            append(&path, &checkpoint(seq)).unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() > TAIL_BYTES);
        assert_eq!(latest(&path).unwrap().unwrap().seq, 200);
    }

    #[test]
    fn a_damaged_last_line_is_an_error_not_a_missing_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_path(dir.path());
        append(&path, &checkpoint(1)).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"seq\":2,\"ha")
            .unwrap();
        let err = latest(&path).unwrap_err().to_string();
        assert!(err.contains("not a checkpoint"), "{err}");
    }

    #[test]
    fn concurrent_appends_from_one_process_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_path(dir.path());
        std::thread::scope(|s| {
            for t in 0..8 {
                let path = &path;
                s.spawn(move || {
                    for i in 0..100 {
                        append(path, &checkpoint(t * 1000 + i)).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let mut seqs: Vec<i64> = text
            .lines()
            .map(|l| serde_json::from_str::<Checkpoint>(l).expect(l).seq)
            .collect();
        seqs.sort();
        let mut expected: Vec<i64> = (0..8)
            .flat_map(|t| (0..100).map(move |i| t * 1000 + i))
            .collect();
        expected.sort();
        assert_eq!(seqs, expected);
    }
}
