//! The staff side of `/api/v1/messages`: the list of conversations, one conversation, its
//! status, and answers — over the inbox service, which never opens a visitor's address (staff
//! see a name when one was given, and the relay alias that reaches the visitor).
//!
//! The operations are declared on [`MessagesApi`](super::messages::MessagesApi), next to the
//! public submission: poem-openapi 5.1 writes a path that two API structs share as two keys of
//! the description's `paths`, so `GET` and `POST /v1/messages` must live on one struct. The
//! work is here, the shapes in [`types`]; the declarations there only hand over.

use poem::Request;
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::errors::english;
use super::errors::{ApiError, STAFF_BODY, STAFF_READ};
use crate::auth::Principal;
use crate::domain::{self, FieldProblem, MessageBody};
use crate::http::ErrorCode;
use crate::http::{Problem, problem, refused_field as refused};
use crate::inbox::{self, Cursor, Filter};
use crate::state::App;

pub mod types;

use types::{
    CreatedReply, ListThreadsResponse, NewReply, ReplyResponse, Status, ThreadPage, ThreadResponse,
    ThreadSummary, ThreadUpdate, UpdateThreadResponse,
};

/// Threads per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u64 = 25;

fn not_found(req: &Request) -> Json<Problem> {
    problem(
        req,
        ErrorCode::NotFound,
        "There is no message or conversation with this id.",
    )
}

fn unavailable<const D: u16>(req: &Request, err: &dyn std::fmt::Display) -> ApiError<D> {
    ApiError::unavailable(
        req,
        "the inbox is unavailable",
        err,
        "The inbox cannot be read right now; try again later.",
    )
}

/// A malformed id names nothing, like an unknown one.
fn parse_id(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id.trim()).ok()
}

/// What `GET /v1/messages` asks for.
pub struct ListQuery {
    pub status: Option<Status>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: u64,
}

pub async fn list(
    req: &Request,
    app: &App,
    query: ListQuery,
) -> Result<ListThreadsResponse, ApiError<STAFF_READ>> {
    let after = match query.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => match Cursor::parse(raw) {
            Some(cursor) => Some(cursor),
            None => {
                return Ok(ListThreadsResponse::BadRequest(problem(
                    req,
                    ErrorCode::MalformedRequest,
                    "The cursor is malformed: pass `next_cursor` from the previous page as is.",
                )));
            }
        },
    };
    if query
        .q
        .as_deref()
        .is_some_and(|q| q.chars().any(char::is_control))
    {
        return Ok(ListThreadsResponse::BadRequest(problem(
            req,
            ErrorCode::MalformedRequest,
            "The search text contains control characters, which no conversation holds.",
        )));
    }
    let filter = Filter {
        status: query.status.map(Into::into),
        query: query.q,
        after,
        limit: query.limit,
    };
    let page = inbox::list(app, &filter)
        .await
        .map_err(|err| unavailable(req, &err))?;
    Ok(ListThreadsResponse::Ok(Json(ThreadPage {
        items: page
            .items
            .into_iter()
            .map(|s| ThreadSummary {
                id: s.message_id,
                thread_id: s.thread_id,
                reference: s.reference,
                subject: s.subject,
                status: s.status.into(),
                created_at: s.created_at,
                updated_at: s.updated_at,
                message_count: s.message_count as u64,
                last_author: s.last_author.into(),
                excerpt: s.excerpt,
            })
            .collect(),
        next_cursor: page.next.map(|c| c.encode()),
    })))
}

pub async fn get(
    req: &Request,
    app: &App,
    principal: &Principal,
    id: &str,
) -> Result<ThreadResponse, ApiError<STAFF_READ>> {
    let Some(id) = parse_id(id) else {
        return Ok(ThreadResponse::NotFound(not_found(req)));
    };
    match inbox::thread(app, id, &principal.actor()).await {
        Ok(Some(thread)) => Ok(ThreadResponse::Ok(Json(thread.into()))),
        Ok(None) => Ok(ThreadResponse::NotFound(not_found(req))),
        Err(err) => Err(unavailable(req, &err)),
    }
}

pub async fn update(
    req: &Request,
    app: &App,
    principal: &Principal,
    id: &str,
    update: ThreadUpdate,
) -> Result<UpdateThreadResponse, ApiError<STAFF_BODY>> {
    let Some(id) = parse_id(id) else {
        return Ok(UpdateThreadResponse::NotFound(not_found(req)));
    };
    let Some(status) = domain::ThreadStatus::parse(update.status.text.trim()) else {
        return Ok(UpdateThreadResponse::Unprocessable(refused(
            req,
            "status",
            FieldProblem::Unsupported,
            "The status is one of new, open, answered, closed and spam.",
        )));
    };
    match inbox::set_status(app, id, status, &principal.actor()).await {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(UpdateThreadResponse::NotFound(not_found(req))),
        Err(inbox::StatusError::CannotHold) => {
            return Ok(UpdateThreadResponse::Unprocessable(refused(
                req,
                "status",
                FieldProblem::Unsupported,
                "Only the spam defences hold a conversation. Approve a held one with `new` \
                 (its notification and acknowledgement are sent then), or mark it `spam`.",
            )));
        }
        Err(inbox::StatusError::Db(err)) => return Err(unavailable(req, &err)),
    }
    match inbox::thread(app, id, &principal.actor()).await {
        Ok(Some(thread)) => Ok(UpdateThreadResponse::Ok(Json(thread.into()))),
        Ok(None) => Ok(UpdateThreadResponse::NotFound(not_found(req))),
        Err(err) => Err(unavailable(req, &err)),
    }
}

pub async fn reply(
    req: &Request,
    app: &App,
    principal: &Principal,
    id: &str,
    reply: NewReply,
) -> Result<ReplyResponse, ApiError<STAFF_BODY>> {
    let Some(id) = parse_id(id) else {
        return Ok(ReplyResponse::NotFound(not_found(req)));
    };
    let body = match MessageBody::parse(&reply.body) {
        Ok(body) => body,
        Err(field_problem) => {
            return Ok(ReplyResponse::Unprocessable(refused(
                req,
                "body",
                field_problem,
                english(field_problem),
            )));
        }
    };
    let Some(thread_id) = inbox::thread_id(app, id)
        .await
        .map_err(|err| unavailable(req, &err))?
    else {
        return Ok(ReplyResponse::NotFound(not_found(req)));
    };
    let stored = inbox::reply(
        app,
        thread_id,
        principal.staff_id,
        &body,
        &principal.actor(),
    )
    .await
    .map_err(|err| unavailable(req, &err))?;
    Ok(match stored {
        Some(message_id) => ReplyResponse::Created(Json(CreatedReply {
            id: message_id,
            thread_id,
        })),
        None => ReplyResponse::NotFound(not_found(req)),
    })
}
