//! The public transparency report, built from the disclosure requests: per half-year (by the
//! day a request arrived), how many came in, on which legal basis, what became of them, and how
//! many people's data was disclosed. Any count above zero but below
//! `legal.transparency_threshold` is reported only as "fewer than N", in the page and in the API
//! alike; zero is published as 0 (it singles out nobody).

use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, Utc};
use sea_orm::{DbErr, EntityTrait, QueryOrder};
use uuid::Uuid;

use crate::domain::{Categories, DisclosureState, Instrument};
use crate::entities::{disclosure_subjects, disclosures};
use crate::state::AppState;

/// A count as published: the number, or only that it is above zero but below the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Exact(i64),
    FewerThan(i64),
}

impl Counted {
    fn new(count: i64, threshold: i64) -> Self {
        if count > 0 && count < threshold {
            Counted::FewerThan(threshold)
        } else {
            Counted::Exact(count)
        }
    }
}

/// What became of a request, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Rejected,
    /// Executed with a scope narrower than asked (fewer categories or fewer subjects).
    Partly,
    Fully,
    Withdrawn,
    Pending,
}

/// One half-year.
#[derive(Debug, Clone)]
pub struct Period {
    /// `2026-H2`.
    pub label: String,
    pub received: Counted,
    pub by_instrument: Vec<(Instrument, Counted)>,
    pub rejected: Counted,
    pub partly: Counted,
    pub fully: Counted,
    pub withdrawn: Counted,
    pub pending: Counted,
    /// Distinct conversations whose data went out in an executed request.
    pub subjects: Counted,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub threshold: i64,
    /// Newest first.
    pub periods: Vec<Period>,
}

#[derive(Default)]
struct Tally {
    received: i64,
    by_instrument: BTreeMap<Instrument, i64>,
    rejected: i64,
    partly: i64,
    fully: i64,
    withdrawn: i64,
    pending: i64,
    subjects: HashSet<Uuid>,
}

fn outcome(row: &disclosures::Model, subjects: &[&disclosure_subjects::Model]) -> Outcome {
    match DisclosureState::parse(&row.state) {
        Some(DisclosureState::Rejected) => Outcome::Rejected,
        Some(DisclosureState::Withdrawn) => Outcome::Withdrawn,
        Some(DisclosureState::Executed) => {
            let requested = Categories::from_stored(&row.requested_categories);
            let approved = row
                .approved_categories
                .as_deref()
                .and_then(Categories::from_stored);
            let all_categories = matches!((&requested, &approved), (Some(r), Some(a)) if r == a);
            let all_subjects = subjects.iter().all(|s| s.approved);
            if all_categories && all_subjects {
                Outcome::Fully
            } else {
                Outcome::Partly
            }
        }
        _ => Outcome::Pending,
    }
}

/// Builds the report from every request.
pub async fn report(app: &AppState) -> Result<Report, DbErr> {
    let threshold = app.settings.legal.transparency_threshold;
    let rows = disclosures::Entity::find()
        .order_by_asc(disclosures::Column::CreatedAt)
        .all(&app.db)
        .await?;
    let all_subjects = disclosure_subjects::Entity::find().all(&app.db).await?;
    let mut periods: BTreeMap<(i32, u8), Tally> = BTreeMap::new();
    for row in &rows {
        let received = row.created_at.with_timezone(&Utc);
        let half = if received.month() <= 6 { 1 } else { 2 };
        let tally = periods.entry((received.year(), half)).or_default();
        let subjects: Vec<&disclosure_subjects::Model> = all_subjects
            .iter()
            .filter(|s| s.disclosure_id == row.id)
            .collect();
        tally.received += 1;
        if let Some(instrument) = Instrument::parse(&row.instrument) {
            *tally.by_instrument.entry(instrument).or_default() += 1;
        }
        match outcome(row, &subjects) {
            Outcome::Rejected => tally.rejected += 1,
            Outcome::Withdrawn => tally.withdrawn += 1,
            Outcome::Pending => tally.pending += 1,
            done @ (Outcome::Partly | Outcome::Fully) => {
                if done == Outcome::Fully {
                    tally.fully += 1;
                } else {
                    tally.partly += 1;
                }
                for subject in subjects.iter().filter(|s| s.approved) {
                    tally.subjects.extend(super::views::thread_ids(subject));
                }
            }
        }
    }
    let count = |n: i64| Counted::new(n, threshold);
    Ok(Report {
        threshold,
        periods: periods
            .into_iter()
            .rev()
            .map(|((year, half), t)| Period {
                label: format!("{year}-H{half}"),
                received: count(t.received),
                by_instrument: Instrument::ALL
                    .iter()
                    .map(|i| (*i, count(t.by_instrument.get(i).copied().unwrap_or(0))))
                    .collect(),
                rejected: count(t.rejected),
                partly: count(t.partly),
                fully: count(t.fully),
                withdrawn: count(t.withdrawn),
                pending: count(t.pending),
                subjects: count(t.subjects.len() as i64),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_below_the_threshold_are_hidden_and_the_rest_shown() {
        assert_eq!(Counted::new(0, 5), Counted::Exact(0));
        assert_eq!(Counted::new(1, 5), Counted::FewerThan(5));
        assert_eq!(Counted::new(4, 5), Counted::FewerThan(5));
        assert_eq!(Counted::new(5, 5), Counted::Exact(5));
        assert_eq!(Counted::new(1, 1), Counted::Exact(1));
    }
}
