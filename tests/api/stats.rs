//! Technical data in aggregate only: what is stored, the minimum group size everywhere, and the
//! dashboard, API and CSV.

use crate::helpers::{Backend, TestAppBuilder, valid_message};

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

/// `GET /api/v1/stats` with a fresh admin API key.
async fn stats_json(app: &crate::helpers::TestApp) -> serde_json::Value {
    let key = sealpost::auth::api_key::create(
        app.db(),
        "system:test",
        "stats",
        sealpost::domain::Role::Admin,
        None,
    )
    .await
    .unwrap()
    .key;
    app.client
        .get(app.url("/api/v1/stats"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn submit(app: &crate::helpers::TestApp, ua: &str, referer: &str, ip: &str) {
    let resp = app
        .client
        .post(app.url("/api/v1/messages"))
        .header("user-agent", ua)
        .header("referer", referer)
        .header("x-forwarded-for", ip)
        .json(&valid_message())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

db_test!(only_families_hosts_and_prefixes_are_stored_and_small_groups_stay_hidden);
async fn only_families_hosts_and_prefixes_are_stored_and_small_groups_stay_hidden(
    backend: Backend,
) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SERVER__TRUSTED_PROXIES", "127.0.0.1/32,::1/128")
        .spawn()
        .await;
    for i in 0..6 {
        submit(
            &app,
            CHROME_WINDOWS,
            "https://news.example.com/story/secret-path?utm=1",
            &format!("203.0.113.{}", 10 + i),
        )
        .await;
    }
    for _ in 0..2 {
        submit(
            &app,
            FIREFOX_LINUX,
            "https://blog.example.net/post",
            "198.51.100.7",
        )
        .await;
    }
    let admin = app.signed_in("stats-admin", "admin").await;
    let agent = app.signed_in("stats-agent", "agent").await;

    // Stored: no raw User-Agent, no referrer path, no full address (outside the seal).
    let raw = app.raw_database_bytes().await;
    let contains = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains("Mozilla/5.0"), "a raw User-Agent is stored");
    assert!(!contains("secret-path"), "a referrer path is stored");
    assert!(!contains("203.0.113.12"), "a full address is stored");
    assert!(!contains("198.51.100.7"), "a full address is stored");
    assert!(contains("203.0.113.0/24"));
    assert!(contains("news.example.com"));

    // The dashboard: the big group exactly, the small one only as "< 5".
    let page = admin.get("/staff/stats").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("<svg"), "charts are drawn");
    assert!(page.contains("Chrome: 6"), "{page}");
    assert!(page.contains("Firefox: &lt; 5"));
    assert!(!page.contains("Firefox: 2"));
    assert!(page.contains("news.example.com: 6"));
    assert!(page.contains("198.51.100.0/24: &lt; 5"));
    assert_eq!(agent.get("/staff/stats").await.status(), 403);

    // The API and the CSV say the same.
    let json = stats_json(&app).await;
    let browsers = json["breakdowns"]["browser"].as_array().unwrap();
    let chrome = browsers.iter().find(|r| r["value"] == "Chrome").unwrap();
    let firefox = browsers.iter().find(|r| r["value"] == "Firefox").unwrap();
    assert_eq!(chrome["count"], 6);
    assert!(firefox["count"].is_null());
    assert_eq!(firefox["fewer_than"], 5);
    assert_eq!(json["conversations"]["count"], 8);
    assert!(!json.to_string().contains("\"count\":2"), "{json}");
    let csv = admin.get("/staff/stats.csv").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    assert!(csv.contains("browser,Chrome,6"), "{csv}");
    assert!(csv.contains("browser,Firefox,<5"), "{csv}");
    assert_eq!(
        admin.get("/staff/stats.csv?from=2026-13-01").await.status(),
        400
    );
}

db_test!(form_views_are_counted_only_when_switched_on);
async fn form_views_are_counted_only_when_switched_on(backend: Backend) {
    let off = TestAppBuilder::new(backend.clone()).spawn().await;
    let on = TestAppBuilder::new(backend)
        .set("SEALPOST__STATS__RECORD_FORM_VIEWS", "true")
        .spawn()
        .await;

    for _ in 0..6 {
        off.get("/").await;
        on.get("/").await;
    }

    let count = |app: &crate::helpers::TestApp| {
        let db = app.db().clone();
        async move {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            sealpost::entities::daily_stats::Entity::find()
                .filter(sealpost::entities::daily_stats::Column::Kind.eq("form_view"))
                .filter(sealpost::entities::daily_stats::Column::Dimension.eq("total"))
                .all(&db)
                .await
                .unwrap()
                .iter()
                .map(|r| r.count)
                .sum::<i64>()
        }
    };
    assert_eq!(count(&off).await, 0);
    assert_eq!(count(&on).await, 6);
}

db_test!(zero_reads_as_zero_and_every_figure_counts_the_same_conversations);
async fn zero_reads_as_zero_and_every_figure_counts_the_same_conversations(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SERVER__TRUSTED_PROXIES", "127.0.0.1/32,::1/128")
        .spawn()
        .await;
    let mut threads = Vec::new();
    for i in 0..6 {
        let resp = app
            .client
            .post(app.url("/api/v1/messages"))
            .header("user-agent", CHROME_WINDOWS)
            .header("x-forwarded-for", format!("203.0.113.{}", 10 + i))
            .json(&valid_message())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let body: serde_json::Value = resp.json().await.unwrap();
        let url = body["thread_url"].as_str().unwrap();
        threads.push(url[url.find("/t/").unwrap()..].to_owned());
    }
    // The visitor erases one conversation: the daily counts, linked to none, keep it.
    let erased = app
        .client
        .post(app.url(&format!("{}/erase", threads[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 200);
    let admin = app.signed_in("zero-admin", "admin").await;
    let today = chrono::Utc::now().date_naive();
    let yesterday = today - chrono::Days::new(1);

    // The page: the total, the day, the network and the statuses count the same six.
    let page = admin.get("/staff/stats").await.text().await.unwrap();
    assert!(
        page.contains(r#"<p class="label">New conversations</p><p class="figure">6</p>"#),
        "{page}"
    );
    assert!(page.contains(&format!("{today}: 6")), "{page}");
    assert!(page.contains("203.0.113.0/24: 6"), "{page}");
    assert!(page.contains("Chrome: 6"), "{page}");
    assert!(page.contains("new: 5"), "{page}");
    assert!(page.contains("deleted: &lt; 5"), "{page}");
    assert!(page.contains("erased or deleted since are still counted"));
    // A day without conversations, and a status nobody has, read 0 — not "< 5".
    assert!(page.contains(&format!("{yesterday}: 0")), "{page}");
    assert!(!page.contains(&format!("{yesterday}: &lt; 5")), "{page}");
    assert!(page.contains("spam: 0"), "{page}");
    assert!(!page.contains("spam: &lt; 5"), "{page}");

    // An empty month is drawn empty: no hatched bar, every figure 0.
    let empty = admin
        .get("/staff/stats?from=2026-01-01&to=2026-01-31")
        .await
        .text()
        .await
        .unwrap();
    assert!(!empty.contains("chart-bar hidden"), "{empty}");
    assert!(!empty.contains("&lt; 5</"), "{empty}");
    assert!(empty.contains("2026-01-15: 0"), "{empty}");
    assert!(empty.contains(r#"<p class="label">New conversations</p><p class="figure">0</p>"#));

    // The API and the CSV say the same.
    let json = stats_json(&app).await;
    let zero = serde_json::json!({"count": 0, "fewer_than": null});
    let hidden = serde_json::json!({"count": null, "fewer_than": 5});
    assert_eq!(json["conversations"]["count"], 6, "{json}");
    let days = json["messages_per_day"].as_array().unwrap();
    let day = |d: chrono::NaiveDate| {
        let row = days.iter().find(|r| r["value"] == d.to_string()).unwrap();
        serde_json::json!({"count": row["count"], "fewer_than": row["fewer_than"]})
    };
    assert_eq!(
        day(today),
        serde_json::json!({"count": 6, "fewer_than": null})
    );
    assert_eq!(day(yesterday), zero);
    let status = |s: &str| {
        let row = json["by_status"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == s)
            .unwrap()
            .clone();
        serde_json::json!({"count": row["count"], "fewer_than": row["fewer_than"]})
    };
    assert_eq!(
        status("new"),
        serde_json::json!({"count": 5, "fewer_than": null})
    );
    assert_eq!(status("deleted"), hidden);
    assert_eq!(status("spam"), zero);
    assert_eq!(json["answered"], zero);
    assert_eq!(json["form_views"], zero);
    let network = &json["breakdowns"]["network"][0];
    assert_eq!(network["value"], "203.0.113.0/24");
    assert_eq!(network["count"], 6);
    let csv = admin.get("/staff/stats.csv").await.text().await.unwrap();
    assert!(csv.contains("conversations,all,6\n"), "{csv}");
    assert!(
        csv.contains(&format!("messages_per_day,{today},6\n")),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("messages_per_day,{yesterday},0\n")),
        "{csv}"
    );
    assert!(csv.contains("status,spam,0\n"), "{csv}");
    assert!(csv.contains("status,deleted,<5\n"), "{csv}");
    assert!(csv.contains("network,203.0.113.0/24,6\n"), "{csv}");
}
