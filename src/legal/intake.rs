//! Filing a request: every field of the order as typed ([`Draft`]) is parsed at once into a
//! [`NewRequest`], reporting every refused field; [`file`] stores it with its order copy and
//! the subjects it names (resolved to threads now, so that reviewers approve a concrete scope),
//! in state `received`, with its audit entry.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Caller, FieldIssue, LegalError, MAX_ORDER_BYTES, SubjectInput, hex};
use crate::domain::{Categories, DisclosureState, Instrument};
use crate::entities::{
    api_keys, disclosure_documents, disclosure_events, disclosure_subjects, disclosures,
};
use crate::state::AppState;

/// The most subjects one request may name.
pub const MAX_SUBJECTS: usize = 50;

/// An uploaded file as received.
#[derive(Clone, Default)]
pub struct Upload {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A request as typed, from the intake form or the API. Not `Debug`: subjects may be addresses.
#[derive(Clone, Default)]
pub struct Draft {
    pub authority: String,
    pub court: String,
    pub case_number: String,
    pub order_date: String,
    pub instrument: String,
    pub categories: Vec<String>,
    pub subjects: Vec<String>,
    pub deadline: String,
    /// Empty for none; a date (the gag holds through that day, UTC) or an RFC 3339 time.
    pub gag_until: String,
    pub order: Option<Upload>,
}

/// The order copy, checked.
pub struct OrderCopy {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub sha256: Vec<u8>,
}

/// A parsed request.
pub struct NewRequest {
    pub authority: String,
    pub court: Option<String>,
    pub case_number: String,
    pub order_date: NaiveDate,
    pub instrument: Instrument,
    pub categories: Categories,
    pub subjects: Vec<SubjectInput>,
    pub deadline: NaiveDate,
    pub gag_until: Option<DateTime<Utc>>,
    pub order: OrderCopy,
}

fn line(
    issues: &mut Vec<FieldIssue>,
    field: &'static str,
    input: &str,
    max: usize,
    required: bool,
) -> Option<String> {
    let value = input.trim();
    if value.is_empty() {
        if required {
            issues.push(FieldIssue::new(
                field,
                "required",
                "This field is required.",
            ));
        }
        return None;
    }
    if value.chars().any(char::is_control) {
        issues.push(FieldIssue::new(
            field,
            "control_characters",
            "Line breaks and control characters are not allowed here.",
        ));
        return None;
    }
    if value.chars().count() > max {
        issues.push(FieldIssue::new(
            field,
            "too_long",
            format!("At most {max} characters are allowed."),
        ));
        return None;
    }
    Some(value.to_owned())
}

fn date(issues: &mut Vec<FieldIssue>, field: &'static str, input: &str) -> Option<NaiveDate> {
    let value = input.trim();
    if value.is_empty() {
        issues.push(FieldIssue::new(
            field,
            "required",
            "This field is required.",
        ));
        return None;
    }
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            issues.push(FieldIssue::new(
                field,
                "invalid_date",
                "Give a date as YYYY-MM-DD.",
            ));
            None
        }
    }
}

/// When a gag given as `input` ends: after the whole day for a date, or at the time given.
pub fn gag_end(input: &str) -> Option<DateTime<Utc>> {
    let value = input.trim();
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Some((day + Duration::days(1)).and_time(NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// A file name safe to show and to offer for download: no path, no control characters.
fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';'))
        .take(200)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "order".to_owned()
    } else {
        cleaned
    }
}

impl Draft {
    /// Parses every field, reporting all problems at once. `now` decides what is in the future.
    pub fn parse(
        &self,
        sealer: &crate::seal::Sealer,
        relay_domain: &str,
        now: DateTime<Utc>,
    ) -> Result<NewRequest, Vec<FieldIssue>> {
        let mut issues = Vec::new();
        let authority = line(&mut issues, "authority", &self.authority, 200, true);
        let court = line(&mut issues, "court", &self.court, 200, false);
        let case_number = line(&mut issues, "case_number", &self.case_number, 100, true);
        let order_date = date(&mut issues, "order_date", &self.order_date);
        if let Some(d) = order_date
            && d > now.date_naive()
        {
            issues.push(FieldIssue::new(
                "order_date",
                "in_future",
                "The order cannot be dated in the future.",
            ));
        }
        let instrument = match self.instrument.trim() {
            "" => {
                issues.push(FieldIssue::new(
                    "instrument",
                    "required",
                    "Choose the legal instrument.",
                ));
                None
            }
            other => Instrument::parse(other).or_else(|| {
                issues.push(FieldIssue::new(
                    "instrument",
                    "unsupported",
                    "The instrument is one of subpoena, court_order, warrant, emergency, user_consent.",
                ));
                None
            }),
        };
        let categories = if self.categories.iter().all(|c| c.trim().is_empty()) {
            issues.push(FieldIssue::new(
                "categories",
                "required",
                "Choose at least one category of data.",
            ));
            None
        } else {
            Categories::parse(
                self.categories
                    .iter()
                    .map(|c| c.trim())
                    .filter(|c| !c.is_empty()),
            )
            .or_else(|| {
                issues.push(FieldIssue::new(
                    "categories",
                    "unsupported",
                    "Categories are contact_data, message_content and technical_data.",
                ));
                None
            })
        };
        let typed: Vec<&str> = self
            .subjects
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        let mut subjects = Vec::new();
        if typed.is_empty() {
            issues.push(FieldIssue::new(
                "subjects",
                "required",
                "Name at least one subject: a message reference, a relay alias or an e-mail address.",
            ));
        } else if typed.len() > MAX_SUBJECTS {
            issues.push(FieldIssue::new(
                "subjects",
                "too_many",
                format!("At most {MAX_SUBJECTS} subjects per request."),
            ));
        } else {
            for (i, text) in typed.iter().enumerate() {
                match SubjectInput::parse(text, sealer, relay_domain) {
                    Ok(subject) => subjects.push(subject),
                    Err(why) => issues.push(FieldIssue::new(
                        "subjects",
                        "invalid_subject",
                        format!("Subject {} {why}.", i + 1),
                    )),
                }
            }
        }
        let deadline = date(&mut issues, "deadline", &self.deadline);
        if let (Some(d), Some(o)) = (deadline, order_date)
            && d < o
        {
            issues.push(FieldIssue::new(
                "deadline",
                "before_order",
                "The deadline cannot be before the order's date.",
            ));
        }
        let gag_until = match self.gag_until.trim() {
            "" => None,
            typed => match gag_end(typed) {
                Some(end) if end > now => Some(end),
                Some(_) => {
                    issues.push(FieldIssue::new(
                        "gag_until",
                        "in_past",
                        "A gag order must end in the future; leave the field empty for none.",
                    ));
                    None
                }
                None => {
                    issues.push(FieldIssue::new(
                        "gag_until",
                        "invalid_date",
                        "Give the gag's last day as YYYY-MM-DD (or an RFC 3339 time).",
                    ));
                    None
                }
            },
        };
        let order = match &self.order {
            None => {
                issues.push(FieldIssue::new(
                    "order_copy",
                    "required",
                    "Attach a copy of the order.",
                ));
                None
            }
            Some(upload) if upload.bytes.is_empty() => {
                issues.push(FieldIssue::new(
                    "order_copy",
                    "required",
                    "The attached copy of the order is empty.",
                ));
                None
            }
            Some(upload) if upload.bytes.len() > MAX_ORDER_BYTES => {
                issues.push(FieldIssue::new(
                    "order_copy",
                    "too_large",
                    format!(
                        "The copy of the order may be at most {} MiB.",
                        MAX_ORDER_BYTES / 1024 / 1024
                    ),
                ));
                None
            }
            Some(upload) => Some(OrderCopy {
                file_name: clean_file_name(&upload.file_name),
                content_type: upload
                    .content_type
                    .parse::<mime::Mime>()
                    .map(|m| m.essence_str().chars().take(128).collect())
                    .unwrap_or_else(|_| "application/octet-stream".to_owned()),
                sha256: Sha256::digest(&upload.bytes).to_vec(),
                bytes: upload.bytes.clone(),
            }),
        };
        match (
            authority,
            case_number,
            order_date,
            instrument,
            categories,
            deadline,
            order,
        ) {
            (
                Some(authority),
                Some(case_number),
                Some(order_date),
                Some(instrument),
                Some(categories),
                Some(deadline),
                Some(order),
            ) if issues.is_empty() => Ok(NewRequest {
                authority,
                court,
                case_number,
                order_date,
                instrument,
                categories,
                subjects,
                deadline,
                gag_until,
                order,
            }),
            _ => Err(issues),
        }
    }
}

/// Stores a parsed request in state `received`; returns its id.
pub async fn file(app: &AppState, caller: &Caller, new: NewRequest) -> Result<Uuid, LegalError> {
    let txn = crate::db::begin_write(&app.db).await?;
    let now = Utc::now().fixed_offset();
    let id = Uuid::now_v7();
    // Filed with an API key: the person who made the key counts as the filer for four eyes.
    let filed_by_staff = match (caller.staff_id, caller.api_key_id) {
        (Some(staff), _) => Some(staff),
        (None, Some(key)) => api_keys::Entity::find_by_id(key)
            .one(&txn)
            .await?
            .and_then(|k| k.created_by),
        (None, None) => None,
    };
    let row = disclosures::ActiveModel {
        id: Set(id),
        authority: Set(new.authority),
        court: Set(new.court),
        case_number: Set(new.case_number),
        order_date: Set(new.order_date),
        instrument: Set(new.instrument.as_str().to_owned()),
        requested_categories: Set(new.categories.to_stored()),
        approved_categories: Set(None),
        deadline: Set(new.deadline),
        gag_until: Set(new.gag_until.map(|g| g.fixed_offset())),
        state: Set(DisclosureState::Received.as_str().to_owned()),
        filed_by: Set(caller.actor.clone()),
        filed_by_staff: Set(filed_by_staff),
        created_at: Set(now),
        updated_at: Set(now),
        executed_at: Set(None),
        reminder_sent_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let mut matched = 0usize;
    for (position, subject) in new.subjects.iter().enumerate() {
        let threads = subject.resolve(&txn, &app.sealer).await?;
        matched += threads.len();
        disclosure_subjects::ActiveModel {
            id: Set(Uuid::now_v7()),
            disclosure_id: Set(id),
            position: Set(position as i64),
            kind: Set(subject.kind().to_owned()),
            label: Set(subject.label()),
            thread_ids: Set(serde_json::to_string(&threads).unwrap_or_else(|_| "[]".into())),
            approved: Set(false),
        }
        .insert(&txn)
        .await?;
    }
    let document_id = Uuid::now_v7();
    disclosure_documents::ActiveModel {
        id: Set(document_id),
        disclosure_id: Set(id),
        kind: Set(super::views::ORDER.to_owned()),
        file_name: Set(new.order.file_name),
        content_type: Set(new.order.content_type),
        sha256: Set(new.order.sha256.clone()),
        size: Set(new.order.bytes.len() as i64),
        content: Set(app
            .sealer
            .seal(&crate::seal::Document(new.order.bytes), document_id)
            .into_bytes()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    disclosure_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        disclosure_id: Set(id),
        from_state: Set(None),
        to_state: Set(DisclosureState::Received.as_str().to_owned()),
        reason: Set("Request filed.".to_owned()),
        actor: Set(caller.actor.clone()),
        staff_id: Set(caller.staff_id),
        at: Set(now),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        &caller.actor,
        "disclosure.received",
        Some(&id.to_string()),
        serde_json::json!({
            "instrument": new.instrument.as_str(),
            "categories": new.categories.names(),
            "subjects": new.subjects.len(),
            "threads_matched": matched,
            "order_sha256": hex(&new.order.sha256),
            "deadline": new.deadline.to_string(),
            "gag_until": new.gag_until.map(|g| g.to_rfc3339()),
        }),
    )
    .await?;
    // Four eyes: every other legal user is asked to approve it, with the request in one commit.
    let filer = super::filer_name(&txn, &row).await?;
    let to = super::legal_user_addresses(&txn, filed_by_staff).await?;
    let request = crate::mailers::LegalRequestRef {
        id,
        case_number: &row.case_number,
        filed_by: &filer,
        deadline: row.deadline,
    };
    let asked = crate::mailers::ask_for_approval(&txn, app, &request, &to)
        .await
        .map_err(super::mail_error)?;
    txn.commit().await?;
    if asked > 0 {
        app.outbox_wakeup.notify_one();
    }
    tracing::info!(disclosure_id = %id, actor = %caller.actor, approvers_mailed = asked, "disclosure request filed");
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> crate::seal::Sealer {
        crate::seal::Sealer::new("k", &[1; 32], &[2; 32]).expect("keys")
    }

    fn valid() -> Draft {
        Draft {
            authority: "District Prosecutor".into(),
            court: "District Court".into(),
            case_number: "2-345/2026".into(),
            order_date: "2026-11-20".into(),
            instrument: "court_order".into(),
            categories: vec!["contact_data".into()],
            subjects: vec!["SP-7KQ2-M9XD".into()],
            deadline: "2026-12-20".into(),
            gag_until: String::new(),
            order: Some(Upload {
                file_name: "../../order.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.4".to_vec(),
            }),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_complete_draft_parses() {
        let parsed = valid()
            .parse(&sealer(), "relay.example.org", now())
            .expect("valid");
        assert_eq!(parsed.order.file_name, "order.pdf");
        assert_eq!(parsed.order.sha256.len(), 32);
        assert_eq!(parsed.instrument, Instrument::CourtOrder);
        assert!(parsed.gag_until.is_none());
    }

    #[test]
    fn every_refused_field_is_reported_at_once() {
        let draft = Draft {
            order_date: "2027-01-01".into(),
            instrument: "letter".into(),
            categories: vec![],
            subjects: vec!["nonsense".into()],
            deadline: "soon".into(),
            gag_until: "2026-01-01".into(),
            order: None,
            ..Draft::default()
        };
        let issues = draft
            .parse(&sealer(), "relay.example.org", now())
            .err()
            .expect("refused");
        let fields: Vec<&str> = issues.iter().map(|i| i.field).collect();
        for field in [
            "authority",
            "case_number",
            "order_date",
            "instrument",
            "categories",
            "subjects",
            "deadline",
            "gag_until",
            "order_copy",
        ] {
            assert!(fields.contains(&field), "{field} missing in {fields:?}");
        }
    }

    #[test]
    fn a_gag_date_holds_through_that_day() {
        let end = gag_end("2027-03-01").expect("date");
        assert_eq!(end.to_rfc3339(), "2027-03-02T00:00:00+00:00");
        assert!(gag_end("2027-03-01T10:00:00+02:00").is_some());
        assert!(gag_end("March").is_none());
    }

    #[test]
    fn an_oversized_order_copy_is_refused() {
        let mut draft = valid();
        draft.order = Some(Upload {
            file_name: "big.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: vec![0; MAX_ORDER_BYTES + 1],
        });
        let issues = draft
            .parse(&sealer(), "relay.example.org", now())
            .err()
            .expect("refused");
        assert_eq!(issues[0].code, "too_large");
    }
}
