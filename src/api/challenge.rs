//! `GET /api/v1/challenge`: a signed proof-of-work challenge (ALTCHA PoW v2) for the form's
//! widget, or for a site's own form that submits through `POST /api/v1/messages` with the
//! solution as `altcha`.

use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::errors::{ApiError, UNAVAILABLE};
use super::tags::ApiTags;
use crate::http::{ErrorCode, Problem, problem};
use crate::state::App;

#[derive(Default)]
pub struct ChallengeApi;

/// What the browser works on. The names are the ALTCHA protocol's own (camelCase), as its
/// widget and libraries read them; send every parameter back unchanged.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChallengeParameters {
    /// The key derivation to repeat: `PBKDF2/SHA-256`.
    pub algorithm: String,
    /// PBKDF2 iterations per derived key (`spam.pow.cost`).
    pub cost: u32,
    /// When the challenge expires, in seconds since 1970 (UTC); a solution sent later is not
    /// refused but the message is held for review.
    pub expires_at: i64,
    /// Bytes of each derived key.
    pub key_length: u64,
    /// Hex the derived key must start with (`00`): the browser tries the counters 0, 1, 2, ...
    /// until a key does, 256 tries on average.
    pub key_prefix: String,
    /// Random, hex: the password the counter is appended to.
    pub nonce: String,
    /// Random, hex: the PBKDF2 salt.
    pub salt: String,
}

/// A challenge, signed by this service: valid once, until `parameters.expiresAt`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Challenge {
    pub parameters: ChallengeParameters,
    /// HMAC-SHA-256 of the parameters, hex.
    pub signature: String,
}

impl Example for Challenge {
    fn example() -> Self {
        Self {
            parameters: ChallengeParameters {
                algorithm: crate::spam::pow::ALGORITHM.into(),
                cost: 5000,
                expires_at: 1_796_083_200,
                key_length: 32,
                key_prefix: "00".into(),
                nonce: "a3f1c9e27b5d4086f1e2d3c4b5a69788".into(),
                salt: "0c1d2e3f405162738495a6b7c8d9eafb".into(),
            },
            signature: "4e7a1c9f3b6d2e8a0f5c7b1d9e3a6f2c8b4d0e7a1f5c9b3d6e2a8f0c4b7d1e9a".into(),
        }
    }
}

#[derive(ApiResponse)]
pub enum ChallengeResponse {
    /// A new challenge. Solve it (the ALTCHA widget does, in the browser) and send the widget's
    /// payload as `altcha` with the message.
    #[oai(status = 200)]
    Ok(
        Json<Challenge>,
        /// `no-store`: every challenge counts once.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The proof of work is off on this site (`spam.pow.enabled = false`).
    #[oai(status = 404, content_type = "application/problem+json")]
    Off(
        Json<Problem>,
        /// `no-store`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

const NO_STORE: &str = "no-store";

#[OpenApi(tag = "ApiTags::Visitor")]
impl ChallengeApi {
    /// Get a proof-of-work challenge
    ///
    /// A new ALTCHA challenge (PoW v2, `PBKDF2/SHA-256`), signed by this service and valid for
    /// `spam.pow.expires_secs`. The browser derives keys until one starts with `keyPrefix`;
    /// the solved challenge goes with the message as `altcha` (base64 of
    /// `{"challenge": ..., "solution": {"counter": ..., "derivedKey": ...}}`, what the widget
    /// puts in its hidden field). Each challenge counts once. Public.
    #[oai(path = "/v1/challenge", method = "get", operation_id = "getChallenge")]
    async fn challenge(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
    ) -> Result<ChallengeResponse, ApiError<UNAVAILABLE>> {
        let Some(pow) = &app.pow else {
            return Ok(ChallengeResponse::Off(
                problem(
                    req,
                    ErrorCode::NotFound,
                    "The proof of work is off on this site: submit without `altcha`.",
                ),
                NO_STORE.into(),
            ));
        };
        let challenge = pow.challenge().map_err(|e| {
            ApiError::unavailable(
                req,
                "creating a proof-of-work challenge failed",
                &e,
                "A challenge cannot be made right now; try again later.",
            )
        })?;
        // `data`, `keySignature`, `memoryCost` and `parallelism` stay unset in a challenge of
        // ours; the signature covers exactly what is served.
        let p = challenge.parameters;
        Ok(ChallengeResponse::Ok(
            Json(Challenge {
                parameters: ChallengeParameters {
                    algorithm: p.algorithm,
                    cost: p.cost,
                    expires_at: p.expires_at.unwrap_or_default(),
                    key_length: p.key_length as u64,
                    key_prefix: p.key_prefix,
                    nonce: p.nonce,
                    salt: p.salt,
                },
                signature: challenge.signature.unwrap_or_default(),
            }),
            NO_STORE.into(),
        ))
    }
}
