//! Technical data, only in aggregate. With each submission (and, when `stats.record_form_views`
//! is on, each view of the form) one count goes up per dimension for that day: the browser and
//! operating-system **family** (the User-Agent is parsed and dropped), the referring site's
//! **host only**, the page, the language, and the network (IPv4 /24, IPv6 /48). No per-event row
//! is kept. Everywhere counts are shown — pages, API, CSV — a count above zero but below
//! `stats.min_group_size` (k) is shown as "fewer than k", so that no single visitor can be picked
//! out; zero is shown as 0 (it picks out nobody).
//!
//! Every count of the report comes from the daily counts, which are not linked to any
//! conversation and so outlive a conversation's erasure (or its deletion by retention): the
//! total, the days and the breakdowns agree, and deleted conversations are still in them. The
//! statuses exist only for stored conversations; the conversations counted but no longer stored
//! are their own row, `deleted`, so that the statuses add up to the total too.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{daily_stats, messages, threads};
use crate::tally::DIMENSIONS;

/// A count as everyone may see it: exact when it is zero or from k on, otherwise only "fewer
/// than k".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shown {
    /// The count, or `None` when it is above zero but below k.
    pub count: Option<i64>,
    /// k, when the count is hidden.
    pub fewer_than: Option<i64>,
}

impl Shown {
    pub fn new(count: i64, k: i64) -> Self {
        if count >= k || count <= 0 {
            Self {
                count: Some(count),
                fewer_than: None,
            }
        } else {
            Self {
                count: None,
                fewer_than: Some(k),
            }
        }
    }

    /// The text a person reads.
    pub fn text(&self) -> String {
        match (self.count, self.fewer_than) {
            (Some(n), _) => n.to_string(),
            (None, Some(k)) => format!("< {k}"),
            _ => String::new(),
        }
    }

    /// A length for a chart: the count, or half of k (not the hidden count) when it is hidden.
    pub fn length(&self) -> f64 {
        match (self.count, self.fewer_than) {
            (Some(n), _) => n as f64,
            (None, Some(k)) => k as f64 / 2.0,
            _ => 0.0,
        }
    }
}

/// One row of a breakdown.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub value: String,
    #[serde(flatten)]
    pub shown: Shown,
}

/// Everything the dashboard, the API and the CSV show for a period.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// k: the smallest count shown exactly.
    pub min_group_size: i64,
    /// Conversations started in the period (from the daily counts: deleted ones included).
    pub conversations: Shown,
    /// New conversations per day (every day of the period), from the same daily counts.
    pub messages_per_day: Vec<Row>,
    /// Conversations started in the period, by their status now; those no longer stored
    /// (erased, or deleted by retention) as `deleted`.
    pub by_status: Vec<Row>,
    /// Median seconds from a conversation's start to its first staff answer (conversations
    /// started in the period and answered); `None` when fewer than k were answered.
    pub median_first_answer_secs: Option<i64>,
    /// Answered conversations the median is over.
    pub answered: Shown,
    /// Submissions by dimension (browser, os, referrer, language, page, network), largest first.
    pub breakdowns: BTreeMap<String, Vec<Row>>,
    /// Form views by day, when they are recorded.
    pub form_views: Shown,
    /// The spam review in the period, by outcome (`held`, `approved`, `spam`): held by the
    /// defences, approved by staff, marked as spam by staff.
    pub spam_review: Vec<Row>,
    /// The same per day: for each outcome, every day of the period.
    pub spam_review_per_day: BTreeMap<String, Vec<Row>>,
}

/// The period asked for: `from`/`to` as YYYY-MM-DD (UTC days), by default the last 30 days;
/// at most two years.
pub fn period(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(NaiveDate, NaiveDate), &'static str> {
    let parse = |s: Option<&str>| -> Result<Option<NaiveDate>, &'static str> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| "dates are YYYY-MM-DD"),
            None => Ok(None),
        }
    };
    let to = parse(to)?.unwrap_or_else(|| Utc::now().date_naive());
    let from = parse(from)?.unwrap_or(to - chrono::Days::new(29));
    if from > to {
        return Err("`from` must not be after `to`");
    }
    if (to - from).num_days() > 731 {
        return Err("a period is at most two years");
    }
    Ok((from, to))
}

/// Builds the report for the days `from..=to` (UTC).
pub async fn report<C: ConnectionTrait>(
    conn: &C,
    from: NaiveDate,
    to: NaiveDate,
    k: i64,
) -> Result<Report, DbErr> {
    let start = from
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .fixed_offset();
    let end = (to + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .fixed_offset();
    let started = threads::Entity::find()
        .filter(threads::Column::CreatedAt.gte(start))
        .filter(threads::Column::CreatedAt.lt(end))
        .all(conn)
        .await?;
    let mut by_status: BTreeMap<String, i64> =
        ["new", "open", "answered", "closed", "spam", "held"]
            .into_iter()
            .map(|s| (s.to_owned(), 0))
            .collect();
    for thread in &started {
        *by_status.entry(thread.status.clone()).or_default() += 1;
    }
    // Time to first answer: the first staff message of each conversation started in the period.
    let ids: Vec<uuid::Uuid> = started.iter().map(|t| t.id).collect();
    let mut first: BTreeMap<uuid::Uuid, chrono::DateTime<chrono::FixedOffset>> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let answers = messages::Entity::find()
            .filter(messages::Column::ThreadId.is_in(chunk.to_vec()))
            .filter(messages::Column::Author.eq("staff"))
            .order_by_asc(messages::Column::CreatedAt)
            .all(conn)
            .await?;
        for answer in answers {
            first.entry(answer.thread_id).or_insert(answer.created_at);
        }
    }
    let mut waits: Vec<i64> = started
        .iter()
        .filter_map(|t| {
            first
                .get(&t.id)
                .map(|at| Ord::max((*at - t.created_at).num_seconds(), 0))
        })
        .collect();
    waits.sort_unstable();
    let answered = waits.len() as i64;
    let median_first_answer_secs = (answered >= k && answered > 0).then(|| waits[waits.len() / 2]);
    let rows = daily_stats::Entity::find()
        .filter(daily_stats::Column::Day.gte(from.to_string()))
        .filter(daily_stats::Column::Day.lte(to.to_string()))
        .all(conn)
        .await?;
    let mut per_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let mut day = from;
    while day <= to {
        per_day.insert(day, 0);
        day = day + chrono::Days::new(1);
    }
    let mut sums: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let mut review_rows = Vec::new();
    for row in rows {
        if row.kind == crate::tally::MODERATION {
            review_rows.push(row);
            continue;
        }
        if row.kind == "submission"
            && row.dimension == "total"
            && let Ok(day) = NaiveDate::parse_from_str(&row.day, "%Y-%m-%d")
        {
            *per_day.entry(day).or_default() += row.count;
        }
        *sums
            .entry((row.kind, row.dimension, row.value))
            .or_default() += row.count;
    }
    // The total from the same counts as the days and the breakdowns; the conversations counted
    // but no longer stored (erased, or deleted by retention) are a status of their own.
    let total: i64 = per_day.values().sum();
    let stored = started.len() as i64;
    by_status.insert("deleted".to_owned(), Ord::max(total - stored, 0));
    let mut breakdowns = BTreeMap::new();
    for dimension in DIMENSIONS {
        let mut of: Vec<(String, i64)> = sums
            .iter()
            .filter(|((kind, d, _), _)| kind == "submission" && d == dimension)
            .map(|((_, _, v), n)| (v.clone(), *n))
            .collect();
        // Exact counts largest first; hidden ones after them by name only, so that not even
        // their order says which of two small groups is larger.
        of.sort_by(|a, b| {
            let key =
                |(value, n): &(String, i64)| (*n < k, if *n < k { 0 } else { -*n }, value.clone());
            key(a).cmp(&key(b))
        });
        breakdowns.insert(
            dimension.to_owned(),
            of.into_iter()
                .map(|(value, n)| Row {
                    value,
                    shown: Shown::new(n, k),
                })
                .collect(),
        );
    }
    let mut review_days: BTreeMap<String, BTreeMap<NaiveDate, i64>> = BTreeMap::new();
    for outcome in crate::tally::Outcome::ALL {
        let days = per_day.keys().map(|day| (*day, 0)).collect();
        review_days.insert(outcome.as_str().to_owned(), days);
    }
    for row in &review_rows {
        if let (Some(days), Ok(day)) = (
            review_days.get_mut(&row.value),
            NaiveDate::parse_from_str(&row.day, "%Y-%m-%d"),
        ) {
            *days.entry(day).or_default() += row.count;
        }
    }
    let spam_review = review_days
        .iter()
        .map(|(outcome, days)| Row {
            value: outcome.clone(),
            shown: Shown::new(days.values().sum(), k),
        })
        .collect();
    let spam_review_per_day = review_days
        .into_iter()
        .map(|(outcome, days)| {
            let rows = days
                .into_iter()
                .map(|(day, n)| Row {
                    value: day.to_string(),
                    shown: Shown::new(n, k),
                })
                .collect();
            (outcome, rows)
        })
        .collect();
    let views = sums
        .iter()
        .filter(|((kind, d, _), _)| kind == "form_view" && d == "total")
        .map(|(_, n)| *n)
        .sum();
    Ok(Report {
        from,
        to,
        min_group_size: k,
        conversations: Shown::new(total, k),
        messages_per_day: per_day
            .into_iter()
            .map(|(day, n)| Row {
                value: day.to_string(),
                shown: Shown::new(n, k),
            })
            .collect(),
        by_status: by_status
            .into_iter()
            .map(|(value, n)| Row {
                value,
                shown: Shown::new(n, k),
            })
            .collect(),
        median_first_answer_secs,
        answered: Shown::new(answered, k),
        breakdowns,
        form_views: Shown::new(views, k),
        spam_review,
        spam_review_per_day,
    })
}

/// The report as CSV: `section,value,count`, hidden counts as `<k`.
pub fn csv(report: &Report) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }
    let mut out = String::from("section,value,count\n");
    let total = match report.conversations.count {
        Some(n) => n.to_string(),
        None => format!("<{}", report.min_group_size),
    };
    out.push_str(&format!("conversations,all,{total}\n"));
    let mut push = |section: &str, rows: &[Row]| {
        for row in rows {
            let count = match row.shown.count {
                Some(n) => n.to_string(),
                None => format!("<{}", row.shown.fewer_than.unwrap_or_default()),
            };
            out.push_str(&format!("{section},{},{count}\n", field(&row.value)));
        }
    };
    push("messages_per_day", &report.messages_per_day);
    push("status", &report.by_status);
    push("spam_review", &report.spam_review);
    for (outcome, rows) in &report.spam_review_per_day {
        push(&format!("spam_review_{outcome}_per_day"), rows);
    }
    for (dimension, rows) in &report.breakdowns {
        push(dimension, rows);
    }
    let median = report
        .median_first_answer_secs
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("<{}", report.min_group_size));
    out.push_str(&format!("median_first_answer_secs,all,{median}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_are_never_shown_exactly() {
        assert_eq!(Shown::new(4, 5).text(), "< 5");
        assert_eq!(Shown::new(4, 5).count, None);
        assert_eq!(Shown::new(5, 5).text(), "5");
        assert_eq!(Shown::new(0, 5).text(), "0");
        assert_eq!(Shown::new(0, 5).count, Some(0));
        assert_eq!(Shown::new(0, 5).length(), 0.0);
        assert_eq!(Shown::new(1, 5).text(), "< 5");
        assert_eq!(Shown::new(1, 5).length(), Shown::new(4, 5).length());
    }
}
