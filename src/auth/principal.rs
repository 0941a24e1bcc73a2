//! Who is calling: a signed-in staff member's session or an API key, with the role it acts in.
//! The authorization middleware resolves it from the request; use cases take it as they are.

use uuid::Uuid;

use super::session::Session;
use crate::domain::Role;

/// The authenticated caller of a request, put in the request's extensions.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The staff member, or `None` for an API key.
    pub staff_id: Option<Uuid>,
    pub role: Role,
    pub credential: Credential,
}

#[derive(Debug, Clone)]
pub enum Credential {
    Session(Box<Session>),
    ApiKey { id: Uuid, name: String },
}

impl Principal {
    pub fn session(&self) -> Option<&Session> {
        match &self.credential {
            Credential::Session(session) => Some(session),
            Credential::ApiKey { .. } => None,
        }
    }

    /// The name this caller goes by in logs: a staff id or an API key id.
    pub fn actor(&self) -> String {
        match &self.credential {
            Credential::Session(s) => format!("staff:{}", s.staff.id),
            Credential::ApiKey { id, .. } => format!("api_key:{id}"),
        }
    }
}
