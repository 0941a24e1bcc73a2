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

/// Something a legal user may do to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    StartReview,
    Approve,
    Reject,
    Withdraw,
    Execute,
}

impl Action {
    /// The state the action leads to.
    pub fn to(self) -> DisclosureState {
        match self {
            Action::StartReview => DisclosureState::UnderReview,
            Action::Approve => DisclosureState::Approved,
            Action::Reject => DisclosureState::Rejected,
            Action::Withdraw => DisclosureState::Withdrawn,
            Action::Execute => DisclosureState::Executed,
        }
    }

    /// Whether it is a written decision that needs a reason (execution is not).
    pub fn needs_reason(self) -> bool {
        self != Action::Execute
    }
}

/// Whether `staff_id` filed the request (directly, or through an API key they made).
fn is_filer(row_filed_by_staff: Option<Uuid>, staff_id: Uuid) -> bool {
    row_filed_by_staff == Some(staff_id)
}

/// What the legal user `viewer` may do to a request in `state` that `filed_by_staff` filed,
/// in the order a page offers it: the same rules [`decide`] and `execute` apply, so that a
/// page shows no action that would be refused.
pub fn actions(state: DisclosureState, filed_by_staff: Option<Uuid>, viewer: Uuid) -> Vec<Action> {
    let mut actions: Vec<Action> = [
        Action::StartReview,
        Action::Approve,
        Action::Reject,
        Action::Withdraw,
    ]
    .into_iter()
    .filter(|a| state.can_move_to(a.to()))
    .filter(|a| *a != Action::Approve || !is_filer(filed_by_staff, viewer))
    .collect();
    if state == DisclosureState::Approved {
        actions.insert(0, Action::Execute);
    }
    actions
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
        if is_filer(row.filed_by_staff, approver) || row.filed_by == caller.actor {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filer_is_never_offered_the_approval_and_closed_requests_offer_nothing() {
        let (filer, other) = (Uuid::now_v7(), Uuid::now_v7());
        use Action::*;
        use DisclosureState as S;
        assert_eq!(
            actions(S::Received, Some(filer), filer),
            vec![StartReview, Withdraw]
        );
        assert_eq!(
            actions(S::UnderReview, Some(filer), filer),
            vec![Reject, Withdraw]
        );
        assert_eq!(
            actions(S::UnderReview, Some(filer), other),
            vec![Approve, Reject, Withdraw]
        );
        assert_eq!(
            actions(S::Approved, Some(filer), other),
            vec![Execute, Withdraw]
        );
        for closed in [S::Rejected, S::Withdrawn, S::Executed] {
            assert!(actions(closed, Some(filer), other).is_empty());
        }
    }
}
