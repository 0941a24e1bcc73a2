//! The daily aggregate counters of technical data: what one event adds (the browser and
//! operating-system family, the referring host, the page, the language, the network prefix),
//! and the upsert that adds it. The raw request is dropped before anything here sees it.
//! The statistics report reads these counts back, with the k threshold.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait};

use crate::entities::daily_stats;

/// What kind of event a count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Submission,
    FormView,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Submission => "submission",
            EventKind::FormView => "form_view",
        }
    }
}

/// The dimensions counted, in the order they are shown.
pub const DIMENSIONS: [&str; 6] = ["browser", "os", "referrer", "language", "page", "network"];

/// One event, already depersonalized: nothing here is a raw header or a full address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TechEvent {
    pub browser: String,
    pub os: String,
    pub referrer: String,
    pub page: String,
    pub language: String,
    pub network: String,
}

impl TechEvent {
    /// Depersonalizes what a request tells: only families, a host, a prefix survive.
    pub fn new(
        user_agent: Option<&str>,
        referer: Option<&str>,
        own_host: Option<&str>,
        page: &str,
        language: &str,
        ip: Option<IpAddr>,
    ) -> Self {
        let (browser, os) = families(user_agent.unwrap_or_default());
        Self {
            browser,
            os,
            referrer: referrer_host(referer, own_host),
            page: page.chars().take(100).collect(),
            language: language.to_owned(),
            network: ip.map(network).unwrap_or_else(|| "unknown".into()),
        }
    }

    fn values(&self) -> [(&'static str, &str); 6] {
        [
            ("browser", &self.browser),
            ("os", &self.os),
            ("referrer", &self.referrer),
            ("language", &self.language),
            ("page", &self.page),
            ("network", &self.network),
        ]
    }
}

/// Browser and operating-system families from a User-Agent (`woothee`), e.g. "Chrome",
/// "Windows"; versions are dropped.
pub fn families(user_agent: &str) -> (String, String) {
    let parsed = woothee::parser::Parser::new().parse(user_agent);
    let Some(result) = parsed else {
        return ("unknown".into(), "unknown".into());
    };
    let browser = match result.name {
        "UNKNOWN" | "" => "unknown".to_owned(),
        name => name.to_owned(),
    };
    let os = match result.os {
        "UNKNOWN" | "" => "unknown".to_owned(),
        os if os.starts_with("Windows") => "Windows".to_owned(),
        "Mac OSX" | "Mac OS Classic" => "macOS".to_owned(),
        "iPhone" | "iPad" | "iPod" => "iOS".to_owned(),
        os => os.to_owned(),
    };
    (browser, os)
}

/// The referring site's host only (no path, no query); "direct" when there is none, "(this
/// site)" for our own pages.
pub fn referrer_host(referer: Option<&str>, own_host: Option<&str>) -> String {
    let Some(host) = referer
        .and_then(|r| url::Url::parse(r).ok())
        .and_then(|u| u.host_str().map(|h| h.to_ascii_lowercase()))
    else {
        return "direct".into();
    };
    if own_host.is_some_and(|own| own.eq_ignore_ascii_case(&host)) {
        "(this site)".into()
    } else {
        host.chars().take(200).collect()
    }
}

/// The network of an address: IPv4 /24, IPv6 /48.
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// Counts one event, in the caller's transaction.
pub async fn count<C: ConnectionTrait>(
    conn: &C,
    kind: EventKind,
    event: &TechEvent,
) -> Result<(), DbErr> {
    count_many(conn, kind, std::iter::once(event)).await
}

/// Counts events of one kind, in the caller's transaction: one multi-row upsert holding a row
/// per distinct value, so a batch of submissions costs one statement (one round trip). The
/// rows go in a fixed order, so concurrent writers lock the same rows in the same order and
/// cannot deadlock.
pub async fn count_many<'e, C: ConnectionTrait>(
    conn: &C,
    kind: EventKind,
    events: impl Iterator<Item = &'e TechEvent>,
) -> Result<(), DbErr> {
    let mut counts: BTreeMap<(&'static str, &'e str), i64> = BTreeMap::new();
    for event in events {
        for key in [("total", "all")].into_iter().chain(event.values()) {
            *counts.entry(key).or_default() += 1;
        }
    }
    if counts.is_empty() {
        return Ok(());
    }
    let day = Utc::now().date_naive().to_string();
    let rows = counts
        .into_iter()
        .map(|((dimension, value), n)| daily_stats::ActiveModel {
            day: Set(day.clone()),
            kind: Set(kind.as_str().to_owned()),
            dimension: Set(dimension.to_owned()),
            value: Set(value.to_owned()),
            count: Set(n),
        });
    add(conn, rows).await
}

/// Adds each row's count to the day's count of its (kind, dimension, value), in one upsert.
async fn add<C: ConnectionTrait>(
    conn: &C,
    rows: impl IntoIterator<Item = daily_stats::ActiveModel>,
) -> Result<(), DbErr> {
    daily_stats::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                daily_stats::Column::Day,
                daily_stats::Column::Kind,
                daily_stats::Column::Dimension,
                daily_stats::Column::Value,
            ])
            // Each row adds its own count: `excluded` is the row that was proposed.
            .value(
                daily_stats::Column::Count,
                Expr::col((daily_stats::Entity, daily_stats::Column::Count))
                    .add(Expr::cust("excluded.count")),
            )
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// What became of a message the spam defences held, counted per day: `held` when it was held,
/// `approved` or `spam` when staff decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Held,
    Approved,
    Spam,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Held, Outcome::Approved, Outcome::Spam];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Held => "held",
            Outcome::Approved => "approved",
            Outcome::Spam => "spam",
        }
    }
}

/// The kind the outcomes are counted under (dimension `outcome`).
pub const MODERATION: &str = "moderation";

/// Counts `n` outcomes of today, in the caller's transaction.
pub async fn count_outcome<C: ConnectionTrait>(
    conn: &C,
    outcome: Outcome,
    n: i64,
) -> Result<(), DbErr> {
    if n == 0 {
        return Ok(());
    }
    add(
        conn,
        [daily_stats::ActiveModel {
            day: Set(Utc::now().date_naive().to_string()),
            kind: Set(MODERATION.to_owned()),
            dimension: Set("outcome".to_owned()),
            value: Set(outcome.as_str().to_owned()),
            count: Set(n),
        }],
    )
    .await
}

/// Counts one event in a transaction of its own.
pub async fn count_alone(
    db: &DatabaseConnection,
    kind: EventKind,
    event: &TechEvent,
) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    count(&txn, kind, event).await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_families_hosts_and_prefixes_survive() {
        let event = TechEvent::new(
            Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            ),
            Some("https://news.example.com/article/42?utm=x#top"),
            Some("feedback.example.org"),
            "/",
            "en",
            Some("203.0.113.77".parse().unwrap()),
        );
        assert_eq!(event.browser, "Chrome");
        assert_eq!(event.os, "Windows");
        assert_eq!(event.referrer, "news.example.com");
        assert_eq!(event.network, "203.0.113.0/24");
        let v6 = network("2001:db8:abcd:12::1".parse().unwrap());
        assert_eq!(v6, "2001:db8:abcd::/48");
        assert_eq!(referrer_host(None, None), "direct");
        assert_eq!(
            referrer_host(
                Some("https://Feedback.example.org/t/x"),
                Some("feedback.example.org")
            ),
            "(this site)"
        );
        assert_eq!(families("").0, "unknown");
        assert_eq!(families("curl/8.0").0, "HTTP Library");
    }
}
