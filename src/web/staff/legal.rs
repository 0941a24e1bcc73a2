//! The legal pages: the list of disclosure requests, the intake form, one request with its
//! decisions, execution and downloads, and legal holds. Every handler parses the form and calls
//! `crate::legal`; nothing here opens sealed data or writes the database itself.

use askama::Template;
use chrono::Utc;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Body, IntoResponse, Request, Response, handler};
use uuid::Uuid;

use super::{App, Frame, not_found, see_other, session, unavailable};
use crate::domain::{Category, DisclosureState, Instrument};
use crate::legal::intake::{self, Draft};
use crate::legal::review::{self, Action, Decision};
use crate::legal::{self, Caller, FieldIssue, LegalError, RequestDetail};
use crate::web::form_data::FormData;
use crate::web::render;

pub struct Row {
    pub id: Uuid,
    pub received: String,
    pub authority: String,
    pub case_number: String,
    pub instrument: &'static str,
    pub state: &'static str,
    pub state_label: &'static str,
    pub deadline: String,
}

#[derive(Template)]
#[template(path = "staff/legal_list.html")]
struct ListPage {
    frame: Frame,
    rows: Vec<Row>,
}

fn caller(req: &Request) -> poem::Result<Caller> {
    Ok(Caller::staff(session(req)?.staff.id))
}

fn parse_id(id: &str) -> poem::Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| not_found())
}

fn legal_failure(e: LegalError) -> poem::Error {
    match e {
        LegalError::NotFound => not_found(),
        other => unavailable(other),
    }
}

#[handler]
pub async fn list(req: &Request, Data(app): Data<&App>) -> poem::Result<Response> {
    let session = session(req)?;
    let rows = legal::list(app)
        .await
        .map_err(legal_failure)?
        .into_iter()
        .map(|r| Row {
            id: r.id,
            received: r.created_at.format("%Y-%m-%d").to_string(),
            authority: r.authority,
            case_number: r.case_number,
            instrument: r.instrument.label(),
            state: r.state.as_str(),
            state_label: r.state.label(),
            deadline: r.deadline.to_string(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            frame: Frame::new(app, session, "legal"),
            rows,
        },
    ))
}

pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "staff/legal_new.html")]
struct NewPage {
    frame: Frame,
    draft: Draft,
    subjects_text: String,
    instruments: Vec<Choice>,
    categories: Vec<Choice>,
    issues: Vec<FieldIssue>,
    max_order_mib: usize,
}

impl NewPage {
    fn error(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .issues
            .iter()
            .filter(|i| i.field == field)
            .map(|i| i.message.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }
}

fn new_page(
    app: &App,
    req: &Request,
    draft: Draft,
    issues: Vec<FieldIssue>,
) -> poem::Result<NewPage> {
    let session = session(req)?;
    Ok(NewPage {
        frame: Frame::new(app, session, "legal"),
        subjects_text: draft.subjects.join("\n"),
        instruments: Instrument::ALL
            .iter()
            .map(|i| Choice {
                value: i.as_str(),
                label: i.label(),
                checked: draft.instrument == i.as_str(),
            })
            .collect(),
        categories: Category::ALL
            .iter()
            .map(|c| Choice {
                value: c.as_str(),
                label: c.label(),
                checked: draft.categories.iter().any(|d| d == c.as_str()),
            })
            .collect(),
        draft,
        issues,
        max_order_mib: legal::MAX_ORDER_BYTES / 1024 / 1024,
    })
}

#[handler]
pub async fn new_form(req: &Request, Data(app): Data<&App>) -> poem::Result<Response> {
    Ok(render(
        StatusCode::OK,
        &new_page(app, req, Draft::default(), Vec::new())?,
    ))
}

#[handler]
pub async fn file(req: &Request, Data(app): Data<&App>, body: Body) -> poem::Result<Response> {
    let caller = caller(req)?;
    let posted = FormData::read(req, body).await?;
    let draft = Draft {
        authority: posted.get("authority").to_owned(),
        court: posted.get("court").to_owned(),
        case_number: posted.get("case_number").to_owned(),
        order_date: posted.get("order_date").to_owned(),
        instrument: posted.get("instrument").to_owned(),
        categories: posted
            .all("categories")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        subjects: posted
            .get("subjects")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        deadline: posted.get("deadline").to_owned(),
        gag_until: posted.get("gag_until").to_owned(),
        order: posted.file("order_copy").cloned(),
    };
    let parsed = draft.parse(&app.sealer, &app.settings.mail.relay_domain, Utc::now());
    let new = match parsed {
        Ok(new) => new,
        Err(issues) => {
            // The file input cannot be filled in again; everything else is kept.
            let draft = Draft {
                order: None,
                ..draft
            };
            return Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &new_page(app, req, draft, issues)?,
            ));
        }
    };
    let id = intake::file(app, &caller, new)
        .await
        .map_err(legal_failure)?;
    Ok(done(id, "filed"))
}

/// One button of the decision block.
pub struct ActionButton {
    /// The state it leads to, posted as `to`.
    pub to: &'static str,
    pub label: &'static str,
    /// `danger`, `secondary` or empty: how the button looks.
    pub style: &'static str,
    /// Execution posts to its own route.
    pub execute: bool,
}

fn button(action: Action) -> ActionButton {
    let (label, style) = match action {
        Action::StartReview => ("Start review", "secondary"),
        Action::Approve => ("Approve this scope", ""),
        Action::Reject => ("Reject", "danger"),
        Action::Withdraw => ("Mark as withdrawn", "danger"),
        Action::Execute => ("Execute and build the package", ""),
    };
    ActionButton {
        to: action.to().as_str(),
        label,
        style,
        execute: action == Action::Execute,
    }
}

/// What the viewer typed into the decision block, kept when it is refused.
#[derive(Default)]
struct Typed {
    reason: String,
    /// The scope chosen for an approval; `None` before anything was posted (all checked).
    categories: Option<Vec<String>>,
    subjects: Option<Vec<Uuid>>,
}

#[derive(Template)]
#[template(path = "staff/legal_request.html")]
struct RequestPage {
    frame: Frame,
    r: RequestDetail,
    state: &'static str,
    state_label: &'static str,
    instrument: &'static str,
    requested: Vec<&'static str>,
    approved: Option<Vec<&'static str>>,
    categories: Vec<Choice>,
    subjects: Vec<SubjectChoice>,
    actions: Vec<ActionButton>,
    can_approve: bool,
    can_execute: bool,
    needs_reason: bool,
    /// The reason itself was refused: its field is marked.
    reason_invalid: bool,
    /// Who filed it and who must still act, in a sentence.
    standing: String,
    reason: String,
    error: Option<String>,
    notice: Option<String>,
}

/// A subject checkbox of the approval scope.
pub struct SubjectChoice {
    pub id: Uuid,
    pub label: String,
    pub checked: bool,
}

/// Names as a sentence: `a`, `a or b`, `a, b or c`.
fn either(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The sentence under "Decision": who filed the request, and who must still act on it.
fn standing(r: &RequestDetail, viewer_filed: bool) -> String {
    let filed = format!(
        "Filed by {} on {}.",
        r.filed_by,
        r.created_at.format("%Y-%m-%d")
    );
    let last = |to: DisclosureState| {
        r.events
            .iter()
            .rev()
            .find(|e| e.to == to)
            .map(|e| format!("{} on {}", e.by, e.at.format("%Y-%m-%d")))
            .unwrap_or_else(|| "someone".to_owned())
    };
    let approvers = if r.approvers.is_empty() {
        "no such legal user has an account yet".to_owned()
    } else {
        either(&r.approvers)
    };
    let second = if viewer_filed {
        format!("You filed this request, so a second legal user must approve it: {approvers}.")
    } else {
        format!(
            "It must be approved by a legal user other than {}: {approvers}.",
            r.filed_by
        )
    };
    let next = match r.state {
        DisclosureState::Received => format!("Next, a legal user starts the review. {second}"),
        DisclosureState::UnderReview => format!("Under review. {second}"),
        DisclosureState::Approved => format!(
            "Approved by {}. It waits to be executed.",
            last(DisclosureState::Approved)
        ),
        DisclosureState::Executed => format!(
            "Approved by {}; executed by {}. Nothing more can happen to it.",
            last(DisclosureState::Approved),
            last(DisclosureState::Executed)
        ),
        DisclosureState::Rejected => format!(
            "Rejected by {}. Nothing more can happen to it.",
            last(DisclosureState::Rejected)
        ),
        DisclosureState::Withdrawn => format!(
            "Withdrawn by {}. Nothing more can happen to it.",
            last(DisclosureState::Withdrawn)
        ),
    };
    format!("{filed} {next}")
}

/// `?done=...`: what the page says after an action, when the request is (still) where that
/// action left it; a stale or made-up value shows nothing.
fn done_notice(done: &str, r: &RequestDetail) -> Option<String> {
    let notice = match (done, r.state) {
        ("filed", DisclosureState::Received) => {
            "Filed. The other legal users with a mail address were asked by e-mail to approve it."
                .to_owned()
        }
        ("under_review", DisclosureState::UnderReview) => "Review started.".to_owned(),
        ("approved", DisclosureState::Approved) => {
            "Approved. The request can now be executed.".to_owned()
        }
        ("rejected", DisclosureState::Rejected) => "Rejected. Nothing is disclosed.".to_owned(),
        ("withdrawn", DisclosureState::Withdrawn) => {
            "Marked as withdrawn. Nothing is disclosed.".to_owned()
        }
        ("executed", DisclosureState::Executed) => match r.gag_until.filter(|g| *g > Utc::now())
        {
            Some(until) => format!(
                "Executed: the export package is built. The notices to the data subjects wait in the outbox until the gag ends ({}).",
                until.format("%Y-%m-%d %H:%M UTC")
            ),
            None => "Executed: the export package is built. The data subjects who gave an address are told by e-mail.".to_owned(),
        },
        _ => return None,
    };
    Some(notice)
}

/// The page's answer to a refused decision or execution, or to a plain view.
struct Outcome {
    status: StatusCode,
    typed: Typed,
    error: Option<String>,
    reason_invalid: bool,
    done: Option<String>,
}

async fn request_page(
    req: &Request,
    app: &App,
    id: Uuid,
    outcome: Outcome,
) -> poem::Result<Response> {
    let session = session(req)?;
    let r = legal::detail(app, id).await.map_err(legal_failure)?;
    let state = r.state;
    let viewer = session.staff.id;
    let actions = review::actions(state, r.filed_by_staff, viewer);
    let viewer_filed = r.filed_by_staff == Some(viewer);
    let typed = outcome.typed;
    let page = RequestPage {
        frame: Frame::new(app, session, "legal"),
        state: state.as_str(),
        state_label: state.label(),
        instrument: r.instrument.label(),
        requested: r.requested.iter().map(|c| c.label()).collect(),
        approved: r
            .approved
            .as_ref()
            .map(|a| a.iter().map(|c| c.label()).collect()),
        categories: r
            .requested
            .iter()
            .map(|c| Choice {
                value: c.as_str(),
                label: c.label(),
                checked: typed
                    .categories
                    .as_ref()
                    .is_none_or(|chosen| chosen.iter().any(|v| v == c.as_str())),
            })
            .collect(),
        subjects: r
            .subjects
            .iter()
            .map(|s| SubjectChoice {
                id: s.id,
                label: s.label.clone(),
                checked: typed
                    .subjects
                    .as_ref()
                    .is_none_or(|chosen| chosen.contains(&s.id)),
            })
            .collect(),
        can_approve: actions.contains(&Action::Approve),
        can_execute: actions.contains(&Action::Execute),
        needs_reason: actions.iter().any(|a| a.needs_reason()),
        actions: actions.into_iter().map(button).collect(),
        standing: standing(&r, viewer_filed),
        reason: typed.reason,
        reason_invalid: outcome.reason_invalid,
        error: outcome.error,
        notice: outcome.done.as_deref().and_then(|d| done_notice(d, &r)),
        r,
    };
    Ok(render(outcome.status, &page))
}

/// `?done=approved` and the like: the page right after an action.
#[derive(Debug, serde::Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

#[handler]
pub async fn show(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> poem::Result<Response> {
    let outcome = Outcome {
        status: StatusCode::OK,
        typed: Typed::default(),
        error: None,
        reason_invalid: false,
        done: query.done,
    };
    request_page(req, app, parse_id(&id)?, outcome).await
}

/// Where an action ends: the request's page, saying what happened.
fn done(id: Uuid, what: &str) -> Response {
    see_other(&format!("/staff/legal/requests/{id}?done={what}"))
}

/// What a refused decision or execution tells the person, and with which status.
fn refusal(e: &LegalError) -> Option<(StatusCode, String)> {
    match e {
        LegalError::Invalid(issues) => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            issues
                .iter()
                .map(|i| i.message.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )),
        e if e.is_forbidden() => Some((StatusCode::FORBIDDEN, capitalized(&e.to_string()))),
        e if e.is_conflict() => Some((StatusCode::CONFLICT, capitalized(&e.to_string()))),
        _ => None,
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// The request's page again with the refusal above the decision block and the input kept.
async fn refused(
    req: &Request,
    app: &App,
    id: Uuid,
    e: LegalError,
    typed: Typed,
) -> poem::Result<Response> {
    let reason_invalid =
        matches!(&e, LegalError::Invalid(issues) if issues.iter().any(|i| i.field == "reason"));
    match refusal(&e) {
        Some((status, message)) => {
            let outcome = Outcome {
                status,
                typed,
                error: Some(message),
                reason_invalid,
                done: None,
            };
            request_page(req, app, id, outcome).await
        }
        None => Err(legal_failure(e)),
    }
}

#[handler]
pub async fn decide(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    let id = parse_id(&id)?;
    let caller = caller(req)?;
    let posted = FormData::read(req, body).await?;
    let approving = posted.get("to") == DisclosureState::Approved.as_str();
    let categories: Vec<String> = posted
        .all("categories")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let subjects: Vec<Uuid> = posted
        .all("subjects")
        .into_iter()
        .filter_map(|s| Uuid::parse_str(s).ok())
        .collect();
    let decision = Decision {
        to: posted.get("to").to_owned(),
        reason: posted.get("reason").to_owned(),
        categories: approving.then(|| categories.clone()),
        subjects: approving.then(|| subjects.clone()),
    };
    match review::decide(app, id, &caller, &decision).await {
        Ok(to) => Ok(done(id, to.as_str())),
        Err(e) => {
            let typed = Typed {
                reason: decision.reason,
                categories: approving.then_some(categories),
                subjects: approving.then_some(subjects),
            };
            refused(req, app, id, e, typed).await
        }
    }
}

#[handler]
pub async fn execute(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    let id = parse_id(&id)?;
    let caller = caller(req)?;
    // The decision block posts its reason field along; execution takes none, but keeps it.
    let posted = FormData::read(req, body).await?;
    match legal::execute::execute(app, id, &caller).await {
        Ok(_) => Ok(done(id, DisclosureState::Executed.as_str())),
        Err(e) => {
            let typed = Typed {
                reason: posted.get("reason").to_owned(),
                ..Typed::default()
            };
            refused(req, app, id, e, typed).await
        }
    }
}

fn attachment(download: legal::execute::Download) -> Response {
    // Whatever type was uploaded, it is offered as a download, never rendered in the page's origin.
    let name: String = download
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    download
        .bytes
        .with_content_type(if download.content_type == "application/zip" {
            "application/zip"
        } else {
            "application/octet-stream"
        })
        .with_header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .with_header("x-content-sha256", download.sha256)
        .with_header(header::CACHE_CONTROL, "no-store")
        .into_response()
}

#[handler]
pub async fn package(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    let id = parse_id(&id)?;
    match legal::execute::package(app, id, &caller(req)?).await {
        Ok(download) => Ok(attachment(download)),
        Err(LegalError::NoPackage) => Err(not_found()),
        Err(e) => Err(legal_failure(e)),
    }
}

#[handler]
pub async fn order_copy(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    let id = parse_id(&id)?;
    legal::execute::order_copy(app, id, &caller(req)?)
        .await
        .map(attachment)
        .map_err(legal_failure)
}

pub struct HoldRow {
    pub id: Uuid,
    pub reference: String,
    pub reason: String,
    pub placed: String,
    pub released: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/legal_holds.html")]
struct HoldsPage {
    frame: Frame,
    holds: Vec<HoldRow>,
    subject: String,
    reason: String,
    error: Option<String>,
    notice: Option<String>,
}

async fn holds_page(
    req: &Request,
    app: &App,
    status: StatusCode,
    typed: (String, String),
    error: Option<String>,
    notice: Option<String>,
) -> poem::Result<Response> {
    let session = session(req)?;
    let holds = legal::holds::list(app)
        .await
        .map_err(legal_failure)?
        .into_iter()
        .map(|h| HoldRow {
            id: h.id,
            reference: h.reference,
            reason: h.reason,
            placed: h.placed_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            released: h
                .released_at
                .map(|r| r.format("%Y-%m-%d %H:%M UTC").to_string()),
        })
        .collect();
    Ok(render(
        status,
        &HoldsPage {
            frame: Frame::new(app, session, "legal"),
            holds,
            subject: typed.0,
            reason: typed.1,
            error,
            notice,
        },
    ))
}

#[handler]
pub async fn list_holds(req: &Request, Data(app): Data<&App>) -> poem::Result<Response> {
    holds_page(req, app, StatusCode::OK, Default::default(), None, None).await
}

#[handler]
pub async fn place_hold(
    req: &Request,
    Data(app): Data<&App>,
    body: Body,
) -> poem::Result<Response> {
    let caller = caller(req)?;
    let posted = FormData::read(req, body).await?;
    let (subject, reason) = (posted.get("subject"), posted.get("reason"));
    match legal::holds::place(app, &caller, subject, reason).await {
        Ok(placed) => {
            let notice = if placed.is_empty() {
                "Every matching conversation was under hold already.".to_owned()
            } else {
                // The staff pages are in English; the sentence lives with the translations
                // for its plural forms.
                crate::i18n::Tr::new(crate::domain::Locale::En).count(
                    "legal-hold-placed",
                    "count",
                    placed.len(),
                )
            };
            holds_page(
                req,
                app,
                StatusCode::OK,
                Default::default(),
                None,
                Some(notice),
            )
            .await
        }
        Err(e) => match refusal(&e) {
            Some((status, message)) => {
                holds_page(
                    req,
                    app,
                    status,
                    (subject.to_owned(), reason.to_owned()),
                    Some(message),
                    None,
                )
                .await
            }
            None => Err(legal_failure(e)),
        },
    }
}

#[handler]
pub async fn release_hold(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    let id = parse_id(&id)?;
    let caller = caller(req)?;
    let posted = FormData::read(req, body).await?;
    match legal::holds::release(app, &caller, id, posted.get("reason")).await {
        Ok(()) => Ok(see_other("/staff/legal/holds")),
        Err(e) => match refusal(&e) {
            Some((status, message)) => {
                holds_page(req, app, status, Default::default(), Some(message), None).await
            }
            None => Err(legal_failure(e)),
        },
    }
}
