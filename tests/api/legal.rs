//! The disclosure workflow of issue 5, through the pages and the API: intake, review, approval
//! by a second legal user, execution into a package that holds exactly the approved scope,
//! the notice to the data subject (held back by a gag order), legal holds, the transparency
//! report, and the audit trail of all of it. The visitor's address may appear in the package
//! and nowhere else.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use base64::Engine;
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sealpost::domain::Role;
use sealpost::entities::outbox;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    Backend, StaffBrowser, TestApp, TestAppBuilder, header, location, mail_mentions, spawn_app,
    text_body, valid_message, wait_for,
};

const VISITOR: &str = "anna.k@example.org";
const MESSAGE_TEXT: &str = "when will my order arrive?";
const ORDER_PDF: &[u8] = b"%PDF-1.4 a scanned court order";

fn today() -> String {
    Utc::now().date_naive().to_string()
}

fn days_ahead(days: i64) -> String {
    (Utc::now() + Duration::days(days)).date_naive().to_string()
}

/// A page or API body, after checking it does not show the visitor's address.
async fn text_without_address(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert!(
        !text.to_lowercase().contains(VISITOR),
        "a response shows the visitor's address: {text}"
    );
    (status, text)
}

async fn key(app: &TestApp, role: &str) -> String {
    sealpost::auth::api_key::create(
        app.db(),
        "system:test",
        &format!("{role} key"),
        Role::parse(role).expect("role"),
        None,
    )
    .await
    .expect("key")
    .key
}

/// Posts the visitor's message; returns its reference.
async fn visitor_writes(app: &TestApp) -> String {
    let resp = app.post_message(&valid_message()).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    body["reference"].as_str().expect("reference").to_owned()
}

/// Files a request through the intake form with the order copy attached.
async fn file_through_the_form(
    browser: &StaffBrowser,
    subjects: &str,
    categories: &[&str],
    gag_until: &str,
) -> reqwest::Response {
    let filing = Filing {
        subjects,
        categories,
        gag_until,
        ..Filing::default()
    };
    file(browser, filing).await
}

/// What the intake form is filled in with.
struct Filing<'a> {
    subjects: &'a str,
    categories: &'a [&'a str],
    gag_until: &'a str,
    case_number: &'a str,
    deadline: String,
    order_copy: Vec<u8>,
}

impl Default for Filing<'_> {
    fn default() -> Self {
        Self {
            subjects: "SP-2345-6789",
            categories: &["contact_data"],
            gag_until: "",
            case_number: "2-345/2026",
            deadline: days_ahead(14),
            order_copy: ORDER_PDF.to_vec(),
        }
    }
}

async fn file(browser: &StaffBrowser, filing: Filing<'_>) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", browser.csrf.clone())
        .text("authority", "District Prosecutor's Office")
        .text("court", "District Court No. 2")
        .text("case_number", filing.case_number.to_owned())
        .text("order_date", today())
        .text("instrument", "court_order")
        .text("subjects", filing.subjects.to_owned())
        .text("deadline", filing.deadline)
        .text("gag_until", filing.gag_until.to_owned());
    for c in filing.categories {
        form = form.text("categories", c.to_string());
    }
    let file = reqwest::multipart::Part::bytes(filing.order_copy)
        .file_name("order.pdf")
        .mime_str("application/pdf")
        .expect("mime");
    form = form.part("order_copy", file);
    browser
        .client
        .post(browser.url("/staff/legal/requests"))
        .multipart(form)
        .send()
        .await
        .expect("request")
}

/// The files of a ZIP by path.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).expect("a ZIP");
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("entry");
        let mut content = Vec::new();
        file.read_to_end(&mut content).expect("read");
        files.insert(file.name().expect("a name").to_string(), content);
    }
    files
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that the manifest lists every other file with its right SHA-256, and nothing else.
fn assert_manifest_matches(files: &BTreeMap<String, Vec<u8>>) -> Value {
    let manifest: Value =
        serde_json::from_slice(files.get("manifest.json").expect("manifest")).expect("json");
    let listed = manifest["files"].as_array().expect("files");
    assert_eq!(listed.len(), files.len() - 1, "{manifest}");
    for entry in listed {
        let path = entry["path"].as_str().expect("path");
        let content = files.get(path).unwrap_or_else(|| panic!("{path} missing"));
        assert_eq!(entry["sha256"], hex(&Sha256::digest(content)), "{path}");
        assert_eq!(entry["size"], content.len());
    }
    manifest
}

async fn audit_actions(app: &TestApp) -> Vec<sealpost::audit::ListedEntry> {
    sealpost::audit::list(app.db(), 0, 10_000)
        .await
        .expect("audit")
}

fn subject_ids(page: &str) -> Vec<String> {
    page.match_indices("id=\"as-")
        .map(|(at, m)| page[at + m.len()..at + m.len() + 36].to_owned())
        .collect()
}

db_test!(the_whole_workflow_runs_from_the_pages);
async fn the_whole_workflow_runs_from_the_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let reference = visitor_writes(&app).await;
    let first = app.signed_in("lawyer-one", "legal").await;
    let second = app.signed_in("lawyer-two", "legal").await;

    // Intake: the subject is the visitor's exact address; contact data and messages are asked for.
    let (status, form) = text_without_address(first.get("/staff/legal/new").await).await;
    assert_eq!(status, 200);
    assert!(form.contains("Copy of the order"));
    let filed =
        file_through_the_form(&first, VISITOR, &["contact_data", "message_content"], "").await;
    assert_eq!(filed.status(), 303);
    let page_path = location(&filed).trim_end_matches("?done=filed").to_owned();
    assert!(
        page_path.starts_with("/staff/legal/requests/") && !page_path.contains('?'),
        "{page_path}"
    );
    let (_, page) = text_without_address(first.get(&page_path).await).await;
    assert!(page.contains("a…@example.org"), "the subject shows masked");
    assert!(
        page.contains(&reference),
        "the matching conversation is named"
    );
    let (_, list) = text_without_address(first.get("/staff/legal").await).await;
    assert!(list.contains("2-345/2026"));

    // Review, then the filer's own approval is refused.
    let review = first
        .post(
            &format!("{page_path}/transitions"),
            &[
                ("to", "under_review"),
                ("reason", "Order received by post; checking."),
            ],
        )
        .await;
    assert_eq!(review.status(), 303);
    let (_, page) = text_without_address(first.get(&page_path).await).await;
    assert!(page.contains("You filed this request"));
    let own = first
        .post(
            &format!("{page_path}/transitions"),
            &[
                ("to", "approved"),
                ("reason", "Looks fine."),
                ("categories", "contact_data"),
            ],
        )
        .await;
    assert_eq!(own.status(), 403);
    let (_, refused) = text_without_address(own).await;
    assert!(
        refused.contains("other than the one who filed it"),
        "{refused}"
    );

    // The second legal user approves contact data only.
    let (_, page) = text_without_address(second.get(&page_path).await).await;
    let subjects = subject_ids(&page);
    assert_eq!(subjects.len(), 1);
    let approve = second
        .post(
            &format!("{page_path}/transitions"),
            &[
                ("to", "approved"),
                ("reason", "The order covers contact data only."),
                ("categories", "contact_data"),
                ("subjects", subjects[0].as_str()),
            ],
        )
        .await;
    assert_eq!(approve.status(), 303);

    // Execution, once.
    let executed = second.post(&format!("{page_path}/execute"), &[]).await;
    assert_eq!(executed.status(), 303);
    assert_eq!(location(&executed), format!("{page_path}?done=executed"));
    let (status, page) = text_without_address(second.get(&location(&executed)).await).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Executed: the export package is built."));
    let again = second.post(&format!("{page_path}/execute"), &[]).await;
    let (status, page) = text_without_address(again).await;
    assert_eq!(status, 409);
    assert!(page.contains("executed already"), "{page}");

    // The package holds the address, name and IP, and no message text.
    let download = second.get(&format!("{page_path}/package")).await;
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-type"].to_str().unwrap(),
        "application/zip"
    );
    let bytes = download.bytes().await.expect("zip");
    let files = unzip(&bytes);
    let manifest = assert_manifest_matches(&files);
    let contact_path = format!("threads/{reference}/contact_data.json");
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        vec!["manifest.json".to_owned(), contact_path.clone()]
    );
    let contact: Value = serde_json::from_slice(&files[&contact_path]).expect("json");
    assert_eq!(contact["email"], VISITOR);
    assert_eq!(contact["name"], "Anna Karenina");
    assert!(contact["ip"].is_string());
    let everything = String::from_utf8_lossy(&bytes).to_string()
        + &files
            .values()
            .map(|f| String::from_utf8_lossy(f).to_string())
            .collect::<String>();
    assert!(!everything.contains(MESSAGE_TEXT), "no message text");
    assert_eq!(manifest["scope"]["categories"], json!(["contact_data"]));
    assert_eq!(
        manifest["request"]["requested_categories"],
        json!(["contact_data", "message_content"])
    );
    assert_eq!(
        manifest["approvals"].as_array().expect("approvals").len(),
        1
    );
    assert_eq!(
        manifest["request"]["order_copy"]["sha256"],
        hex(&Sha256::digest(ORDER_PDF))
    );
    // The order copy comes back as it was uploaded.
    let order = second.get(&format!("{page_path}/order")).await;
    assert_eq!(order.bytes().await.expect("order").as_ref(), ORDER_PDF);

    // The visitor is told, without the names of the staff involved.
    let mails = app.wait_for_emails(3).await;
    let notice = mails
        .iter()
        .find(|m| mail_mentions(m, "was disclosed"))
        .expect("a disclosure notice");
    assert!(mail_mentions(notice, "District Prosecutor's Office"));
    assert!(!mail_mentions(notice, "lawyer-one") && !mail_mentions(notice, "lawyer-two"));

    // Every step is in the chain, the chain holds, and it never names the address.
    let entries = audit_actions(&app).await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "disclosure.received",
        "disclosure.state_changed",
        "disclosure.executed",
        "disclosure.package_downloaded",
        "disclosure.order_downloaded",
    ] {
        assert!(actions.contains(&action), "{action} missing in {actions:?}");
    }
    let unsealed = entries
        .iter()
        .find(|e| e.action == "contact.unsealed" && e.details["purpose"] == "disclosure")
        .expect("the unsealing is audited");
    assert_eq!(unsealed.details["fields"], json!(["email", "name", "ip"]));
    app.assert_audit_never_mentions(&[VISITOR, "Anna Karenina"])
        .await;
    assert!(sealpost::audit::verify(app.db()).await.unwrap().ok());
}

async fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let (status, text) = text_without_address(request.send().await.expect("request")).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A cookie-authenticated API call, as the pages' JavaScript would make it.
async fn as_person(browser: &StaffBrowser, path: &str, body: &Value) -> (u16, Value) {
    let resp = browser
        .client
        .post(browser.url(path))
        .header("x-csrf-token", &browser.csrf)
        .json(body)
        .send()
        .await
        .expect("request");
    let (status, text) = text_without_address(resp).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn new_request(subjects: Value, categories: Value, gag_until: Value) -> Value {
    json!({
        "authority": "Regional Police Department",
        "court": null,
        "case_number": "KUSP-77/2026",
        "order_date": today(),
        "instrument": "warrant",
        "categories": categories,
        "subjects": subjects,
        "deadline": days_ahead(10),
        "gag_until": gag_until,
        "order_copy": {
            "file_name": "warrant.pdf",
            "content_type": "application/pdf",
            "content_base64": base64::engine::general_purpose::STANDARD.encode(ORDER_PDF),
        }
    })
}

db_test!(the_whole_workflow_runs_from_the_api_and_a_gagged_notice_waits_for_its_date);
async fn the_whole_workflow_runs_from_the_api_and_a_gagged_notice_waits_for_its_date(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let reference = visitor_writes(&app).await;
    app.wait_for_emails(2).await;
    let filer = key(&app, "legal").await;
    let reviewer = app.signed_in("lawyer-two", "legal").await;
    use reqwest::Method;

    // Every refused field is named.
    let (status, problem) = api(
        &app,
        Method::POST,
        "/api/v1/disclosures",
        &filer,
        Some(json!({
            "authority": "", "case_number": "x", "order_date": "yesterday", "instrument": "letter",
            "categories": [], "subjects": ["nobody"], "deadline": today(), "gag_until": "2001-01-01",
            "order_copy": {"file_name": "a.pdf", "content_base64": "%%%"}
        })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "authority",
        "order_date",
        "instrument",
        "categories",
        "subjects",
        "gag_until",
        "order_copy",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }

    // Filed with a gag order: the reference is the subject, everything is asked for.
    let gag = days_ahead(30);
    let (status, filed) = api(
        &app,
        Method::POST,
        "/api/v1/disclosures",
        &filer,
        Some(new_request(
            json!([reference]),
            json!(["contact_data", "message_content", "technical_data"]),
            json!(gag),
        )),
    )
    .await;
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_str().expect("id").to_owned();
    assert_eq!(filed["state"], "received");
    assert_eq!(filed["subjects"][0]["matches"], json!([reference]));
    let path = format!("/api/v1/disclosures/{id}");

    // Not approved yet: nothing to execute or download.
    let (status, _) = api(&app, Method::POST, &format!("{path}/execute"), &filer, None).await;
    assert_eq!(status, 409);
    let (status, _) = api(&app, Method::GET, &format!("{path}/package"), &filer, None).await;
    assert_eq!(status, 409);
    // Approving straight from `received` skips the review.
    let (status, _) = as_person(
        &reviewer,
        &format!("{path}/transitions"),
        &json!({"to": "approved", "reason": "ok"}),
    )
    .await;
    assert_eq!(status, 409);

    let (status, moved) = api(
        &app,
        Method::POST,
        &format!("{path}/transitions"),
        &filer,
        Some(json!({"to": "under_review", "reason": "Checking the warrant."})),
    )
    .await;
    assert_eq!(
        (status, moved["state"].as_str()),
        (200, Some("under_review"))
    );
    // A reason is required; an API key cannot approve.
    let (status, _) = api(
        &app,
        Method::POST,
        &format!("{path}/transitions"),
        &filer,
        Some(json!({"to": "approved", "reason": " "})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = api(
        &app,
        Method::POST,
        &format!("{path}/transitions"),
        &filer,
        Some(json!({"to": "approved", "reason": "Fine."})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, approved) = as_person(
        &reviewer,
        &format!("{path}/transitions"),
        &json!({"to": "approved", "reason": "The warrant covers everything asked."}),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["approved_categories"].as_array().unwrap().len(), 3);

    let (status, execution) =
        api(&app, Method::POST, &format!("{path}/execute"), &filer, None).await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["notices"], 1);
    assert!(execution["notices_held_until"].is_string());
    let (status, _) = api(&app, Method::POST, &format!("{path}/execute"), &filer, None).await;
    assert_eq!(status, 409, "executing twice is refused");

    // The package: all three categories for the one conversation.
    let download = app
        .client
        .get(app.url(&format!("{path}/package")))
        .bearer_auth(&filer)
        .send()
        .await
        .expect("request");
    assert_eq!(download.status(), 200);
    let files = unzip(&download.bytes().await.expect("zip"));
    assert_manifest_matches(&files);
    let messages: Value =
        serde_json::from_slice(&files[&format!("threads/{reference}/message_content.json")])
            .expect("json");
    assert!(messages.to_string().contains(MESSAGE_TEXT));
    let technical: Value =
        serde_json::from_slice(&files[&format!("threads/{reference}/technical_data.json")])
            .expect("json");
    assert_eq!(technical["locale"], "en");
    assert!(technical["ip"].is_string());
    let contact: Value =
        serde_json::from_slice(&files[&format!("threads/{reference}/contact_data.json")])
            .expect("json");
    assert_eq!(contact["email"], VISITOR);

    // The notice waits: the worker passes it by, and even an operator's retry does not free it.
    let notice = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("disclosure_notice"))
        .one(app.db())
        .await
        .unwrap()
        .expect("a notice is queued");
    assert_eq!(notice.state, "pending");
    assert!(notice.not_before.expect("held") > Utc::now() + Duration::days(29));
    sealpost::outbox::retry(app.db(), sealpost::outbox::RetryWhich::One(notice.id))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(app.sent_emails().len(), 2, "no notice before the gag ends");
    let still = outbox::Entity::find_by_id(notice.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.state, "pending");
    assert_eq!(still.attempts, 0);

    // The gag ends (its date is moved into the past, and the mail's age with it): the notice goes.
    let past = (Utc::now() - Duration::hours(100)).fixed_offset();
    outbox::Entity::update_many()
        .col_expr(outbox::Column::NotBefore, Expr::value(Some(past)))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(past))
        .col_expr(outbox::Column::CreatedAt, Expr::value(past))
        .filter(outbox::Column::Id.eq(notice.id))
        .exec(app.db())
        .await
        .unwrap();
    app.state.outbox_wakeup.notify_one();
    let mails = wait_for(|| {
        let mails = app.sent_emails();
        (mails.len() >= 3).then_some(mails)
    })
    .await
    .expect("the notice is sent after the gag");
    assert!(mail_mentions(&mails[2], "was disclosed"));
    assert!(mail_mentions(&mails[2], &reference));

    // Reading the request and listing requests never shows the address (checked in `api`).
    let (status, detail) = api(&app, Method::GET, &path, &filer, None).await;
    assert_eq!(status, 200);
    assert_eq!(detail["state"], "executed");
    assert_eq!(detail["history"].as_array().unwrap().len(), 4);
    let (status, list) = api(&app, Method::GET, "/api/v1/disclosures", &filer, None).await;
    assert_eq!((status, list["items"].as_array().unwrap().len()), (200, 1));
    let (status, _) = api(&app, Method::GET, "/api/v1/audit?limit=500", &filer, None).await;
    assert_eq!(status, 200);
    assert!(sealpost::audit::verify(app.db()).await.unwrap().ok());
}

db_test!(a_single_legal_user_cannot_approve_their_own_request);
async fn a_single_legal_user_cannot_approve_their_own_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let reference = visitor_writes(&app).await;
    let alone = app.signed_in("lone-lawyer", "legal").await;
    let (status, filed) = as_person(
        &alone,
        "/api/v1/disclosures",
        &new_request(json!([reference]), json!(["contact_data"]), Value::Null),
    )
    .await;
    assert_eq!(status, 201, "{filed}");
    let path = format!(
        "/api/v1/disclosures/{}/transitions",
        filed["id"].as_str().unwrap()
    );
    let (status, _) = as_person(
        &alone,
        &path,
        &json!({"to": "under_review", "reason": "Reviewing."}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, problem) =
        as_person(&alone, &path, &json!({"to": "approved", "reason": "Mine."})).await;
    assert_eq!(status, 403);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("other than the one who filed it"),
        "{problem}"
    );
    let state: Value = alone
        .get(&format!(
            "/api/v1/disclosures/{}",
            filed["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["state"], "under_review");
    assert!(sealpost::audit::verify(app.db()).await.unwrap().ok());
}

db_test!(agents_and_admins_cannot_open_the_legal_pages_or_api);
async fn agents_and_admins_cannot_open_the_legal_pages_or_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.signed_in("an-agent", "agent").await;
    let admin = app.signed_in("an-admin", "admin").await;
    for browser in [&agent, &admin] {
        for path in ["/staff/legal", "/staff/legal/new", "/staff/legal/holds"] {
            assert_eq!(browser.get(path).await.status(), 403, "{path}");
        }
        let filed = file_through_the_form(browser, "SP-2345-6789", &["contact_data"], "").await;
        assert_eq!(filed.status(), 403);
    }
    let agent_key = key(&app, "agent").await;
    for path in ["/api/v1/disclosures", "/api/v1/legal-holds"] {
        let (status, _) = api(&app, reqwest::Method::GET, path, &agent_key, None).await;
        assert_eq!(status, 403, "{path}");
    }
    let (status, _) = api(
        &app,
        reqwest::Method::POST,
        "/api/v1/disclosures",
        &agent_key,
        Some(new_request(
            json!(["SP-2345-6789"]),
            json!(["contact_data"]),
            Value::Null,
        )),
    )
    .await;
    assert_eq!(status, 403);
    // The legal page is not in their navigation either.
    let (_, inbox) = text_without_address(agent.get("/staff").await).await;
    assert!(!inbox.contains("/staff/legal"));
}

db_test!(a_placed_hold_counts_its_conversations_in_words);
async fn a_placed_hold_counts_its_conversations_in_words(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__RATE_LIMIT__ENABLED", "false")
        .spawn()
        .await;
    let lawyer = app.signed_in("plural-lawyer", "legal").await;
    for (address, conversations, sentence) in [
        ("one@example.org", 1, "Hold placed on 1 conversation."),
        ("two@example.org", 2, "Hold placed on 2 conversations."),
        ("five@example.org", 5, "Hold placed on 5 conversations."),
    ] {
        for _ in 0..conversations {
            let mut msg = valid_message();
            msg["email"] = json!(address);
            assert_eq!(app.post_message(&msg).await.status(), 201);
        }
        let placed = lawyer
            .post(
                "/staff/legal/holds",
                &[("subject", address), ("reason", "Preservation request.")],
            )
            .await;
        assert_eq!(placed.status(), 200);
        let page = placed.text().await.expect("page");
        assert!(page.contains(sentence), "{sentence}: {page}");
        assert!(!page.contains("conversation(s)"), "{page}");
    }
}

db_test!(legal_holds_are_placed_and_released_with_reasons_and_audited);
async fn legal_holds_are_placed_and_released_with_reasons_and_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let reference = visitor_writes(&app).await;
    let lawyer = app.signed_in("hold-lawyer", "legal").await;
    let thread = sealpost::entities::threads::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(!sealpost::legal::is_held(app.db(), thread.id).await.unwrap());

    // No reason, no hold.
    let refused = lawyer
        .post(
            "/staff/legal/holds",
            &[("subject", reference.as_str()), ("reason", "")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    // By the visitor's address, from the page: every thread of that address is held.
    let placed = lawyer
        .post(
            "/staff/legal/holds",
            &[
                ("subject", VISITOR),
                ("reason", "Preservation request 12/2026."),
            ],
        )
        .await;
    let (status, page) = text_without_address(placed).await;
    assert_eq!(status, 200);
    assert!(page.contains("Hold placed on 1 conversation"), "{page}");
    assert!(page.contains(&reference));
    assert!(sealpost::legal::is_held(app.db(), thread.id).await.unwrap());
    let contact = thread.contact_id.expect("contact");
    assert!(
        sealpost::legal::is_contact_held(app.db(), contact)
            .await
            .unwrap()
    );

    // Released over the API, with a reason; releasing twice is a conflict.
    let legal_key = key(&app, "legal").await;
    let (status, holds) = api(
        &app,
        reqwest::Method::GET,
        "/api/v1/legal-holds",
        &legal_key,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let hold_id = holds["items"][0]["id"].as_str().unwrap().to_owned();
    let release = format!("/api/v1/legal-holds/{hold_id}/release");
    let (status, _) = api(
        &app,
        reqwest::Method::POST,
        &release,
        &legal_key,
        Some(json!({"reason": "The proceedings ended."})),
    )
    .await;
    assert_eq!(status, 204);
    assert!(!sealpost::legal::is_held(app.db(), thread.id).await.unwrap());
    let (status, _) = api(
        &app,
        reqwest::Method::POST,
        &release,
        &legal_key,
        Some(json!({"reason": "Again."})),
    )
    .await;
    assert_eq!(status, 409);
    // Placed again over the API, by reference.
    let (status, placed) = api(
        &app,
        reqwest::Method::POST,
        "/api/v1/legal-holds",
        &legal_key,
        Some(json!({"subject": reference, "reason": "New order."})),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    assert!(sealpost::legal::is_held(app.db(), thread.id).await.unwrap());

    let actions: Vec<String> = audit_actions(&app)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "legal_hold.placed").count(),
        2
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "legal_hold.released")
            .count(),
        1
    );
    assert!(sealpost::audit::verify(app.db()).await.unwrap().ok());
}

db_test!(the_transparency_report_hides_counts_under_the_threshold);
async fn the_transparency_report_hides_counts_under_the_threshold(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__LEGAL__TRANSPARENCY_THRESHOLD", "2")
        .spawn()
        .await;
    let empty: Value = app.get("/api/v1/transparency").await.json().await.unwrap();
    assert_eq!(empty, json!({"threshold": 2, "periods": []}));

    let reference = visitor_writes(&app).await;
    let filer = key(&app, "legal").await;
    for _ in 0..2 {
        let (status, _) = api(
            &app,
            reqwest::Method::POST,
            "/api/v1/disclosures",
            &filer,
            Some(new_request(
                json!([reference]),
                json!(["contact_data"]),
                Value::Null,
            )),
        )
        .await;
        assert_eq!(status, 201);
    }
    // One request on another basis: a count of one, below the threshold.
    let mut subpoena = new_request(json!([reference]), json!(["contact_data"]), Value::Null);
    subpoena["instrument"] = "subpoena".into();
    let (status, _) = api(
        &app,
        reqwest::Method::POST,
        "/api/v1/disclosures",
        &filer,
        Some(subpoena),
    )
    .await;
    assert_eq!(status, 201);
    let report: Value = app.get("/api/v1/transparency").await.json().await.unwrap();
    let period = &report["periods"][0];
    let now = Utc::now();
    let half = if chrono::Datelike::month(&now) <= 6 {
        1
    } else {
        2
    };
    assert_eq!(
        period["period"],
        format!("{}-H{half}", chrono::Datelike::year(&now))
    );
    assert_eq!(period["received"], json!({"count": 3, "fewer_than": null}));
    assert_eq!(
        period["by_instrument"]["warrant"],
        json!({"count": 2, "fewer_than": null})
    );
    assert_eq!(
        period["by_instrument"]["subpoena"],
        json!({"count": null, "fewer_than": 2})
    );
    assert_eq!(
        period["outcomes"]["pending"],
        json!({"count": 3, "fewer_than": null})
    );
    // Zero singles out nobody: it is published as 0, not as "fewer than".
    assert_eq!(
        period["by_instrument"]["court_order"],
        json!({"count": 0, "fewer_than": null})
    );
    assert_eq!(
        period["outcomes"]["rejected"],
        json!({"count": 0, "fewer_than": null})
    );
    assert_eq!(
        period["subjects_affected"],
        json!({"count": 0, "fewer_than": null})
    );

    // The page says the same, in the visitor's language.
    let page = app.get("/transparency").await.text().await.unwrap();
    assert!(page.contains("Transparency report"));
    assert!(page.contains("fewer than 2"));
    assert_eq!(
        page.matches("<td>fewer than").count(),
        1,
        "only the one subpoena is hidden: {page}"
    );
    assert!(page.contains("<td>0</td>"), "{page}");
    assert!(page.contains(&format!("{}-H{half}", chrono::Datelike::year(&now))));
    let russian = app.get("/transparency?lang=ru").await.text().await.unwrap();
    assert!(russian.contains("Отчёт о прозрачности"));
    assert!(russian.contains("меньше 2"));
    assert!(russian.contains("<td>0</td>"));
    // Linked from every public page.
    let form = app.get("/").await.text().await.unwrap();
    assert!(form.contains("href=\"/transparency"));
}

/// The legal users' own addresses, which the site answers from (`mail.staff_addresses`).
const LAWYER_ONE: &str = "lawyer-one@legal.example";
const LAWYER_TWO: &str = "lawyer-two@legal.example";
const AN_AGENT: &str = "agent@legal.example";
const LAWYER_FOUR_OWN: &str = "lawyer-four@home.example";

async fn app_with_staff_addresses(backend: Backend) -> TestApp {
    TestAppBuilder::new(backend)
        .set(
            "SEALPOST__MAIL__STAFF_ADDRESSES",
            &format!("{LAWYER_ONE},{LAWYER_TWO},{AN_AGENT}"),
        )
        .spawn()
        .await
}

/// Signs a staff member in and saves their own mail address on the account page.
async fn signed_in_with_address(
    app: &TestApp,
    login: &str,
    role: &str,
    address: &str,
) -> StaffBrowser {
    let browser = app.signed_in(login, role).await;
    let saved = browser
        .post(
            "/staff/account/mail",
            &[("mail_address", address), ("mail_signature", "")],
        )
        .await;
    assert_eq!(saved.status(), 303, "the address of {login} is saved");
    browser
}

/// The request's page path from the intake's answer, which is `<page>?done=filed`.
fn page_of(filed: &reqwest::Response) -> String {
    assert_eq!(filed.status(), 303);
    let to = location(filed);
    let page = to
        .strip_suffix("?done=filed")
        .unwrap_or_else(|| panic!("{to}"));
    page.to_owned()
}

/// Posts a decision and checks the answer is a 303 to the page saying what was done.
async fn decide(browser: &StaffBrowser, page: &str, fields: &[(&str, &str)]) -> String {
    let to = fields.iter().find(|(k, _)| *k == "to").expect("to").1;
    let resp = browser.post(&format!("{page}/transitions"), fields).await;
    assert_eq!(resp.status(), 303, "{to}");
    assert_eq!(location(&resp), format!("{page}?done={to}"));
    let (status, shown) = text_without_address(browser.get(&location(&resp)).await).await;
    assert_eq!(status, 200);
    shown
}

/// The text of the page's `role="status"` notice, if it has one.
fn notice_of(page: &str) -> Option<String> {
    let at =
        page.find("class=\"notice\" role=\"status\">")? + "class=\"notice\" role=\"status\">".len();
    Some(page[at..at + page[at..].find('<')?].to_owned())
}

/// The `to` values of the decision block's buttons, and whether it offers execution.
fn offered(page: &str) -> (Vec<String>, bool) {
    let moves = page
        .match_indices("name=\"to\" value=\"")
        .map(|(at, m)| {
            let rest = &page[at + m.len()..];
            rest[..rest.find('"').expect("quote")].to_owned()
        })
        .collect();
    (moves, page.contains("/execute\" formnovalidate"))
}

db_test!(every_action_on_the_request_page_answers_303_to_the_page_with_a_notice);
async fn every_action_on_the_request_page_answers_303_to_the_page_with_a_notice(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.signed_in("lawyer-one", "legal").await;
    let second = app.signed_in("lawyer-two", "legal").await;

    let page = page_of(&file(&first, Filing::default()).await);
    let (_, filed) = text_without_address(first.get(&format!("{page}?done=filed")).await).await;
    assert!(
        notice_of(&filed).is_some_and(|n| n.starts_with("Filed.")),
        "{filed}"
    );
    assert!(filed.contains("Filed by lawyer-one on"), "who filed it");
    assert_eq!(
        offered(&filed),
        (vec!["under_review".into(), "withdrawn".into()], false)
    );

    let reviewing = decide(
        &first,
        &page,
        &[("to", "under_review"), ("reason", "Checking.")],
    )
    .await;
    assert_eq!(notice_of(&reviewing).as_deref(), Some("Review started."));
    // The filer is not offered the approval, and is told who must give it.
    assert_eq!(
        offered(&reviewing),
        (vec!["rejected".into(), "withdrawn".into()], false)
    );
    assert!(
        reviewing.contains("a second legal user must approve it: lawyer-two."),
        "{reviewing}"
    );
    let (_, theirs) = text_without_address(second.get(&page).await).await;
    assert_eq!(notice_of(&theirs), None, "a plain view has no notice");
    assert_eq!(
        offered(&theirs),
        (
            vec!["approved".into(), "rejected".into(), "withdrawn".into()],
            false
        )
    );
    assert!(theirs.contains("approved by a legal user other than lawyer-one: lawyer-two."));

    let subjects = subject_ids(&theirs);
    let approved = decide(
        &second,
        &page,
        &[
            ("to", "approved"),
            ("reason", "In scope."),
            ("categories", "contact_data"),
            ("subjects", subjects[0].as_str()),
        ],
    )
    .await;
    assert_eq!(
        notice_of(&approved).as_deref(),
        Some("Approved. The request can now be executed.")
    );
    assert_eq!(offered(&approved), (vec!["withdrawn".into()], true));
    assert!(approved.contains("Approved by lawyer-two on"));

    let executed = second.post(&format!("{page}/execute"), &[]).await;
    assert_eq!(executed.status(), 303);
    assert_eq!(location(&executed), format!("{page}?done=executed"));
    // Reloading the page after the action shows it again and repeats nothing.
    for _ in 0..2 {
        let (status, shown) = text_without_address(second.get(&location(&executed)).await).await;
        assert_eq!(status, 200);
        assert!(
            notice_of(&shown)
                .is_some_and(|n| n.starts_with("Executed: the export package is built."))
        );
        assert_eq!(offered(&shown), (vec![], false), "nothing left to do");
        assert!(shown.contains("there is nothing left to decide"));
    }
    let executions = audit_actions(&app)
        .await
        .iter()
        .filter(|e| e.action == "disclosure.executed")
        .count();
    assert_eq!(executions, 1);
    // A notice that does not match where the request is shows nothing.
    let (_, made_up) =
        text_without_address(second.get(&format!("{page}?done=rejected")).await).await;
    assert_eq!(notice_of(&made_up), None);

    // Rejection and withdrawal end on the page too.
    let rejected_page = page_of(&file(&first, Filing::default()).await);
    decide(
        &second,
        &rejected_page,
        &[("to", "under_review"), ("reason", "Checking.")],
    )
    .await;
    let rejected = decide(
        &second,
        &rejected_page,
        &[("to", "rejected"), ("reason", "No legal basis.")],
    )
    .await;
    assert_eq!(
        notice_of(&rejected).as_deref(),
        Some("Rejected. Nothing is disclosed.")
    );
    assert!(rejected.contains("Rejected by lawyer-two on"));
    let withdrawn_page = page_of(&file(&first, Filing::default()).await);
    let withdrawn = decide(
        &first,
        &withdrawn_page,
        &[("to", "withdrawn"), ("reason", "The court withdrew it.")],
    )
    .await;
    assert_eq!(
        notice_of(&withdrawn).as_deref(),
        Some("Marked as withdrawn. Nothing is disclosed.")
    );
}

db_test!(a_refused_decision_shows_the_page_again_with_422_and_what_was_typed);
async fn a_refused_decision_shows_the_page_again_with_422_and_what_was_typed(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.signed_in("lawyer-one", "legal").await;
    let second = app.signed_in("lawyer-two", "legal").await;
    let filing = Filing {
        categories: &["contact_data", "message_content"],
        ..Filing::default()
    };
    let page = page_of(&file(&first, filing).await);
    decide(
        &first,
        &page,
        &[("to", "under_review"), ("reason", "Checking.")],
    )
    .await;

    // No reason: refused, with the narrowed scope still chosen.
    let resp = second
        .post(
            &format!("{page}/transitions"),
            &[
                ("to", "approved"),
                ("reason", "  "),
                ("categories", "contact_data"),
            ],
        )
        .await;
    let (status, shown) = text_without_address(resp).await;
    assert_eq!(status, 422);
    assert!(shown.contains("Write down the reason."), "{shown}");
    assert!(
        shown.contains("aria-invalid=\"true\">"),
        "the reason field is marked"
    );
    assert!(shown.contains("value=\"contact_data\" checked"));
    assert!(
        !shown.contains("value=\"message_content\" checked"),
        "the unchecked category stays unchecked"
    );

    // Too long a reason: refused, and the text is still in the field.
    let long = format!("Outside the scope of the order. {}", "x".repeat(2000));
    let resp = second
        .post(
            &format!("{page}/transitions"),
            &[("to", "rejected"), ("reason", &long)],
        )
        .await;
    let (status, shown) = text_without_address(resp).await;
    assert_eq!(status, 422);
    assert!(shown.contains("At most 2,000 characters"));
    assert!(shown.contains(&long), "the reason is kept");
    let (_, now) = text_without_address(second.get(&page).await).await;
    assert!(now.contains("status-under_review"), "nothing changed");
}

db_test!(the_approval_request_mail_reaches_the_other_legal_users_and_not_the_filer);
async fn the_approval_request_mail_reaches_the_other_legal_users_and_not_the_filer(
    backend: Backend,
) {
    let app = app_with_staff_addresses(backend).await;
    let reference = visitor_writes(&app).await;
    let first = signed_in_with_address(&app, "lawyer-one", "legal", LAWYER_ONE).await;
    signed_in_with_address(&app, "lawyer-two", "legal", LAWYER_TWO).await;
    signed_in_with_address(&app, "an-agent", "agent", AN_AGENT).await;
    app.signed_in("lawyer-three", "legal").await; // no address: no mail
    // Only the account's own address (the one reset links go to): mailed there.
    let fourth = app.signed_in("lawyer-four", "legal").await;
    let saved = fourth
        .post("/staff/account/email", &[("email", LAWYER_FOUR_OWN)])
        .await;
    assert_eq!(
        saved.status(),
        303,
        "the own address of lawyer-four is saved"
    );

    let filing = Filing {
        subjects: VISITOR,
        categories: &["contact_data", "message_content"],
        ..Filing::default()
    };
    let page = page_of(&file(&first, filing).await);

    // The staff notification and the visitor's acknowledgement, then the approval requests.
    let mails = app.wait_for_emails(4).await;
    let asks: Vec<&Vec<u8>> = mails
        .iter()
        .filter(|m| header(m, "Subject").is_some_and(|s| s.contains("awaits your approval")))
        .collect();
    assert_eq!(
        asks.len(),
        2,
        "one mail per other legal user with an address"
    );
    let mut to: Vec<String> = asks.iter().filter_map(|m| header(m, "To")).collect();
    to.sort();
    assert_eq!(to, [LAWYER_FOUR_OWN, LAWYER_TWO]);
    let ask = *asks
        .iter()
        .find(|m| header(m, "To").as_deref() == Some(LAWYER_TWO))
        .expect("lawyer-two's");
    assert_eq!(
        header(ask, "Subject").as_deref(),
        Some("Disclosure request 2-345/2026 awaits your approval")
    );
    let body = text_body(ask);
    assert!(
        body.lines().any(|l| l.trim_end().ends_with(&page)),
        "the page's link: {body}"
    );
    assert!(body.contains("Filed by: lawyer-one"));
    for secret in [
        VISITOR,
        "a…@example.org",
        reference.as_str(),
        MESSAGE_TEXT,
        "Anna",
    ] {
        assert!(!mail_mentions(ask, secret), "the mail names {secret}");
    }
}

/// A second instance on the same database and keys, with its own pools (its HTTP server is
/// not needed to run the job).
async fn second_instance(app: &TestApp) -> std::sync::Arc<sealpost::state::AppState> {
    sealpost::startup::build_state(app.state.settings.clone())
        .await
        .expect("a second instance")
}

db_test!(the_deadline_reminder_goes_out_once_and_never_for_closed_requests);
async fn the_deadline_reminder_goes_out_once_and_never_for_closed_requests(backend: Backend) {
    let app = app_with_staff_addresses(backend).await;
    let first = signed_in_with_address(&app, "lawyer-one", "legal", LAWYER_ONE).await;
    signed_in_with_address(&app, "lawyer-two", "legal", LAWYER_TWO).await;
    let due = |case_number| Filing {
        case_number,
        deadline: days_ahead(1),
        ..Filing::default()
    };
    let open = page_of(&file(&first, due("DUE-1")).await);
    let closed = page_of(&file(&first, due("CLOSED-2")).await);
    decide(
        &first,
        &closed,
        &[("to", "withdrawn"), ("reason", "Withdrawn by the court.")],
    )
    .await;
    let later = Filing {
        case_number: "LATER-3",
        ..Filing::default()
    };
    page_of(&file(&first, later).await);
    app.wait_for_outbox_idle().await;

    // Two instances run the job at once, then each again: one reminder per legal user.
    let other = second_instance(&app).await;
    let (a, b) = tokio::join!(
        sealpost::legal::deadline::remind(&app.state),
        sealpost::legal::deadline::remind(&other)
    );
    assert!(a.expect("job") + b.expect("job") <= 1);
    assert_eq!(
        sealpost::legal::deadline::remind(&app.state)
            .await
            .expect("job"),
        0
    );
    assert_eq!(
        sealpost::legal::deadline::remind(&other)
            .await
            .expect("job"),
        0
    );
    app.wait_for_outbox_idle().await;

    let reminders: Vec<Vec<u8>> = app
        .sent_emails()
        .into_iter()
        .filter(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Deadline near")))
        .collect();
    let mut to: Vec<String> = reminders.iter().filter_map(|m| header(m, "To")).collect();
    to.sort();
    assert_eq!(to, vec![LAWYER_ONE.to_owned(), LAWYER_TWO.to_owned()]);
    for reminder in &reminders {
        assert_eq!(
            header(reminder, "Subject").as_deref(),
            Some("Deadline near: disclosure request DUE-1")
        );
        assert!(
            text_body(reminder)
                .lines()
                .any(|l| l.trim_end().ends_with(&open))
        );
        assert!(text_body(reminder).contains(&format!("Deadline: {}", days_ahead(1))));
    }
    let recorded = audit_actions(&app)
        .await
        .into_iter()
        .filter(|e| e.action == "disclosure.deadline_reminder_sent")
        .collect::<Vec<_>>();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].details["recipients"], 2);
    assert!(sealpost::audit::verify(app.db()).await.unwrap().ok());
}
