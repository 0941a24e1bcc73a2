//! `/api/v1/disclosures` and `/api/v1/legal-holds`: the disclosure workflow and legal holds
//! for `legal` callers — file a request with its order copy, read requests, decide on them
//! (approval by a second signed-in legal user only), execute once, download the package, and
//! place or release holds. Every operation calls `crate::legal`; no response but the package
//! ever contains a visitor's address.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::{Attachment, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::errors::{
    ApiError, FORBIDDEN_CHANGE, JSON_BODY, STAFF_BODY, STAFF_READ, UNAUTHORIZED, UNAVAILABLE,
};
use super::staff_auth::StaffAuth;
use crate::http::ErrorCode;
use crate::http::{FieldError, Problem, problem};
use crate::legal::intake::{self, Draft, Upload};
use crate::legal::review::{self, Decision};
use crate::legal::{self, Caller, FieldIssue, LegalError, RequestDetail};
use crate::state::App;

pub struct DisclosuresApi;

/// The copy of the order, as base64.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct OrderCopy {
    /// The file's name, e.g. `order.pdf`.
    pub file_name: String,
    /// Its media type, e.g. `application/pdf`; `application/octet-stream` when absent.
    #[oai(nullable)]
    pub content_type: Option<String>,
    /// The file, base64 (standard alphabet, padded); at most 5 MiB decoded.
    pub content_base64: String,
}

/// A disclosure request to file.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct NewDisclosure {
    /// The requesting authority, 1 to 200 characters.
    pub authority: String,
    /// The court, when there is one; at most 200 characters.
    #[oai(nullable)]
    pub court: Option<String>,
    /// The case or order number, 1 to 100 characters.
    pub case_number: String,
    /// The order's date, `YYYY-MM-DD`, not in the future.
    pub order_date: String,
    /// `subpoena`, `court_order`, `warrant`, `emergency` or `user_consent`.
    pub instrument: String,
    /// What is asked for, at least one of `contact_data`, `message_content`, `technical_data`.
    pub categories: Vec<String>,
    /// Whom it is about, 1 to 50: message references (`SP-XXXX-XXXX`), relay aliases
    /// (`reply+TOKEN@relay-domain`) or exact e-mail addresses (matched through the blind index;
    /// shown afterwards only masked).
    pub subjects: Vec<String>,
    /// The deadline, `YYYY-MM-DD`, not before the order's date.
    pub deadline: String,
    /// The gag order's last day (`YYYY-MM-DD`, the gag holds through it) or its end as an
    /// RFC 3339 time; `null` for none. The notices to the data subjects wait until it ends.
    #[oai(nullable)]
    pub gag_until: Option<String>,
    /// The copy of the order.
    pub order_copy: OrderCopy,
}

/// A stored document.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct Document {
    /// Its file name.
    pub file_name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// SHA-256 of its content, hex.
    pub sha256: String,
}

/// One subject of a request.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct DisclosureSubject {
    /// The subject's id, to name it in an approval.
    pub id: Uuid,
    /// `reference`, `alias` or `email`.
    pub kind: String,
    /// The reference, the alias, or the address masked (`a…@example.org`).
    pub label: String,
    /// References of the conversations it matched at intake.
    pub matches: Vec<String>,
    /// Whether the approval covers it.
    pub approved: bool,
}

/// One state change.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct DisclosureEvent {
    /// The state before; `null` for the filing.
    #[oai(nullable)]
    pub from: Option<String>,
    /// The state after.
    pub to: String,
    /// The written reason.
    pub reason: String,
    /// Who: a staff login, or `api_key:ID`.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A disclosure request with its subjects, history and documents.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct Disclosure {
    /// The request's id.
    pub id: Uuid,
    /// The requesting authority.
    pub authority: String,
    /// The court, if any.
    #[oai(nullable)]
    pub court: Option<String>,
    /// The case or order number.
    pub case_number: String,
    /// The order's date, `YYYY-MM-DD`.
    pub order_date: String,
    /// The legal instrument.
    pub instrument: String,
    /// The categories asked for.
    pub requested_categories: Vec<String>,
    /// The categories approved; `null` until approval.
    #[oai(nullable)]
    pub approved_categories: Option<Vec<String>>,
    /// The deadline, `YYYY-MM-DD`.
    pub deadline: String,
    /// When the gag order ends; `null` for none.
    #[oai(nullable)]
    pub gag_until: Option<DateTime<Utc>>,
    /// `received`, `under_review`, `approved`, `rejected`, `executed` or `withdrawn`.
    pub state: String,
    /// Who filed it: a staff login, or `api_key:ID`.
    pub filed_by: String,
    /// When it was filed.
    pub created_at: DateTime<Utc>,
    /// When it was executed, if it was.
    #[oai(nullable)]
    pub executed_at: Option<DateTime<Utc>>,
    /// Whom it is about.
    pub subjects: Vec<DisclosureSubject>,
    /// Every state change, oldest first.
    pub history: Vec<DisclosureEvent>,
    /// The copy of the order.
    #[oai(nullable)]
    pub order_copy: Option<Document>,
    /// The export package, once executed.
    #[oai(nullable)]
    pub package: Option<Document>,
}

/// A request in the list.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct DisclosureSummary {
    /// The request's id.
    pub id: Uuid,
    /// The requesting authority.
    pub authority: String,
    /// The case or order number.
    pub case_number: String,
    /// The legal instrument.
    pub instrument: String,
    /// Its state.
    pub state: String,
    /// The deadline, `YYYY-MM-DD`.
    pub deadline: String,
    /// When it was filed.
    pub created_at: DateTime<Utc>,
}

/// Every request, newest first.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct DisclosureList {
    /// The requests.
    pub items: Vec<DisclosureSummary>,
}

/// A decision on a request.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct Transition {
    /// `under_review`, `approved`, `rejected` or `withdrawn`.
    pub to: String,
    /// Why, 1 to 2,000 characters. Required for every decision.
    pub reason: String,
    /// For `approved`: the categories approved, a subset of those asked for; all when absent.
    #[oai(nullable)]
    pub categories: Option<Vec<String>>,
    /// For `approved`: the ids of the subjects approved; all when absent.
    #[oai(nullable)]
    pub subjects: Option<Vec<Uuid>>,
}

/// What an execution produced.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct Execution {
    /// SHA-256 of the package, hex.
    pub package_sha256: String,
    /// The package's size in bytes.
    pub package_size: i64,
    /// Notices queued for data subjects who gave an address.
    pub notices: i64,
    /// When the notices go out, if a gag order holds them back.
    #[oai(nullable)]
    pub notices_held_until: Option<DateTime<Utc>>,
    /// The request as it is now.
    pub disclosure: Disclosure,
}

/// A legal hold.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct LegalHold {
    /// The hold's id.
    pub id: Uuid,
    /// The conversation held.
    pub thread_id: Uuid,
    /// Its reference, or `(erased)`.
    pub reference: String,
    /// Why it was placed.
    pub reason: String,
    /// Who placed it.
    pub placed_by: String,
    /// When.
    pub placed_at: DateTime<Utc>,
    /// When it was released; `null` while it holds.
    #[oai(nullable)]
    pub released_at: Option<DateTime<Utc>>,
}

/// Holds, active ones first.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct LegalHoldList {
    /// The holds.
    pub items: Vec<LegalHold>,
}

/// A hold to place.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct NewLegalHold {
    /// A message reference, a relay alias or an exact e-mail address (every conversation of it).
    pub subject: String,
    /// Why, 1 to 2,000 characters.
    pub reason: String,
}

/// Why a hold is released.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct HoldRelease {
    /// Why, 1 to 2,000 characters.
    pub reason: String,
}

#[derive(ApiResponse)]
pub enum CreateDisclosureResponse {
    /// The request is filed, in state `received`.
    #[oai(status = 201)]
    Created(Json<Box<Disclosure>>),
    /// Some fields were refused; `errors` names each.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
}

#[derive(ApiResponse)]
pub enum ListDisclosuresResponse {
    /// The requests.
    #[oai(status = 200)]
    Ok(Json<DisclosureList>),
}

#[derive(ApiResponse)]
pub enum GetDisclosureResponse {
    /// The request.
    #[oai(status = 200)]
    Ok(Json<Box<Disclosure>>),
    /// There is no request with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
}

#[derive(ApiResponse)]
pub enum TransitionResponse {
    /// The decision is recorded; the request as it is now.
    #[oai(status = 200)]
    Ok(Json<Box<Disclosure>>),
    /// Not `legal`; a cookie call without `X-CSRF-Token`; an approval by the legal user who
    /// filed the request (four eyes), or by an API key rather than a signed-in person.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// There is no request with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request's state does not allow this move (e.g. approving a request not under review).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// An unknown state, a missing reason, or an approval outside the requested scope.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
}

/// What a transition documents of the shared failures: its own 403 is above.
pub const TRANSITION_FAILURES: u16 = UNAUTHORIZED | JSON_BODY | UNAVAILABLE;

#[derive(ApiResponse)]
pub enum ExecuteResponse {
    /// Executed: the package is built and stored, and the notices are queued.
    #[oai(status = 200)]
    Ok(Json<Box<Execution>>),
    /// There is no request with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request is not approved, or was executed already (a package is built once).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The database is unavailable, or sealed data could not be opened; nothing was disclosed.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

/// What an execution documents of the shared failures: its own 503 is above.
pub const EXECUTE_FAILURES: u16 = UNAUTHORIZED | FORBIDDEN_CHANGE;

#[derive(ApiResponse)]
pub enum PackageResponse {
    /// The export package (ZIP: `manifest.json` and the data files). Each download is audited.
    #[oai(status = 200, content_type = "application/zip")]
    Ok(Attachment<Vec<u8>>),
    /// There is no request with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request has not been executed, so there is no package.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
}

#[derive(ApiResponse)]
pub enum ListHoldsResponse {
    /// The holds.
    #[oai(status = 200)]
    Ok(Json<LegalHoldList>),
}

#[derive(ApiResponse)]
pub enum PlaceHoldResponse {
    /// The holds placed (none when every matching conversation was held already).
    #[oai(status = 201)]
    Created(Json<LegalHoldList>),
    /// The subject or the reason was refused, or no conversation matches the subject.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
}

#[derive(ApiResponse)]
pub enum ReleaseHoldResponse {
    /// The hold is released.
    #[oai(status = 204)]
    Released,
    /// There is no hold with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The hold was released already.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The reason is missing or too long.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
}

fn invalid(req: &Request, issues: Vec<FieldIssue>) -> Json<Problem> {
    let mut p = problem(
        req,
        ErrorCode::ValidationFailed,
        "Some fields were refused.",
    );
    p.0.errors = issues
        .into_iter()
        .map(|i| FieldError {
            field: i.field.to_owned(),
            code: i.code.to_owned(),
            message: i.message,
        })
        .collect();
    p
}

const UNAVAILABLE_DETAIL: &str =
    "This cannot be done right now; nothing was changed. Try again later.";

fn unavailable<const D: u16>(req: &Request, err: &LegalError) -> ApiError<D> {
    ApiError::unavailable(
        req,
        "the disclosure workflow failed",
        err,
        UNAVAILABLE_DETAIL,
    )
}

/// [`unavailable`] for the execution, which documents a 503 of its own.
fn execution_unavailable(req: &Request, err: &LegalError) -> ExecuteResponse {
    tracing::error!(error = %err, "the disclosure workflow failed");
    ExecuteResponse::Unavailable(problem(
        req,
        ErrorCode::ServiceUnavailable,
        UNAVAILABLE_DETAIL,
    ))
}

/// The first letter up and a full stop: service errors read as sentences in problems.
fn sentence(e: &LegalError) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => text,
    }
}

fn not_found(req: &Request) -> Json<Problem> {
    problem(
        req,
        ErrorCode::NotFound,
        "There is no such request or hold.",
    )
}

fn disclosure(d: RequestDetail) -> Disclosure {
    let document = |doc: legal::DocumentInfo| Document {
        file_name: doc.file_name,
        content_type: doc.content_type,
        size: doc.size,
        sha256: doc.sha256,
    };
    Disclosure {
        id: d.id,
        authority: d.authority,
        court: d.court,
        case_number: d.case_number,
        order_date: d.order_date.to_string(),
        instrument: d.instrument.as_str().to_owned(),
        requested_categories: d.requested.names().into_iter().map(str::to_owned).collect(),
        approved_categories: d
            .approved
            .map(|a| a.names().into_iter().map(str::to_owned).collect()),
        deadline: d.deadline.to_string(),
        gag_until: d.gag_until,
        state: d.state.as_str().to_owned(),
        filed_by: d.filed_by,
        created_at: d.created_at,
        executed_at: d.executed_at,
        subjects: d
            .subjects
            .into_iter()
            .map(|s| DisclosureSubject {
                id: s.id,
                kind: s.kind,
                label: s.label,
                matches: s.matches,
                approved: s.approved,
            })
            .collect(),
        history: d
            .events
            .into_iter()
            .map(|e| DisclosureEvent {
                from: e.from.map(|s| s.as_str().to_owned()),
                to: e.to.as_str().to_owned(),
                reason: e.reason,
                by: e.by,
                at: e.at,
            })
            .collect(),
        order_copy: d.order.map(document),
        package: d.package.map(document),
    }
}

fn parse_id(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id.trim()).ok()
}

#[OpenApi]
impl DisclosuresApi {
    /// File a disclosure request
    ///
    /// Records a request from an authority with its order copy (base64), in state `received`.
    /// For `legal`.
    #[oai(
        path = "/v1/disclosures",
        method = "post",
        operation_id = "createDisclosure"
    )]
    async fn create(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        new: Json<NewDisclosure>,
    ) -> Result<CreateDisclosureResponse, ApiError<STAFF_BODY>> {
        let caller = Caller::from_principal(auth.principal());
        let new = new.0;
        let decoded = STANDARD.decode(new.order_copy.content_base64.trim());
        let draft = Draft {
            authority: new.authority,
            court: new.court.unwrap_or_default(),
            case_number: new.case_number,
            order_date: new.order_date,
            instrument: new.instrument,
            categories: new.categories,
            subjects: new.subjects,
            deadline: new.deadline,
            gag_until: new.gag_until.unwrap_or_default(),
            order: decoded.as_ref().ok().map(|bytes| Upload {
                file_name: new.order_copy.file_name.clone(),
                content_type: new.order_copy.content_type.clone().unwrap_or_default(),
                bytes: bytes.clone(),
            }),
        };
        let parsed = draft.parse(&app.sealer, &app.settings.mail.relay_domain, Utc::now());
        let parsed = match (parsed, decoded.is_err()) {
            (Ok(parsed), false) => parsed,
            (result, bad_base64) => {
                let mut issues = result.err().unwrap_or_default();
                if bad_base64 {
                    issues.retain(|i| i.field != "order_copy");
                    issues.push(FieldIssue::new(
                        "order_copy",
                        "invalid_base64",
                        "`content_base64` is not valid base64.",
                    ));
                }
                return Ok(CreateDisclosureResponse::Unprocessable(invalid(
                    req, issues,
                )));
            }
        };
        let id = intake::file(&app, &caller, parsed)
            .await
            .map_err(|e| unavailable(req, &e))?;
        let d = legal::detail(&app, id)
            .await
            .map_err(|e| unavailable(req, &e))?;
        Ok(CreateDisclosureResponse::Created(Json(Box::new(
            disclosure(d),
        ))))
    }

    /// List disclosure requests
    ///
    /// Every request, newest first. For `legal`.
    #[oai(
        path = "/v1/disclosures",
        method = "get",
        operation_id = "listDisclosures"
    )]
    async fn list(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        _auth: StaffAuth,
    ) -> Result<ListDisclosuresResponse, ApiError<STAFF_READ>> {
        match legal::list(&app).await {
            Ok(rows) => Ok(ListDisclosuresResponse::Ok(Json(DisclosureList {
                items: rows
                    .into_iter()
                    .map(|r| DisclosureSummary {
                        id: r.id,
                        authority: r.authority,
                        case_number: r.case_number,
                        instrument: r.instrument.as_str().to_owned(),
                        state: r.state.as_str().to_owned(),
                        deadline: r.deadline.to_string(),
                        created_at: r.created_at,
                    })
                    .collect(),
            }))),
            Err(e) => Err(unavailable(req, &e)),
        }
    }

    /// Read a disclosure request
    ///
    /// The request with its subjects (addresses masked), history and documents. For `legal`.
    #[oai(
        path = "/v1/disclosures/:id",
        method = "get",
        operation_id = "getDisclosure"
    )]
    async fn get(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        _auth: StaffAuth,
        /// The request's id.
        id: Path<String>,
    ) -> Result<GetDisclosureResponse, ApiError<STAFF_READ>> {
        let Some(id) = parse_id(&id.0) else {
            return Ok(GetDisclosureResponse::NotFound(not_found(req)));
        };
        match legal::detail(&app, id).await {
            Ok(d) => Ok(GetDisclosureResponse::Ok(Json(Box::new(disclosure(d))))),
            Err(LegalError::NotFound) => Ok(GetDisclosureResponse::NotFound(not_found(req))),
            Err(e) => Err(unavailable(req, &e)),
        }
    }

    /// Decide on a disclosure request
    ///
    /// Moves a request to `under_review`, `approved` (optionally narrowing the scope),
    /// `rejected` or `withdrawn`, with a written reason. Approval needs a signed-in legal user
    /// other than the one who filed the request.
    #[oai(
        path = "/v1/disclosures/:id/transitions",
        method = "post",
        operation_id = "transitionDisclosure"
    )]
    async fn transition(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        /// The request's id.
        id: Path<String>,
        body: Json<Transition>,
    ) -> Result<TransitionResponse, ApiError<TRANSITION_FAILURES>> {
        let Some(id) = parse_id(&id.0) else {
            return Ok(TransitionResponse::NotFound(not_found(req)));
        };
        let caller = Caller::from_principal(auth.principal());
        let body = body.0;
        let decision = Decision {
            to: body.to,
            reason: body.reason,
            categories: body.categories,
            subjects: body.subjects,
        };
        Ok(match review::decide(&app, id, &caller, &decision).await {
            Ok(_) => match legal::detail(&app, id).await {
                Ok(d) => TransitionResponse::Ok(Json(Box::new(disclosure(d)))),
                Err(e) => return Err(unavailable(req, &e)),
            },
            Err(LegalError::NotFound) => TransitionResponse::NotFound(not_found(req)),
            Err(LegalError::Invalid(issues)) => {
                TransitionResponse::Unprocessable(invalid(req, issues))
            }
            Err(e) if e.is_forbidden() => {
                TransitionResponse::Forbidden(problem(req, ErrorCode::Forbidden, &sentence(&e)))
            }
            Err(e) if e.is_conflict() => {
                TransitionResponse::Conflict(problem(req, ErrorCode::Conflict, &sentence(&e)))
            }
            Err(e) => return Err(unavailable(req, &e)),
        })
    }

    /// Execute an approved disclosure request
    ///
    /// Unseals the approved categories of the approved subjects into the export package, once,
    /// and queues the notices to the data subjects (held until a gag order ends).
    #[oai(
        path = "/v1/disclosures/:id/execute",
        method = "post",
        operation_id = "executeDisclosure"
    )]
    async fn execute(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        /// The request's id.
        id: Path<String>,
    ) -> Result<ExecuteResponse, ApiError<EXECUTE_FAILURES>> {
        let Some(id) = parse_id(&id.0) else {
            return Ok(ExecuteResponse::NotFound(not_found(req)));
        };
        let caller = Caller::from_principal(auth.principal());
        Ok(match legal::execute::execute(&app, id, &caller).await {
            Ok(done) => match legal::detail(&app, id).await {
                Ok(d) => ExecuteResponse::Ok(Json(Box::new(Execution {
                    package_sha256: done.sha256,
                    package_size: done.size as i64,
                    notices: done.notices as i64,
                    notices_held_until: done.notices_held_until,
                    disclosure: disclosure(d),
                }))),
                Err(e) => execution_unavailable(req, &e),
            },
            Err(LegalError::NotFound) => ExecuteResponse::NotFound(not_found(req)),
            Err(e) if e.is_conflict() => {
                ExecuteResponse::Conflict(problem(req, ErrorCode::Conflict, &sentence(&e)))
            }
            Err(e) => execution_unavailable(req, &e),
        })
    }

    /// Download the export package
    ///
    /// The ZIP built at execution. Each download is recorded in the audit log.
    #[oai(
        path = "/v1/disclosures/:id/package",
        method = "get",
        operation_id = "getDisclosurePackage"
    )]
    async fn package(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        /// The request's id.
        id: Path<String>,
    ) -> Result<PackageResponse, ApiError<STAFF_READ>> {
        let Some(id) = parse_id(&id.0) else {
            return Ok(PackageResponse::NotFound(not_found(req)));
        };
        let caller = Caller::from_principal(auth.principal());
        Ok(match legal::execute::package(&app, id, &caller).await {
            Ok(download) => {
                PackageResponse::Ok(Attachment::new(download.bytes).filename(download.file_name))
            }
            Err(LegalError::NotFound) => PackageResponse::NotFound(not_found(req)),
            Err(e) if e.is_conflict() => {
                PackageResponse::Conflict(problem(req, ErrorCode::Conflict, &sentence(&e)))
            }
            Err(e) => return Err(unavailable(req, &e)),
        })
    }

    /// List legal holds
    ///
    /// Every hold, active ones first. For `legal`.
    #[oai(
        path = "/v1/legal-holds",
        method = "get",
        operation_id = "listLegalHolds"
    )]
    async fn holds(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        _auth: StaffAuth,
    ) -> Result<ListHoldsResponse, ApiError<STAFF_READ>> {
        let holds = legal::holds::list(&app)
            .await
            .map_err(|e| unavailable(req, &e))?;
        Ok(ListHoldsResponse::Ok(Json(LegalHoldList {
            items: holds.into_iter().map(hold).collect(),
        })))
    }

    /// Place a legal hold
    ///
    /// Holds every conversation the subject names, so that retention and erasure keep it.
    #[oai(
        path = "/v1/legal-holds",
        method = "post",
        operation_id = "placeLegalHold"
    )]
    async fn place_hold(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        body: Json<NewLegalHold>,
    ) -> Result<PlaceHoldResponse, ApiError<STAFF_BODY>> {
        let caller = Caller::from_principal(auth.principal());
        let ids = match legal::holds::place(&app, &caller, &body.0.subject, &body.0.reason).await {
            Ok(ids) => ids,
            Err(LegalError::Invalid(issues)) => {
                return Ok(PlaceHoldResponse::Unprocessable(invalid(req, issues)));
            }
            Err(e) => return Err(unavailable(req, &e)),
        };
        let all = legal::holds::list(&app)
            .await
            .map_err(|e| unavailable(req, &e))?;
        Ok(PlaceHoldResponse::Created(Json(LegalHoldList {
            items: all
                .into_iter()
                .filter(|h| ids.contains(&h.id))
                .map(hold)
                .collect(),
        })))
    }

    /// Release a legal hold
    ///
    /// With a written reason. For `legal`.
    #[oai(
        path = "/v1/legal-holds/:id/release",
        method = "post",
        operation_id = "releaseLegalHold"
    )]
    async fn release_hold(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        auth: StaffAuth,
        /// The hold's id.
        id: Path<String>,
        body: Json<HoldRelease>,
    ) -> Result<ReleaseHoldResponse, ApiError<STAFF_BODY>> {
        let Some(id) = parse_id(&id.0) else {
            return Ok(ReleaseHoldResponse::NotFound(not_found(req)));
        };
        let caller = Caller::from_principal(auth.principal());
        Ok(
            match legal::holds::release(&app, &caller, id, &body.0.reason).await {
                Ok(()) => ReleaseHoldResponse::Released,
                Err(LegalError::NotFound) => ReleaseHoldResponse::NotFound(not_found(req)),
                Err(LegalError::Invalid(issues)) => {
                    ReleaseHoldResponse::Unprocessable(invalid(req, issues))
                }
                Err(e) if e.is_conflict() => {
                    ReleaseHoldResponse::Conflict(problem(req, ErrorCode::Conflict, &sentence(&e)))
                }
                Err(e) => return Err(unavailable(req, &e)),
            },
        )
    }
}

fn hold(h: legal::holds::HoldView) -> LegalHold {
    LegalHold {
        id: h.id,
        thread_id: h.thread_id,
        reference: h.reference,
        reason: h.reason,
        placed_by: h.placed_by,
        placed_at: h.placed_at,
        released_at: h.released_at,
    }
}
