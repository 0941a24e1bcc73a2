//! Pure domain types: every input becomes one of these at the edge, so that past the edge a
//! `String` that should be an address, a subject or a message body cannot exist.

mod disclosure;
mod email;
mod locale;
mod message_body;
mod reference;
mod staff;
mod text_field;
mod thread_token;

pub use disclosure::{Categories, Category, DisclosureState, Instrument};
pub use email::{AddressError, EmailAddress, parse_address, parse_mailbox};
pub use locale::Locale;
pub use message_body::MessageBody;
pub use reference::Reference;
pub use staff::{Login, LoginError, NewPassword, PasswordRefusal, Role};
pub use text_field::{Subject, VisitorName};
pub use thread_token::ThreadToken;

/// Why a field was refused; the code is stable (API clients match on it), the wording lives in
/// the translations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldProblem {
    Required,
    TooLong { max: usize },
    ControlCharacters,
    InvalidEmail,
    Unsupported,
}

impl FieldProblem {
    pub fn code(&self) -> &'static str {
        match self {
            FieldProblem::Required => "required",
            FieldProblem::TooLong { .. } => "too_long",
            FieldProblem::ControlCharacters => "control_characters",
            FieldProblem::InvalidEmail => "invalid_email",
            FieldProblem::Unsupported => "unsupported",
        }
    }
}

/// Who wrote a message of a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Visitor,
    Staff,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Visitor => "visitor",
            Author::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "visitor" => Some(Author::Visitor),
            "staff" => Some(Author::Staff),
            _ => None,
        }
    }
}

/// The status of a thread as staff and the visitor see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadStatus {
    New,
    Open,
    Answered,
    Closed,
    Spam,
    /// Held by the spam defences until staff approve it (or mark it as spam): its mails wait.
    Held,
}

impl ThreadStatus {
    pub const ALL: [ThreadStatus; 6] = [
        ThreadStatus::New,
        ThreadStatus::Open,
        ThreadStatus::Answered,
        ThreadStatus::Closed,
        ThreadStatus::Spam,
        ThreadStatus::Held,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ThreadStatus::New => "new",
            ThreadStatus::Open => "open",
            ThreadStatus::Answered => "answered",
            ThreadStatus::Closed => "closed",
            ThreadStatus::Spam => "spam",
            ThreadStatus::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}
