//! `Idempotency-Key` on `POST /api/v1/messages` and `POST /api/v1/messages/{id}/replies`: a
//! retried request with the same key and the same body gets the first response again, byte
//! for byte (with `Idempotent-Replayed: true`), and does no work; the same key with another
//! body is a 422. Keys are remembered for a day, per route (and per caller for replies).
//!
//! The first request with a key reserves it in the database (so that concurrent requests on
//! other instances wait for it), and requests with the same key on one instance queue behind a
//! lock, so a thousand simultaneous retries still make one message. Answers of 5xx and 429
//! are not remembered: the client may retry those. A remembered response is sealed at rest:
//! the first answer to a submission carries the private link of the conversation, a bearer
//! secret that is otherwise kept only as a hash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::entities::idempotency_keys;
use crate::http::ErrorCode;
use crate::http::{Problem, problem_response};
use crate::seal::StoredResponse;
use crate::state::AppState;

/// The header clients send.
pub const HEADER: &str = "idempotency-key";
/// How long a key is remembered.
pub const KEEP_HOURS: i64 = 24;
/// A reservation older than this belongs to a request that died; another may take it over.
const ABANDONED_SECS: i64 = 60;

/// Per-instance queues of requests with the same key.
#[derive(Default)]
struct KeyLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl KeyLocks {
    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        map.entry(key.to_owned()).or_default().clone()
    }
}

/// The middleware; requests with the same key queue on its locks, so one instance of the
/// service wraps its routes in exactly one `Idempotency`.
#[derive(Default)]
pub struct Idempotency {
    locks: Arc<KeyLocks>,
}

impl<E: Endpoint> Middleware<E> for Idempotency {
    type Output = IdempotencyEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        IdempotencyEndpoint {
            inner: ep,
            locks: self.locks.clone(),
        }
    }
}

pub struct IdempotencyEndpoint<E> {
    inner: E,
    locks: Arc<KeyLocks>,
}

/// The scope a key lives in: the route, and for staff operations the caller.
fn scope(req: &Request) -> Option<String> {
    if req.method() != poem::http::Method::POST {
        return None;
    }
    let path = req.uri().path();
    if path == "/api/v1/messages" {
        return Some("POST /api/v1/messages".into());
    }
    let is_reply = path
        .strip_prefix("/api/v1/messages/")
        .and_then(|rest| rest.strip_suffix("/replies"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'));
    if is_reply {
        let caller = req
            .extensions()
            .get::<crate::auth::Principal>()
            .map(|p| p.actor())
            .unwrap_or_default();
        return Some(format!("POST replies {caller}"));
    }
    None
}

fn refuse(status: StatusCode, code: ErrorCode, detail: &str) -> Response {
    let mut problem = Problem::new(code, detail);
    problem.status = status.as_u16();
    problem_response(problem)
}

/// The row a stored response is sealed to: a key's scope and name, so that a sealed body
/// cannot be moved to another key and opened there.
fn owner(scope: &str, key: &str) -> uuid::Uuid {
    let digest = Sha256::digest(format!("{scope}\n{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes)
}

fn replay(app: &AppState, row: &idempotency_keys::Model) -> Response {
    let status = StatusCode::from_u16(row.status as u16).unwrap_or(StatusCode::OK);
    let body = match &row.body {
        None => Vec::new(),
        Some(sealed) => match app.sealer.open(
            &crate::seal::Sealed::<StoredResponse>::from_stored(sealed.clone()),
            owner(&row.scope, &row.key),
        ) {
            Ok(StoredResponse(body)) => body,
            Err(e) => {
                tracing::error!(error = %e, "a stored idempotent response does not open");
                return refuse(
                    StatusCode::CONFLICT,
                    ErrorCode::ValidationFailed,
                    "The first response to this Idempotency-Key cannot be replayed; use a new key.",
                );
            }
        },
    };
    let mut resp = Response::builder()
        .status(status)
        .header("idempotent-replayed", "true")
        .body(body);
    if let Some(ct) = row
        .content_type
        .as_deref()
        .and_then(|ct| HeaderValue::from_str(ct).ok())
    {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp
}

enum Reservation {
    Ours,
    Done(idempotency_keys::Model),
    OtherBody,
    Busy,
}

async fn reserve(
    app: &AppState,
    scope: &str,
    key: &str,
    hash: &[u8],
) -> Result<Reservation, DbErr> {
    let txn = crate::db::begin_write(&app.db).await?;
    let existing = idempotency_keys::Entity::find_by_id((scope.to_owned(), key.to_owned()))
        .one(&txn)
        .await?;
    let now = Utc::now();
    let outcome = match existing {
        Some(row) if row.request_hash != hash => Reservation::OtherBody,
        Some(row) if row.status != 0 => Reservation::Done(row),
        Some(row) if (now - row.created_at.with_timezone(&Utc)).num_seconds() < ABANDONED_SECS => {
            Reservation::Busy
        }
        other => {
            if other.is_some() {
                idempotency_keys::Entity::delete_by_id((scope.to_owned(), key.to_owned()))
                    .exec(&txn)
                    .await?;
            }
            idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
                scope: Set(scope.to_owned()),
                key: Set(key.to_owned()),
                request_hash: Set(hash.to_vec()),
                status: Set(0),
                content_type: Set(None),
                body: Set(None),
                created_at: Set(now.fixed_offset()),
            })
            .exec_without_returning(&txn)
            .await?;
            Reservation::Ours
        }
    };
    txn.commit().await?;
    Ok(outcome)
}

impl<E: Endpoint> Endpoint for IdempotencyEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let Some(key) = req
            .headers()
            .get(HEADER)
            .map(|v| v.to_str().map(str::to_owned))
        else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let Some(scope) = scope(&req) else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let Ok(key) = key else {
            return Ok(refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::MalformedRequest,
                "Idempotency-Key must be printable ASCII.",
            ));
        };
        if key.is_empty() || key.len() > 255 || key.chars().any(|c| c.is_ascii_control()) {
            return Ok(refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::MalformedRequest,
                "Idempotency-Key must be 1 to 255 printable characters.",
            ));
        }
        let Some(app) = req.extensions().get::<Arc<AppState>>().cloned() else {
            return Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR));
        };
        let limit = app.settings.server.max_request_bytes;
        let body = req.take_body().into_bytes_limit(limit).await.map_err(|_| {
            poem::Error::from_string("the request is too large", StatusCode::PAYLOAD_TOO_LARGE)
        })?;
        let mut hasher = Sha256::new();
        hasher.update(req.uri().path().as_bytes());
        hasher.update([0]);
        hasher.update(&body);
        let hash = hasher.finalize().to_vec();
        req.set_body(Body::from(body));

        let lock = self.locks.lock_for(&format!("{scope}\n{key}"));
        let _queued = lock.lock().await;
        let unavailable = || {
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "The request could not be completed; retry with the same Idempotency-Key.",
            )
        };
        // Another instance may be working on this key: wait for it a little.
        let mut waited = Duration::ZERO;
        loop {
            match reserve(&app, &scope, &key, &hash).await {
                Ok(Reservation::Ours) => break,
                Ok(Reservation::Done(row)) => return Ok(replay(&app, &row)),
                Ok(Reservation::OtherBody) => {
                    return Ok(refuse(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorCode::ValidationFailed,
                        "This Idempotency-Key was used with a different request; use a new key.",
                    ));
                }
                Ok(Reservation::Busy) if waited < Duration::from_secs(10) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    waited += Duration::from_millis(100);
                }
                Ok(Reservation::Busy) => {
                    let mut resp = refuse(
                        StatusCode::CONFLICT,
                        ErrorCode::MalformedRequest,
                        "A request with this Idempotency-Key is still in progress; retry shortly.",
                    );
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    return Ok(resp);
                }
                Err(e) => {
                    tracing::error!(error = %e, "idempotency reservation failed");
                    return Ok(unavailable());
                }
            }
        }
        let resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(e) => e.into_response(),
        };
        let status = resp.status();
        let remember = !status.is_server_error() && status != StatusCode::TOO_MANY_REQUESTS;
        let (parts, body) = resp.into_parts();
        let bytes = body.into_bytes().await.unwrap_or_default();
        let stored = if remember {
            idempotency_keys::Entity::update_many()
                .col_expr(
                    idempotency_keys::Column::Status,
                    Expr::value(i64::from(status.as_u16())),
                )
                .col_expr(
                    idempotency_keys::Column::ContentType,
                    Expr::value(
                        parts
                            .headers
                            .get(header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    ),
                )
                .col_expr(
                    idempotency_keys::Column::Body,
                    Expr::value(
                        app.sealer
                            .seal(&StoredResponse(bytes.to_vec()), owner(&scope, &key))
                            .into_bytes(),
                    ),
                )
                .filter(idempotency_keys::Column::Scope.eq(scope.clone()))
                .filter(idempotency_keys::Column::Key.eq(key.clone()))
                .exec(&app.db)
                .await
                .map(|_| ())
        } else {
            idempotency_keys::Entity::delete_by_id((scope.clone(), key.clone()))
                .exec(&app.db)
                .await
                .map(|_| ())
        };
        if let Err(e) = stored {
            // The work is done; a retry will wait for the reservation to be abandoned.
            tracing::error!(error = %e, "remembering an idempotent response failed");
        }
        Ok(Response::from_parts(parts, Body::from(bytes.to_vec())))
    }
}

/// Forgets keys older than a day (housekeeping).
pub async fn purge_expired(db: &sea_orm::DatabaseConnection) -> Result<u64, DbErr> {
    let cutoff = (Utc::now() - chrono::Duration::hours(KEEP_HOURS)).fixed_offset();
    Ok(idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}
