//! The reminder before a request's deadline: `legal.reminder_hours` before the end of its
//! deadline day (UTC), every legal user with a mail address is told once that the request is
//! still open. Run every minute by the housekeeping of `sealpost serve`. Several instances may
//! run it on one database at the same moment: the reminder is queued in the transaction that
//! sets the request's `reminder_sent_at`, and only the transaction whose update found it empty
//! queues anything, so each request is reminded of once. Closed requests (rejected, withdrawn,
//! executed) never are.

use chrono::{DateTime, Days, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{LegalError, legal_user_addresses, mail_error};
use crate::domain::DisclosureState;
use crate::entities::disclosures;
use crate::mailers::{self, LegalRequestRef};
use crate::state::AppState;

/// The states a reminder is for: the request can still move.
fn open_states() -> Vec<&'static str> {
    DisclosureState::ALL
        .into_iter()
        .filter(|s| !s.is_final())
        .map(DisclosureState::as_str)
        .collect()
}

/// The latest deadline day whose reminder is due at `now`: its end (the next midnight, UTC)
/// is at most `lead_hours` away.
pub fn last_due_day(now: DateTime<Utc>, lead_hours: i64) -> Option<chrono::NaiveDate> {
    (now + chrono::Duration::hours(lead_hours))
        .date_naive()
        .checked_sub_days(Days::new(1))
}

/// Queues the reminders that are due; returns how many requests were reminded of.
pub async fn remind(app: &AppState) -> Result<usize, LegalError> {
    let now = Utc::now();
    let Some(last_day) = last_due_day(now, app.settings.legal.reminder_hours) else {
        return Ok(0);
    };
    let due: Vec<Uuid> = disclosures::Entity::find()
        .select_only()
        .column(disclosures::Column::Id)
        .filter(disclosures::Column::ReminderSentAt.is_null())
        .filter(disclosures::Column::State.is_in(open_states()))
        .filter(disclosures::Column::Deadline.lte(last_day))
        .into_tuple()
        .all(&app.db)
        .await?;
    let mut reminded = 0;
    for id in due {
        if remind_one(app, id, now).await? {
            reminded += 1;
        }
    }
    if reminded > 0 {
        app.outbox_wakeup.notify_one();
    }
    Ok(reminded)
}

/// Claims one request's reminder and queues its mail in the same transaction; `false` when
/// another run claimed it first or the request closed meanwhile.
async fn remind_one(app: &AppState, id: Uuid, now: DateTime<Utc>) -> Result<bool, LegalError> {
    let txn = crate::db::begin_write(&app.db).await?;
    // On PostgreSQL a concurrent run waits here for the row and then finds it claimed.
    let claimed = disclosures::Entity::update_many()
        .col_expr(
            disclosures::Column::ReminderSentAt,
            Expr::value(now.fixed_offset()),
        )
        .filter(disclosures::Column::Id.eq(id))
        .filter(disclosures::Column::ReminderSentAt.is_null())
        .filter(disclosures::Column::State.is_in(open_states()))
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed == 0 {
        return Ok(false);
    }
    let row = disclosures::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(LegalError::NotFound)?;
    let to = legal_user_addresses(&txn, None).await?;
    let filed_by = super::filer_name(&txn, &row).await?;
    let overdue = row
        .deadline
        .checked_add_days(Days::new(1))
        .is_some_and(|end| end <= now.date_naive());
    let request = LegalRequestRef {
        id,
        case_number: &row.case_number,
        filed_by: &filed_by,
        deadline: row.deadline,
    };
    let sent = mailers::remind_of_deadline(&txn, app, &request, overdue, &to)
        .await
        .map_err(mail_error)?;
    crate::audit::record(
        &txn,
        crate::audit::SYSTEM,
        "disclosure.deadline_reminder_sent",
        Some(&id.to_string()),
        serde_json::json!({
            "deadline": row.deadline.to_string(),
            "overdue": overdue,
            "recipients": sent,
        }),
    )
    .await?;
    txn.commit().await?;
    if sent == 0 {
        tracing::warn!(disclosure_id = %id, "a deadline is near, but no legal user has a mail address to be reminded at");
    } else {
        tracing::info!(disclosure_id = %id, recipients = sent, overdue, "deadline reminder queued");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    #[test]
    fn a_deadline_is_due_when_the_end_of_its_day_is_within_the_lead_time() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 20, 0, 0).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        // 48 hours ahead is 3 December, 20:00: the 2nd has ended by then, the 3rd has not.
        assert_eq!(last_due_day(now, 48), Some(day(2)));
        // Today ends at midnight: four hours away, not three.
        assert_eq!(last_due_day(now, 4), Some(day(1)));
        let yesterday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(last_due_day(now, 3), Some(yesterday));
    }
}
