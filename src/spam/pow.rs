//! ALTCHA's proof of work (PoW v2), served and verified by Sealpost itself: the form's widget
//! fetches a signed challenge from `GET /api/v1/challenge`, the visitor's browser derives keys
//! until it finds the one the challenge asks for, and the submission carries the answer in the
//! field `altcha`. Nothing about the visitor goes anywhere else.
//!
//! A challenge is signed with an HMAC key derived from the seal's keys (every instance that
//! shares them agrees, and there is no new secret to keep), carries its expiry, and counts once:
//! a solved challenge is written down in `pow_spent` (a digest of it and its expiry), shared by
//! every instance through the database, and a second use is refused.

use altcha::{Challenge, CreateChallengeOptions, HmacAlgorithm, Payload, VerifySolutionOptions};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TryInsertResult,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::PowSettings;
use crate::entities::pow_spent;

/// The key derivation the browser repeats: PBKDF2 with SHA-256, which every browser's Web Crypto
/// runs natively, and which the vendored widget's one worker (`pbkdf2.js`) speaks.
pub const ALGORITHM: &str = "PBKDF2/SHA-256";

/// The hex the derived key must start with: one byte of zeros. The browser tries the counters
/// 0, 1, 2, ... and meets one whose key starts so after 256 tries on average, each of `cost`
/// PBKDF2 iterations. ALTCHA's other mode (the server derives the answer's key in advance and
/// signs it, bounding the tries exactly) would spend a key derivation on every challenge
/// served, to anyone who asks; here serving a challenge costs the server one HMAC, and the one
/// derivation that checks a solution comes after the per-IP submission limit.
const KEY_PREFIX: &str = "00";

/// A widget's payload is about 700 characters; anything much longer is not one.
const MAX_PAYLOAD_CHARS: usize = 4096;

/// Issues and checks challenges. Not `Debug`: it holds the signing key.
pub struct Pow {
    /// Signs each challenge's parameters (hex, as the crate takes its HMAC keys as text).
    challenge_key: String,
    cost: u32,
    expires_secs: u64,
}

/// What a submission's proof of work amounts to, when it is not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowCheck {
    /// A challenge of ours, solved, in time, used for the first time.
    Solved,
    /// No payload, or an empty one (the browser ran no JavaScript).
    Missing,
    /// One of our challenges, signed, but past its expiry (a form left open for long).
    Expired,
}

/// Why a proof of work is refused.
#[derive(Debug, thiserror::Error)]
pub enum PowError {
    /// Not a widget's payload: not base64, not JSON of a challenge and a solution, too long.
    #[error("the proof of work is not a payload the widget sends")]
    Malformed,
    /// A challenge this service did not sign (or one altered since), or an answer that does not
    /// solve it.
    #[error("the proof of work is not for a challenge of this service, or does not solve it")]
    Forged,
    /// The challenge was solved and used before.
    #[error("the proof of work was used before")]
    Replayed,
    /// None at all, where `spam.pow.require` asks for one.
    #[error("no proof of work, and spam.pow.require is set")]
    Missing,
    /// A challenge could not be made (the crate refused our own parameters).
    #[error("creating a challenge: {0}")]
    Challenge(#[from] altcha::Error),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl Pow {
    /// The proof of work as `[spam.pow]` sets it up, signing with `secret`; `None` when it is
    /// off.
    pub fn from_settings(settings: &PowSettings, secret: &[u8]) -> Option<Pow> {
        if !settings.enabled {
            return None;
        }
        Some(Pow {
            challenge_key: hex(secret),
            cost: settings.cost,
            expires_secs: settings.expires_secs,
        })
    }

    /// A new challenge, valid for `spam.pow.expires_secs`: what `GET /api/v1/challenge` serves.
    pub fn challenge(&self) -> Result<Challenge, PowError> {
        let secs = i64::try_from(self.expires_secs).unwrap_or(i64::MAX);
        self.challenge_expiring_at(Utc::now() + chrono::Duration::seconds(secs))
    }

    /// A new challenge that expires at `at` (whole seconds, as the protocol counts them).
    pub fn challenge_expiring_at(&self, at: DateTime<Utc>) -> Result<Challenge, PowError> {
        Ok(altcha::create_challenge(CreateChallengeOptions {
            algorithm: ALGORITHM.to_owned(),
            cost: self.cost,
            key_prefix: KEY_PREFIX.to_owned(),
            expires_at: Some(at.timestamp()),
            hmac_signature_secret: Some(self.challenge_key.clone()),
            ..CreateChallengeOptions::default()
        })?)
    }

    /// Checks a submission's payload (the widget's base64 JSON, as posted) and, when it holds,
    /// spends its challenge so that it cannot count again.
    pub async fn check(
        &self,
        db: &DatabaseConnection,
        payload: Option<&str>,
    ) -> Result<PowCheck, PowError> {
        let Some(payload) = payload.map(str::trim).filter(|p| !p.is_empty()) else {
            return Ok(PowCheck::Missing);
        };
        let payload = decode(payload)?;
        let challenge = &payload.challenge;
        // The signature first: the crate reports an expired challenge before it looks at the
        // signature, and a forged one must not pass for a merely late one (that is held, not
        // refused).
        if !self.signed_by_us(challenge)? {
            return Err(PowError::Forged);
        }
        let Some(expires_at) = challenge
            .parameters
            .expires_at
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
        else {
            // Every challenge we sign has an expiry.
            return Err(PowError::Forged);
        };
        if expires_at < Utc::now() {
            return Ok(PowCheck::Expired);
        }
        // Derives the solution's key once (`cost` iterations) and compares it and its prefix:
        // milliseconds of CPU, off the threads that serve requests.
        let key = self.challenge_key.clone();
        let (challenge, solution) = (payload.challenge, payload.solution);
        let (challenge, verified) = tokio::task::spawn_blocking(move || {
            let verified =
                altcha::verify_solution(VerifySolutionOptions::new(&challenge, &solution, key));
            (challenge, verified)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "verifying a proof of work failed");
            PowError::Malformed
        })?;
        let verified = verified.map_err(|_| PowError::Malformed)?;
        if verified.expired {
            return Ok(PowCheck::Expired);
        }
        if !verified.verified {
            return Err(PowError::Forged);
        }
        self.spend(db, &challenge, expires_at).await
    }

    /// Whether `challenge` carries our signature of its parameters, compared in constant time.
    fn signed_by_us(&self, challenge: &Challenge) -> Result<bool, PowError> {
        let Some(theirs) = challenge.signature.as_deref() else {
            return Ok(false);
        };
        let mut parameters = challenge.parameters.clone();
        let ours = altcha::sign_challenge(
            &HmacAlgorithm::Sha256,
            &mut parameters,
            None,
            &self.challenge_key,
            None,
        )
        .map_err(|_| PowError::Malformed)?;
        let ours = ours.signature.unwrap_or_default();
        Ok(bool::from(ours.as_bytes().ct_eq(theirs.as_bytes())))
    }

    /// Writes the challenge down as used, or finds it was: insert-or-nothing on its digest, so
    /// that of two instances checking the same solution at once exactly one wins.
    async fn spend(
        &self,
        db: &DatabaseConnection,
        challenge: &Challenge,
        expires_at: DateTime<Utc>,
    ) -> Result<PowCheck, PowError> {
        let txn = crate::db::begin_write(db).await?;
        let inserted = pow_spent::Entity::insert(pow_spent::ActiveModel {
            digest: Set(spent_digest(challenge)),
            expires_at: Set(expires_at.fixed_offset()),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        match inserted {
            TryInsertResult::Inserted(rows) if rows > 0 => Ok(PowCheck::Solved),
            _ => Err(PowError::Replayed),
        }
    }

    /// Deletes the used challenges that have expired: they could not count again anyway.
    /// Called by the retention sweeper.
    pub async fn forget_expired(&self, db: &DatabaseConnection) -> Result<u64, DbErr> {
        let txn = crate::db::begin_write(db).await?;
        let deleted = pow_spent::Entity::delete_many()
            .filter(pow_spent::Column::ExpiresAt.lt(Utc::now().fixed_offset()))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(deleted)
    }
}

/// The widget's payload: base64 of `{"challenge": {...}, "solution": {...}}`.
fn decode(payload: &str) -> Result<Payload, PowError> {
    if payload.len() > MAX_PAYLOAD_CHARS {
        return Err(PowError::Malformed);
    }
    let json = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| PowError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| PowError::Malformed)
}

/// What `pow_spent` keys a challenge by: the SHA-256 of its signature. The signature is our
/// HMAC of all its parameters (a random nonce and salt among them), so it names one challenge,
/// and only a challenge whose signature was checked gets here.
fn spent_digest(challenge: &Challenge) -> Vec<u8> {
    Sha256::digest(
        challenge
            .signature
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
    )
    .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pow(cost: u32) -> Pow {
        let settings = PowSettings {
            enabled: true,
            require: false,
            cost,
            expires_secs: 600,
        };
        Pow::from_settings(&settings, &[7; 32]).expect("enabled")
    }

    fn encode(challenge: &Challenge, solution: &altcha::Solution) -> String {
        let json = serde_json::json!({ "challenge": challenge, "solution": solution });
        base64::engine::general_purpose::STANDARD.encode(json.to_string())
    }

    fn solve(challenge: &Challenge) -> altcha::Solution {
        altcha::solve_challenge(altcha::SolveChallengeOptions::new(challenge))
            .expect("solvable")
            .expect("solved in time")
    }

    #[test]
    fn off_is_none_and_a_challenge_is_signed_and_expires() {
        let off = PowSettings {
            enabled: false,
            require: false,
            cost: 10,
            expires_secs: 600,
        };
        assert!(Pow::from_settings(&off, &[7; 32]).is_none());
        let challenge = pow(10).challenge().expect("challenge");
        assert_eq!(challenge.parameters.algorithm, ALGORITHM);
        assert_eq!(challenge.parameters.cost, 10);
        let expires = challenge.parameters.expires_at.expect("an expiry");
        let now = Utc::now().timestamp();
        assert!((now + 599..=now + 601).contains(&expires), "{expires}");
        assert_eq!(challenge.parameters.key_prefix, KEY_PREFIX);
        assert!(challenge.parameters.key_signature.is_none());
        assert!(pow(10).signed_by_us(&challenge).expect("checked"));
    }

    #[test]
    fn another_key_or_an_altered_parameter_is_not_our_signature() {
        let ours = pow(10);
        let challenge = ours.challenge().expect("challenge");
        let other = Pow::from_settings(
            &PowSettings {
                enabled: true,
                require: false,
                cost: 10,
                expires_secs: 600,
            },
            &[8; 32],
        )
        .expect("enabled");
        assert!(!other.signed_by_us(&challenge).expect("checked"));
        let mut cheaper = challenge.clone();
        cheaper.parameters.cost = 1;
        assert!(!ours.signed_by_us(&cheaper).expect("checked"));
        let mut unsigned = challenge;
        unsigned.signature = None;
        assert!(!ours.signed_by_us(&unsigned).expect("checked"));
    }

    #[test]
    fn only_a_widget_payload_decodes() {
        let ours = pow(1);
        let challenge = ours.challenge().expect("challenge");
        let solution = solve(&challenge);
        let payload = decode(&encode(&challenge, &solution)).expect("decodes");
        assert_eq!(payload.solution.counter, solution.counter);
        for bad in [
            "not base64!".to_owned(),
            base64::engine::general_purpose::STANDARD.encode("{}"),
            base64::engine::general_purpose::STANDARD
                .encode(r#"{"challenge":null,"solution":null,"test":true}"#),
            "A".repeat(MAX_PAYLOAD_CHARS + 4),
        ] {
            assert!(
                matches!(decode(&bad), Err(PowError::Malformed)),
                "{bad:.40}"
            );
        }
    }

    #[test]
    fn the_spent_digest_names_one_challenge() {
        let ours = pow(1);
        let a = ours.challenge().expect("challenge");
        let b = ours.challenge().expect("challenge");
        assert_ne!(spent_digest(&a), spent_digest(&b));
        assert_eq!(spent_digest(&a), spent_digest(&a.clone()));
        assert_eq!(spent_digest(&a).len(), 32);
    }
}
