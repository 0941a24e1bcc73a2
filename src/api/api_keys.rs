//! `/api/v1/api-keys`: administrators list, create and revoke the API keys of the staff API.
//! A key is shown once, in the answer that creates it; afterwards only its name, role and
//! dates are.

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::errors::{ApiError, STAFF_BODY, STAFF_CHANGE, STAFF_READ};
use super::formats::{OneOf, RoleChoice, UuidText, example_id};
use super::staff_auth::StaffAuth;
use super::tags::ApiTags;
use crate::auth::api_key::{self, ApiKeyError};
use crate::domain::{self, FieldProblem};
use crate::entities::api_keys;
use crate::http::ErrorCode;
use crate::http::{Problem, problem, refused_field};
use crate::state::App;

#[derive(Default)]
pub struct ApiKeysApi;

/// What a key (or a person) may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Role", rename_all = "snake_case")]
pub enum Role {
    /// Reads and answers messages.
    Agent,
    /// Runs the disclosure workflow.
    Legal,
    /// Manages accounts, API keys and settings; reads and answers messages too.
    Admin,
}

impl From<domain::Role> for Role {
    fn from(role: domain::Role) -> Self {
        match role {
            domain::Role::Agent => Role::Agent,
            domain::Role::Legal => Role::Legal,
            domain::Role::Admin => Role::Admin,
        }
    }
}

/// An API key, without the key itself.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct ApiKeyInfo {
    /// The key's id.
    pub id: Uuid,
    /// The name it was given, to tell keys apart.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute), or `null` if never.
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, or `null` while it works.
    #[oai(nullable)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every API key, revoked ones included.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct ApiKeyList {
    /// The keys, oldest first.
    pub items: Vec<ApiKeyInfo>,
}

/// A key to create.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields, example)]
pub struct NewApiKey {
    /// A name to tell the key apart: 1 to 100 characters, no control characters.
    pub name: String,
    /// What the key may do: `agent`, `legal` or `admin`.
    pub role: OneOf<RoleChoice>,
}

impl Example for NewApiKey {
    fn example() -> Self {
        Self {
            name: "helpdesk integration".into(),
            role: OneOf::new("agent"),
        }
    }
}

/// The created key.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct CreatedApiKey {
    /// The key's id.
    pub id: Uuid,
    /// The key, to send as `Authorization: Bearer spk_...`. It is stored only as a hash and
    /// is never shown again.
    pub key: String,
    /// The key's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

#[derive(ApiResponse)]
pub enum ListApiKeysResponse {
    /// The keys.
    #[oai(status = 200)]
    Ok(Json<ApiKeyList>),
}

#[derive(ApiResponse)]
pub enum CreateApiKeyResponse {
    /// The key is created; this is the only time it is shown.
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
    /// The name or the role was refused; `errors` says which.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
}

#[derive(ApiResponse)]
pub enum RevokeApiKeyResponse {
    /// The key no longer works (revoking a revoked key changes nothing).
    #[oai(status = 204)]
    Revoked,
    /// There is no key with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
}

fn unavailable<const D: u16>(req: &Request, err: &dyn std::fmt::Display) -> ApiError<D> {
    ApiError::unavailable(
        req,
        "API keys are unavailable",
        err,
        "The API keys cannot be read or changed right now; try again later.",
    )
}

fn info(row: api_keys::Model) -> ApiKeyInfo {
    ApiKeyInfo {
        id: row.id,
        // Only roles that parse are ever stored; an odd one shows as the least powerful.
        role: domain::Role::parse(&row.role)
            .unwrap_or(domain::Role::Agent)
            .into(),
        name: row.name,
        created_at: row.created_at.with_timezone(&Utc),
        last_used_at: row.last_used_at.map(|at| at.with_timezone(&Utc)),
        revoked_at: row.revoked_at.map(|at| at.with_timezone(&Utc)),
    }
}

/// The field error for a name [`api_key::create`] refused.
fn name_message(problem: FieldProblem) -> &'static str {
    match problem {
        FieldProblem::Required => "The key needs a name.",
        FieldProblem::ControlCharacters => "Line breaks and control characters are not allowed.",
        _ => "At most 100 characters are allowed.",
    }
}

#[OpenApi(tag = "ApiTags::Admin")]
impl ApiKeysApi {
    /// List API keys
    ///
    /// Every API key with its name, role and dates, never the key itself. For administrators.
    #[oai(path = "/v1/api-keys", method = "get", operation_id = "listApiKeys")]
    async fn list(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        _auth: StaffAuth,
    ) -> Result<ListApiKeysResponse, ApiError<STAFF_READ>> {
        let rows = api_key::list(&app.db)
            .await
            .map_err(|err| unavailable(req, &err))?;
        Ok(ListApiKeysResponse::Ok(Json(ApiKeyList {
            items: rows.into_iter().map(info).collect(),
        })))
    }

    /// Create an API key
    ///
    /// Creates a key for one role and shows it, once. For administrators.
    #[oai(path = "/v1/api-keys", method = "post", operation_id = "createApiKey")]
    async fn create(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        new: Json<NewApiKey>,
    ) -> Result<CreateApiKeyResponse, ApiError<STAFF_BODY>> {
        let principal = auth.principal();
        let new = new.0;
        let refused = |field: &str, problem: FieldProblem, message: &str| {
            Ok(CreateApiKeyResponse::Unprocessable(refused_field(
                req, field, problem, message,
            )))
        };
        let Some(role) = domain::Role::parse(&new.role.text) else {
            return refused(
                "role",
                FieldProblem::Unsupported,
                "The role is one of agent, legal and admin.",
            );
        };
        let created = match api_key::create(
            &app.db,
            &principal.actor(),
            &new.name,
            role,
            principal.staff_id,
        )
        .await
        {
            Ok(created) => created,
            Err(ApiKeyError::BadName) => {
                let problem =
                    api_key::name_problem(&new.name).unwrap_or(FieldProblem::TooLong { max: 100 });
                return refused("name", problem, name_message(problem));
            }
            Err(err) => return Err(unavailable(req, &err)),
        };
        tracing::info!(
            api_key_id = %created.id,
            role = role.as_str(),
            actor = %principal.actor(),
            "API key created"
        );
        Ok(CreateApiKeyResponse::Created(Json(CreatedApiKey {
            id: created.id,
            key: created.key,
            name: new.name.trim().to_owned(),
            role: role.into(),
        })))
    }

    /// Revoke an API key
    ///
    /// The key stops working at once. For administrators.
    #[oai(
        path = "/v1/api-keys/:id",
        method = "delete",
        operation_id = "revokeApiKey"
    )]
    async fn revoke(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        /// The key's id.
        #[oai(example = "example_id")]
        id: Path<UuidText>,
    ) -> Result<RevokeApiKeyResponse, ApiError<STAFF_CHANGE>> {
        let not_found = || {
            Ok(RevokeApiKeyResponse::NotFound(problem(
                req,
                ErrorCode::NotFound,
                "There is no API key with this id.",
            )))
        };
        let Ok(id) = Uuid::parse_str(id.0.0.trim()) else {
            return not_found();
        };
        match api_key::revoke(&app.db, &auth.principal().actor(), id).await {
            Ok(()) => {
                tracing::info!(api_key_id = %id, actor = %auth.principal().actor(), "API key revoked");
                Ok(RevokeApiKeyResponse::Revoked)
            }
            Err(ApiKeyError::NotFound(_)) => not_found(),
            Err(err) => Err(unavailable(req, &err)),
        }
    }
}
