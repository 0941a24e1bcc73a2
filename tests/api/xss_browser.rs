//! XSS in a real browser: every payload of `data/xss_payloads.txt` goes in as a visitor's name,
//! subject and message (through the form and the API), as a visitor's reply on the thread
//! page, as a staff answer and as an API key's name; then headless Chromium, driven over
//! WebDriver by chromedriver, opens every page that shows them and looks for any sign that one
//! ran: a request to the canary server the payloads point at, `window.__xss` set, an alert
//! open, an event handler, script, frame or off-site resource in the DOM.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test prints why it
//! skipped, unless `SEALPOST_REQUIRE_SERVICES=1`. SQLite only: what is tested is the markup.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    Backend, STAFF_PASSWORD, TestApp, free_port, location, services_required, spawn_app, valid_form,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const PAYLOADS: &str = include_str!("data/xss_payloads.txt");

/// The payloads with `{C}` and `{N}` filled in; numbered from 1.
fn payloads(canary: SocketAddr) -> Vec<String> {
    PAYLOADS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("# "))
        .enumerate()
        .map(|(i, l)| {
            l.replace("{C}", &canary.to_string())
                .replace("{N}", &(i + 1).to_string())
        })
        .collect()
}

/// A tiny HTTP server on 127.0.0.1 that records the first line of every request and answers
/// each with `page(path)` (HTML) or an empty 204.
pub(crate) struct TinyServer {
    pub(crate) addr: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
}

impl TinyServer {
    pub(crate) async fn start(page: fn(&str) -> Option<String>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let (seen, halt) = (hits.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let mut socket = tokio::select! {
                    _ = halt.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((socket, _)) => socket,
                        Err(_) => continue,
                    },
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut buf))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]);
                    let line = head.lines().next().unwrap_or("(connection)").to_owned();
                    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                    seen.lock().expect("hits").push(line);
                    let response = match page(&path) {
                        Some(html) => format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                            html.len()
                        ),
                        None => "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".into(),
                    };
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Self { addr, hits, stop }
    }

    pub(crate) fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("hits").clone()
    }

    fn take_hits(&self) -> Vec<String> {
        std::mem::take(&mut *self.hits.lock().expect("hits"))
    }
}

impl Drop for TinyServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// chromedriver on a free port, stopped with the test.
pub(crate) struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver_path() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| (*p).to_owned())
}

/// Chromium and chromedriver, or `None` with a printed reason (a failure under
/// `SEALPOST_REQUIRE_SERVICES=1`). `extra_args` go to Chromium after the usual ones; with
/// `log_network`, chromedriver keeps the pages' network events for [`network_requests`].
pub(crate) async fn start_browser(
    extra_args: &[String],
    log_network: bool,
) -> Option<(Driver, Client)> {
    let (Some(driver_bin), true) = (chromedriver_path(), std::path::Path::new(CHROMIUM).exists())
    else {
        if services_required() {
            panic!("SEALPOST_REQUIRE_SERVICES=1 but chromium or chromedriver is not installed");
        }
        crate::helpers::skipped(
            "needs headless Chromium (apt-get install chromium chromium-driver)",
        );
        return None;
    };
    let port = free_port();
    let child = Command::new(driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().expect("profile dir");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "chromedriver did not start on port {port}");
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    .map(str::to_owned)
    .to_vec();
    args.push(format!(
        "--user-data-dir={}",
        driver._profile.path().display()
    ));
    args.extend_from_slice(extra_args);
    let caps = json!({
        "browserName": "chrome",
        // An alert must stay open so that the test sees it, instead of being dismissed by
        // the driver.
        "unhandledPromptBehavior": "ignore",
        "pageLoadStrategy": "normal",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": args,
        },
    });
    let mut caps = caps;
    if log_network {
        caps["goog:loggingPrefs"] = json!({ "performance": "ALL" });
    }
    let Value::Object(caps) = caps else {
        unreachable!("a JSON object")
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session with Chromium");
    Some((driver, client))
}

/// chromedriver's log of the pages' DevTools events (`goog:loggingPrefs` "performance"),
/// read and emptied by the legacy log endpoint, which fantoccini does not wrap.
#[derive(Debug)]
struct PerformanceLog;

impl fantoccini::wd::WebDriverCompatibleCommand for PerformanceLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (poem::http::Method, Option<String>) {
        (
            poem::http::Method::POST,
            Some(r#"{"type":"performance"}"#.to_owned()),
        )
    }
}

/// The URL of every request the pages made since the last call (documents, scripts, styles,
/// fetches, workers' scripts), as DevTools reported them; needs `log_network`.
pub(crate) async fn network_requests(client: &Client) -> Vec<String> {
    let entries = client
        .issue_cmd(PerformanceLog)
        .await
        .expect("chromedriver's performance log");
    entries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["message"].as_str())
        .filter_map(|message| serde_json::from_str::<Value>(message).ok())
        .filter(|event| {
            matches!(
                event["message"]["method"].as_str(),
                Some("Network.requestWillBeSent" | "Network.webSocketCreated")
            )
        })
        .filter_map(|event| {
            let params = &event["message"]["params"];
            params["request"]["url"]
                .as_str()
                .or(params["url"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

/// What a page must not contain, and which texts it must show. One script, one round trip:
/// `arguments[0]` the texts that must appear (as text or as a form field's value).
const INSPECT: &str = r#"
const expected = arguments[0];
const bad = [];
if (typeof window.__xss !== 'undefined') bad.push('window.__xss = ' + window.__xss);
const origin = location.origin;
const urlAttrs = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'background',
                  'poster', 'srcset', 'srcdoc', 'codebase', 'dynsrc', 'lowsrc', 'ping'];
for (const el of document.querySelectorAll('*')) {
  const tag = el.tagName.toLowerCase();
  if (['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base',
       'portal', 'template', 'noscript', 'xmp', 'plaintext'].includes(tag)) {
    bad.push('<' + tag + '> element');
  }
  if (tag === 'meta' && el.hasAttribute('http-equiv')) bad.push('<meta http-equiv>');
  if (el.closest('.prose') && ['svg', 'math', 'style', 'img', 'form', 'input', 'button',
       'video', 'audio', 'picture', 'source', 'table', 'details', 'marquee', 'link'].includes(tag)) {
    bad.push('<' + tag + '> in a message');
  }
  for (const a of el.attributes) {
    const name = a.name.toLowerCase();
    const value = a.value.replace(/[\u0000-\u0020]/g, '').toLowerCase();
    if (name.startsWith('on')) bad.push('<' + tag + ' ' + name + '>');
    if (name === 'style' && el.closest('.prose')) bad.push('<' + tag + ' style> in a message');
    if (urlAttrs.includes(name) && value !== '') {
      if (/^(javascript|vbscript|data|blob):/.test(value)) bad.push('<' + tag + ' ' + name + '=' + value + '>');
      // Links may point anywhere on the web (the sanitizer allows http(s) and mailto); any
      // other URL attribute loads something, and only this site may be loaded from.
      if (tag !== 'a') {
        let target = null;
        try { target = new URL(a.value, location.href); } catch (e) { target = null; }
        if (target && target.origin !== origin) bad.push('<' + tag + ' ' + name + '=' + a.value + '>');
      }
    }
  }
}
const text = document.body ? document.body.textContent : '';
const values = Array.from(document.querySelectorAll('input, textarea')).map(e => e.value);
const missing = expected.filter(s => !text.includes(s) && !values.includes(s));
const older = Array.from(document.querySelectorAll('a')).find(a => a.textContent.includes('Older'));
return { bad: bad, missing: missing, older: older ? older.getAttribute('href') : null };
"#;

struct Inspector {
    client: Client,
    canary: TinyServer,
    pages: usize,
    problems: Vec<String>,
}

impl Inspector {
    /// Opens `url` and records what is wrong with it. Returns the "Older →" link, if any.
    async fn check(&mut self, what: &str, url: &str, expected: &[String]) -> Option<String> {
        // An alert opened while loading fails the navigation; the inspection reports it.
        if let Err(e) = self.client.goto(url).await {
            self.problems
                .push(format!("{what}: navigation failed: {e}"));
        }
        self.inspect_current(what, expected).await
    }

    async fn inspect_current(&mut self, what: &str, expected: &[String]) -> Option<String> {
        self.pages += 1;
        let mut older = None;
        match self.client.execute(INSPECT, vec![json!(expected)]).await {
            Ok(result) => {
                for b in result["bad"].as_array().into_iter().flatten() {
                    self.problems
                        .push(format!("{what}: {}", b.as_str().unwrap_or("?")));
                }
                for m in result["missing"].as_array().into_iter().flatten() {
                    self.problems.push(format!(
                        "{what}: does not show {:?}",
                        m.as_str().unwrap_or("?")
                    ));
                }
                older = result["older"].as_str().map(str::to_owned);
            }
            Err(e) => self
                .problems
                .push(format!("{what}: inspection failed: {e}")),
        }
        // With prompts left alone, an open alert shows here (and made `execute` fail above).
        if let Ok(text) = self.client.get_alert_text().await {
            self.problems
                .push(format!("{what}: an alert is open: {text:?}"));
            let _ = self.client.dismiss_alert().await;
        }
        for hit in self.canary.take_hits() {
            self.problems
                .push(format!("{what}: the canary was called: {hit}"));
        }
        older
    }
}

/// The raw page the detector check loads: payload `n` pasted into HTML unescaped, without any
/// Content-Security-Policy — what a broken template would serve.
fn unsafe_page(path: &str) -> Option<String> {
    let raw = path.strip_prefix("/raw/")?;
    let payload = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    Some(format!(
        "<!doctype html><html><head><title>unsafe</title></head><body><div class=\"prose\">{payload}</div></body></html>"
    ))
}

fn raw_url(server: &TinyServer, payload: &str) -> String {
    format!(
        "http://{}/raw/{}",
        server.addr,
        percent_encoding::utf8_percent_encode(payload, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// The thread id behind a visitor's private-link token.
async fn thread_of(app: &TestApp, token: &str) -> uuid::Uuid {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let hash = sealpost::domain::ThreadToken::parse(token)
        .expect("token")
        .hash();
    sealpost::entities::threads::Entity::find()
        .filter(sealpost::entities::threads::Column::AccessTokenHash.eq(hash))
        .one(app.db())
        .await
        .expect("db")
        .expect("thread")
        .id
}

struct Submitted {
    n: usize,
    payload: String,
    form_token: String,
    form_thread: uuid::Uuid,
    api_token: String,
    api_thread: uuid::Uuid,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_payload_runs_script_or_loads_anything_in_any_page() {
    let started = Instant::now();
    let Some((_driver, client)) = start_browser(&[], false).await else {
        return;
    };
    let canary = TinyServer::start(|_| None).await;
    // The detector's payloads call a canary of their own: Chromium preconnects to origins it
    // loaded from before, and that must not count against the real pages.
    let detector_canary = TinyServer::start(|_| None).await;
    let unsafe_server = TinyServer::start(unsafe_page).await;
    let payloads = payloads(canary.addr);
    let detector_payloads = self::payloads(detector_canary.addr);
    assert!(
        payloads.len() >= 60,
        "the corpus has {} payloads",
        payloads.len()
    );
    for (i, p) in payloads.iter().enumerate() {
        assert!(
            p.chars().count() <= 100,
            "payload {} is longer than a name may be: {p}",
            i + 1
        );
    }
    let mut inspector = Inspector {
        client,
        canary: detector_canary,
        pages: 0,
        problems: Vec::new(),
    };

    // The detector first: the same payloads pasted raw into a page without CSP must be seen,
    // by each of the signals the real pages are checked for.
    let probe = |start: &str| {
        let i = detector_payloads
            .iter()
            .position(|p| p.starts_with(start))
            .unwrap_or_else(|| panic!("no payload starts with {start}"));
        (i + 1, detector_payloads[i].clone())
    };
    for (start, signal) in [
        ("<script>window.__xss=", "window.__xss = "),
        ("<img src=//", "the canary was called"),
        ("<img src=x onerror=", "<img onerror>"),
        ("<iframe src=//", "<iframe> element"),
        ("<meta http-equiv=refresh", "<meta http-equiv>"),
        ("<svg onload=", "<svg onload>"),
    ] {
        let (n, payload) = probe(start);
        let url = raw_url(&unsafe_server, &payload);
        inspector.check(&format!("raw {n}"), &url, &[]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        inspector
            .inspect_current(&format!("raw {n} again"), &[])
            .await;
        let seen = std::mem::take(&mut inspector.problems);
        assert!(
            seen.iter().any(|p| p.contains(signal)),
            "the detector misses payload {n} ({signal}) on an unsafe page; saw {seen:#?}"
        );
    }
    let alert = raw_url(&unsafe_server, "<script>alert('xss')</script>");
    inspector.check("raw alert", &alert, &[]).await;
    let seen = std::mem::take(&mut inspector.problems);
    assert!(
        seen.iter().any(|p| p.contains("an alert is open")),
        "the detector misses an alert; saw {seen:#?}"
    );
    let detector_canary = std::mem::replace(&mut inspector.canary, canary);
    drop(detector_canary);
    let detector_pages = inspector.pages;
    let detected = started.elapsed();

    // Arrange: every payload through the form and the API, a visitor reply and a staff answer.
    let app = spawn_app(Backend::Sqlite).await;
    let staff = app.signed_in("xss-admin", "admin").await;
    // Eight payloads at a time: the server handles them side by side as it would real visitors.
    let submit = |n: usize, payload: String| {
        let (app, staff) = (&app, &staff);
        async move {
            let email = format!("visitor{n}@example.org");
            let body = format!("B{n}f: {payload}");
            let fields: Vec<(&str, &str)> = valid_form()
                .into_iter()
                .map(|(k, v)| match k {
                    "name" | "subject" => (k, payload.as_str()),
                    "email" => (k, email.as_str()),
                    "body" => (k, body.as_str()),
                    _ => (k, v),
                })
                .collect();
            let resp = app.post_form(&fields).await;
            assert_eq!(resp.status(), 303, "the form takes payload {n}: {payload}");
            let form_token = location(&resp)
                .trim_start_matches("/sent/")
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            let resp = app
                .post_message(&json!({
                    "name": payload, "email": email, "subject": payload,
                    "body": format!("B{n}a: {payload}"), "consent": true
                }))
                .await;
            assert_eq!(resp.status(), 201, "the API takes payload {n}: {payload}");
            let created: Value = resp.json().await.expect("json");
            let api_token = created["thread_url"]
                .as_str()
                .and_then(|u| u.rsplit("/t/").next())
                .expect("thread url")
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            let api_thread: uuid::Uuid = created["thread_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("thread id");

            let reply = reqwest::multipart::Form::new().text("body", format!("V{n}: {payload}"));
            let resp = app
                .client
                .post(app.url(&format!("/t/{form_token}")))
                .multipart(reply)
                .send()
                .await
                .expect("request");
            assert_eq!(resp.status(), 303, "a visitor reply takes payload {n}");
            let resp = staff
                .post_multipart(
                    &format!("/staff/threads/{api_thread}/replies"),
                    &[("body", &format!("A{n}: {payload}"))],
                )
                .await;
            assert_eq!(resp.status(), 303, "a staff answer takes payload {n}");
            let resp = staff
                .post(
                    "/staff/admin/api-keys",
                    &[("name", payload.as_str()), ("role", "agent")],
                )
                .await;
            assert!(
                resp.status().is_success(),
                "an API key may be named {payload}"
            );
            Submitted {
                n,
                form_thread: thread_of(app, &form_token).await,
                payload,
                form_token,
                api_token,
                api_thread,
            }
        }
    };
    let mut threads: Vec<Submitted> = futures_util::stream::iter(
        payloads
            .iter()
            .enumerate()
            .map(|(i, p)| submit(i + 1, p.clone())),
    )
    .buffer_unordered(8)
    .collect()
    .await;
    threads.sort_by_key(|t| t.n);
    let arranged = started.elapsed();

    // The visitor's pages: the form sent back with the payload in every field (the consent box
    // left empty), the confirmation, the private thread page, the page to erase one's data.
    for t in &threads {
        let c = &inspector.client;
        c.goto(&app.url("/")).await.expect("form");
        c.execute(
            "for (const [k, v] of Object.entries(arguments[0])) document.getElementById(k).value = v;
             document.getElementById('consent').checked = false;
             document.querySelector('form.form').submit();",
            vec![json!({"name": t.payload, "subject": t.payload, "body": t.payload})],
        )
        .await
        .expect("fill the form");
        c.wait()
            .for_element(Locator::Css("#form-error"))
            .await
            .expect("refused");
        let expected = vec![t.payload.clone()];
        inspector
            .inspect_current(&format!("form sent back with payload {}", t.n), &expected)
            .await;
    }
    for t in threads.iter().take(3) {
        inspector
            .check(
                &format!("sent page of payload {}", t.n),
                &app.url(&format!("/sent/{}", t.form_token)),
                &[],
            )
            .await;
        inspector
            .check(
                &format!("erase page of payload {}", t.n),
                &app.url(&format!("/t/{}/erase", t.form_token)),
                &[],
            )
            .await;
    }
    for t in &threads {
        let n = t.n;
        inspector
            .check(
                &format!("visitor thread of payload {n} (form)"),
                &app.url(&format!("/t/{}", t.form_token)),
                &[t.payload.clone(), format!("B{n}f:"), format!("V{n}:")],
            )
            .await;
        inspector
            .check(
                &format!("visitor thread of payload {n} (API)"),
                &app.url(&format!("/t/{}", t.api_token)),
                &[t.payload.clone(), format!("B{n}a:"), format!("A{n}:")],
            )
            .await;
    }
    let visitor_pages = inspector.pages - detector_pages;

    // Staff: sign in through the real page, then the inbox (every page of it), a search for
    // each payload, every thread, and the administration page with the API keys' names.
    inspector
        .client
        .goto(&app.url("/staff/signin"))
        .await
        .expect("sign-in page");
    let form = inspector
        .client
        .form(Locator::Css("form.form"))
        .await
        .expect("sign-in form");
    form.set_by_name("login", "xss-admin")
        .await
        .expect("login")
        .set_by_name("password", STAFF_PASSWORD)
        .await
        .expect("password")
        .submit()
        .await
        .expect("sign in");
    let mut next = Some("/staff".to_owned());
    let mut inbox_pages = 0;
    while let Some(path) = next {
        inbox_pages += 1;
        assert!(inbox_pages < 50, "the inbox pages do not end");
        next = inspector
            .check(&format!("inbox {path}"), &app.url(&path), &[])
            .await;
    }
    assert!(
        inbox_pages >= threads.len() * 2 / 25,
        "only {inbox_pages} inbox pages seen: not signed in?"
    );
    for t in &threads {
        let q: String =
            percent_encoding::utf8_percent_encode(&t.payload, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        inspector
            .check(
                &format!("inbox search for payload {}", t.n),
                &app.url(&format!("/staff?q={q}")),
                std::slice::from_ref(&t.payload),
            )
            .await;
    }
    for t in &threads {
        let n = t.n;
        inspector
            .check(
                &format!("staff thread of payload {n} (form)"),
                &app.url(&format!("/staff/threads/{}", t.form_thread)),
                &[t.payload.clone(), format!("B{n}f:"), format!("V{n}:")],
            )
            .await;
        inspector
            .check(
                &format!("staff thread of payload {n} (API)"),
                &app.url(&format!("/staff/threads/{}", t.api_thread)),
                &[t.payload.clone(), format!("B{n}a:"), format!("A{n}:")],
            )
            .await;
    }
    let names: Vec<String> = threads.iter().map(|t| t.payload.clone()).collect();
    inspector
        .check("administration page", &app.url("/staff/admin"), &names)
        .await;

    // Late requests (an iframe or a fetch that starts after the load event) still count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    inspector.inspect_current("after all pages", &[]).await;
    let hits = inspector.canary.hits();
    let pages = inspector.pages - detector_pages;
    let elapsed = started.elapsed();
    eprintln!(
        "xss_browser: {} payloads, {pages} pages ({visitor_pages} visitor, {inbox_pages} inbox \
         lists); detector checked in {:.1} s, submissions made by {:.1} s, {:.1} s in all",
        threads.len(),
        detected.as_secs_f64(),
        arranged.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    let problems = std::mem::take(&mut inspector.problems);
    let _ = inspector.client.close().await;
    assert!(hits.is_empty(), "the canary was called: {hits:#?}");
    assert!(
        problems.is_empty(),
        "{} problems in the pages:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
