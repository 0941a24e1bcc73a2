//! The headings the operations are grouped under in the OpenAPI document and at `/api/docs`:
//! one per kind of caller, so that each finds their operations without reading the others.

use poem_openapi::Tags;

#[derive(Tags)]
#[oai(rename_all = "lowercase")]
pub enum ApiTags {
    /// What a visitor's side (a site's own form, an app) calls: submitting a message, and the
    /// public transparency report. No credentials.
    Visitor,
    /// Reading and answering conversations. An API key or a signed-in session with the role
    /// `agent` or `admin`.
    Staff,
    /// The disclosure workflow, legal holds and the audit log. Role `legal` (the audit log also
    /// `admin`).
    Legal,
    /// API keys and statistics. Role `admin`.
    Admin,
    /// Relay mail posted over HTTP by an MTA or a mail provider. The bearer token
    /// `mail.inbound.token`.
    Mail,
}
