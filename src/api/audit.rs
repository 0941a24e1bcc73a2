//! `/api/v1/audit`: the audit log for `legal` and `admin` — its entries, oldest first, and the
//! result of re-walking its hash chain.

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::errors::{ApiError, STAFF_READ};
use super::staff_auth::StaffAuth;
use super::tags::ApiTags;
use crate::audit;
use crate::http::ErrorCode;
use crate::http::{Problem, problem};
use crate::state::App;

#[derive(Default)]
pub struct AuditApi;

/// The most entries one page holds.
const MAX_LIMIT: u64 = 500;
const DEFAULT_LIMIT: u64 = 100;

fn example_after() -> Option<i64> {
    Some(0)
}

fn example_limit() -> Option<u64> {
    Some(DEFAULT_LIMIT)
}

/// One entry of the audit log.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct AuditEntry {
    /// Its place in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Who: `staff:ID`, `api_key:ID`, `anonymous` (a failed sign-in), `system` or `system:cli`.
    pub actor: String,
    /// What, e.g. `staff.signed_in`, `contact.unsealed`, `api_key.created`.
    pub action: String,
    /// On what: a login, a contact id, a key id; `null` when nothing in particular.
    #[oai(nullable)]
    pub target: Option<String>,
    /// More about it.
    pub details: serde_json::Value,
    /// The previous entry's hash (hex); 64 zeros for the first.
    pub prev_hash: String,
    /// SHA-256 (hex) over all of the above.
    pub hash: String,
}

/// A page of entries.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct AuditPage {
    /// Entries, oldest first.
    pub items: Vec<AuditEntry>,
    /// Pass as `after` for the next page; `null` at the end.
    #[oai(nullable)]
    pub next_after: Option<i64>,
}

/// The first entry that does not check out.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct BrokenEntry {
    /// Its sequence number.
    pub seq: i64,
    /// What is wrong with it.
    pub problem: String,
}

/// The result of re-walking the chain.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct AuditVerification {
    /// Whether every entry links to the one before and matches its hash, with none missing.
    pub ok: bool,
    /// How many entries checked out.
    pub entries: i64,
    /// The last good entry's sequence number and hash (hex).
    pub head_seq: i64,
    pub head_hash: String,
    /// The first broken entry, when there is one.
    #[oai(nullable)]
    pub broken: Option<BrokenEntry>,
}

#[derive(ApiResponse)]
pub enum ListAuditResponse {
    /// A page of entries.
    #[oai(status = 200)]
    Ok(Json<AuditPage>),
    /// `after` or `limit` is out of range.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
}

#[derive(ApiResponse)]
pub enum VerifyAuditResponse {
    /// The result, broken or not.
    #[oai(status = 200)]
    Ok(Json<AuditVerification>),
}

fn unavailable(req: &Request, err: &dyn std::fmt::Display) -> ApiError<STAFF_READ> {
    ApiError::unavailable(
        req,
        "the audit log is unavailable",
        err,
        "The audit log cannot be read right now; try again later.",
    )
}

#[OpenApi(tag = "ApiTags::Legal")]
impl AuditApi {
    /// List audit entries
    ///
    /// Entries oldest first, after sequence number `after`. For `legal` and `admin`.
    #[oai(path = "/v1/audit", method = "get", operation_id = "listAudit")]
    async fn list(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        _auth: StaffAuth,
        /// Start after this sequence number (0 for the beginning).
        #[oai(example = "example_after")]
        after: Query<Option<i64>>,
        /// At most this many entries (1 to 500, default 100).
        #[oai(example = "example_limit")]
        limit: Query<Option<u64>>,
    ) -> Result<ListAuditResponse, ApiError<STAFF_READ>> {
        let after = after.0.unwrap_or(0);
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if after < 0 || !(1..=MAX_LIMIT).contains(&limit) {
            return Ok(ListAuditResponse::BadRequest(problem(
                req,
                ErrorCode::MalformedRequest,
                "`after` is 0 or more and `limit` is 1 to 500.",
            )));
        }
        let mut rows = audit::list(&app.db, after, limit + 1)
            .await
            .map_err(|err| unavailable(req, &err))?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_after = if more {
            rows.last().map(|r| r.seq)
        } else {
            None
        };
        Ok(ListAuditResponse::Ok(Json(AuditPage {
            items: rows
                .into_iter()
                .map(|r| AuditEntry {
                    seq: r.seq,
                    at: r.at,
                    actor: r.actor,
                    action: r.action,
                    target: r.target,
                    details: r.details,
                    prev_hash: r.prev_hash,
                    hash: r.hash,
                })
                .collect(),
            next_after,
        })))
    }

    /// Verify the audit log
    ///
    /// Re-walks the whole hash chain and names the first broken entry, if any. For `legal`
    /// and `admin`.
    #[oai(
        path = "/v1/audit/verify",
        method = "get",
        operation_id = "verifyAudit"
    )]
    async fn verify(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        _auth: StaffAuth,
    ) -> Result<VerifyAuditResponse, ApiError<STAFF_READ>> {
        let v = audit::verify(&app.db)
            .await
            .map_err(|err| unavailable(req, &err))?;
        Ok(VerifyAuditResponse::Ok(Json(AuditVerification {
            ok: v.ok(),
            entries: v.entries,
            head_seq: v.head_seq,
            head_hash: v.head_hash,
            broken: v.broken.map(|b| BrokenEntry {
                seq: b.seq,
                problem: b.problem,
            }),
        })))
    }
}
