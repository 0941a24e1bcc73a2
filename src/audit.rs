//! The audit log: an append-only, hash-chained record of everything that touches contact data
//! or who may touch it — unsealing, sign-ins and their failures, account and key changes.
//!
//! Each entry holds a sequence number, time, actor (`staff:ID`, `api_key:ID` or `system`),
//! action, target, details (JSON, as stored text), the previous entry's hash, and its own hash:
//! SHA-256 over a canonical JSON array of all of that. [`record`] writes an entry **in the
//! caller's transaction**, so that the change and its record commit together or not at all; the
//! one-row head it updates (with a compare-and-set on the sequence) serializes appends so the
//! chain cannot fork. The database refuses UPDATE and DELETE on the log (triggers). [`verify`]
//! re-walks the chain and names the first broken entry. Someone with database access can drop
//! the triggers and rewrite the chain consistently — every hash recomputed, the head too — and
//! the walk alone cannot tell; a signed [`Checkpoint`] of the head kept outside the database can:
//! [`check_checkpoint`] proves the log still extends it. `sealpost serve` writes them on its own
//! ([`checkpoints`]).

pub mod checkpoints;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::entities::{audit_head, audit_log};

/// The actor of what the service does on its own (delivering mail, retention).
pub const SYSTEM: &str = "system";

const GENESIS: [u8; 32] = [0u8; 32];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn timestamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The hash of an entry: SHA-256 over a JSON array of every field, details as stored.
fn entry_hash(
    seq: i64,
    at: &DateTime<Utc>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    details: &str,
    prev_hash: &[u8],
) -> Vec<u8> {
    let canonical = serde_json::json!([
        "sealpost-audit/v1",
        seq,
        timestamp(at),
        actor,
        action,
        target,
        details,
        hex(prev_hash),
    ]);
    Sha256::digest(canonical.to_string().as_bytes()).to_vec()
}

/// Appends an entry in the caller's transaction and returns its sequence number. On SQLite the
/// caller must hold the write lock (`db::begin_write`); on PostgreSQL the head row is locked
/// here. If this fails, the caller's change must fail with it.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    actor: &str,
    action: &str,
    target: Option<&str>,
    details: serde_json::Value,
) -> Result<i64, DbErr> {
    let mut head = audit_head::Entity::find_by_id(1);
    if conn.get_database_backend() == DbBackend::Postgres {
        head = head.lock_exclusive();
    }
    let head = head
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the audit log's head row".into()))?;
    let seq = head.seq + 1;
    // Microseconds: what PostgreSQL keeps, so that the hash survives the round trip.
    let at = Utc::now().trunc_subsecs(6);
    let details = details.to_string();
    let target: Option<String> = target.map(|t| t.chars().take(200).collect());
    let hash = entry_hash(
        seq,
        &at,
        actor,
        action,
        target.as_deref(),
        &details,
        &head.hash,
    );
    audit_log::ActiveModel {
        seq: Set(seq),
        at: Set(at.fixed_offset()),
        actor: Set(actor.chars().take(80).collect()),
        action: Set(action.to_owned()),
        target: Set(target),
        details: Set(details),
        prev_hash: Set(head.hash.clone()),
        hash: Set(hash.clone()),
    }
    .insert(conn)
    .await?;
    let moved = audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Seq, Expr::value(seq))
        .col_expr(audit_head::Column::Hash, Expr::value(hash))
        .filter(audit_head::Column::Id.eq(1))
        .filter(audit_head::Column::Seq.eq(head.seq))
        .exec(conn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(DbErr::Custom(
            "the audit log moved on during this append; the change is refused".into(),
        ));
    }
    Ok(seq)
}

/// The first entry that does not check out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub seq: i64,
    pub problem: String,
}

/// The outcome of re-walking the chain.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Entries that were checked.
    pub entries: i64,
    /// The last entry's sequence number and hash (hex), as the log holds them.
    pub head_seq: i64,
    pub head_hash: String,
    pub broken: Option<Broken>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

/// Re-walks the whole chain from the first entry.
pub async fn verify<C: ConnectionTrait>(conn: &C) -> Result<Verification, DbErr> {
    const PAGE: u64 = 1000;
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_vec();
    let mut entries = 0i64;
    let mut after = 0i64;
    let broken = 'walk: loop {
        let rows = audit_log::Entity::find()
            .filter(audit_log::Column::Seq.gt(after))
            .order_by_asc(audit_log::Column::Seq)
            .limit(PAGE)
            .all(conn)
            .await?;
        if rows.is_empty() {
            break None;
        }
        for row in &rows {
            if row.seq != expected_seq {
                break 'walk Some(Broken {
                    seq: expected_seq,
                    problem: if row.seq > expected_seq {
                        format!("entry {expected_seq} is missing (the next is {})", row.seq)
                    } else {
                        format!("entry {} is out of order", row.seq)
                    },
                });
            }
            if row.prev_hash != prev {
                break 'walk Some(Broken {
                    seq: row.seq,
                    problem: "it does not link to the entry before it".into(),
                });
            }
            let hash = entry_hash(
                row.seq,
                &row.at.with_timezone(&Utc),
                &row.actor,
                &row.action,
                row.target.as_deref(),
                &row.details,
                &row.prev_hash,
            );
            if hash != row.hash {
                break 'walk Some(Broken {
                    seq: row.seq,
                    problem: "its content does not match its hash (it was changed)".into(),
                });
            }
            prev = row.hash.clone();
            expected_seq += 1;
            entries += 1;
        }
        after = rows.last().map(|r| r.seq).unwrap_or(after);
    };
    let last_seq = expected_seq - 1;
    let broken = match broken {
        Some(b) => Some(b),
        None => {
            let head = audit_head::Entity::find_by_id(1).one(conn).await?;
            match head {
                Some(head) if head.seq == last_seq && head.hash == prev => None,
                Some(head) if head.seq > last_seq => Some(Broken {
                    seq: last_seq + 1,
                    problem: format!(
                        "entries {} to {} are missing (the head says {})",
                        last_seq + 1,
                        head.seq,
                        head.seq
                    ),
                }),
                _ => Some(Broken {
                    seq: last_seq,
                    problem: "the head does not match the last entry".into(),
                }),
            }
        }
    };
    Ok(Verification {
        entries,
        head_seq: last_seq,
        head_hash: hex(&prev),
        broken,
    })
}

/// Why `audit.signing_key` is not a key.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("audit.signing_key is not base64 ({0})")]
    NotBase64(base64::DecodeError),
    #[error("audit.signing_key must decode to 32 bytes")]
    WrongLength,
}

/// The key that signs checkpoints: `audit.signing_key`, or in development (when it is empty)
/// one derived from the seal index key.
pub fn signing_key(
    settings: &crate::config::Settings,
    sealer: &crate::seal::Sealer,
) -> Result<SigningKey, SigningKeyError> {
    use secrecy::ExposeSecret;
    let configured = settings.audit.signing_key.expose_secret().trim();
    let seed: Vec<u8> = if configured.is_empty() {
        sealer.keyed_digest("audit-checkpoint-signing-key", b"")
    } else {
        STANDARD
            .decode(configured)
            .map_err(SigningKeyError::NotBase64)?
    };
    let seed: [u8; 32] = seed.try_into().map_err(|_| SigningKeyError::WrongLength)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A signed statement of the log's head, to keep somewhere the database's owner cannot edit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: String,
    /// The Ed25519 public key (base64) that signed it.
    pub public_key: String,
    /// The signature (base64) over `sealpost-audit-checkpoint/v1|seq|hash|at`.
    pub signature: String,
}

fn signed_text(seq: i64, hash: &str, at: &str) -> String {
    format!("sealpost-audit-checkpoint/v1|{seq}|{hash}|{at}")
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("the audit log does not verify: entry {}: {}", .0.seq, .0.problem)]
    Broken(Broken),
    #[error(
        "the checkpoint was not signed by this site's audit key: it names the key {signed_by}, \
         this site's is {site}"
    )]
    WrongKey { signed_by: String, site: String },
    #[error(
        "the checkpoint's signature is not valid for its seq, hash and time: one of them or the \
         signature was altered"
    )]
    BadSignature,
    #[error("the log no longer extends the checkpoint: {0}")]
    Diverged(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error(transparent)]
    File(#[from] checkpoints::FileError),
}

/// Signs the current head, after checking the chain up to it.
pub async fn checkpoint<C: ConnectionTrait>(
    conn: &C,
    key: &SigningKey,
) -> Result<Checkpoint, CheckpointError> {
    let verification = verify(conn).await?;
    if let Some(broken) = verification.broken {
        return Err(CheckpointError::Broken(broken));
    }
    Ok(sign(verification.head_seq, verification.head_hash, key))
}

fn sign(seq: i64, hash: String, key: &SigningKey) -> Checkpoint {
    let at = timestamp(&Utc::now());
    let text = signed_text(seq, &hash, &at);
    Checkpoint {
        seq,
        hash,
        at,
        public_key: STANDARD.encode(key.verifying_key().to_bytes()),
        signature: STANDARD.encode(key.sign(text.as_bytes()).to_bytes()),
    }
}

/// Proves that the log still extends a checkpoint, for a caller that has just [`verify`]-ed the
/// chain: the checkpoint was signed by `key`, and the entry it names still has the hash it names.
/// With an intact chain that proves every entry up to it is as it was when signed.
pub async fn check_checkpoint<C: ConnectionTrait>(
    conn: &C,
    checkpoint: &Checkpoint,
    key: &VerifyingKey,
) -> Result<(), CheckpointError> {
    let site = STANDARD.encode(key.to_bytes());
    if checkpoint.public_key != site {
        return Err(CheckpointError::WrongKey {
            signed_by: checkpoint.public_key.clone(),
            site,
        });
    }
    let signature = STANDARD
        .decode(&checkpoint.signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or(CheckpointError::BadSignature)?;
    key.verify(
        signed_text(checkpoint.seq, &checkpoint.hash, &checkpoint.at).as_bytes(),
        &signature,
    )
    .map_err(|_| CheckpointError::BadSignature)?;
    if checkpoint.seq == 0 {
        if checkpoint.hash != hex(&GENESIS) {
            return Err(CheckpointError::Diverged(
                "it names a hash that an empty log cannot have".into(),
            ));
        }
        return Ok(());
    }
    let entry = audit_log::Entity::find_by_id(checkpoint.seq)
        .one(conn)
        .await?;
    match entry {
        Some(entry) if hex(&entry.hash) == checkpoint.hash => Ok(()),
        Some(entry) => Err(CheckpointError::Diverged(format!(
            "entry {} has another hash now: {} in the log, {} in the checkpoint",
            checkpoint.seq,
            hex(&entry.hash),
            checkpoint.hash
        ))),
        None => Err(CheckpointError::Diverged(format!(
            "entry {} is gone",
            checkpoint.seq
        ))),
    }
}

/// One entry as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ListedEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Entries after `after` (oldest first), at most `limit`.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<ListedEntry>, DbErr> {
    Ok(audit_log::Entity::find()
        .filter(audit_log::Column::Seq.gt(after))
        .order_by_asc(audit_log::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(|row| ListedEntry {
            seq: row.seq,
            at: row.at.with_timezone(&Utc),
            actor: row.actor,
            action: row.action,
            target: row.target,
            details: serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null),
            prev_hash: hex(&row.prev_hash),
            hash: hex(&row.hash),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field() {
        let at = Utc::now().trunc_subsecs(6);
        let base = entry_hash(1, &at, "system", "x", Some("t"), "{}", &GENESIS);
        assert_ne!(
            base,
            entry_hash(2, &at, "system", "x", Some("t"), "{}", &GENESIS)
        );
        assert_ne!(
            base,
            entry_hash(1, &at, "staff:1", "x", Some("t"), "{}", &GENESIS)
        );
        assert_ne!(
            base,
            entry_hash(1, &at, "system", "y", Some("t"), "{}", &GENESIS)
        );
        assert_ne!(
            base,
            entry_hash(1, &at, "system", "x", None, "{}", &GENESIS)
        );
        assert_ne!(
            base,
            entry_hash(1, &at, "system", "x", Some("t"), "{\"a\":1}", &GENESIS)
        );
        assert_ne!(
            base,
            entry_hash(1, &at, "system", "x", Some("t"), "{}", &[1u8; 32])
        );
        let later = at + chrono::Duration::microseconds(1);
        assert_ne!(
            base,
            entry_hash(1, &later, "system", "x", Some("t"), "{}", &GENESIS)
        );
    }

    #[test]
    fn a_checkpoint_signature_binds_its_fields() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let text = signed_text(5, "ab", "2026-11-24T00:00:00.000000Z");
        let sig = key.sign(text.as_bytes());
        assert!(key.verifying_key().verify(text.as_bytes(), &sig).is_ok());
        let other = signed_text(6, "ab", "2026-11-24T00:00:00.000000Z");
        assert!(key.verifying_key().verify(other.as_bytes(), &sig).is_err());
    }
}
