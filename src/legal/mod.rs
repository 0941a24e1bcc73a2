//! The disclosure workflow of issue 5: the only path by which contact data is unsealed for a
//! third party. A `legal` user files a request from an authority ([`intake`]); it is reviewed
//! and approved by a *second* legal user, or rejected, or withdrawn ([`review`]); an approved
//! request is executed once, unsealing exactly the approved categories of the approved subjects
//! into a ZIP package stored with the request, and the data subjects are told by mail unless
//! a gag order holds the notice back ([`execute`]). Legal holds keep threads from retention and
//! erasure ([`holds`]); the public transparency report counts requests by half-year
//! ([`transparency`]).
//!
//! Every change and every opening of sealed data is written to the audit log in the
//! transaction of the change, so that one cannot commit without the other. Pages and API
//! responses never show a visitor's address: only the package does.

pub mod deadline;
pub mod execute;
pub mod holds;
pub mod intake;
pub mod review;
pub mod transparency;
mod views;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, QuerySelect};
use uuid::Uuid;

use crate::auth::{Credential, Principal};
use crate::domain::{DisclosureState, EmailAddress, Reference};
use crate::entities::{contacts, disclosures, staff, threads};
use crate::mail::relay_token::RelayToken;
use crate::mailers::ComposeError;
use crate::seal::Sealer;

pub use holds::{is_contact_held, is_held};
pub use views::{
    DocumentInfo, EventView, RequestDetail, RequestSummary, SubjectView, detail, list,
};

/// The largest order copy accepted, in bytes.
pub const MAX_ORDER_BYTES: usize = 5 * 1024 * 1024;

/// The paths that carry an order copy, and the body size they accept (the copy, base64 or
/// multipart overhead, and the other fields).
pub const UPLOAD_PATHS: [&str; 2] = ["/staff/legal/requests", "/api/v1/disclosures"];
pub const UPLOAD_REQUEST_BYTES: usize = MAX_ORDER_BYTES / 3 * 4 + 256 * 1024;
const _: () = assert!(UPLOAD_REQUEST_BYTES > MAX_ORDER_BYTES / 3 * 4 + 4);

/// The body limit of a request to `path`: larger for the intake of a request with its order copy.
pub fn request_limit(path: &str, default: usize) -> usize {
    if UPLOAD_PATHS.contains(&path) {
        default.max(UPLOAD_REQUEST_BYTES)
    } else {
        default
    }
}

/// Who acts: the audit actor, and the person behind it when there is one.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: String,
    pub staff_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
}

impl Caller {
    pub fn from_principal(principal: &Principal) -> Self {
        Self {
            actor: principal.actor(),
            staff_id: principal.staff_id,
            api_key_id: match &principal.credential {
                Credential::ApiKey { id, .. } => Some(*id),
                Credential::Session(_) => None,
            },
        }
    }

    pub fn staff(id: Uuid) -> Self {
        Self {
            actor: crate::auth::staff_actor(id),
            staff_id: Some(id),
            api_key_id: None,
        }
    }
}

/// One refused field: its name in the request, a stable code, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl FieldIssue {
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LegalError {
    #[error("some fields were refused")]
    Invalid(Vec<FieldIssue>),
    #[error("no such disclosure request or hold")]
    NotFound,
    #[error("a request that is {} cannot become {}", .from.label(), .to.label())]
    WrongState {
        from: DisclosureState,
        to: DisclosureState,
    },
    #[error(
        "a request must be approved by a legal user other than the one who filed it (four eyes)"
    )]
    SelfApproval,
    #[error("approval needs a signed-in legal user; an API key cannot approve")]
    NeedsPerson,
    #[error("the request was executed already; its package exists and is not built again")]
    AlreadyExecuted,
    #[error("only an approved request can be executed; this one is {}", .0.label())]
    NotApproved(DisclosureState),
    #[error("the request has not been executed, so there is no package")]
    NoPackage,
    #[error("the hold was released already")]
    AlreadyReleased,
    #[error("a sealed value could not be opened: {0}")]
    Seal(String),
    #[error("building the package: {0}")]
    Package(String),
    #[error("composing mail to the legal users: {0}")]
    Mail(String),
    #[error("request {id}: the stored {what} cannot be read")]
    Corrupt { id: Uuid, what: &'static str },
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl LegalError {
    /// Refused because of the request's state or the caller, not because of input or a failure:
    /// what the API answers 409 or 403 to.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            LegalError::WrongState { .. }
                | LegalError::AlreadyExecuted
                | LegalError::NotApproved(_)
                | LegalError::NoPackage
                | LegalError::AlreadyReleased
        )
    }

    pub fn is_forbidden(&self) -> bool {
        matches!(self, LegalError::SelfApproval | LegalError::NeedsPerson)
    }
}

impl From<zip::result::ZipError> for LegalError {
    fn from(e: zip::result::ZipError) -> Self {
        LegalError::Package(e.to_string())
    }
}

/// A written reason for a decision: required, at most 2,000 characters; line breaks allowed.
pub fn parse_reason(field: &'static str, input: &str) -> Result<String, FieldIssue> {
    let reason = input.trim();
    if reason.is_empty() {
        return Err(FieldIssue::new(field, "required", "Write down the reason."));
    }
    if reason
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldIssue::new(
            field,
            "control_characters",
            "Control characters are not allowed.",
        ));
    }
    if reason.chars().count() > 2000 {
        return Err(FieldIssue::new(
            field,
            "too_long",
            "At most 2,000 characters are allowed.",
        ));
    }
    Ok(reason.replace("\r\n", "\n"))
}

/// Who or what a request names as a subject, as typed.
#[derive(Debug, Clone)]
pub enum SubjectInput {
    /// A message reference, `SP-XXXX-XXXX`.
    Reference(Reference),
    /// A relay alias of this site: the thread is in its signed token.
    Alias { address: String, thread_id: Uuid },
    /// An exact address, found through the blind index; never stored or shown.
    Email(EmailAddress),
}

/// Why a subject was refused; it says what is accepted without repeating the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("is not a valid relay alias of this site")]
    BadAlias,
    #[error("is neither a message reference (SP-XXXX-XXXX), a relay alias nor an e-mail address")]
    Unrecognized,
}

impl SubjectInput {
    /// Reads one subject.
    pub fn parse(input: &str, sealer: &Sealer, relay_domain: &str) -> Result<Self, SubjectError> {
        let input = input.trim();
        if let Some(reference) = Reference::parse(input) {
            return Ok(SubjectInput::Reference(reference));
        }
        if let Some((_, domain)) = input.rsplit_once('@')
            && domain.eq_ignore_ascii_case(relay_domain)
        {
            return match RelayToken::from_address(input, sealer, relay_domain) {
                Ok(token) => Ok(SubjectInput::Alias {
                    address: input.to_ascii_lowercase(),
                    thread_id: token.thread_id,
                }),
                Err(_) => Err(SubjectError::BadAlias),
            };
        }
        match EmailAddress::parse(input) {
            Ok(Some(email)) => Ok(SubjectInput::Email(email)),
            _ => Err(SubjectError::Unrecognized),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SubjectInput::Reference(_) => "reference",
            SubjectInput::Alias { .. } => "alias",
            SubjectInput::Email(_) => "email",
        }
    }

    /// What pages show for the subject: the reference, the alias, or a masked address.
    pub fn label(&self) -> String {
        match self {
            SubjectInput::Reference(r) => r.to_string(),
            SubjectInput::Alias { address, .. } => address.clone(),
            SubjectInput::Email(email) => masked(email),
        }
    }

    /// The threads the subject names, as they are now.
    pub async fn resolve<C: ConnectionTrait>(
        &self,
        conn: &C,
        sealer: &Sealer,
    ) -> Result<Vec<Uuid>, DbErr> {
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
        Ok(match self {
            SubjectInput::Reference(r) => threads::Entity::find()
                .filter(threads::Column::Reference.eq(r.as_str()))
                .all(conn)
                .await?
                .into_iter()
                .map(|t| t.id)
                .collect(),
            SubjectInput::Alias { thread_id, .. } => threads::Entity::find_by_id(*thread_id)
                .one(conn)
                .await?
                .into_iter()
                .map(|t| t.id)
                .collect(),
            SubjectInput::Email(email) => {
                let contact_ids: Vec<Uuid> = contacts::Entity::find()
                    .filter(contacts::Column::EmailIndex.eq(sealer.email_index(email)))
                    .all(conn)
                    .await?
                    .into_iter()
                    .map(|c| c.id)
                    .collect();
                if contact_ids.is_empty() {
                    Vec::new()
                } else {
                    threads::Entity::find()
                        .filter(threads::Column::ContactId.is_in(contact_ids))
                        .order_by_asc(threads::Column::CreatedAt)
                        .all(conn)
                        .await?
                        .into_iter()
                        .map(|t| t.id)
                        .collect()
                }
            }
        })
    }
}

/// `a…@example.org`: enough to tell subjects apart on a page, not the address.
fn masked(email: &EmailAddress) -> String {
    let (local, domain) = email.as_str().rsplit_once('@').unwrap_or(("", ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}…@{domain}")
}

/// The addresses the legal users are mailed at: each active legal account's own address
/// (`staff.email`, the one reset links go to) or, when it has none, the address it answers
/// from by mail (`staff.mail_address`), but `except`'s. Accounts with neither get no mail. The
/// one place that decides who of the legal users is written to.
pub(crate) async fn legal_user_addresses<C: ConnectionTrait>(
    conn: &C,
    except: Option<Uuid>,
) -> Result<Vec<EmailAddress>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let mut query = staff::Entity::find()
        .filter(staff::Column::Role.eq(crate::domain::Role::Legal.as_str()))
        .filter(staff::Column::Disabled.eq(false));
    if let Some(id) = except {
        query = query.filter(staff::Column::Id.ne(id));
    }
    Ok(query
        .order_by_asc(staff::Column::Login)
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|s| s.email.or(s.mail_address))
        .filter_map(|a| EmailAddress::parse(&a).ok().flatten())
        .collect())
}

/// Who filed a request, as the pages and mails name them: the account's login, or the audit
/// actor (an API key without an owner).
async fn filer_name<C: ConnectionTrait>(
    conn: &C,
    row: &disclosures::Model,
) -> Result<String, DbErr> {
    Ok(match row.filed_by_staff {
        Some(id) => staff::Entity::find_by_id(id)
            .one(conn)
            .await?
            .map(|s| s.login)
            .unwrap_or_else(|| row.filed_by.clone()),
        None => row.filed_by.clone(),
    })
}

fn mail_error(e: ComposeError) -> LegalError {
    match e {
        ComposeError::Db(e) => LegalError::Db(e),
        other => LegalError::Mail(other.to_string()),
    }
}

/// A request row, locked for the rest of the transaction on PostgreSQL (SQLite's write
/// transaction holds the whole database already).
async fn load_for_update<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<disclosures::Model, LegalError> {
    let mut select = disclosures::Entity::find_by_id(id);
    if conn.get_database_backend() == DbBackend::Postgres {
        select = select.lock_exclusive();
    }
    select.one(conn).await?.ok_or(LegalError::NotFound)
}

fn state_of(row: &disclosures::Model) -> Result<DisclosureState, LegalError> {
    DisclosureState::parse(&row.state).ok_or(LegalError::Corrupt {
        id: row.id,
        what: "state",
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_required_and_bounded() {
        assert_eq!(parse_reason("reason", "  ").unwrap_err().code, "required");
        assert_eq!(
            parse_reason("reason", &"x".repeat(2001)).unwrap_err().code,
            "too_long"
        );
        assert_eq!(
            parse_reason("reason", "a\u{7}b").unwrap_err().code,
            "control_characters"
        );
        assert_eq!(
            parse_reason("reason", " Order checked.\r\nScope fine. ").unwrap(),
            "Order checked.\nScope fine."
        );
    }

    #[test]
    fn subjects_are_references_aliases_or_addresses_and_addresses_are_masked() {
        let sealer = Sealer::new("k", &[1; 32], &[2; 32]).expect("keys");
        let domain = "relay.example.org";
        assert!(matches!(
            SubjectInput::parse("sp-7kq2-m9xd", &sealer, domain),
            Ok(SubjectInput::Reference(_))
        ));
        let thread_id = Uuid::now_v7();
        let alias = RelayToken::new(thread_id, crate::mail::relay_token::Direction::FromStaff)
            .alias(&sealer, domain);
        match SubjectInput::parse(&alias, &sealer, domain) {
            Ok(SubjectInput::Alias { thread_id: t, .. }) => assert_eq!(t, thread_id),
            other => panic!("{other:?}"),
        }
        assert!(SubjectInput::parse("reply+00@relay.example.org", &sealer, domain).is_err());
        let email = SubjectInput::parse("Anna.K@example.org", &sealer, domain).expect("email");
        assert_eq!(email.label(), "A…@example.org");
        let refused = SubjectInput::parse("anna at example", &sealer, domain)
            .unwrap_err()
            .to_string();
        assert!(!refused.contains("anna"));
    }

    #[test]
    fn only_the_intake_paths_get_a_larger_body_limit() {
        assert_eq!(
            request_limit("/staff/legal/requests", 65536),
            UPLOAD_REQUEST_BYTES
        );
        assert_eq!(
            request_limit("/api/v1/disclosures", 65536),
            UPLOAD_REQUEST_BYTES
        );
        assert_eq!(request_limit("/staff/threads/x/replies", 65536), 65536);
    }
}
