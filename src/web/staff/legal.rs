//! The legal pages: the list of disclosure requests, the intake form, one request with its
//! decisions, execution and downloads, and legal holds. Every handler parses the form and calls
//! `crate::legal`; nothing here opens sealed data or writes the database itself.

use askama::Template;
use chrono::Utc;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, IntoResponse, Request, Response, handler};
use uuid::Uuid;

use super::{App, Frame, not_found, see_other, session, unavailable};
use crate::domain::{Category, DisclosureState, Instrument};
use crate::legal::intake::{self, Draft};
use crate::legal::review::{self, Decision};
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
    Ok(see_other(&format!("/staff/legal/requests/{id}")))
}

pub struct Move {
    pub to: &'static str,
    pub label: &'static str,
    pub danger: bool,
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
    moves: Vec<Move>,
    can_approve: bool,
    self_filed: bool,
    can_execute: bool,
    error: Option<String>,
    notice: Option<String>,
}

async fn request_page(
    req: &Request,
    app: &App,
    id: Uuid,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> poem::Result<Response> {
    let session = session(req)?;
    let r = legal::detail(app, id).await.map_err(legal_failure)?;
    let state = r.state;
    let moves: Vec<Move> = state
        .next()
        .iter()
        .filter(|s| **s != DisclosureState::Approved)
        .map(|s| Move {
            to: s.as_str(),
            label: match s {
                DisclosureState::UnderReview => "Start review",
                DisclosureState::Rejected => "Reject",
                DisclosureState::Withdrawn => "Mark as withdrawn",
                _ => s.label(),
            },
            danger: matches!(s, DisclosureState::Rejected | DisclosureState::Withdrawn),
        })
        .collect();
    let self_filed = r.filed_by_staff == Some(session.staff.id);
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
                checked: true,
            })
            .collect(),
        moves,
        can_approve: state.can_move_to(DisclosureState::Approved),
        self_filed,
        can_execute: state == DisclosureState::Approved,
        error,
        notice,
        r,
    };
    Ok(render(status, &page))
}

#[handler]
pub async fn show(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    request_page(req, app, parse_id(&id)?, StatusCode::OK, None, None).await
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
    let subjects = posted
        .all("subjects")
        .into_iter()
        .filter_map(|s| Uuid::parse_str(s).ok())
        .collect();
    let decision = Decision {
        to: posted.get("to").to_owned(),
        reason: posted.get("reason").to_owned(),
        categories: approving.then(|| {
            posted
                .all("categories")
                .into_iter()
                .map(str::to_owned)
                .collect()
        }),
        subjects: approving.then_some(subjects),
    };
    match review::decide(app, id, &caller, &decision).await {
        Ok(_) => Ok(see_other(&format!("/staff/legal/requests/{id}"))),
        Err(e) => match refusal(&e) {
            Some((status, message)) => {
                request_page(req, app, id, status, Some(message), None).await
            }
            None => Err(legal_failure(e)),
        },
    }
}

#[handler]
pub async fn execute(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    let id = parse_id(&id)?;
    let caller = caller(req)?;
    match legal::execute::execute(app, id, &caller).await {
        Ok(done) => {
            let notice = match (done.notices, done.notices_held_until) {
                (0, _) => "Executed. Nobody gets a notice: no subject gave an address.".to_owned(),
                (n, Some(until)) => format!(
                    "Executed. {n} notice(s) to data subjects wait in the outbox until the gag ends ({}).",
                    until.format("%Y-%m-%d %H:%M UTC")
                ),
                (n, None) => format!("Executed. {n} notice(s) to data subjects are on their way."),
            };
            request_page(req, app, id, StatusCode::OK, None, Some(notice)).await
        }
        Err(e) => match refusal(&e) {
            Some((status, message)) => {
                request_page(req, app, id, status, Some(message), None).await
            }
            None => Err(legal_failure(e)),
        },
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
