//! Faults from outside: the database going away (a held SQLite write lock; PostgreSQL behind a
//! proxy that is switched off, as by a network partition) and slow clients that dribble their
//! header or never finish their body. The service answers fast with 503 and `Retry-After` or 408, stays up, loses nothing,
//! stores nothing by halves, and heals by itself.
//!
//! "Fast" is judged by order, never by the test's own clock: each deadline under test is set
//! well below another of the server's deadlines, a yardstick (a request whose body never comes
//! is answered 408 after `server.body_timeout_secs`; a connection that never sends a header is
//! closed after `server.header_timeout_secs`), and the answer must come before the yardstick's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Backend, TestApp, TestAppBuilder, valid_form, valid_message};

/// A TCP proxy in front of PostgreSQL that can be switched off, as by a network partition:
/// then it cuts every connection it carries, and new ones are accepted but never answered
/// until it is switched on again (so only the service's own timeouts end its waiting).
struct SwitchableProxy {
    addr: SocketAddr,
    /// Whether it forwards, and the token that ends the connections taken while it was so.
    state: Arc<Mutex<(bool, CancellationToken)>>,
    stop: CancellationToken,
}

impl SwitchableProxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(Mutex::new((true, CancellationToken::new())));
        let stop = CancellationToken::new();
        let (state2, stop2) = (state.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let mut client = tokio::select! {
                    _ = stop2.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => client,
                        Err(_) => continue,
                    },
                };
                let (up, ended) = state2.lock().expect("lock").clone();
                tokio::spawn(async move {
                    if !up {
                        // Held, silent, until the proxy is switched on again.
                        ended.cancelled().await;
                        return;
                    }
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = ended.cancelled() => {}
                    }
                });
            }
        });
        Self { addr, state, stop }
    }

    fn switch(&self, up: bool) {
        let mut state = self.state.lock().expect("lock");
        state.1.cancel();
        *state = (up, CancellationToken::new());
    }

    fn switch_off(&self) {
        self.switch(false);
    }

    fn switch_on(&self) {
        self.switch(true);
    }
}

impl Drop for SwitchableProxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.state.lock().expect("lock").1.cancel();
    }
}

/// The database of a test app, and a way to take it away and give it back.
enum Outage {
    /// Another connection holds SQLite's write lock (as a backup tool or a stuck writer would).
    SqliteLock {
        other: DatabaseConnection,
        held: Option<DatabaseTransaction>,
    },
    /// PostgreSQL is reached through a proxy that is switched off.
    Postgres(SwitchableProxy),
}

impl Outage {
    async fn begin(&mut self) {
        match self {
            Outage::SqliteLock { other, held } => {
                let txn = other
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Exclusive),
                        ..TransactionOptions::default()
                    })
                    .await
                    .expect("take the write lock");
                *held = Some(txn);
            }
            Outage::Postgres(proxy) => proxy.switch_off(),
        }
    }

    async fn end(&mut self) {
        match self {
            Outage::SqliteLock { held, .. } => {
                if let Some(txn) = held.take() {
                    txn.rollback().await.expect("release the write lock");
                }
            }
            Outage::Postgres(proxy) => proxy.switch_on(),
        }
    }
}

/// An app that waits at most 1 s for its database, with a way to take the database away; a
/// request's body may take 20 s, the yardstick of [`Yardstick`].
async fn app_with_outage(backend: Backend) -> (TestApp, Outage) {
    let builder = TestAppBuilder::new(backend.clone())
        .set("SEALPOST__DATABASE__ACQUIRE_TIMEOUT_SECS", "1")
        .set("SEALPOST__SERVER__BODY_TIMEOUT_SECS", "20");
    match backend {
        Backend::Sqlite => {
            let app = builder.spawn().await;
            let path = app.data_dir.path().join("sealpost.db");
            let mut options = ConnectOptions::new(format!("sqlite://{}", path.display()));
            options.max_connections(1).sqlx_logging(false);
            let other = Database::connect(options).await.expect("second connection");
            (app, Outage::SqliteLock { other, held: None })
        }
        Backend::Postgres(url) => {
            let mut parsed = url::Url::parse(&url).expect("database url");
            let target: SocketAddr = format!(
                "{}:{}",
                parsed.host_str().expect("host"),
                parsed.port().unwrap_or(5432)
            )
            .parse()
            .expect("PostgreSQL at an IP address");
            let proxy = SwitchableProxy::start(target).await;
            parsed.set_port(Some(proxy.addr.port())).expect("port");
            let app = builder
                .set("SEALPOST__DATABASE__URL", parsed.as_str())
                .spawn()
                .await;
            (app, Outage::Postgres(proxy))
        }
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Sends a request's header and `sent` of the announced body, and reads the answer until the
/// server closes the connection (or resets it).
async fn stall_body(addr: SocketAddr, path: &str, content_type: &str, sent: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: 4000\r\n\r\n{sent}"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The server's own clock as a yardstick: a submission whose body never comes, answered 408
/// once `server.body_timeout_secs` has passed.
struct Yardstick(tokio::task::JoinHandle<String>);

impl Yardstick {
    fn start(addr: SocketAddr) -> Self {
        Self(tokio::spawn(stall_body(
            addr,
            "/api/v1/messages",
            "application/json",
            r#"{"body": "Hel"#,
        )))
    }

    /// Whether the server has answered it, i.e. its body timeout has run out.
    fn has_run_out(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for Yardstick {
    fn drop(&mut self) {
        self.0.abort();
    }
}

db_test!(while_the_database_is_away_requests_fail_fast_with_503_and_retry_after_and_it_heals);
async fn while_the_database_is_away_requests_fail_fast_with_503_and_retry_after_and_it_heals(
    backend: Backend,
) {
    let (app, mut outage) = app_with_outage(backend).await;
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);

    outage.begin().await;
    let yardstick = Yardstick::start(app.addr);
    let api = app.post_message(&valid_message()).await;
    let form = app.post_form(&valid_form()).await;
    let ready = app.get("/readyz").await;
    let health = app.get("/healthz").await;

    // Each answer came while the database was still away (it comes back only below), and
    // before the body timeout (20 s) ran out: the 1 s wait for the database was kept.
    assert!(
        !yardstick.has_run_out(),
        "the requests that need the database were answered only after a 20 s body timeout ran \
         out: they waited far longer than database.acquire_timeout_secs (1 s)"
    );
    assert_eq!(api.status(), 503);
    assert!(
        retry_after(&api).is_some_and(|s| s >= 1),
        "Retry-After on the API's 503"
    );
    assert_eq!(
        api.headers()["content-type"],
        "application/problem+json",
        "a problem document"
    );
    let problem: serde_json::Value = api.json().await.expect("json");
    assert_eq!(problem["code"], "service_unavailable");
    assert_eq!(form.status(), 503);
    assert!(
        retry_after(&form).is_some_and(|s| s >= 1),
        "Retry-After on the page's 503"
    );
    let page = form.text().await.expect("page");
    assert!(
        page.contains("We could not complete this just now"),
        "the unavailable text on the form: {page}"
    );
    assert!(
        page.contains("Is the shop open on Sunday?"),
        "the visitor's text comes back with it"
    );
    assert_eq!(ready.status(), 503, "not ready while the database is away");
    assert!(retry_after(&ready).is_some());
    assert_eq!(health.status(), 200, "the process stays up");

    outage.end().await;
    // It heals by itself: the very next submission is stored.
    assert_eq!(
        app.post_message(&valid_message()).await.status(),
        201,
        "the first submission once the database is back succeeds"
    );
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.post_form(&valid_form()).await.status(), 303);
    // Exactly the acknowledged submissions are stored, each whole: thread, message, contact,
    // and its notification and acknowledgement in the outbox.
    assert_eq!(app.count_threads().await, 3);
    assert_eq!(app.count_messages().await, 3);
    assert_eq!(app.count_contacts().await, 3);
    let mails = app.wait_for_emails(6).await;
    assert_eq!(
        mails.len(),
        6,
        "one notification and one acknowledgement each"
    );
}

/// How a slow client's connection ended.
#[derive(Debug, PartialEq)]
enum SlowEnd {
    ClosedByTheServer,
    /// Still open when the client was told to stop.
    StillOpen,
}

/// Opens a connection and sends the start of a request, then one more header byte every
/// 200 ms (or, `silent`, nothing at all); says on `connected` once it has, and returns when the
/// server closes the connection (counting it in `closed`) or when `stop` is cancelled.
async fn dribble_header(
    addr: SocketAddr,
    silent: bool,
    connected: tokio::sync::mpsc::UnboundedSender<()>,
    closed: Arc<AtomicUsize>,
    stop: CancellationToken,
) -> SlowEnd {
    let closed_by_server = || {
        closed.fetch_add(1, Ordering::SeqCst);
        SlowEnd::ClosedByTheServer
    };
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return closed_by_server();
    };
    if !silent
        && stream
            .write_all(b"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .is_err()
    {
        return closed_by_server();
    }
    let _ = connected.send(());
    drop(connected);
    let mut buf = [0u8; 256];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return closed_by_server();
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if !silent && stream.write_all(b"a").await.is_err() {
                    return closed_by_server();
                }
            }
            _ = stop.cancelled() => return SlowEnd::StillOpen,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_after_the_header_timeout_and_starve_nobody() {
    // A header must arrive within 5 s; a body within 20 s, the yardstick for "closed".
    let app = TestAppBuilder::new(Backend::Sqlite)
        .set("SEALPOST__SERVER__HEADER_TIMEOUT_SECS", "5")
        .set("SEALPOST__SERVER__BODY_TIMEOUT_SECS", "20")
        .spawn()
        .await;
    let addr = app.addr;
    let (connected, mut connections) = tokio::sync::mpsc::unbounded_channel();
    let closed = Arc::new(AtomicUsize::new(0));
    let stop = CancellationToken::new();

    // Half dribble their header a byte at a time, half connect and say nothing.
    let slow: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(dribble_header(
                addr,
                i % 2 == 0,
                connected.clone(),
                closed.clone(),
                stop.clone(),
            ))
        })
        .collect();
    drop(connected);
    for _ in 0..200 {
        connections
            .recv()
            .await
            .expect("every slow client has its connection open");
    }
    let yardstick = Yardstick::start(addr);
    for _ in 0..10 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);

    // Served beside them, not after them: no slow connection had been let go yet.
    assert_eq!(
        closed.load(Ordering::SeqCst),
        0,
        "ten reads and a submission were answered only after slow connections were closed"
    );
    let stopper = {
        let (stop, mut yardstick) = (stop.clone(), yardstick);
        tokio::spawn(async move {
            let _ = (&mut yardstick.0).await;
            stop.cancel();
        })
    };
    let mut ends = Vec::new();
    for task in slow {
        ends.push(task.await.expect("task"));
    }
    stopper.abort();
    let still_open = ends.iter().filter(|e| **e == SlowEnd::StillOpen).count();
    assert_eq!(
        still_open, 0,
        "slow connections still open when a 20 s body timeout ran out (the header timeout is 5 s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_finishes_gets_408_and_nothing_is_stored() {
    // A body must arrive within 1 s; a header within 20 s, the yardstick.
    let app = TestAppBuilder::new(Backend::Sqlite)
        .set("SEALPOST__SERVER__BODY_TIMEOUT_SECS", "1")
        .set("SEALPOST__SERVER__HEADER_TIMEOUT_SECS", "20")
        .spawn()
        .await;
    let addr = app.addr;
    let mut silent = TcpStream::connect(addr).await.expect("connect");

    let stalled = async {
        tokio::join!(
            stall_body(
                addr,
                "/api/v1/messages",
                "application/json",
                r#"{"body": "Hel"#
            ),
            stall_body(
                addr,
                "/",
                "application/x-www-form-urlencoded",
                "consent=on&policy_version=2026-11-24&body=Hel"
            ),
        )
    };
    let (api, page) = tokio::select! {
        answers = stalled => answers,
        _ = silent.read_u8() => panic!(
            "a connection that never sent a header was closed (header timeout 20 s) before the \
             stalled bodies were answered (body timeout 1 s)"
        ),
    };

    assert!(api.starts_with("HTTP/1.1 408"), "API answer: {api}");
    assert!(
        api.contains("application/problem+json"),
        "API answer: {api}"
    );
    assert!(api.contains("request_timeout"), "API answer: {api}");
    assert!(page.starts_with("HTTP/1.1 408"), "page answer: {page}");
    assert!(page.contains("text/html"), "page answer: {page}");
    assert!(
        page.contains("did not finish sending"),
        "page answer: {page}"
    );
    assert_eq!(app.count_threads().await, 0);
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
}

/// A minimal SMTP server that holds its answer to each mail's final dot until told to go on:
/// the moment between "the mail is out" and "the outbox has recorded it".
struct HeldSmtp {
    addr: SocketAddr,
    received: Arc<Mutex<usize>>,
    arrived: tokio::sync::mpsc::UnboundedReceiver<()>,
    go_on: Arc<tokio::sync::Semaphore>,
}

impl HeldSmtp {
    async fn start() -> Self {
        use tokio::io::AsyncBufReadExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(0));
        let (tx, arrived) = tokio::sync::mpsc::unbounded_channel();
        let go_on = Arc::new(tokio::sync::Semaphore::new(0));
        let (received2, go_on2) = (received.clone(), go_on.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (tx, received, go_on) = (tx.clone(), received2.clone(), go_on2.clone());
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = tokio::io::BufReader::new(read).lines();
                    let _ = write.write_all(b"220 held ESMTP\r\n").await;
                    let mut in_data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &[u8] = if in_data {
                            if line != "." {
                                continue;
                            }
                            in_data = false;
                            *received.lock().expect("lock") += 1;
                            let _ = tx.send(());
                            if let Ok(permit) = go_on.acquire().await {
                                permit.forget();
                            }
                            b"250 queued\r\n"
                        } else {
                            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                            match verb.as_str() {
                                "EHLO" | "HELO" => b"250 held\r\n",
                                "DATA" => {
                                    in_data = true;
                                    b"354 go ahead\r\n"
                                }
                                "QUIT" => {
                                    let _ = write.write_all(b"221 bye\r\n").await;
                                    return;
                                }
                                _ => b"250 ok\r\n",
                            }
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            addr,
            received,
            arrived,
            go_on,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_sent_while_the_database_is_locked_is_recorded_once_it_is_back_and_not_sent_again() {
    let mut smtp = HeldSmtp::start().await;
    let (app, mut outage) = {
        let builder = TestAppBuilder::new(Backend::Sqlite)
            .set("SEALPOST__DATABASE__ACQUIRE_TIMEOUT_SECS", "1")
            .set("SEALPOST__MAIL__ACKNOWLEDGE_VISITOR", "false")
            .with_smtp_to(smtp.addr);
        let app = builder.spawn().await;
        let path = app.data_dir.path().join("sealpost.db");
        let mut options = ConnectOptions::new(format!("sqlite://{}", path.display()));
        options.max_connections(1).sqlx_logging(false);
        let other = Database::connect(options).await.expect("second connection");
        (app, Outage::SqliteLock { other, held: None })
    };
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);

    // The notification is at the SMTP server, not yet acknowledged; now the database goes away,
    // and only then does the server say "queued".
    tokio::time::timeout(Duration::from_secs(15), smtp.arrived.recv())
        .await
        .expect("the notification reaches the SMTP server");
    outage.begin().await;
    smtp.go_on.add_permits(1000);
    // The worker has the answer and turns to the database to record it...
    let sent = sealpost::metrics::OutcomeLabels {
        outcome: "sent".into(),
    };
    let counted = crate::helpers::wait_for(|| {
        (app.state.metrics.deliveries.get_or_create(&sent).get() == 1).then_some(())
    })
    .await;
    assert!(
        counted.is_some(),
        "the worker took the SMTP server's answer"
    );
    // ...and a readiness check begun after it, waiting as long for the same write lock, gives
    // up: so has the worker's first try to record the delivery.
    assert_eq!(
        app.get("/readyz").await.status(),
        503,
        "the database is still away"
    );
    outage.end().await;

    let status = app.wait_for_outbox_idle().await;
    assert_eq!(
        status.sent, 1,
        "the delivery is recorded once the database is back"
    );
    // Every send comes before its record, so once the outbox is idle every send has arrived.
    assert_eq!(
        *smtp.received.lock().expect("lock"),
        1,
        "and the mail went out once"
    );
}
