//! The shapes of `/api/v1/disclosures` and `/api/v1/legal-holds`: what the operations take and
//! answer, and how the legal service's views become them.

use chrono::{DateTime, Utc};
use poem_openapi::payload::{Attachment, Json};
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object};
use uuid::Uuid;

use crate::api::errors::{FORBIDDEN_CHANGE, JSON_BODY, UNAUTHORIZED, UNAVAILABLE};
use crate::api::formats::{CategoryChoice, DateText, DecisionChoice, InstrumentChoice, OneOf};
use crate::http::Problem;
use crate::legal::holds::HoldView;
use crate::legal::{self, RequestDetail};

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
#[oai(rename_all = "snake_case", deny_unknown_fields, example)]
pub struct NewDisclosure {
    /// The requesting authority, 1 to 200 characters.
    pub authority: String,
    /// The court, when there is one; at most 200 characters.
    #[oai(nullable)]
    pub court: Option<String>,
    /// The case or order number, 1 to 100 characters.
    pub case_number: String,
    /// The order's date, `YYYY-MM-DD`, not in the future.
    pub order_date: DateText,
    /// `subpoena`, `court_order`, `warrant`, `emergency` or `user_consent`.
    pub instrument: OneOf<InstrumentChoice>,
    /// What is asked for, at least one of `contact_data`, `message_content`, `technical_data`.
    pub categories: Vec<OneOf<CategoryChoice>>,
    /// Whom it is about, 1 to 50: message references (`SP-XXXX-XXXX`), relay aliases
    /// (`reply+TOKEN@relay-domain`) or exact e-mail addresses (matched through the blind index;
    /// shown afterwards only masked).
    pub subjects: Vec<String>,
    /// The deadline, `YYYY-MM-DD`, not before the order's date.
    pub deadline: DateText,
    /// The gag order's last day (`YYYY-MM-DD`, the gag holds through it) or its end as an
    /// RFC 3339 time; `null` for none. The notices to the data subjects wait until it ends.
    #[oai(nullable)]
    pub gag_until: Option<String>,
    /// The copy of the order.
    pub order_copy: OrderCopy,
}

/// A court order for one conversation's contact data, with a one-line "PDF" as its copy.
impl Example for NewDisclosure {
    fn example() -> Self {
        Self {
            authority: "Example City Police".into(),
            court: Some("Example District Court".into()),
            case_number: "2026-CR-0142".into(),
            order_date: "2026-11-20".into(),
            instrument: OneOf::new("court_order"),
            categories: vec![OneOf::new("contact_data")],
            subjects: vec!["SP-7KQ2-M9XD".into()],
            deadline: "2026-12-20".into(),
            gag_until: None,
            order_copy: OrderCopy {
                file_name: "order.pdf".into(),
                content_type: Some("application/pdf".into()),
                // "%PDF-1.4\n"
                content_base64: "JVBERi0xLjQK".into(),
            },
        }
    }
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
#[oai(rename_all = "snake_case", deny_unknown_fields, example)]
pub struct Transition {
    /// `under_review`, `approved`, `rejected` or `withdrawn`.
    pub to: OneOf<DecisionChoice>,
    /// Why, 1 to 2,000 characters. Required for every decision.
    pub reason: String,
    /// For `approved`: the categories approved, a subset of those asked for; all when absent.
    #[oai(nullable)]
    pub categories: Option<Vec<OneOf<CategoryChoice>>>,
    /// For `approved`: the ids of the subjects approved; all when absent.
    #[oai(nullable)]
    pub subjects: Option<Vec<Uuid>>,
}

impl Example for Transition {
    fn example() -> Self {
        Self {
            to: OneOf::new("under_review"),
            reason: "Checking the order with counsel.".into(),
            categories: None,
            subjects: None,
        }
    }
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
#[oai(rename_all = "snake_case", deny_unknown_fields, example)]
pub struct NewLegalHold {
    /// A message reference, a relay alias or an exact e-mail address (every conversation of it).
    pub subject: String,
    /// Why, 1 to 2,000 characters.
    pub reason: String,
}

impl Example for NewLegalHold {
    fn example() -> Self {
        Self {
            subject: "SP-7KQ2-M9XD".into(),
            reason: "Preserve for case 2026-CR-0142.".into(),
        }
    }
}

/// Why a hold is released.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields, example)]
pub struct HoldRelease {
    /// Why, 1 to 2,000 characters.
    pub reason: String,
}

impl Example for HoldRelease {
    fn example() -> Self {
        Self {
            reason: "Case 2026-CR-0142 is closed.".into(),
        }
    }
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

impl From<RequestDetail> for Disclosure {
    fn from(d: RequestDetail) -> Self {
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
}

impl From<HoldView> for LegalHold {
    fn from(h: HoldView) -> Self {
        Self {
            id: h.id,
            thread_id: h.thread_id,
            reference: h.reference,
            reason: h.reason,
            placed_by: h.placed_by,
            placed_at: h.placed_at,
            released_at: h.released_at,
        }
    }
}
