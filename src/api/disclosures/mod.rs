//! `/api/v1/disclosures` and `/api/v1/legal-holds`: the disclosure workflow and legal holds
//! for `legal` callers — file a request with its order copy, read requests, decide on them
//! (approval by a second signed-in legal user only), execute once, download the package, and
//! place or release holds. Every operation calls `crate::legal`; no response but the package
//! ever contains a visitor's address.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::{Attachment, Json};
use uuid::Uuid;

use super::errors::{ApiError, STAFF_BODY, STAFF_READ};
use super::formats::{UuidText, example_id};
use super::staff_auth::StaffAuth;
use super::tags::ApiTags;
use crate::http::ErrorCode;
use crate::http::{FieldError, Problem, problem};
use crate::legal::intake::{self, Draft, Upload};
use crate::legal::review::{self, Decision};
use crate::legal::{self, Caller, FieldIssue, LegalError};
use crate::state::App;

mod types;

use types::{
    CreateDisclosureResponse, Disclosure, DisclosureList, DisclosureSummary, EXECUTE_FAILURES,
    ExecuteResponse, Execution, GetDisclosureResponse, HoldRelease, LegalHold, LegalHoldList,
    ListDisclosuresResponse, ListHoldsResponse, NewDisclosure, NewLegalHold, PackageResponse,
    PlaceHoldResponse, ReleaseHoldResponse, TRANSITION_FAILURES, Transition, TransitionResponse,
};

#[derive(Default)]
pub struct DisclosuresApi;

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

fn parse_id(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id.trim()).ok()
}

#[OpenApi(tag = "ApiTags::Legal")]
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
            order_date: new.order_date.0,
            instrument: new.instrument.text,
            categories: new.categories.into_iter().map(|c| c.text).collect(),
            subjects: new.subjects,
            deadline: new.deadline.0,
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
            Disclosure::from(d),
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
        #[oai(example = "example_id")]
        id: Path<UuidText>,
    ) -> Result<GetDisclosureResponse, ApiError<STAFF_READ>> {
        let Some(id) = parse_id(&id.0.0) else {
            return Ok(GetDisclosureResponse::NotFound(not_found(req)));
        };
        match legal::detail(&app, id).await {
            Ok(d) => Ok(GetDisclosureResponse::Ok(Json(Box::new(Disclosure::from(
                d,
            ))))),
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
        #[oai(example = "example_id")]
        id: Path<UuidText>,
        body: Json<Transition>,
    ) -> Result<TransitionResponse, ApiError<TRANSITION_FAILURES>> {
        let Some(id) = parse_id(&id.0.0) else {
            return Ok(TransitionResponse::NotFound(not_found(req)));
        };
        let caller = Caller::from_principal(auth.principal());
        let body = body.0;
        let decision = Decision {
            to: body.to.text,
            reason: body.reason,
            categories: body
                .categories
                .map(|categories| categories.into_iter().map(|c| c.text).collect()),
            subjects: body.subjects,
        };
        Ok(match review::decide(&app, id, &caller, &decision).await {
            Ok(_) => match legal::detail(&app, id).await {
                Ok(d) => TransitionResponse::Ok(Json(Box::new(Disclosure::from(d)))),
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
    /// and queues the notices to the data subjects (held until a gag order ends). For the role
    /// `legal`.
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
        #[oai(example = "example_id")]
        id: Path<UuidText>,
    ) -> Result<ExecuteResponse, ApiError<EXECUTE_FAILURES>> {
        let Some(id) = parse_id(&id.0.0) else {
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
                    disclosure: Disclosure::from(d),
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
    /// The ZIP built at execution. Each download is recorded in the audit log. For the role
    /// `legal`.
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
        #[oai(example = "example_id")]
        id: Path<UuidText>,
    ) -> Result<PackageResponse, ApiError<STAFF_READ>> {
        let Some(id) = parse_id(&id.0.0) else {
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
            items: holds.into_iter().map(LegalHold::from).collect(),
        })))
    }

    /// Place a legal hold
    ///
    /// Holds every conversation the subject names, so that retention and erasure keep it. For
    /// the role `legal`.
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
        match legal::holds::place_and_show(&app, &caller, &body.0.subject, &body.0.reason).await {
            Ok(placed) => Ok(PlaceHoldResponse::Created(Json(LegalHoldList {
                items: placed.into_iter().map(LegalHold::from).collect(),
            }))),
            Err(LegalError::Invalid(issues)) => {
                Ok(PlaceHoldResponse::Unprocessable(invalid(req, issues)))
            }
            Err(e) => Err(unavailable(req, &e)),
        }
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
        #[oai(example = "example_id")]
        id: Path<UuidText>,
        body: Json<HoldRelease>,
    ) -> Result<ReleaseHoldResponse, ApiError<STAFF_BODY>> {
        let Some(id) = parse_id(&id.0.0) else {
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
