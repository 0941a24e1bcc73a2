//! `/staff/stats` (administrators): messages per day and by status, time to first answer, and
//! the technical breakdowns — as server-rendered SVG charts (no JavaScript), with every count
//! below k shown only as "< k"; `/staff/stats.csv` gives the same figures.

use askama::Template;
use chrono::{Days, NaiveDate, Utc};
use poem::http::{StatusCode, header};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;

use super::{App, Frame, session, unavailable};
use crate::stats::{self, Report, Row};
use crate::web::render;

#[derive(Deserialize, Default)]
pub struct Period {
    from: Option<String>,
    to: Option<String>,
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const HATCH: &str = r#"<defs><pattern id="hidden-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" class="chart-hatch"/></pattern></defs>"#;

/// A vertical bar per day, drawn twice: wide for a large screen and narrow (fewer day labels)
/// for a phone, so that its text stays legible at either size; the stylesheet shows one.
fn day_charts(rows: &[Row], label: &str) -> String {
    // The hatch for hidden counts, once for the page, in an element that is always rendered (a
    // pattern inside a hidden chart would draw nothing).
    format!(
        r#"<svg class="defs" aria-hidden="true" width="0" height="0">{HATCH}</svg>{}{}"#,
        day_chart(rows, label, 960.0, 220.0, 6, "wide"),
        day_chart(rows, label, 360.0, 220.0, 3, "narrow")
    )
}

fn day_chart(
    rows: &[Row],
    label: &str,
    width: f64,
    height: f64,
    labels: usize,
    variant: &str,
) -> String {
    let (left, bottom, top) = (36.0, 26.0, 12.0);
    let max = rows
        .iter()
        .map(|r| r.shown.count.or(r.shown.fewer_than).unwrap_or(0) as f64)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    // An even top, so that the middle grid line is a whole number too.
    let max = (max / 2.0).ceil() * 2.0;
    let n = rows.len().max(1) as f64;
    let slot = (width - left) / n;
    let bar = (slot * 0.7).max(1.0);
    let plot = height - bottom - top;
    let mut svg = format!(
        r#"<svg class="chart day-chart {variant}" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        xml(label)
    );
    for frac in [0.0, 0.5, 1.0] {
        let y = top + plot * (1.0 - frac);
        svg.push_str(&format!(
            r#"<line x1="{left}" x2="{width}" y1="{y:.1}" y2="{y:.1}" class="chart-grid"/><text x="{:.1}" y="{:.1}" class="chart-axis" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + 4.0,
            (max * frac).round()
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        // A day without conversations has no bar (its title still says 0).
        let h = plot * row.shown.length() / max;
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let class = if row.shown.count.is_some() {
            "chart-bar"
        } else {
            "chart-bar hidden"
        };
        svg.push_str(&format!(
            r#"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}" class="{class}"><title>{}: {}</title></rect>"#,
            top + plot - h,
            xml(&row.value),
            xml(&row.shown.text())
        ));
    }
    // Day labels: every `every` days and the last one (anchored at the right edge, so that it
    // is never cut), leaving out a regular one too close to the last.
    let every = (rows.len() / labels).max(1);
    let last = rows.len().saturating_sub(1);
    for (i, row) in rows.iter().enumerate() {
        let (x, anchor) = if i == last {
            (width - 2.0, "end")
        } else if i % every == 0 && last - i > every / 2 {
            (left + slot * i as f64 + slot / 2.0, "middle")
        } else {
            continue;
        };
        svg.push_str(&format!(
            r#"<text x="{x:.1}" y="{:.1}" class="chart-axis" text-anchor="{anchor}">{}</text>"#,
            height - 8.0,
            xml(row.value.get(5..).unwrap_or(&row.value))
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one per value (the largest `limit`): the name and the count are HTML text,
/// so that they keep their size (and are cut with an ellipsis, never clipped) on a narrow
/// screen; only the bar itself is drawn, as a percentage of the row.
fn bar_chart(rows: &[Row], label: &str, limit: usize) -> String {
    let shown: Vec<&Row> = rows.iter().take(limit).collect();
    if shown.is_empty() {
        return r#"<p class="muted">No data in this period.</p>"#.to_owned();
    }
    // Scaled so that a hidden count (drawn at k/2) is never drawn longer than k would be.
    let max = shown
        .iter()
        .map(|r| r.shown.count.or(r.shown.fewer_than).unwrap_or(0) as f64)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let mut html = format!(
        r#"<div class="bars" role="list" aria-label="{}">"#,
        xml(label)
    );
    for row in shown {
        let percent = 100.0 * row.shown.length() / max;
        let class = if row.shown.count.is_some() {
            "chart-bar"
        } else {
            "chart-bar hidden"
        };
        let text = xml(&row.shown.text());
        let value = xml(&row.value);
        html.push_str(&format!(
            r#"<div class="bar-row" role="listitem"><span class="bar-label" title="{value}">{value}</span><svg class="bar-track" aria-hidden="true"><rect width="{percent:.1}%" height="100%" rx="3" class="{class}"><title>{value}: {text}</title></rect></svg><span class="bar-value">{text}</span></div>"#,
        ));
    }
    html.push_str("</div>");
    html
}

pub struct Panel {
    pub title: &'static str,
    pub svg: String,
}

#[derive(Template)]
#[template(path = "staff/stats.html")]
struct StatsPage {
    frame: Frame,
    from: String,
    to: String,
    k: i64,
    total: String,
    median: String,
    answered: String,
    form_views: String,
    /// Held, approved and marked as spam in the period.
    spam_review: Vec<(String, String)>,
    per_day: String,
    panels: Vec<Panel>,
    error: Option<String>,
}

fn human_secs(secs: i64) -> String {
    if secs < 3600 {
        format!("{} min", (secs + 59) / 60)
    } else if secs < 86_400 * 2 {
        format!("{:.1} h", secs as f64 / 3600.0)
    } else {
        format!("{:.1} days", secs as f64 / 86_400.0)
    }
}

async fn load(app: &App, from: NaiveDate, to: NaiveDate) -> poem::Result<Report> {
    stats::report(&app.db, from, to, app.settings.stats.min_group_size)
        .await
        .map_err(unavailable)
}

#[handler]
pub async fn show(
    req: &Request,
    Data(app): Data<&App>,
    Query(query): Query<Period>,
) -> poem::Result<Response> {
    let session = session(req)?;
    let (from, to, error) = match stats::period(query.from.as_deref(), query.to.as_deref()) {
        Ok((from, to)) => (from, to, None),
        Err(e) => {
            let to = Utc::now().date_naive();
            (
                to - Days::new(29),
                to,
                Some(format!("That period cannot be shown: {e}.")),
            )
        }
    };
    let report = load(app, from, to).await?;
    let total_text = report.conversations.text();
    let mut panels = vec![
        Panel {
            title: "By status (now)",
            svg: bar_chart(&report.by_status, "Conversations by status", 6),
        },
        Panel {
            title: "Spam review",
            svg: bar_chart(&report.spam_review, "Held, approved and spam", 3),
        },
    ];
    for (dimension, title) in [
        ("browser", "Browsers"),
        ("os", "Operating systems"),
        ("referrer", "Referring sites"),
        ("language", "Languages"),
        ("page", "Pages"),
        ("network", "Networks (/24, /48)"),
    ] {
        let rows = report
            .breakdowns
            .get(dimension)
            .cloned()
            .unwrap_or_default();
        panels.push(Panel {
            title,
            svg: bar_chart(&rows, title, 8),
        });
    }
    Ok(render(
        StatusCode::OK,
        &StatsPage {
            frame: Frame::new(app, session, "stats"),
            from: from.to_string(),
            to: to.to_string(),
            k: report.min_group_size,
            total: total_text,
            median: report
                .median_first_answer_secs
                .map(human_secs)
                .unwrap_or_else(|| "—".into()),
            answered: report.answered.text(),
            form_views: report.form_views.text(),
            spam_review: report
                .spam_review
                .iter()
                .map(|row| (row.value.clone(), row.shown.text()))
                .collect(),
            per_day: day_charts(&report.messages_per_day, "New conversations per day"),
            panels,
            error,
        },
    ))
}

#[handler]
pub async fn csv(Data(app): Data<&App>, Query(query): Query<Period>) -> poem::Result<Response> {
    let (from, to) = stats::period(query.from.as_deref(), query.to.as_deref())
        .map_err(|e| poem::Error::from_string(e, StatusCode::BAD_REQUEST))?;
    let report = load(app, from, to).await?;
    Ok(stats::csv(&report)
        .with_content_type("text/csv; charset=utf-8")
        .with_header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"sealpost-stats-{from}-{to}.csv\""),
        )
        .with_header(header::CACHE_CONTROL, "no-store")
        .into_response())
}
