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
                eprintln!(
                    "skipped: PostgreSQL variant needs SEALPOST_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)"
                );
                None
            }
        }
    }
}

pub fn services_required() -> bool {
    std::env::var("SEALPOST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Everything the server logs during the tests of this binary.
pub fn captured_logs() -> String {
    let buffer = log_buffer();
    let bytes = buffer.lock().unwrap_or_else(|p| p.into_inner());
    String::from_utf8_lossy(&bytes).into_owned()
}

fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let writer = CaptureWriter(buffer.clone());
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    "trace,hyper=info,h2=info,reqwest=info,rustls=info,tokio=info,runtime=info",
                )
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .json()
                .with_current_span(true)
                .try_init();
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
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub backend: Backend,
    schema: Option<String>,
    shutdown: CancellationToken,
    _captcha: Option<CaptchaVerifierServer>,
}

pub struct TestAppBuilder {
    backend: Backend,
    vars: HashMap<String, String>,
    captcha: bool,
    captcha_down: bool,
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
        }
    }

    /// Sets a configuration key, as `SEALPOST__SECTION__KEY` would.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.to_owned(), value.to_owned());
        self
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
        let address = format!("http://{}", application.local_addr());
        let state = application.state();
        let shutdown = CancellationToken::new();
        tokio::spawn(application.run_until(shutdown.clone()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            address,
            state,
            client,
            data_dir,
            backend: self.backend,
            schema,
            shutdown,
            _captcha: captcha,
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
                for table in ["contacts", "threads", "messages"] {
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
