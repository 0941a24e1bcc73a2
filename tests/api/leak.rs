//! The promise the product exists for, end to end: one visitor's address and IP (the canaries)
//! go through every path that touches them — the form, the API with an idempotent replay, the
//! relay both ways over SMTP and HTTP, the staff pages and API, a disclosure request filed,
//! approved and executed, a legal hold, the visitor's export and erasure, an admin's erasure by
//! address — and then everything a non-visitor can see (every page and API answer, every mail
//! to staff, the log, the metrics) and the raw database are searched for them in every
//! encoding: plain in any case, quoted-printable, base64, URL-encoded, JSON-escaped and hex.
//! The disclosure package itself (the audited, court-ordered way out) and what the visitor
//! receives are the only places the address may be; the search is shown to find it there.

use base64::Engine;
use chrono::{Duration, Utc};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, StaffBrowser, TestApp, TestAppBuilder, captured_logs_since, header, location, log_mark,
};

/// Mixed case on purpose: a search that forgets case misses it.
const CANARY: &str = "Leak.Canary+7Q@Canary-Visitor.example";
const CANARY_IP: &str = "203.0.113.77";
const STAFF: &str = "staff@sealpost.localhost";
const INBOUND_TOKEN: &str = "leak-inbound-token";
const METRICS_TOKEN: &str = "leak-metrics-token";
const ORDER_PDF: &[u8] = b"%PDF-1.4 a scanned court order";

/// The canary written as bytes: plain and hex (searched in a lower-cased haystack), and base64
/// (case-sensitive).
struct Needles {
    folded: Vec<(&'static str, Vec<u8>)>,
    exact: Vec<(&'static str, Vec<u8>)>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The part of base64 of `value` that does not depend on what stands before or after it in
/// the encoded stream, for each of the three alignments.
fn base64_cores(value: &[u8]) -> Vec<Vec<u8>> {
    (0..3)
        .map(|k| {
            let mut padded = vec![0u8; k];
            padded.extend_from_slice(value);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&padded);
            let encoded = encoded.trim_end_matches('=');
            let skip = [0, 2, 3][k];
            encoded.as_bytes()[skip..encoded.len() - 4].to_vec()
        })
        .collect()
}

fn needles(canary: &str) -> Needles {
    let variants = [
        canary.to_owned(),
        canary.to_ascii_lowercase(),
        canary.to_ascii_uppercase(),
    ];
    let mut folded = vec![("plain", canary.to_ascii_lowercase().into_bytes())];
    let mut exact = Vec::new();
    for variant in &variants {
        folded.push(("hex", hex(variant.as_bytes()).into_bytes()));
        for core in base64_cores(variant.as_bytes()) {
            exact.push(("base64", core));
        }
    }
    Needles { folded, exact }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

/// `=XX` (quoted-printable, after its soft line breaks are joined) or `%XX` (URL-encoding)
/// turned into the byte it stands for.
fn unescape_hex(bytes: &[u8], mark: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == mark {
            if mark == b'=' && bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if mark == b'=' && bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            if let Some(byte) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// JSON's `\uXXXX` escapes turned into the characters they stand for.
fn json_unescape(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("\\u") {
        out.push_str(&rest[..at]);
        let code = rest
            .get(at + 2..at + 6)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32);
        match code {
            Some(c) => {
                out.push(c);
                rest = &rest[at + 6..];
            }
            None => {
                out.push_str("\\u");
                rest = &rest[at + 2..];
            }
        }
    }
    out.push_str(rest);
    out.into_bytes()
}

/// Everything a mail says, decoded: every text and HTML part, attachment and header value.
fn mail_decoded(raw: &[u8]) -> Vec<u8> {
    let Some(m) = mail_parser::MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut all = String::new();
    for i in 0..m.text_body_count() {
        all.push_str(&m.body_text(i).unwrap_or_default());
    }
    for i in 0..m.html_body_count() {
        all.push_str(&m.body_html(i).unwrap_or_default());
    }
    for part in m.attachments() {
        all.push_str(&String::from_utf8_lossy(part.contents()));
    }
    for h in m.headers() {
        all.push_str(&format!("{:?}\n", h.value()));
    }
    all.into_bytes()
}

/// In which encoding `canary` occurs in `haystack`, if it does.
fn found(haystack: &[u8], canary: &str) -> Option<&'static str> {
    let needles = needles(canary);
    let unwrapped: Vec<u8> = haystack
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    let forms: [(&'static str, Vec<u8>); 6] = [
        ("", haystack.to_vec()),
        ("quoted-printable", unescape_hex(haystack, b'=')),
        ("url-encoded", unescape_hex(haystack, b'%')),
        ("json-escaped", json_unescape(haystack)),
        ("mime-encoded", mail_decoded(haystack)),
        // Base64 in mail and logs may be wrapped.
        ("", unwrapped),
    ];
    for (form, bytes) in &forms {
        let folded = bytes.to_ascii_lowercase();
        for (name, needle) in &needles.folded {
            if contains(&folded, needle) {
                return Some(if form.is_empty() { name } else { form });
            }
        }
        for (name, needle) in &needles.exact {
            if contains(bytes, needle) {
                return Some(name);
            }
        }
    }
    None
}

/// What non-visitors saw, by where they saw it.
#[derive(Default)]
struct Seen(Vec<(String, Vec<u8>)>);

impl Seen {
    fn add(&mut self, label: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.push((label.into(), bytes.into()));
    }

    /// Reads a response whole: status line, headers and body.
    async fn response(&mut self, label: &str, resp: reqwest::Response) -> (u16, Vec<u8>) {
        let status = resp.status().as_u16();
        let mut head = format!("{status}\n");
        for (name, value) in resp.headers() {
            head.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or_default()));
        }
        let body = resp.bytes().await.expect("body").to_vec();
        let mut all = head.into_bytes();
        all.extend_from_slice(&body);
        self.add(label, all);
        (status, body)
    }

    async fn page(&mut self, browser: &StaffBrowser, path: &str) -> String {
        let (status, body) = self.response(path, browser.get(path).await).await;
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        String::from_utf8_lossy(&body).into_owned()
    }

    async fn api(
        &mut self,
        app: &TestApp,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, bytes) = self
            .response(
                &format!("{method} {path}"),
                request.send().await.expect("request"),
            )
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

async fn key(app: &TestApp, role: &str) -> String {
    sealpost::auth::api_key::create(
        app.db(),
        "system:test",
        &format!("{role} key"),
        sealpost::domain::Role::parse(role).expect("role"),
        None,
    )
    .await
    .expect("key")
    .key
}

fn alias_in(raw: &[u8]) -> String {
    header(raw, "Reply-To")
        .expect("Reply-To")
        .trim_matches(['<', '>', ' '])
        .to_owned()
}

async fn smtp(app: &TestApp, from: &str, to: &str, raw: &str) {
    let addr = app.smtp_addr.expect("listener");
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(addr.port())
        .build();
    let envelope = lettre::address::Envelope::new(
        Some(from.parse().expect("from")),
        vec![to.parse().expect("to")],
    )
    .expect("envelope");
    transport
        .send_raw(&envelope, raw.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
}

fn mail(from: &str, to: &str, text: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: x\r\nMessage-ID: <{}@client.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n",
        uuid::Uuid::now_v7().simple()
    )
}

fn private_path(thread_url: &str) -> String {
    let at = thread_url.find("/t/").expect("/t/");
    let path = &thread_url[at..];
    path.split(['?', '#']).next().unwrap_or(path).to_owned()
}

db_test!(the_visitor_address_and_ip_appear_nowhere_a_non_visitor_can_see);
async fn the_visitor_address_and_ip_appear_nowhere_a_non_visitor_can_see(backend: Backend) {
    // The log from here on: all this test makes the server log. (The suite's whole log, which
    // holds every other test's too, would make the search below take hours.)
    let log_from = log_mark();
    let app = TestAppBuilder::new(backend)
        .with_smtp_listener()
        .set("SEALPOST__MAIL__INBOUND__TOKEN", INBOUND_TOKEN)
        .set("SEALPOST__METRICS__TOKEN", METRICS_TOKEN)
        .set("SEALPOST__SERVER__TRUSTED_PROXIES", "127.0.0.1/32,::1/128")
        .spawn()
        .await;
    let mut seen = Seen::default();
    let mut visitor_only: Vec<(String, Vec<u8>)> = Vec::new();

    // The form, from the canary IP.
    let form = app
        .client
        .post(app.url("/"))
        .header("x-forwarded-for", CANARY_IP)
        .form(&[
            ("name", "Leak Visitor"),
            ("email", CANARY),
            ("subject", "Delivery"),
            ("body", "Where is parcel one?"),
            ("consent", "on"),
            ("policy_version", "2026-11-24"),
            ("lang", "en"),
            ("website", ""),
        ])
        .send()
        .await
        .expect("form");
    assert_eq!(form.status(), 303);
    let sent_page = location(&form);
    let sent = app
        .get(&sent_page)
        .await
        .bytes()
        .await
        .expect("page")
        .to_vec();
    let sent = String::from_utf8_lossy(&sent).into_owned();
    let form_thread = private_path(
        sent.split("href=\"")
            .find(|s| s.starts_with("/t/"))
            .and_then(|s| s.split('"').next())
            .expect("private link on the confirmation page"),
    );
    // The confirmation page is the visitor's, and holds their private link: not searched.
    visitor_only.push(("confirmation page".into(), sent.clone().into_bytes()));

    // The API, with an Idempotency-Key, and its replay.
    let submit = || {
        app.client
            .post(app.url("/api/v1/messages"))
            .header("x-forwarded-for", CANARY_IP)
            .header("idempotency-key", "leak-key-1")
            .json(&json!({
                "name": "Leak Visitor", "email": CANARY, "subject": "Refund",
                "body": "Where is parcel two?", "consent": true
            }))
            .send()
    };
    let first = submit().await.expect("api");
    assert_eq!(first.status(), 201);
    let created: Value = first.json().await.expect("json");
    let replayed = submit().await.expect("replay");
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    let replay: Value = replayed.json().await.expect("json");
    assert_eq!(replay, created, "the replay is the first answer");
    let api_thread = private_path(created["thread_url"].as_str().expect("thread_url"));
    let api_reference = created["reference"].as_str().expect("reference").to_owned();
    let mails = app.wait_for_emails(4).await;
    let notice_of = |subject: &str| {
        mails
            .iter()
            .find(|m| {
                header(m, "To").is_some_and(|t| t.contains(STAFF))
                    && header(m, "Subject").is_some_and(|s| s.contains(subject))
            })
            .expect("notification")
            .clone()
    };
    let ack_of = |subject: &str| {
        mails
            .iter()
            .find(|m| {
                !header(m, "To").is_some_and(|t| t.contains(STAFF))
                    && header(m, "Subject").is_some_and(|s| s.contains(subject))
            })
            .expect("acknowledgement")
            .clone()
    };
    let delivery = notice_of("Delivery");
    let (delivery_ack, refund_ack) = (ack_of("Delivery"), ack_of("Refund"));

    // The relay both ways: staff answer by mail; the visitor answers by mail over SMTP and
    // HTTP, writing their own address into the text.
    smtp(
        &app,
        STAFF,
        &alias_in(&delivery),
        &mail(STAFF, &alias_in(&delivery), "Parcel one left today."),
    )
    .await;
    smtp(
        &app,
        CANARY,
        &alias_in(&delivery_ack),
        &mail(
            &format!("Leak Visitor <{CANARY}>"),
            &alias_in(&delivery_ack),
            &format!(
                "Thanks! Write to me at {} or *{CANARY}*.",
                CANARY.to_uppercase()
            ),
        ),
    )
    .await;
    let inbound = app
        .client
        .post(app.url("/api/v1/inbound"))
        .bearer_auth(INBOUND_TOKEN)
        .query(&[
            ("recipient", alias_in(&refund_ack)),
            ("sender", CANARY.to_owned()),
        ])
        .header("content-type", "message/rfc822")
        .body(mail(
            CANARY,
            &alias_in(&refund_ack),
            &format!("mailto:{CANARY} please"),
        ))
        .send()
        .await
        .expect("inbound");
    seen.response("POST /api/v1/inbound", inbound).await;
    app.wait_for_outbox_idle().await;

    // Staff: the inbox, both threads, an answer from the page; the staff API.
    let agent = app.signed_in("leak-agent", "agent").await;
    let inbox = seen.page(&agent, "/staff").await;
    assert!(
        inbox.contains("Delivery") && inbox.contains("Refund"),
        "{inbox}"
    );
    let agent_key = key(&app, "agent").await;
    let (status, list) = seen
        .api(&app, Method::GET, "/api/v1/messages", &agent_key, None)
        .await;
    assert_eq!(status, 200);
    let ids: Vec<String> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["thread_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let page = seen.page(&agent, &format!("/staff/threads/{id}")).await;
        assert!(page.contains("Leak Visitor"), "the name is shown to staff");
        let (status, thread) = seen
            .api(
                &app,
                Method::GET,
                &format!("/api/v1/messages/{id}"),
                &agent_key,
                None,
            )
            .await;
        assert_eq!(status, 200, "{thread}");
    }
    let answered = agent
        .post_multipart(
            &format!("/staff/threads/{}/replies", ids[0]),
            &[("body", "Answered from the inbox.")],
        )
        .await;
    assert_eq!(answered.status(), 303);
    let (status, _) = seen
        .api(
            &app,
            Method::POST,
            &format!("/api/v1/messages/{}/replies", ids[1]),
            &agent_key,
            Some(json!({"body": "Answered over the API."})),
        )
        .await;
    assert_eq!(status, 201);

    // Legal: a request naming the address, approved by a second person, executed; a hold
    // placed by address and released.
    let lawyer = app.signed_in("leak-lawyer", "legal").await;
    let reviewer = app.signed_in("leak-reviewer", "legal").await;
    let legal_key = key(&app, "legal").await;
    let (status, filed) = seen
        .api(
            &app,
            Method::POST,
            "/api/v1/disclosures",
            &legal_key,
            Some(json!({
                "authority": "Regional Police Department", "court": null,
                "case_number": "KUSP-77/2026", "order_date": Utc::now().date_naive().to_string(),
                "instrument": "warrant",
                "categories": ["contact_data", "message_content", "technical_data"],
                "subjects": [CANARY], "deadline": (Utc::now() + Duration::days(10)).date_naive().to_string(),
                "gag_until": null,
                "order_copy": {"file_name": "warrant.pdf", "content_type": "application/pdf",
                    "content_base64": base64::engine::general_purpose::STANDARD.encode(ORDER_PDF)}
            })),
        )
        .await;
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/disclosures/{id}");
    let (status, _) = seen
        .api(
            &app,
            Method::POST,
            &format!("{path}/transitions"),
            &legal_key,
            Some(json!({"to": "under_review", "reason": "Checking."})),
        )
        .await;
    assert_eq!(status, 200);
    let approved = reviewer
        .client
        .post(reviewer.url(&format!("{path}/transitions")))
        .header("x-csrf-token", &reviewer.csrf)
        .json(&json!({"to": "approved", "reason": "Covered by the warrant."}))
        .send()
        .await
        .expect("approve");
    assert_eq!(seen.response("approve", approved).await.0, 200);
    let (status, executed) = seen
        .api(
            &app,
            Method::POST,
            &format!("{path}/execute"),
            &legal_key,
            None,
        )
        .await;
    assert_eq!(status, 200, "{executed}");
    let package = app
        .client
        .get(app.url(&format!("{path}/package")))
        .bearer_auth(&legal_key)
        .send()
        .await
        .expect("package");
    assert_eq!(package.status(), 200);
    let package = package.bytes().await.expect("zip").to_vec();
    for page in ["/staff/legal", &format!("/staff/legal/requests/{id}")] {
        seen.page(&lawyer, page).await;
    }
    seen.api(&app, Method::GET, &path, &legal_key, None).await;
    seen.api(&app, Method::GET, "/api/v1/disclosures", &legal_key, None)
        .await;
    let held = lawyer
        .post(
            "/staff/legal/holds",
            &[
                ("subject", CANARY),
                ("reason", "Preservation request 1/2026."),
            ],
        )
        .await;
    let (status, held_page) = seen.response("POST /staff/legal/holds", held).await;
    assert_eq!(status, 200);
    let held_page = String::from_utf8_lossy(&held_page);
    assert!(held_page.contains("Hold placed on"), "{held_page}");
    let (_, holds) = seen
        .api(&app, Method::GET, "/api/v1/legal-holds", &legal_key, None)
        .await;
    let hold = holds["items"][0]["id"].as_str().expect("hold").to_owned();
    let (status, _) = seen
        .api(
            &app,
            Method::POST,
            &format!("/api/v1/legal-holds/{hold}/release"),
            &legal_key,
            Some(json!({"reason": "Ended."})),
        )
        .await;
    assert_eq!(status, 204);

    // The visitor's export and erasure of the form conversation; an admin erases the rest by
    // address.
    let export = app.get(&format!("{form_thread}/export")).await;
    assert_eq!(export.status(), 200);
    visitor_only.push((
        "export".into(),
        export.bytes().await.expect("export").to_vec(),
    ));
    let erased = app
        .client
        .post(app.url(&format!("{form_thread}/erase")))
        .send()
        .await
        .expect("erase");
    visitor_only.push(("erase".into(), erased.bytes().await.expect("page").to_vec()));
    let admin = app.signed_in("leak-admin", "admin").await;
    for page in ["/staff/admin", "/staff/stats"] {
        seen.page(&admin, page).await;
    }
    let erased_by_admin = admin.post("/staff/admin/erase", &[("email", CANARY)]).await;
    let (status, _) = seen
        .response("POST /staff/admin/erase", erased_by_admin)
        .await;
    assert!(status == 200 || status == 303, "{status}");
    let _ = api_reference;

    // The rest a non-visitor sees: the audit log, the metrics, the log, every mail to staff.
    seen.api(
        &app,
        Method::GET,
        "/api/v1/audit?limit=500",
        &legal_key,
        None,
    )
    .await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("metrics");
    seen.response("GET /metrics", metrics).await;
    app.wait_for_outbox_idle().await;
    let mut staff_mails = 0;
    for raw in app.sent_emails() {
        if header(&raw, "To").is_some_and(|t| t.contains(STAFF)) {
            staff_mails += 1;
            seen.add(
                format!(
                    "mail to staff: {}",
                    header(&raw, "Subject").unwrap_or_default()
                ),
                raw,
            );
        } else {
            visitor_only.push(("mail to the visitor".into(), raw));
        }
    }
    let log = captured_logs_since(log_from);
    assert!(
        log.contains("/staff/admin/erase"),
        "the log searched is this test's own"
    );
    seen.add("the log", log.into_bytes());
    seen.add("the raw database", app.raw_database_bytes().await);

    // The search finds the canary where it must be, in every encoding it claims to read.
    let mut unzipped = Vec::new();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&package)).expect("zip");
    for i in 0..zip.len() {
        std::io::copy(&mut zip.by_index(i).expect("file"), &mut unzipped).expect("read");
    }
    assert_eq!(
        found(&unzipped, CANARY),
        Some("plain"),
        "the package discloses it"
    );
    let export = visitor_only
        .iter()
        .find(|(label, _)| label == "export")
        .map(|(_, bytes)| bytes)
        .expect("export");
    assert!(
        found(export, CANARY).is_some(),
        "the export holds it: {}",
        String::from_utf8_lossy(export)
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("x{CANARY}y"));
    let qp = format!("to {}=\r\n{}", &CANARY[..10], &CANARY[10..]).replace('@', "=40");
    for (encoded, as_what) in [
        (CANARY.to_uppercase(), "plain"),
        (
            CANARY.replace('@', "%40").replace('+', "%2B"),
            "url-encoded",
        ),
        (CANARY.replace('@', "\\u0040"), "json-escaped"),
        (hex(CANARY.as_bytes()).to_uppercase(), "hex"),
        (b64, "base64"),
        (qp, "quoted-printable"),
    ] {
        assert_eq!(
            found(format!("..{encoded}..").as_bytes(), CANARY),
            Some(as_what),
            "the search reads {as_what}: {encoded}"
        );
    }

    // And nowhere else.
    let mut leaks = Vec::new();
    let mut bytes = 0;
    // The private links are bearer secrets: no staff page, mail or log shows them, and the
    // database keeps only their hash.
    let tokens: Vec<String> = [&form_thread, &api_thread]
        .iter()
        .map(|p| p.trim_start_matches("/t/").to_owned())
        .collect();
    for (label, haystack) in &seen.0 {
        bytes += haystack.len();
        for canary in [CANARY, CANARY_IP, &tokens[0], &tokens[1]] {
            if let Some(how) = found(haystack, canary) {
                leaks.push(format!("{canary} ({how}) in {label}"));
            }
        }
    }
    println!(
        "leak search: {} places, {staff_mails} mails to staff, {bytes} bytes; {} leaks",
        seen.0.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "{leaks:#?}");
}
