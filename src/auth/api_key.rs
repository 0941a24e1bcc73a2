//! API keys for the staff API: created by an administrator (or `sealpost apikey create`),
//! shown once, stored as a SHA-256 hash, scoped to one role, revocable.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{random_token, token_hash};
use crate::domain::{FieldProblem, Role};
use crate::entities::api_keys;

/// Every key starts with this, so that a leaked key is easy to recognise in a scan.
pub const PREFIX: &str = "spk_";

/// A key as created: the secret is in `key` and is never shown again.
pub struct CreatedKey {
    pub id: Uuid,
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("a key name has 1 to 100 characters without control characters")]
    BadName,
    #[error("no API key {0}")]
    NotFound(Uuid),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// What is wrong with a key's name, if anything: it has 1 to 100 characters (surrounding
/// blanks aside) and no control characters.
pub fn name_problem(name: &str) -> Option<FieldProblem> {
    let name = name.trim();
    if name.is_empty() {
        Some(FieldProblem::Required)
    } else if name.chars().any(char::is_control) {
        Some(FieldProblem::ControlCharacters)
    } else if name.chars().count() > 100 {
        Some(FieldProblem::TooLong { max: 100 })
    } else {
        None
    }
}

/// Creates a key; `actor` (who did it) goes into the audit log with it.
pub async fn create(
    db: &DatabaseConnection,
    actor: &str,
    name: &str,
    role: Role,
    created_by: Option<Uuid>,
) -> Result<CreatedKey, ApiKeyError> {
    if name_problem(name).is_some() {
        return Err(ApiKeyError::BadName);
    }
    let name = name.trim();
    let id = Uuid::now_v7();
    let key = format!("{PREFIX}{}", random_token(32));
    let txn = crate::db::begin_write(db).await?;
    api_keys::ActiveModel {
        id: Set(id),
        name: Set(name.to_owned()),
        role: Set(role.as_str().to_owned()),
        key_hash: Set(token_hash(&key)),
        created_by: Set(created_by),
        created_at: Set(Utc::now().fixed_offset()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        actor,
        "api_key.created",
        Some(&id.to_string()),
        serde_json::json!({ "name": name, "role": role.as_str() }),
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedKey { id, key })
}

/// The live (not revoked) key behind a bearer token.
pub async fn lookup<C: ConnectionTrait>(
    conn: &C,
    key: &str,
) -> Result<Option<api_keys::Model>, DbErr> {
    if !key.starts_with(PREFIX) || key.len() > 100 {
        return Ok(None);
    }
    let Some(row) = api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(token_hash(key)))
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    let stale = row
        .last_used_at
        .is_none_or(|at| (now - at.with_timezone(&Utc)).num_seconds() >= 60);
    if stale {
        api_keys::Entity::update_many()
            .col_expr(
                api_keys::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(now.fixed_offset()),
            )
            .filter(api_keys::Column::Id.eq(row.id))
            .exec(conn)
            .await?;
    }
    Ok(Some(row))
}

pub async fn list<C: ConnectionTrait>(conn: &C) -> Result<Vec<api_keys::Model>, DbErr> {
    api_keys::Entity::find()
        .order_by_asc(api_keys::Column::CreatedAt)
        .all(conn)
        .await
}

/// Revokes a key at once; revoking twice is harmless (and recorded once).
pub async fn revoke(db: &DatabaseConnection, actor: &str, id: Uuid) -> Result<(), ApiKeyError> {
    let txn = crate::db::begin_write(db).await?;
    let row = api_keys::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ApiKeyError::NotFound(id))?;
    if row.revoked_at.is_none() {
        let name = row.name.clone();
        let mut active: api_keys::ActiveModel = row.into();
        active.revoked_at = Set(Some(Utc::now().fixed_offset()));
        active.update(&txn).await?;
        crate::audit::record(
            &txn,
            actor,
            "api_key.revoked",
            Some(&id.to_string()),
            serde_json::json!({ "name": name }),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}
