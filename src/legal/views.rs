//! Requests as the pages and the API show them: no sealed value is opened here, and a subject
//! named by address shows only masked.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::{LegalError, hex};
use crate::domain::{Categories, DisclosureState, Instrument};
use crate::entities::{
    disclosure_documents, disclosure_events, disclosure_subjects, disclosures, staff, threads,
};
use crate::state::AppState;

/// The document kinds of a request.
pub const ORDER: &str = "order";
pub const PACKAGE: &str = "package";

/// A request in the list.
#[derive(Debug, Clone)]
pub struct RequestSummary {
    pub id: Uuid,
    pub authority: String,
    pub case_number: String,
    pub instrument: Instrument,
    pub state: DisclosureState,
    pub deadline: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// A stored document, without its content.
#[derive(Debug, Clone)]
pub struct DocumentInfo {
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    /// Hex.
    pub sha256: String,
}

/// One subject of a request.
#[derive(Debug, Clone)]
pub struct SubjectView {
    pub id: Uuid,
    pub kind: String,
    /// The reference, the alias, or a masked address.
    pub label: String,
    /// The references of the threads it named at intake (a thread erased since shows as
    /// `(erased)`).
    pub matches: Vec<String>,
    pub approved: bool,
}

/// One state change.
#[derive(Debug, Clone)]
pub struct EventView {
    pub from: Option<DisclosureState>,
    pub to: DisclosureState,
    pub reason: String,
    /// A staff login, or the audit actor of an API key.
    pub by: String,
    pub at: DateTime<Utc>,
}

/// Everything about one request.
#[derive(Debug, Clone)]
pub struct RequestDetail {
    pub id: Uuid,
    pub authority: String,
    pub court: Option<String>,
    pub case_number: String,
    pub order_date: NaiveDate,
    pub instrument: Instrument,
    pub requested: Categories,
    pub approved: Option<Categories>,
    pub deadline: NaiveDate,
    pub gag_until: Option<DateTime<Utc>>,
    pub state: DisclosureState,
    /// Login (or actor) of who filed it.
    pub filed_by: String,
    pub filed_by_staff: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub executed_at: Option<DateTime<Utc>>,
    pub subjects: Vec<SubjectView>,
    pub events: Vec<EventView>,
    pub order: Option<DocumentInfo>,
    pub package: Option<DocumentInfo>,
    /// Logins of the active legal users who may approve it: all but the one who filed it.
    pub approvers: Vec<String>,
}

fn corrupt(what: &'static str, id: Uuid) -> LegalError {
    LegalError::Corrupt { id, what }
}

/// Every request, newest first.
pub async fn list(app: &AppState) -> Result<Vec<RequestSummary>, LegalError> {
    disclosures::Entity::find()
        .order_by_desc(disclosures::Column::CreatedAt)
        .order_by_desc(disclosures::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|row| {
            Ok(RequestSummary {
                id: row.id,
                instrument: Instrument::parse(&row.instrument)
                    .ok_or_else(|| corrupt("instrument", row.id))?,
                state: super::state_of(&row)?,
                authority: row.authority,
                case_number: row.case_number,
                deadline: row.deadline,
                created_at: row.created_at.with_timezone(&Utc),
            })
        })
        .collect()
}

/// The documents of a request by kind, without their content.
pub(super) async fn documents<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<Vec<(String, DocumentInfo)>, DbErr> {
    let rows: Vec<(String, String, String, i64, Vec<u8>)> = disclosure_documents::Entity::find()
        .select_only()
        .column(disclosure_documents::Column::Kind)
        .column(disclosure_documents::Column::FileName)
        .column(disclosure_documents::Column::ContentType)
        .column(disclosure_documents::Column::Size)
        .column(disclosure_documents::Column::Sha256)
        .filter(disclosure_documents::Column::DisclosureId.eq(id))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, file_name, content_type, size, sha)| {
            (
                kind,
                DocumentInfo {
                    file_name,
                    content_type,
                    size,
                    sha256: hex(&sha),
                },
            )
        })
        .collect())
}

/// The thread ids a subject row names.
pub(super) fn thread_ids(row: &disclosure_subjects::Model) -> Vec<Uuid> {
    serde_json::from_str(&row.thread_ids).unwrap_or_default()
}

/// Login of each staff id, for showing who did what.
async fn logins<C: ConnectionTrait>(
    conn: &C,
    ids: Vec<Uuid>,
) -> Result<Vec<(Uuid, String)>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(staff::Entity::find()
        .filter(staff::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| (s.id, s.login))
        .collect())
}

/// One request with its subjects, history and documents; `NotFound` when there is none.
pub async fn detail(app: &AppState, id: Uuid) -> Result<RequestDetail, LegalError> {
    let db = &app.db;
    let row = disclosures::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(LegalError::NotFound)?;
    let subjects = disclosure_subjects::Entity::find()
        .filter(disclosure_subjects::Column::DisclosureId.eq(id))
        .order_by_asc(disclosure_subjects::Column::Position)
        .all(db)
        .await?;
    let all_threads: Vec<Uuid> = subjects.iter().flat_map(thread_ids).collect();
    let references: Vec<(Uuid, String)> = if all_threads.is_empty() {
        Vec::new()
    } else {
        threads::Entity::find()
            .filter(threads::Column::Id.is_in(all_threads))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.reference))
            .collect()
    };
    let events = disclosure_events::Entity::find()
        .filter(disclosure_events::Column::DisclosureId.eq(id))
        .order_by_asc(disclosure_events::Column::At)
        .order_by_asc(disclosure_events::Column::Id)
        .all(db)
        .await?;
    let mut staff_ids: Vec<Uuid> = events.iter().filter_map(|e| e.staff_id).collect();
    staff_ids.extend(row.filed_by_staff);
    let names = logins(db, staff_ids).await?;
    let name_of = |staff_id: Option<Uuid>, actor: &str| {
        staff_id
            .and_then(|s| names.iter().find(|(id, _)| *id == s))
            .map(|(_, login)| login.clone())
            .unwrap_or_else(|| actor.to_owned())
    };
    let mut approvers = staff::Entity::find()
        .filter(staff::Column::Role.eq(crate::domain::Role::Legal.as_str()))
        .filter(staff::Column::Disabled.eq(false));
    if let Some(filer) = row.filed_by_staff {
        approvers = approvers.filter(staff::Column::Id.ne(filer));
    }
    let approvers: Vec<String> = approvers
        .order_by_asc(staff::Column::Login)
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.login)
        .collect();
    let documents = documents(db, id).await?;
    let document = |kind: &str| {
        documents
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, info)| info.clone())
    };
    Ok(RequestDetail {
        id,
        instrument: Instrument::parse(&row.instrument).ok_or_else(|| corrupt("instrument", id))?,
        requested: Categories::from_stored(&row.requested_categories)
            .ok_or_else(|| corrupt("categories", id))?,
        approved: row
            .approved_categories
            .as_deref()
            .and_then(Categories::from_stored),
        state: super::state_of(&row)?,
        filed_by: if row.filed_by.starts_with("staff:") {
            name_of(row.filed_by_staff, &row.filed_by)
        } else {
            row.filed_by.clone()
        },
        filed_by_staff: row.filed_by_staff,
        authority: row.authority,
        court: row.court,
        case_number: row.case_number,
        order_date: row.order_date,
        deadline: row.deadline,
        gag_until: row.gag_until.map(|g| g.with_timezone(&Utc)),
        created_at: row.created_at.with_timezone(&Utc),
        executed_at: row.executed_at.map(|e| e.with_timezone(&Utc)),
        subjects: subjects
            .iter()
            .map(|s| SubjectView {
                id: s.id,
                kind: s.kind.clone(),
                label: s.label.clone(),
                matches: thread_ids(s)
                    .into_iter()
                    .map(|t| {
                        references
                            .iter()
                            .find(|(id, _)| *id == t)
                            .map(|(_, r)| r.clone())
                            .unwrap_or_else(|| "(erased)".to_owned())
                    })
                    .collect(),
                approved: s.approved,
            })
            .collect(),
        events: events
            .iter()
            .map(|e| EventView {
                from: e.from_state.as_deref().and_then(DisclosureState::parse),
                to: DisclosureState::parse(&e.to_state).unwrap_or(DisclosureState::Received),
                reason: e.reason.clone(),
                by: name_of(e.staff_id, &e.actor),
                at: e.at.with_timezone(&Utc),
            })
            .collect(),
        order: document(ORDER),
        package: document(PACKAGE),
        approvers,
    })
}
