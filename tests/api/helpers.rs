//! `spawn_app()` and friends: a fresh database per test (an SQLite file in a temp dir, or a
//! fresh PostgreSQL schema), port 0, and a small local hCaptcha verifier when asked for.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use config::Environment;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use sealpost::config::{Profile, Settings};
use sealpost::entities::{contacts, messages, threads};
use sealpost::startup::Application;
use sealpost::state::AppState;
use tokio_util::sync::CancellationToken;

/// Runs the async test function `$name(backend)` once per database, as `$name::sqlite` and
/// `$name::postgres`.
macro_rules! db_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = crate::helpers::Backend::postgres() {
                    super::$name(backend).await;
                }
            }
        }
    };
}

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `SEALPOST_TEST_DATABASE_URL`; without it the test is skipped with a
    /// printed reason, unless `SEALPOST_REQUIRE_SERVICES=1` makes that a failure.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("SEALPOST_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                if services_required() {
                    panic!("SEALPOST_REQUIRE_SERVICES=1 but SEALPOST_TEST_DATABASE_URL is not set");
                }
                skipped(
                    "PostgreSQL variant needs SEALPOST_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)",
                );
                None
            }
        }
    }
}

pub fn services_required() -> bool {
    std::env::var("SEALPOST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Says that the running test returns early for want of a service: one line on the terminal at
/// once (written past the test harness's capture, which would hide it), and one line in this
/// run's skip log, which `tests/skips.rs` counts at the end of `cargo test`.
pub fn skipped(reason: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
    let log = skip_log();
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    {
        let _ = writeln!(file, "{test}\t{reason}");
    }
}

/// The skip log of this `cargo test` run: one file per cargo process, which starts every test
/// binary of the run.
fn skip_log() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("skips")
        .join(format!("{}.log", std::os::unix::process::parent_id()))
}

/// Everything the server logs during the tests of this binary.
pub fn captured_logs() -> String {
    captured_logs_since(0)
}

/// Where the captured log ends now: what [`captured_logs_since`] reads from.
pub fn log_mark() -> usize {
    let buffer = log_buffer();
    let bytes = buffer.lock().unwrap_or_else(|p| p.into_inner());
    bytes.len()
}

/// What the server logged after `mark`: all a test logged since it took the mark (and what
/// tests running beside it logged meanwhile), without the whole suite's log before it.
pub fn captured_logs_since(mark: usize) -> String {
    let buffer = log_buffer();
    let bytes = buffer.lock().unwrap_or_else(|p| p.into_inner());
    String::from_utf8_lossy(bytes.get(mark..).unwrap_or_default()).into_owned()
}

fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let writer = CaptureWriter(buffer.clone());
            // Everything the server may log, with `log`-crate records bridged as in production.
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(
                    "trace,hyper=info,h2=info,reqwest=info,rustls=info,tokio=info,runtime=info",
                )
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .json()
                .with_current_span(true)
                .finish();
            let _ = tracing::subscriber::set_global_default(subscriber);
            sealpost::telemetry::bridge_log_records();
            buffer
        })
        .clone()
}

#[derive(Clone)]
struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct TestApp {
    pub address: String,
    /// The server's address, for raw TCP clients.
    pub addr: SocketAddr,
    pub smtp_addr: Option<SocketAddr>,
    /// Where the Postfix policy service listens, when it is on.
    pub policy_addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub backend: Backend,
    schema: Option<String>,
    shutdown: CancellationToken,
    _captcha: Option<CaptchaVerifierServer>,
    /// The real Rspamd the app talks to, when built [`TestAppBuilder::with_rspamd`].
    pub rspamd: Option<crate::rspamd_server::RspamdServer>,
}

pub struct TestAppBuilder {
    backend: Backend,
    vars: HashMap<String, String>,
    captcha: bool,
    captcha_down: bool,
    rspamd: Option<crate::rspamd_server::RspamdServer>,
}

pub const CAPTCHA_PASS: &str = "10000000-aaaa-bbbb-cccc-000000000001";
pub const CAPTCHA_SECRET: &str = "0x1234567890abcdef1234567890abcdef12345678";

pub async fn spawn_app(backend: Backend) -> TestApp {
    TestAppBuilder::new(backend).spawn().await
}

impl TestAppBuilder {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            vars: HashMap::new(),
            captcha: false,
            captcha_down: false,
            rspamd: None,
        }
    }

    /// Starts a real Rspamd for the app (`spam.rspamd.url` and its password set), or `None`
    /// when Rspamd is not installed (the test then returns; it has said why).
    pub async fn with_rspamd(mut self) -> Option<Self> {
        let server = crate::rspamd_server::RspamdServer::start().await?;
        self = self.set("SEALPOST__SPAM__RSPAMD__URL", &server.url).set(
            "SEALPOST__SPAM__RSPAMD__PASSWORD",
            crate::rspamd_server::RSPAMD_PASSWORD,
        );
        self.rspamd = Some(server);
        Some(self)
    }

    /// Sets a configuration key, as `SEALPOST__SECTION__KEY` would.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Turns the SMTP listener for the relay domain on, on a free port.
    pub fn with_smtp_listener(self) -> Self {
        self.set("SEALPOST__MAIL__INBOUND__LISTEN", "127.0.0.1:0")
    }

    /// Turns the Postfix access-policy service on, on a free port.
    pub fn with_policy_service(self) -> Self {
        self.set("SEALPOST__MAIL__INBOUND__POLICY_LISTEN", "127.0.0.1:0")
    }

    /// Delivers mail over SMTP to `addr` instead of writing files.
    pub fn with_smtp_to(self, addr: SocketAddr) -> Self {
        self.set("SEALPOST__MAIL__TRANSPORT", "smtp")
            .set("SEALPOST__MAIL__SMTP__URL", &format!("smtp://{addr}"))
            .set("SEALPOST__MAIL__SMTP__TIMEOUT_SECS", "5")
    }

    /// Turns the captcha on, verified by a local server that accepts only [`CAPTCHA_PASS`].
    pub fn with_captcha(mut self) -> Self {
        self.captcha = true;
        self
    }

    /// Turns the captcha on with a verifier that cannot be reached.
    pub fn with_unreachable_captcha(mut self) -> Self {
        self.captcha = true;
        self.captcha_down = true;
        self
    }

    pub async fn spawn(self) -> TestApp {
        log_buffer();
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut vars: HashMap<String, String> = HashMap::from([
            (
                "SEALPOST__DATA_DIR".into(),
                data_dir.path().display().to_string(),
            ),
            ("SEALPOST__SERVER__LISTEN".into(), "127.0.0.1:0".into()),
            ("SEALPOST__RATE_LIMIT__ENABLED".into(), "false".into()),
            ("SEALPOST__DATABASE__MAX_CONNECTIONS".into(), "5".into()),
            ("SEALPOST__MAIL__RETRY_BASE_SECS".into(), "1".into()),
            ("SEALPOST__MAIL__POLL_INTERVAL_MS".into(), "50".into()),
            // Tests that are about the second factor turn it back on.
            (
                "SEALPOST__STAFF__REQUIRE_SECOND_FACTOR".into(),
                "false".into(),
            ),
        ]);
        let mut schema = None;
        if let Backend::Postgres(url) = &self.backend {
            let name = format!("sealpost_test_{}", uuid::Uuid::now_v7().simple());
            let admin = Database::connect(url.as_str())
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at SEALPOST_TEST_DATABASE_URL: {e}"));
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {name}"))
                .await
                .expect("create schema");
            admin.close().await.ok();
            vars.insert("SEALPOST__DATABASE__URL".into(), url.clone());
            vars.insert("SEALPOST__DATABASE__SCHEMA".into(), name.clone());
            schema = Some(name);
        }
        let captcha = if self.captcha {
            let server = if self.captcha_down {
                None
            } else {
                Some(CaptchaVerifierServer::start().await)
            };
            let url = server
                .as_ref()
                .map(|s| format!("http://{}/siteverify", s.addr))
                .unwrap_or_else(|| "http://127.0.0.1:9/siteverify".into());
            vars.insert("SEALPOST__CAPTCHA__ENABLED".into(), "true".into());
            vars.insert(
                "SEALPOST__CAPTCHA__SITE_KEY".into(),
                "10000000-ffff-ffff-ffff-000000000001".into(),
            );
            vars.insert("SEALPOST__CAPTCHA__SECRET".into(), CAPTCHA_SECRET.into());
            vars.insert("SEALPOST__CAPTCHA__VERIFY_URL".into(), url);
            server
        } else {
            None
        };
        vars.extend(self.vars);
        let settings = Settings::load_from(
            data_dir.path(),
            Profile::Development,
            Environment::with_prefix("SEALPOST").source(Some(vars)),
        )
        .expect("test settings load");
        let application = Application::build(settings).await.expect("app builds");
        let addr = application.local_addr();
        let address = format!("http://{addr}");
        let smtp_addr = application.smtp_addr();
        let policy_addr = application.policy_addr();
        let state = application.state();
        let shutdown = CancellationToken::new();
        tokio::spawn(application.run_until(shutdown.clone()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            address,
            addr,
            smtp_addr,
            policy_addr,
            state,
            client,
            data_dir,
            backend: self.backend,
            schema,
            shutdown,
            _captcha: captcha,
            rspamd: self.rspamd,
        }
    }
}

impl TestApp {
    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_message(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/messages"))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_form(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url("/"))
            .form(fields)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Mail the file transport wrote, oldest first, as raw bytes.
    pub fn sent_emails(&self) -> Vec<Vec<u8>> {
        let dir = self.data_dir.path().join("mail");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    /// Waits (up to 15 s) until the file transport has written `n` mails and the outbox is idle
    /// (so that no file is still being written), and returns them.
    pub async fn wait_for_emails(&self, n: usize) -> Vec<Vec<u8>> {
        for _ in 0..300 {
            let status = sealpost::outbox::status(self.db()).await.expect("status");
            let mails = self.sent_emails();
            if status.pending == 0 && status.sending == 0 && mails.len() >= n {
                return mails;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("expected {n} mails, have {}", self.sent_emails().len())
    }

    /// Waits until the outbox has no pending or sending row left.
    pub async fn wait_for_outbox_idle(&self) -> sealpost::outbox::Status {
        for _ in 0..300 {
            let status = sealpost::outbox::status(self.db()).await.expect("status");
            if status.pending == 0 && status.sending == 0 {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the outbox did not drain")
    }

    /// Starts the graceful shutdown of the server and its workers (as SIGTERM does).
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    pub async fn count_threads(&self) -> u64 {
        threads::Entity::find()
            .count(self.db())
            .await
            .expect("count")
    }

    pub async fn count_messages(&self) -> u64 {
        messages::Entity::find()
            .count(self.db())
            .await
            .expect("count")
    }

    pub async fn count_contacts(&self) -> u64 {
        contacts::Entity::find()
            .count(self.db())
            .await
            .expect("count")
    }

    /// Everything the database holds, as bytes: the SQLite files themselves, or every row of
    /// every table of the test schema rendered as text on PostgreSQL.
    pub async fn raw_database_bytes(&self) -> Vec<u8> {
        match &self.backend {
            Backend::Sqlite => {
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-journal"] {
                    let path = self.data_dir.path().join(format!("sealpost.db{suffix}"));
                    if let Ok(bytes) = std::fs::read(&path) {
                        all.extend(bytes);
                    }
                }
                assert!(!all.is_empty(), "no SQLite file found");
                all
            }
            Backend::Postgres(_) => {
                let mut all = Vec::new();
                // Every table of the test's schema, so that a new table is covered too.
                let tables: Vec<String> = self
                    .db()
                    .query_all_raw(sea_orm::Statement::from_string(
                        sea_orm::DatabaseBackend::Postgres,
                        "SELECT table_name::text AS t FROM information_schema.tables \
                         WHERE table_schema = current_schema()",
                    ))
                    .await
                    .expect("tables")
                    .into_iter()
                    .map(|row| row.try_get::<String>("", "t").expect("name"))
                    .collect();
                for table in tables {
                    let rows = self
                        .db()
                        .query_all_raw(sea_orm::Statement::from_string(
                            sea_orm::DatabaseBackend::Postgres,
                            format!("SELECT row_to_json(t)::text AS j FROM {table} t"),
                        ))
                        .await
                        .expect("dump");
                    for row in rows {
                        let text: String = row.try_get("", "j").expect("json");
                        all.extend(text.into_bytes());
                    }
                    // row_to_json writes bytea as hex, in which no plaintext can be seen: the
                    // binary columns are read as the bytes they hold.
                    let binary: Vec<String> = self
                        .db()
                        .query_all_raw(sea_orm::Statement::from_sql_and_values(
                            sea_orm::DatabaseBackend::Postgres,
                            "SELECT column_name::text AS c FROM information_schema.columns \
                             WHERE table_schema = current_schema() AND table_name = $1 \
                             AND data_type = 'bytea'",
                            [table.clone().into()],
                        ))
                        .await
                        .expect("columns")
                        .into_iter()
                        .map(|row| row.try_get::<String>("", "c").expect("name"))
                        .collect();
                    for column in binary {
                        let rows = self
                            .db()
                            .query_all_raw(sea_orm::Statement::from_string(
                                sea_orm::DatabaseBackend::Postgres,
                                format!("SELECT \"{column}\" AS b FROM \"{table}\""),
                            ))
                            .await
                            .expect("bytes");
                        for row in rows {
                            if let Some(bytes) =
                                row.try_get::<Option<Vec<u8>>>("", "b").expect("bytea")
                            {
                                all.extend(bytes);
                            }
                        }
                    }
                }
                all
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let (Some(schema), Backend::Postgres(url)) = (self.schema.take(), &self.backend) {
            let url = url.clone();
            // Drop runs outside async context rules; a short-lived runtime on its own thread
            // removes the schema so test runs leave nothing behind.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok(db) = Database::connect(url.as_str()).await {
                        let _ = db
                            .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .await;
                        let _ = db.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A stand-in for hCaptcha's siteverify endpoint, over real HTTP on 127.0.0.1.
pub struct CaptchaVerifierServer {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
}

impl CaptchaVerifierServer {
    async fn start() -> Self {
        use poem::listener::{Acceptor, Listener, TcpListener};
        use poem::web::Form;
        use poem::{Route, Server, handler, post};

        #[derive(serde::Deserialize)]
        struct Verify {
            secret: String,
            response: String,
        }

        #[handler]
        fn siteverify(Form(v): Form<Verify>) -> poem::web::Json<serde_json::Value> {
            if v.secret != CAPTCHA_SECRET {
                return poem::web::Json(
                    serde_json::json!({"success": false, "error-codes": ["invalid-input-secret"]}),
                );
            }
            if v.response == CAPTCHA_PASS {
                poem::web::Json(serde_json::json!({
                    "success": true,
                    "challenge_ts": "2026-11-24T12:00:00Z",
                    "hostname": "127.0.0.1"
                }))
            } else {
                poem::web::Json(
                    serde_json::json!({"success": false, "error-codes": ["invalid-input-response"]}),
                )
            }
        }

        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind verifier");
        let addr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("socket addr");
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    Route::new().at("/siteverify", post(siteverify)),
                    stop.cancelled_owned(),
                    None,
                )
                .await;
        });
        Self { addr, shutdown }
    }
}

impl Drop for CaptchaVerifierServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A valid API submission.
pub fn valid_message() -> serde_json::Value {
    serde_json::json!({
        "name": "Anna Karenina",
        "email": "anna.k@example.org",
        "subject": "Question about delivery",
        "body": "Hello,\nwhen will my order arrive?",
        "consent": true
    })
}

/// Form fields of a valid submission.
pub fn valid_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "Dmitri Karamazov"),
        ("email", "dmitri.k@example.org"),
        ("subject", "A question"),
        ("body", "Is the shop open on Sunday?"),
        ("consent", "on"),
        ("policy_version", "2026-11-24"),
        ("lang", "en"),
        ("website", ""),
    ]
}

/// Polls `probe` every 50 ms for up to 15 s.
pub async fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..300 {
        if let Some(value) = probe() {
            return Some(value);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

/// A real SMTP server on 127.0.0.1 that nobody here wrote: Python's aiosmtpd (Debian package
/// `python3-aiosmtpd`), saving each mail to a file and refusing recipients whose address
/// starts with `reject` with a permanent 550.
pub struct SmtpSink {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

const SINK_SCRIPT: &str = r#"
import asyncio, itertools, os, sys
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
n = itertools.count()
class Save:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("reject"):
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        path = os.path.join(out, f"{next(n):06d}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"
c = Controller(Save(), hostname="127.0.0.1", port=port)
c.start()
print("ready", flush=True)
asyncio.get_event_loop().run_forever()
"#;

/// Debian's Python, where `python3-aiosmtpd` installs (another `python3` may come first on PATH).
fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

impl SmtpSink {
    /// Whether aiosmtpd can be run here.
    pub fn available() -> bool {
        std::process::Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Starts a sink on `port` (0: a free one), or `None` with a printed reason when
    /// aiosmtpd is missing (a failure under `SEALPOST_REQUIRE_SERVICES=1`).
    pub async fn start(port: u16) -> Option<SmtpSink> {
        if !Self::available() {
            if services_required() {
                panic!("SEALPOST_REQUIRE_SERVICES=1 but python3-aiosmtpd is not installed");
            }
            skipped("needs the SMTP sink aiosmtpd (apt-get install python3-aiosmtpd)");
            return None;
        }
        let port = if port == 0 { free_port() } else { port };
        let dir = tempfile::tempdir().expect("sink dir");
        let mut child = std::process::Command::new(python())
            .args(["-c", SINK_SCRIPT, &port.to_string()])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Some(SmtpSink { addr, dir, child });
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start on {addr}");
    }

    /// The mails received so far, in order.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        wait_for(|| {
            let mails = self.received();
            (mails.len() >= n).then_some(mails)
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "expected {n} mails at the sink, have {}",
                self.received().len()
            )
        })
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A header of a raw mail, unfolded.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse(raw)?;
    parsed
        .header_raw(name)
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The text part of a raw mail.
pub fn text_body(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

/// Whether `needle` occurs anywhere in the raw mail, in any case or encoding we can undo.
pub fn mail_mentions(raw: &[u8], needle: &str) -> bool {
    let lower = needle.to_lowercase();
    let raw_text = String::from_utf8_lossy(raw).to_lowercase();
    let decoded = mail_parser::MessageParser::default()
        .parse(raw)
        .map(|m| {
            let mut all = String::new();
            for i in 0..m.text_body_count() {
                all.push_str(&m.body_text(i).unwrap_or_default());
            }
            for i in 0..m.html_body_count() {
                all.push_str(&m.body_html(i).unwrap_or_default());
            }
            for h in m.headers() {
                all.push_str(&format!("{:?}", h.value()));
            }
            all.to_lowercase()
        })
        .unwrap_or_default();
    raw_text.contains(&lower) || decoded.contains(&lower)
}

/// The password every test staff account gets.
pub const STAFF_PASSWORD: &str = "correct horse battery staple orbit";

/// A browser of one staff member: a cookie jar, no automatic redirects, and the CSRF token of
/// the current session.
pub struct StaffBrowser {
    pub client: reqwest::Client,
    pub base: String,
    pub csrf: String,
}

/// The value of the first `name="csrf"` hidden field of a page.
pub fn csrf_of(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &page[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

impl TestApp {
    /// Creates a staff account through the same service as `sealpost staff add`.
    pub async fn add_staff(&self, login: &str, role: &str) {
        let login = sealpost::domain::Login::parse(login).expect("login");
        let password =
            sealpost::domain::NewPassword::parse(STAFF_PASSWORD.to_owned().into(), &login)
                .expect("strong password");
        sealpost::auth::add_staff(
            self.db(),
            &login,
            sealpost::domain::Role::parse(role).expect("role"),
            &password,
            None,
        )
        .await
        .expect("staff added");
    }

    /// A fresh browser with nobody signed in.
    pub fn browser(&self) -> StaffBrowser {
        StaffBrowser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .expect("client"),
            base: self.address.clone(),
            csrf: String::new(),
        }
    }

    /// Creates an account with `role` and signs it in through the sign-in form.
    pub async fn signed_in(&self, login: &str, role: &str) -> StaffBrowser {
        self.add_staff(login, role).await;
        let mut browser = self.browser();
        let resp = browser.sign_in(login, STAFF_PASSWORD).await;
        assert_eq!(resp.status(), 303, "sign-in of {login} succeeds");
        browser.refresh_csrf().await;
        browser
    }
}

impl StaffBrowser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Opens the sign-in form (for its CSRF cookie and field) and posts login and password.
    pub async fn sign_in(&mut self, login: &str, password: &str) -> reqwest::Response {
        let page = self.get("/staff/signin").await.text().await.expect("page");
        let csrf = csrf_of(&page).expect("the sign-in form has a CSRF field");
        self.client
            .post(self.url("/staff/signin"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("login", login),
                ("password", password),
            ])
            .send()
            .await
            .expect("request")
    }

    /// Reads the session's CSRF token from the account page.
    pub async fn refresh_csrf(&mut self) {
        let page = self.get("/staff/account").await.text().await.expect("page");
        self.csrf = csrf_of(&page).unwrap_or_default();
    }

    /// Posts a URL-encoded form with the session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .expect("request")
    }

    /// Posts a multipart form (as the pages with free text do) with the CSRF token added.
    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().text("csrf", self.csrf.clone());
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        self.client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .expect("request")
    }
}

/// The first reset link (`/staff/reset/TOKEN`) in a page or a mail, as a path.
pub fn reset_link_in(text: &str) -> String {
    let start = text.find("/staff/reset/").expect("a reset link");
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
        .collect()
}

impl StaffBrowser {
    /// Opens a reset link (for its CSRF cookie and field) and sets `password` through it; the
    /// form's page and the answer.
    pub async fn choose_password(&self, link: &str, password: &str) -> (String, reqwest::Response) {
        let form = self.get(link).await.text().await.expect("page");
        let csrf = csrf_of(&form).unwrap_or_default();
        let resp = self
            .client
            .post(self.url(link))
            .form(&[
                ("csrf", csrf.as_str()),
                ("new_password", password),
                ("new_password_again", password),
            ])
            .send()
            .await
            .expect("request");
        (form, resp)
    }
}

/// Where a redirect points ("" when it has no `Location`).
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl TestApp {
    /// The id of a staff account by login.
    pub async fn staff_id(&self, login: &str) -> uuid::Uuid {
        use sea_orm::{ColumnTrait, QueryFilter};
        sealpost::entities::staff::Entity::find()
            .filter(sealpost::entities::staff::Column::Login.eq(login))
            .one(self.db())
            .await
            .expect("db")
            .expect("account")
            .id
    }
}

impl TestApp {
    /// The number of rows of every table, by name: what "nothing was stored" compares.
    pub async fn row_counts(&self) -> std::collections::BTreeMap<String, i64> {
        let backend = self.db().get_database_backend();
        let list = match backend {
            sea_orm::DatabaseBackend::Postgres => {
                "SELECT table_name::text AS t FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            }
            _ => "SELECT name AS t FROM sqlite_master WHERE type = 'table'",
        };
        let tables: Vec<String> = self
            .db()
            .query_all_raw(sea_orm::Statement::from_string(backend, list))
            .await
            .expect("tables")
            .into_iter()
            .map(|row| row.try_get::<String>("", "t").expect("name"))
            .collect();
        let mut counts = std::collections::BTreeMap::new();
        for table in tables {
            let row = self
                .db()
                .query_one_raw(sea_orm::Statement::from_string(
                    backend,
                    format!("SELECT COUNT(*) AS n FROM \"{table}\""),
                ))
                .await
                .expect("count")
                .expect("a row");
            counts.insert(table, row.try_get::<i64>("", "n").expect("n"));
        }
        counts
    }
}

impl TestApp {
    /// A fresh staff API key with `role` (`agent`, `legal` or `admin`), as `Bearer` sends it.
    pub async fn api_key(&self, role: &str) -> String {
        sealpost::auth::api_key::create(
            self.db(),
            "system:test",
            &format!("{role} key"),
            sealpost::domain::Role::parse(role).expect("role"),
            None,
        )
        .await
        .expect("key created")
        .key
    }

    /// The `sealpost` command on this app's data directory and database, as an operator on the
    /// same host runs it (other settings at their defaults).
    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sealpost"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SEALPOST__DATA_DIR", self.data_dir.path())
            .env(
                "SEALPOST_CONFIG_DIR",
                self.data_dir.path().join("no-config"),
            );
        if let (Backend::Postgres(url), Some(schema)) = (&self.backend, &self.schema) {
            cmd.env("SEALPOST__DATABASE__URL", url)
                .env("SEALPOST__DATABASE__SCHEMA", schema);
        }
        cmd
    }
}

impl TestApp {
    /// Fails when any column a reader of the audit log sees — actor, action, target, details —
    /// of any entry mentions one of `needles`, in any letter case.
    pub async fn assert_audit_never_mentions(&self, needles: &[&str]) {
        let rows = sealpost::entities::audit_log::Entity::find()
            .all(self.db())
            .await
            .expect("audit log");
        assert!(!rows.is_empty(), "the audit log is empty: nothing to check");
        for row in &rows {
            let columns = [
                ("actor", row.actor.as_str()),
                ("action", row.action.as_str()),
                ("target", row.target.as_deref().unwrap_or_default()),
                ("details", row.details.as_str()),
            ];
            for (column, value) in columns {
                for needle in needles {
                    assert!(
                        !value.to_lowercase().contains(&needle.to_lowercase()),
                        "audit entry {} ({}) names {needle:?} in its {column}: {value}",
                        row.seq,
                        row.action
                    );
                }
            }
        }
    }
}
