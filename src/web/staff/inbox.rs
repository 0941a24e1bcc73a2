//! The inbox list and one thread, with the answer box and the status controls.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use uuid::Uuid;

use super::{App, Frame, not_found, see_other, session, unavailable};
use crate::domain::{Author, MessageBody, ThreadStatus};
use crate::inbox::{self, Cursor, Filter};
use crate::web::form_data::FormData;
use crate::web::render;

const PAGE_SIZE: u64 = 25;
const STATUSES: [&str; 5] = ["new", "open", "answered", "closed", "spam"];

pub struct Tab {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

pub struct Item {
    pub thread_id: Uuid,
    pub reference: String,
    pub subject: Option<String>,
    pub status: &'static str,
    pub excerpt: String,
    pub message_count: usize,
    pub last_author: &'static str,
    pub updated: String,
    pub updated_iso: String,
}

#[derive(Template)]
#[template(path = "staff/inbox.html")]
struct InboxPage {
    frame: Frame,
    status: Option<&'static str>,
    query: String,
    tabs: Vec<Tab>,
    items: Vec<Item>,
    next_href: Option<String>,
    first_href: String,
    is_later_page: bool,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    after: Option<String>,
}

fn list_href(status: Option<&str>, q: &str, after: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = status {
        pairs.push(("status", s));
    }
    if !q.is_empty() {
        pairs.push(("q", q));
    }
    if let Some(a) = after {
        pairs.push(("after", a));
    }
    if pairs.is_empty() {
        "/staff".to_owned()
    } else {
        format!(
            "/staff?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}

fn bad_request(what: &str) -> poem::Error {
    poem::Error::from_string(what.to_owned(), StatusCode::BAD_REQUEST)
}

#[handler]
pub async fn list(
    req: &Request,
    Data(app): Data<&App>,
    Query(query): Query<ListQuery>,
) -> poem::Result<Response> {
    let session = session(req)?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(ThreadStatus::parse(s).ok_or_else(|| bad_request("unknown status"))?),
        None => None,
    };
    let after = match query.after.as_deref().filter(|s| !s.is_empty()) {
        Some(a) => Some(Cursor::parse(a).ok_or_else(|| bad_request("malformed cursor"))?),
        None => None,
    };
    let q: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(200)
        .collect();
    let page = inbox::list(
        app,
        &Filter {
            status,
            query: Some(q.clone()),
            after: after.clone(),
            limit: PAGE_SIZE,
        },
    )
    .await
    .map_err(unavailable)?;
    let status_str = status.map(ThreadStatus::as_str);
    let mut tabs = vec![Tab {
        label: "All",
        href: list_href(None, &q, None),
        current: status.is_none(),
    }];
    for (label, s) in [
        ("New", "new"),
        ("Open", "open"),
        ("Answered", "answered"),
        ("Closed", "closed"),
        ("Held", "held"),
        ("Spam", "spam"),
    ] {
        tabs.push(Tab {
            label,
            href: list_href(Some(s), &q, None),
            current: status_str == Some(s),
        });
    }
    let items = page
        .items
        .into_iter()
        .map(|s| Item {
            thread_id: s.thread_id,
            reference: s.reference,
            subject: s.subject,
            status: s.status.as_str(),
            excerpt: s.excerpt,
            message_count: s.message_count,
            last_author: match s.last_author {
                Author::Visitor => "visitor",
                Author::Staff => "staff",
            },
            updated: s.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            updated_iso: s.updated_at.to_rfc3339(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &InboxPage {
            frame: Frame::new(app, session, "inbox"),
            status: status_str,
            next_href: page
                .next
                .map(|c| list_href(status_str, &q, Some(&c.encode()))),
            first_href: list_href(status_str, &q, None),
            is_later_page: after.is_some(),
            query: q,
            tabs,
            items,
        },
    ))
}

pub struct Entry {
    pub id: Uuid,
    pub from_staff: bool,
    pub author: String,
    pub when: String,
    pub when_iso: String,
    pub body_html: String,
    pub held_reason: Option<String>,
    /// Held by the spam defences (not by sender authentication).
    pub spam_hold: bool,
}

#[derive(Template)]
#[template(path = "staff/thread.html")]
struct ThreadPage {
    frame: Frame,
    thread_id: Uuid,
    reference: String,
    subject: Option<String>,
    status: &'static str,
    statuses: [&'static str; 5],
    spam_verdict: Option<String>,
    visitor_name: Option<String>,
    alias: String,
    reachable_by_mail: bool,
    locale: String,
    entries: Vec<Entry>,
    draft: String,
    error: Option<String>,
    notice: Option<String>,
    body_limit: usize,
}

async fn thread_page(
    req: &Request,
    app: &App,
    id: Uuid,
    status: StatusCode,
    draft: String,
    error: Option<String>,
    sent: bool,
) -> poem::Result<Response> {
    let session = session(req)?;
    let actor = crate::auth::staff_actor(session.staff.id);
    let thread = inbox::thread(app, id, &actor)
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    let visitor_label = thread
        .visitor
        .name
        .clone()
        .unwrap_or_else(|| "Visitor".to_owned());
    let entries = thread
        .messages
        .into_iter()
        .map(|m| Entry {
            id: m.id,
            from_staff: m.author == Author::Staff,
            author: match (m.author, m.staff_login) {
                (Author::Visitor, _) => visitor_label.clone(),
                (Author::Staff, Some(login)) => format!("{login} (staff)"),
                (Author::Staff, None) => "Staff (by e-mail or API)".to_owned(),
            },
            when: m.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            when_iso: m.created_at.to_rfc3339(),
            body_html: m.body.html().to_owned(),
            spam_hold: m
                .held_reason
                .as_deref()
                .is_some_and(|r| r.starts_with(crate::messages::SPAM_HOLD)),
            held_reason: m.held_reason,
        })
        .collect();
    Ok(render(
        status,
        &ThreadPage {
            frame: Frame::new(app, session, "inbox"),
            thread_id: thread.id,
            reference: thread.reference.to_string(),
            subject: thread.subject.map(|s| s.as_str().to_owned()),
            status: thread.status.as_str(),
            statuses: STATUSES,
            spam_verdict: thread.spam_verdict,
            visitor_name: thread.visitor.name,
            alias: thread.visitor.alias,
            reachable_by_mail: thread.visitor.reachable_by_mail,
            locale: thread.locale,
            entries,
            draft,
            error,
            notice: sent.then(|| sent_notice(thread.visitor.reachable_by_mail)),
            body_limit: MessageBody::MAX_CHARS,
        },
    ))
}

/// What the page says after an answer was sent: where the visitor will read it.
fn sent_notice(reachable_by_mail: bool) -> String {
    if reachable_by_mail {
        "Your answer is sent: it is on the visitor's private page, and the e-mail to them is on its way."
            .into()
    } else {
        "Your answer is sent: it is on the visitor's private page (they gave no e-mail address)."
            .into()
    }
}

/// `?sent=1`: the page right after an answer was sent.
#[derive(Deserialize)]
pub struct ShowQuery {
    sent: Option<String>,
}

fn parse_id(id: &str) -> poem::Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| not_found())
}

#[handler]
pub async fn show(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> poem::Result<Response> {
    thread_page(
        req,
        app,
        parse_id(&id)?,
        StatusCode::OK,
        String::new(),
        None,
        query.sent.is_some_and(|v| v == "1"),
    )
    .await
}

#[handler]
pub async fn reply(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    let id = parse_id(&id)?;
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    let typed = posted.get("body").to_owned();
    let body = match MessageBody::parse(&typed) {
        Ok(body) => body,
        Err(problem) => {
            return thread_page(
                req,
                app,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                typed,
                Some(crate::web::form::problem_text(
                    &crate::i18n::Tr::new(crate::domain::Locale::En),
                    "body",
                    problem,
                )),
                false,
            )
            .await;
        }
    };
    let actor = format!("staff:{}", session.staff.id);
    let message_id = inbox::reply(app, id, Some(session.staff.id), &body, &actor)
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    Ok(see_other(&format!(
        "/staff/threads/{id}?sent=1#m-{message_id}"
    )))
}

#[handler]
pub async fn set_status(
    req: &Request,
    Data(app): Data<&App>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    let id = parse_id(&id)?;
    let session = session(req)?;
    let posted = FormData::read(req, body).await?;
    let status = ThreadStatus::parse(posted.get("status")).ok_or_else(|| {
        poem::Error::from_string("unknown status", StatusCode::UNPROCESSABLE_ENTITY)
    })?;
    let actor = format!("staff:{}", session.staff.id);
    match inbox::set_status(app, id, status, &actor).await {
        Ok(Some(_)) => Ok(see_other(&format!("/staff/threads/{id}"))),
        Ok(None) => Err(not_found()),
        Err(inbox::StatusError::CannotHold) => Err(poem::Error::from_string(
            "only the spam defences hold a conversation",
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(inbox::StatusError::Db(e)) => Err(unavailable(e)),
    }
}

#[handler]
pub async fn decide_held(
    req: &Request,
    Data(app): Data<&App>,
    Path((id, message_id, decision)): Path<(String, String, String)>,
) -> poem::Result<Response> {
    let thread_id = parse_id(&id)?;
    let message_id = parse_id(&message_id)?;
    let decision = match decision.as_str() {
        "release" => inbox::HeldDecision::Release,
        "discard" => inbox::HeldDecision::Discard,
        _ => return Err(not_found()),
    };
    let session = session(req)?;
    let actor = crate::auth::staff_actor(session.staff.id);
    let thread_id = inbox::thread_id(app, thread_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    if !inbox::decide_held(app, thread_id, message_id, decision, &actor)
        .await
        .map_err(unavailable)?
    {
        return Err(not_found());
    }
    Ok(see_other(&format!("/staff/threads/{id}")))
}
