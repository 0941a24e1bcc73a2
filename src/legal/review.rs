//! Moving a request between states by a written decision: into review, approved (by a second
//! legal user, with the scope they approve), rejected, withdrawn. Execution is not a decision
//! of this kind; it lives in `execute`.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{Caller, FieldIssue, LegalError, load_for_update, parse_reason, state_of};
use crate::domain::{Categories, DisclosureState};
use crate::entities::{disclosure_events, disclosure_subjects, disclosures};
use crate::state::AppState;

/// A decision as typed.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// The state to move to.
    pub to: String,
    pub reason: String,
    /// For approval: the categories approved; all requested ones when `None`.
    pub categories: Option<Vec<String>>,
    /// For approval: the subject ids approved; all when `None`.
    pub subjects: Option<Vec<Uuid>>,
}

/// Applies a decision. Approval needs a signed-in legal user who did not file the request.
pub async fn decide(
    app: &AppState,
    id: Uuid,
    caller: &Caller,
    decision: &Decision,
) -> Result<DisclosureState, LegalError> {
    let to = DisclosureState::parse(&decision.to).ok_or_else(|| {
        LegalError::Invalid(vec![FieldIssue::new(
            "to",
            "unsupported",
            "The new state is one of under_review, approved, rejected, withdrawn.",
        )])
    })?;
    let reason =
        parse_reason("reason", &decision.reason).map_err(|i| LegalError::Invalid(vec![i]))?;
    let txn = crate::db::begin_write(&app.db).await?;
    let row = load_for_update(&txn, id).await?;
    let from = state_of(&row)?;
    if !from.can_move_to(to) {
        return Err(LegalError::WrongState { from, to });
    }
    let mut approved_scope = serde_json::Value::Null;
    let mut active: disclosures::ActiveModel = row.clone().into();
    if to == DisclosureState::Approved {
        let Some(approver) = caller.staff_id else {
            return Err(LegalError::NeedsPerson);
        };
        if row.filed_by_staff == Some(approver) || row.filed_by == caller.actor {
            return Err(LegalError::SelfApproval);
        }
        let requested =
            Categories::from_stored(&row.requested_categories).ok_or(LegalError::Corrupt {
                id,
                what: "categories",
            })?;
        let categories = match &decision.categories {
            None => requested.clone(),
            Some(names) => Categories::parse(names.iter().map(String::as_str))
                .filter(|c| c.is_subset(&requested))
                .ok_or_else(|| {
                    LegalError::Invalid(vec![FieldIssue::new(
                        "categories",
                        "out_of_scope",
                        "Approve at least one category, and only categories the request asks for.",
                    )])
                })?,
        };
        let subjects = disclosure_subjects::Entity::find()
            .filter(disclosure_subjects::Column::DisclosureId.eq(id))
            .order_by_asc(disclosure_subjects::Column::Position)
            .all(&txn)
            .await?;
        let chosen: Vec<Uuid> = match &decision.subjects {
            None => subjects.iter().map(|s| s.id).collect(),
            Some(ids) => ids.clone(),
        };
        if chosen.is_empty() || chosen.iter().any(|c| !subjects.iter().any(|s| s.id == *c)) {
            return Err(LegalError::Invalid(vec![FieldIssue::new(
                "subjects",
                "out_of_scope",
                "Approve at least one subject, and only subjects the request names.",
            )]));
        }
        for subject in &subjects {
            let approved = chosen.contains(&subject.id);
            if subject.approved != approved {
                let mut s: disclosure_subjects::ActiveModel = subject.clone().into();
                s.approved = Set(approved);
                s.update(&txn).await?;
            }
        }
        approved_scope = serde_json::json!({
            "categories": categories.names(),
            "subjects": chosen,
            "subjects_requested": subjects.len(),
        });
        active.approved_categories = Set(Some(categories.to_stored()));
    }
    let now = Utc::now().fixed_offset();
    active.state = Set(to.as_str().to_owned());
    active.updated_at = Set(now);
    active.update(&txn).await?;
    disclosure_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        disclosure_id: Set(id),
        from_state: Set(Some(from.as_str().to_owned())),
        to_state: Set(to.as_str().to_owned()),
        reason: Set(reason.clone()),
        actor: Set(caller.actor.clone()),
        staff_id: Set(caller.staff_id),
        at: Set(now),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        &caller.actor,
        "disclosure.state_changed",
        Some(&id.to_string()),
        serde_json::json!({
            "from": from.as_str(),
            "to": to.as_str(),
            "reason": reason,
            "approved_scope": approved_scope,
        }),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(disclosure_id = %id, from = from.as_str(), to = to.as_str(), actor = %caller.actor, "disclosure request moved");
    Ok(to)
}
