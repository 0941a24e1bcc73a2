//! The bare handlers that `bench/run` measures Sealpost against, in the same run:
//!
//! - `POST /api/v1/messages` parses the same JSON as Sealpost and inserts the same rows (a
//!   contact, a thread, its first message and the two outbox mails) with raw sqlx, one
//!   transaction per request. Nothing is sealed, cleaned or rendered: this is the irreducible
//!   work of a submission, so Sealpost's throughput divided by this one is its overhead.
//! - `GET /` answers with the bytes of a file (`--page`, Sealpost's form page saved by the kit)
//!   and the same content type, so the form page can be compared with a static handler.
//!
//! The schema is Sealpost's own: run `sealpost migrate` on the database first.

use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use clap::{Parser, ValueEnum};
use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::{Data, Json};
use poem::{EndpointExt, IntoResponse, Response, Route, Server, get, handler, post};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18090")]
    listen: String,
    /// `sqlite://path` or `postgres://...`, already migrated by `sealpost migrate`.
    #[arg(long)]
    database: String,
    /// SQLite's `synchronous` pragma (WAL mode is always on).
    #[arg(long, value_enum, default_value = "normal")]
    synchronous: Sync,
    /// Pool size.
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// File whose bytes `GET /` answers with (text/html).
    #[arg(long)]
    page: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sync {
    Normal,
    Full,
}

#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // parsed for the cost of parsing, as Sealpost does
struct Submission {
    name: Option<String>,
    email: Option<String>,
    subject: Option<String>,
    body: String,
    locale: Option<String>,
    consent: bool,
    policy_version: Option<String>,
    captcha_token: Option<String>,
}

#[derive(Serialize)]
struct Created {
    id: Uuid,
    thread_id: Uuid,
    reference: String,
    thread_url: String,
}

const INSERT_CONTACT: &str = "INSERT INTO contacts (id, email_sealed, email_index, name_sealed, ip_sealed, created_at, bounces) VALUES (?, ?, ?, ?, ?, ?, 0)";
const INSERT_THREAD: &str = "INSERT INTO threads (id, reference, access_token_hash, contact_id, subject, locale, status, consent_policy_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'en', 'new', '2026-11-24', ?, ?)";
const INSERT_MESSAGE: &str = "INSERT INTO messages (id, thread_id, author, body_html, created_at, staff_id) VALUES (?, ?, 'visitor', ?, ?, NULL)";
const INSERT_OUTBOX: &str = "INSERT INTO outbox (id, message_id, kind, thread_id, recipient, contact_id, from_header, reply_to, subject, text_body, html_body, in_reply_to, \"references\", auto_submitted, state, attempts, next_attempt_at, lease_until, last_error, created_at, sent_at, not_before) VALUES (?, ?, ?, ?, ?, ?, 'Visitor via Bench <reply@relay.example>', NULL, ?, ?, ?, NULL, NULL, 'auto-generated', 'pending', 0, ?, NULL, NULL, ?, NULL, NULL)";

/// `?` placeholders as PostgreSQL's `$1, $2, ...`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Binds the same values to a query for either database.
macro_rules! insert_all {
    ($txn:expr, $q:expr, $s:expr) => {{
        let now = Utc::now().fixed_offset();
        let contact = Uuid::now_v7();
        let thread = Uuid::now_v7();
        let message = Uuid::now_v7();
        // References are at most 16 characters (varchar(16) on PostgreSQL); the random tail of
        // the v7 id keeps them unique.
        let reference = format!("B-{}", &thread.simple().to_string()[19..]);
        let email = $s.email.clone().unwrap_or_default().into_bytes();
        $q(INSERT_CONTACT)
            .bind(contact)
            .bind(email.clone())
            .bind(email)
            .bind($s.name.clone().map(String::into_bytes))
            .bind(b"127.0.0.1".to_vec())
            .bind(now)
            .execute(&mut *$txn)
            .await?;
        $q(INSERT_THREAD)
            .bind(thread)
            .bind(&reference)
            .bind(message.as_bytes().to_vec())
            .bind(contact)
            .bind($s.subject.clone())
            .bind(now)
            .bind(now)
            .execute(&mut *$txn)
            .await?;
        $q(INSERT_MESSAGE)
            .bind(message)
            .bind(thread)
            .bind(&$s.body)
            .bind(now)
            .execute(&mut *$txn)
            .await?;
        for (kind, recipient) in [("new_message", "staff"), ("visitor_ack", "visitor")] {
            $q(INSERT_OUTBOX)
                .bind(Uuid::now_v7())
                .bind(format!("<{}@relay.example>", Uuid::now_v7().simple()))
                .bind(kind)
                .bind(thread)
                .bind(recipient)
                .bind(contact)
                .bind($s.subject.clone().unwrap_or_default())
                .bind(&$s.body)
                .bind(&$s.body)
                .bind(now)
                .bind(now)
                .execute(&mut *$txn)
                .await?;
        }
        (message, thread, reference)
    }};
}

fn created(message: Uuid, thread: Uuid, reference: String) -> Response {
    let body = Created {
        id: message,
        thread_id: thread,
        thread_url: format!("http://127.0.0.1/t/{reference}"),
        reference,
    };
    (StatusCode::CREATED, Json(body)).into_response()
}

#[handler]
async fn submit(Json(s): Json<Submission>, Data(db): Data<&Db>) -> poem::Result<Response> {
    let stored: Result<(Uuid, Uuid, String), sqlx::Error> = async {
        Ok(match db {
            Db::Sqlite(pool) => {
                let mut txn = pool.begin().await?;
                let ids = insert_all!(txn, sqlx::query::<sqlx::Sqlite>, s);
                txn.commit().await?;
                ids
            }
            Db::Postgres(pool) => {
                let mut txn = pool.begin().await?;
                let q = |sql: &str| sqlx::query::<sqlx::Postgres>(pg_sql(sql));
                let ids = insert_all!(txn, q, s);
                txn.commit().await?;
                ids
            }
        })
    }
    .await;
    match stored {
        Ok((message, thread, reference)) => Ok(created(message, thread, reference)),
        Err(err) => Err(poem::Error::from_string(
            err.to_string(),
            StatusCode::SERVICE_UNAVAILABLE,
        )),
    }
}

/// The PostgreSQL form of one of the statements above, numbered once.
fn pg_sql(sql: &str) -> &'static str {
    static NUMBERED: std::sync::OnceLock<Vec<(&'static str, String)>> = std::sync::OnceLock::new();
    let all = NUMBERED.get_or_init(|| {
        [INSERT_CONTACT, INSERT_THREAD, INSERT_MESSAGE, INSERT_OUTBOX]
            .into_iter()
            .map(|s| (s, numbered(s)))
            .collect()
    });
    all.iter()
        .find(|(s, _)| *s == sql)
        .map(|(_, n)| n.as_str())
        .expect("one of the known statements")
}

#[handler]
fn static_page(Data(page): Data<&Page>) -> Response {
    Response::builder()
        .content_type("text/html; charset=utf-8")
        .body(page.0.clone())
}

#[derive(Clone)]
struct Page(bytes::Bytes);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let db = if args.database.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(&args.database)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match args.synchronous {
                Sync::Normal => SqliteSynchronous::Normal,
                Sync::Full => SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        Db::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(args.connections)
                .connect_with(options)
                .await?,
        )
    } else {
        Db::Postgres(
            PgPoolOptions::new()
                .max_connections(args.connections)
                .connect(&args.database)
                .await?,
        )
    };
    let page_bytes = match &args.page {
        Some(path) => std::fs::read(path)?,
        None => b"<!doctype html><title>baseline</title>".to_vec(),
    };
    let app = Route::new()
        .at("/", get(static_page))
        .at("/api/v1/messages", post(submit))
        .data(db)
        .data(Page(page_bytes.into()));
    eprintln!("baseline listening on {}", args.listen);
    Server::new(TcpListener::bind(args.listen)).run(app).await?;
    Ok(())
}
