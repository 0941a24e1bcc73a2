//! The shapes of the staff side of `/api/v1/messages`: conversations as staff see them, what
//! the operations take, and what they answer.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object};
use uuid::Uuid;

use crate::api::formats::{OneOf, ThreadStatusChoice};

use crate::domain;
use crate::http::Problem;
use crate::inbox;

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ThreadStatus", rename_all = "snake_case")]
pub enum Status {
    /// Nobody has looked at it yet.
    New,
    /// Being dealt with.
    Open,
    /// Staff answered; the visitor has not written since.
    Answered,
    /// Done.
    Closed,
    /// Not a real message.
    Spam,
    /// Held by the spam defences: nobody was told and no acknowledgement went out. Setting
    /// the status to `new` (or any other but `spam`) approves it and sends its mails, once.
    Held,
}

impl From<domain::ThreadStatus> for Status {
    fn from(status: domain::ThreadStatus) -> Self {
        match status {
            domain::ThreadStatus::New => Status::New,
            domain::ThreadStatus::Open => Status::Open,
            domain::ThreadStatus::Answered => Status::Answered,
            domain::ThreadStatus::Closed => Status::Closed,
            domain::ThreadStatus::Spam => Status::Spam,
            domain::ThreadStatus::Held => Status::Held,
        }
    }
}

impl From<Status> for domain::ThreadStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::New => domain::ThreadStatus::New,
            Status::Open => domain::ThreadStatus::Open,
            Status::Answered => domain::ThreadStatus::Answered,
            Status::Closed => domain::ThreadStatus::Closed,
            Status::Spam => domain::ThreadStatus::Spam,
            Status::Held => domain::ThreadStatus::Held,
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Author", rename_all = "snake_case")]
pub enum Author {
    /// The visitor, through the form, the API, their private link or by mail.
    Visitor,
    /// Staff, from the inbox, the API or by mail.
    Staff,
}

impl From<domain::Author> for Author {
    fn from(author: domain::Author) -> Self {
        match author {
            domain::Author::Visitor => Author::Visitor,
            domain::Author::Staff => Author::Staff,
        }
    }
}

/// One conversation in the list.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct ThreadSummary {
    /// The id of the conversation's first message; address the conversation by it.
    pub id: Uuid,
    /// The id of the conversation itself (also accepted wherever `id` is).
    pub thread_id: Uuid,
    /// The short reference the visitor quotes, like `SP-7KQ2-M9XD`.
    pub reference: String,
    /// The subject, when the visitor gave one.
    #[oai(nullable)]
    pub subject: Option<String>,
    /// Where the conversation stands.
    pub status: Status,
    /// When the visitor wrote first.
    pub created_at: DateTime<Utc>,
    /// The last activity: a message or a status change. The list is ordered by it, newest
    /// first.
    pub updated_at: DateTime<Utc>,
    /// How many messages the conversation has, answers included.
    pub message_count: u64,
    /// Who wrote the latest message.
    pub last_author: Author,
    /// The start of the latest message as plain text, at most 160 characters.
    pub excerpt: String,
}

/// A page of conversations.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct ThreadPage {
    /// The conversations, newest activity first.
    pub items: Vec<ThreadSummary>,
    /// Pass this as `cursor` for the next page; `null` on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// The visitor as staff see them. Their e-mail address is sealed and never shown.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct Visitor {
    /// The name the visitor gave, if any.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The relay address that reaches the visitor by mail through Sealpost; mail to it joins
    /// this conversation.
    pub alias: String,
    /// Whether the visitor gave an address, so that answers reach them by mail (otherwise
    /// only through their private link).
    pub reachable_by_mail: bool,
}

/// One message of a conversation.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct ThreadMessage {
    /// The message's id.
    pub id: Uuid,
    /// Who wrote it.
    pub author: Author,
    /// For answers written in the inbox or through the API by a signed-in person: their
    /// login. `null` for the visitor, for answers by mail and for answers through an API key.
    #[oai(nullable)]
    pub staff_login: Option<String>,
    /// The body as cleaned HTML (a small allowlist of tags), safe to render as is.
    pub body_html: String,
    /// The body as plain text.
    pub body_text: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Why the message is held for staff review (a visitor's reply by mail that failed
    /// sender authentication, or one the spam defences held: its reason starts with
    /// "the spam defences held it"); `null` for a message of the conversation. A held message is
    /// not shown to the visitor until it is released in the staff inbox.
    #[oai(nullable)]
    pub held_reason: Option<String>,
}

/// A conversation with all its messages.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct Thread {
    /// The id of the conversation's first message.
    pub id: Uuid,
    /// The id of the conversation itself.
    pub thread_id: Uuid,
    /// The short reference the visitor quotes, like `SP-7KQ2-M9XD`.
    pub reference: String,
    /// The subject, when the visitor gave one.
    #[oai(nullable)]
    pub subject: Option<String>,
    /// Where the conversation stands.
    pub status: Status,
    /// The visitor's language (`en`, `ru` or `kk`): answers reach them in it.
    pub locale: String,
    /// When the visitor wrote first.
    pub created_at: DateTime<Utc>,
    /// The last activity: a message or a status change.
    pub updated_at: DateTime<Utc>,
    /// What the spam defences found in the first message, as a score and its signals
    /// (`score 7.5: links 3.0, filled_fast 3.0`); `null` when they found nothing.
    #[oai(nullable)]
    pub spam_verdict: Option<String>,
    /// Who wrote in.
    pub visitor: Visitor,
    /// Every message, oldest first.
    pub messages: Vec<ThreadMessage>,
}

impl From<inbox::Thread> for Thread {
    fn from(t: inbox::Thread) -> Self {
        Self {
            id: t.message_id,
            thread_id: t.id,
            reference: t.reference.to_string(),
            subject: t.subject.map(|s| s.as_str().to_owned()),
            status: t.status.into(),
            locale: t.locale,
            created_at: t.created_at,
            updated_at: t.updated_at,
            spam_verdict: t.spam_verdict,
            visitor: Visitor {
                name: t.visitor.name,
                alias: t.visitor.alias,
                reachable_by_mail: t.visitor.reachable_by_mail,
            },
            messages: t
                .messages
                .into_iter()
                .map(|m| ThreadMessage {
                    id: m.id,
                    author: m.author.into(),
                    staff_login: m.staff_login,
                    body_text: m.body.to_text(),
                    body_html: m.body.html().to_owned(),
                    created_at: m.created_at,
                    held_reason: m.held_reason,
                })
                .collect(),
        }
    }
}

/// A change to a conversation.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields, example)]
pub struct ThreadUpdate {
    /// The new status: `new`, `open`, `answered`, `closed` or `spam`.
    pub status: OneOf<ThreadStatusChoice>,
}

impl Example for ThreadUpdate {
    fn example() -> Self {
        Self {
            status: OneOf::new("closed"),
        }
    }
}

/// An answer to the visitor.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields, example)]
pub struct NewReply {
    /// The answer: plain text, or HTML limited to p, br, b, strong, i, em, ul, ol, li,
    /// blockquote, code, pre and a (http, https, mailto links). At most 20,000 characters.
    pub body: String,
}

impl Example for NewReply {
    fn example() -> Self {
        Self {
            body: "Thank you for writing. Your order left our warehouse today.".into(),
        }
    }
}

/// The stored answer.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct CreatedReply {
    /// The id of the new message.
    pub id: Uuid,
    /// The conversation it belongs to.
    pub thread_id: Uuid,
}

#[derive(ApiResponse)]
pub enum ListThreadsResponse {
    /// A page of conversations.
    #[oai(status = 200)]
    Ok(Json<ThreadPage>),
    /// An unknown `status`, a malformed `cursor`, a `limit` outside 1..=100 or a `q` over 200
    /// characters (`malformed_request`).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
}

#[derive(ApiResponse)]
pub enum ThreadResponse {
    /// The conversation.
    #[oai(status = 200)]
    Ok(Json<Thread>),
    /// There is no message or conversation with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
}

#[derive(ApiResponse)]
pub enum UpdateThreadResponse {
    /// The status is set; the conversation as it is now.
    #[oai(status = 200)]
    Ok(Json<Thread>),
    /// There is no message or conversation with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// An unknown status; `errors` says so.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
}

#[derive(ApiResponse)]
pub enum ReplyResponse {
    /// The answer is stored and, when the visitor gave an address, on its way to them from the
    /// support address.
    #[oai(status = 201)]
    Created(Json<CreatedReply>),
    /// There is no message or conversation with this id.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The answer is empty or too long; `errors` says which.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
}
