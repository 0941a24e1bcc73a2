//! Hostile and malformed input on every door that takes a body: each JSON operation of the API
//! and each HTML form. Oversized bodies, wrong content types, broken JSON and forms, invalid
//! UTF-8, 10,000 levels of nesting and unknown fields all get a clear refusal with the right
//! status — a problem document from the API, an HTML page from the forms — and nothing is
//! stored: every table has as many rows afterwards as before. Each sweep ends by sending the
//! valid request, which must succeed, so that the refusals are the input's doing.

use base64::Engine;
use sealpost::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, STAFF_PASSWORD, StaffBrowser, TestApp, csrf_of, spawn_app, valid_form, valid_message,
};

/// The default request limit (`server.max_request_bytes`).
const LIMIT: usize = 64 * 1024;

async fn key(app: &TestApp, role: &str) -> String {
    sealpost::auth::api_key::create(
        app.db(),
        "system:test",
        &format!("{role} key"),
        Role::parse(role).expect("role"),
        None,
    )
    .await
    .expect("key created")
    .key
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// The body limit of `path`: larger where an order copy is uploaded.
fn limit_of(path: &str) -> usize {
    sealpost::legal::request_limit(path, LIMIT)
}

/// One JSON operation with a body, and a body it accepts.
struct JsonOp {
    method: reqwest::Method,
    path: String,
    key: Option<String>,
    valid: Value,
}

/// One hostile body and what it must get.
struct Hostile {
    case: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn hostile_json(op: &JsonOp) -> Vec<Hostile> {
    let valid = op.valid.to_string();
    let mut unknown = op.valid.clone();
    unknown["unexpected_field"] = json!(true);
    let mut nested_field = op.valid.clone();
    let first = nested_field
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .expect("a field");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    nested_field[&first] = json!("placeholder");
    let nested_field = nested_field
        .to_string()
        .replace("\"placeholder\"", &deep)
        .into_bytes();
    let mut oversized = op.valid.clone();
    oversized["padding"] = json!("x".repeat(limit_of(&op.path) + 1));
    let mut invalid_utf8 = valid.clone().into_bytes();
    let at = invalid_utf8.len() - 1;
    invalid_utf8.splice(at..at, b",\"x\":\"\xff\xfe\"".iter().copied());
    let json_ct = Some("application/json");
    let h = |case, content_type, body: Vec<u8>, status, code| Hostile {
        case,
        content_type,
        body,
        status,
        code,
    };
    vec![
        h(
            "oversized",
            json_ct,
            oversized.to_string().into_bytes(),
            413,
            "payload_too_large",
        ),
        h(
            "text/plain",
            Some("text/plain"),
            valid.clone().into_bytes(),
            415,
            "unsupported_media_type",
        ),
        h(
            "a form",
            Some("application/x-www-form-urlencoded"),
            b"body=hello&consent=true".to_vec(),
            415,
            "unsupported_media_type",
        ),
        h(
            "no content type",
            None,
            valid.clone().into_bytes(),
            415,
            "unsupported_media_type",
        ),
        h(
            "truncated",
            json_ct,
            valid.as_bytes()[..valid.len() / 2].to_vec(),
            400,
            "malformed_request",
        ),
        h("empty", json_ct, Vec::new(), 400, "malformed_request"),
        h("null", json_ct, b"null".to_vec(), 400, "malformed_request"),
        h(
            "an array",
            json_ct,
            format!("[{valid}]").into_bytes(),
            400,
            "malformed_request",
        ),
        h(
            "invalid utf-8",
            json_ct,
            invalid_utf8,
            400,
            "malformed_request",
        ),
        h(
            "a lone surrogate",
            json_ct,
            valid.replacen(":\"", ":\"\\ud800", 1).into_bytes(),
            400,
            "malformed_request",
        ),
        h(
            "10,000 levels of nesting",
            json_ct,
            deep.clone().into_bytes(),
            400,
            "malformed_request",
        ),
        h(
            "10,000 levels of nesting in a field",
            json_ct,
            nested_field,
            400,
            "malformed_request",
        ),
        h(
            "an unknown field",
            json_ct,
            unknown.to_string().into_bytes(),
            400,
            "malformed_request",
        ),
    ]
}

async fn send_json(app: &TestApp, op: &JsonOp, hostile: &Hostile) -> reqwest::Response {
    let mut request = app
        .client
        .request(op.method.clone(), app.url(&op.path))
        .body(hostile.body.clone());
    if let Some(key) = &op.key {
        request = request.bearer_auth(key);
    }
    if let Some(ct) = hostile.content_type {
        request = request.header("content-type", ct);
    }
    request.send().await.expect("request")
}

/// Sends every hostile body to every operation, then each valid body once.
async fn sweep_json(app: &TestApp, ops: &[JsonOp]) {
    // Mail delivery unseals addresses and audits it: let the outbox settle first.
    app.wait_for_outbox_idle().await;
    let before = app.row_counts().await;
    for op in ops {
        for hostile in hostile_json(op) {
            let what = format!("{} {} with {}", op.method, op.path, hostile.case);
            let resp = send_json(app, op, &hostile).await;
            assert_eq!(resp.status().as_u16(), hostile.status, "{what}");
            assert_eq!(
                resp.headers()["content-type"],
                "application/problem+json",
                "{what}"
            );
            let problem: Value = resp.json().await.expect("a problem document");
            assert_eq!(problem["code"], hostile.code, "{what}: {problem}");
            assert_eq!(problem["status"], hostile.status, "{what}");
            assert!(
                !problem["detail"].as_str().unwrap_or_default().is_empty(),
                "{what}: a detail says what is wrong"
            );
        }
    }
    assert_eq!(
        app.row_counts().await,
        before,
        "refused requests stored nothing"
    );
    for op in ops {
        let mut request = app
            .client
            .request(op.method.clone(), app.url(&op.path))
            .json(&op.valid);
        if let Some(key) = &op.key {
            request = request.bearer_auth(key);
        }
        let resp = request.send().await.expect("request");
        assert!(
            resp.status().is_success(),
            "the valid {} {} succeeds: {}",
            op.method,
            op.path,
            resp.text().await.unwrap_or_default()
        );
    }
}

/// A conversation from the API: its message id and reference.
async fn conversation(app: &TestApp) -> (String, String) {
    let resp = app.post_message(&valid_message()).await;
    assert_eq!(resp.status(), 201);
    let sent: Value = resp.json().await.expect("json");
    (
        sent["id"].as_str().expect("id").to_owned(),
        sent["reference"].as_str().expect("reference").to_owned(),
    )
}

db_test!(every_json_operation_refuses_hostile_bodies_and_stores_nothing);
async fn every_json_operation_refuses_hostile_bodies_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (message_id, reference) = conversation(&app).await;
    let agent = key(&app, "agent").await;
    let admin = key(&app, "admin").await;
    let legal = key(&app, "legal").await;
    let order = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4\n% order\n");
    let disclosure = json!({
        "authority": "Regional Police Department",
        "case_number": "KUSP-1/2026",
        "order_date": today(),
        "instrument": "warrant",
        "categories": ["contact_data"],
        "subjects": [reference],
        "deadline": (chrono::Utc::now() + chrono::Duration::days(10)).date_naive().to_string(),
        "order_copy": {
            "file_name": "warrant.pdf",
            "content_type": "application/pdf",
            "content_base64": order,
        }
    });
    let filed = app
        .client
        .post(app.url("/api/v1/disclosures"))
        .bearer_auth(&legal)
        .json(&disclosure)
        .send()
        .await
        .expect("request");
    assert_eq!(
        filed.status(),
        201,
        "{}",
        filed.text().await.unwrap_or_default()
    );
    let disclosure_id = filed.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let held = app
        .client
        .post(app.url("/api/v1/legal-holds"))
        .bearer_auth(&legal)
        .json(&json!({"subject": reference, "reason": "Preservation request."}))
        .send()
        .await
        .expect("request");
    assert!(held.status().is_success());
    let holds: Value = app
        .client
        .get(app.url("/api/v1/legal-holds"))
        .bearer_auth(&legal)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let hold_id = holds["items"][0]["id"].as_str().expect("hold").to_owned();

    let op = |method: reqwest::Method, path: String, key: Option<&String>, valid: Value| JsonOp {
        method,
        path,
        key: key.cloned(),
        valid,
    };
    use reqwest::Method;
    let ops = vec![
        op(
            Method::POST,
            "/api/v1/messages".into(),
            None,
            valid_message(),
        ),
        op(
            Method::PATCH,
            format!("/api/v1/messages/{message_id}"),
            Some(&agent),
            json!({"status": "closed"}),
        ),
        op(
            Method::POST,
            format!("/api/v1/messages/{message_id}/replies"),
            Some(&agent),
            json!({"body": "We are looking into it."}),
        ),
        op(
            Method::POST,
            "/api/v1/api-keys".into(),
            Some(&admin),
            json!({"name": "helpdesk", "role": "agent"}),
        ),
        op(
            Method::POST,
            "/api/v1/disclosures".into(),
            Some(&legal),
            disclosure.clone(),
        ),
        op(
            Method::POST,
            format!("/api/v1/disclosures/{disclosure_id}/transitions"),
            Some(&legal),
            json!({"to": "under_review", "reason": "Taken up."}),
        ),
        op(
            Method::POST,
            format!("/api/v1/legal-holds/{hold_id}/release"),
            Some(&legal),
            json!({"reason": "The proceedings ended."}),
        ),
        op(
            Method::POST,
            "/api/v1/legal-holds".into(),
            Some(&legal),
            json!({"subject": reference, "reason": "A second preservation request."}),
        ),
    ];
    sweep_json(&app, &ops).await;
}

db_test!(inbound_mail_over_http_refuses_the_wrong_type_and_the_oversized);
async fn inbound_mail_over_http_refuses_the_wrong_type_and_the_oversized(backend: Backend) {
    let app = crate::helpers::TestAppBuilder::new(backend)
        .set("SEALPOST__MAIL__INBOUND__TOKEN", "inbound-secret")
        .set("SEALPOST__MAIL__INBOUND__MAX_MESSAGE_BYTES", "4096")
        .spawn()
        .await;
    // Mail delivery unseals addresses and audits it: let the outbox settle first.
    app.wait_for_outbox_idle().await;
    let before = app.row_counts().await;
    let post = |content_type: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/api/v1/inbound"))
            .bearer_auth("inbound-secret")
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let json = post("application/json", b"{\"raw\": \"From: a@b\"}".to_vec())
        .await
        .expect("request");
    let oversized = post("message/rfc822", vec![b'x'; 4097])
        .await
        .expect("request");

    assert_eq!(json.status(), 415);
    assert_eq!(json.headers()["content-type"], "application/problem+json");
    assert_eq!(
        json.json::<Value>().await.expect("problem")["code"],
        "unsupported_media_type"
    );
    assert_eq!(oversized.status(), 413);
    assert_eq!(
        oversized.json::<Value>().await.expect("problem")["code"],
        "payload_too_large"
    );
    assert_eq!(app.row_counts().await, before);
}

/// One HTML form, the browser that may post it, and fields it accepts with the answer they
/// get (`None` for the multipart intake form, whose acceptance `legal.rs` covers).
struct FormOp<'a> {
    path: String,
    browser: &'a StaffBrowser,
    valid: Option<(Vec<(String, String)>, Taken)>,
}

/// How a form shows that it took what was posted.
#[derive(Debug)]
enum Taken {
    /// 303 to exactly this place.
    SeeOther(String),
    /// 303 to a place under this prefix (a fresh token or message id follows).
    SeeOtherUnder(String),
    /// 200 with a page that says this.
    Page(&'static str),
}

/// Hostile bodies for the form at `path`, each carrying the form's CSRF token where its
/// content type can carry one, so that the refusal is the body's and not the token's.
fn hostile_forms(path: &str, csrf: &str) -> Vec<Hostile> {
    let h = |case, content_type, body: Vec<u8>, status| Hostile {
        case,
        content_type,
        body,
        status,
        code: "",
    };
    let urlencoded = |rest: &[u8]| {
        let mut body = format!("csrf={csrf}&").into_bytes();
        body.extend_from_slice(rest);
        body
    };
    let multipart = |text: &[u8], end: &[u8]| {
        let mut body = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(text);
        body.extend_from_slice(end);
        body
    };
    let form = Some("application/x-www-form-urlencoded");
    let multipart_form = Some("multipart/form-data; boundary=XyZ");
    vec![
        h(
            "oversized",
            form,
            urlencoded(format!("body={}", "x".repeat(limit_of(path) + 1)).as_bytes()),
            413,
        ),
        h(
            "JSON",
            Some("application/json"),
            b"{\"body\": \"hello\"}".to_vec(),
            415,
        ),
        h("no content type", None, urlencoded(b"body=hello"), 415),
        h(
            "percent-encoded invalid utf-8",
            form,
            urlencoded(b"body=caf%C3&consent=on"),
            400,
        ),
        h(
            "raw invalid utf-8",
            form,
            urlencoded(b"body=caf\xc3&consent=on"),
            400,
        ),
        h(
            "invalid utf-8 in a multipart field",
            multipart_form,
            multipart(b"caf\xc3", b"\r\n--XyZ--\r\n"),
            400,
        ),
        h(
            "multipart without a boundary",
            Some("multipart/form-data"),
            multipart(b"hello", b"\r\n--XyZ--\r\n"),
            400,
        ),
        h(
            "multipart that never ends",
            multipart_form,
            multipart(b"hello", b""),
            400,
        ),
    ]
}

/// Sends every hostile body to every form, then each valid form once.
async fn sweep_forms(app: &TestApp, ops: &[FormOp<'_>]) {
    // Mail delivery unseals addresses and audits it: let the outbox settle first.
    app.wait_for_outbox_idle().await;
    let before = app.row_counts().await;
    for op in ops {
        for hostile in hostile_forms(&op.path, &op.browser.csrf) {
            let what = format!("POST {} with {}", op.path, hostile.case);
            let mut request = op
                .browser
                .client
                .post(app.url(&op.path))
                .header("x-csrf-token", &op.browser.csrf)
                .body(hostile.body.clone());
            if let Some(ct) = hostile.content_type {
                request = request.header("content-type", ct);
            }
            let resp = request.send().await.expect("request");
            assert_eq!(resp.status().as_u16(), hostile.status, "{what}");
            assert!(
                resp.headers()["content-type"]
                    .to_str()
                    .unwrap_or_default()
                    .starts_with("text/html"),
                "{what}: an HTML page"
            );
            let page = resp.text().await.expect("page");
            assert!(page.contains("<html"), "{what}: {page}");
        }
    }
    assert_eq!(
        app.row_counts().await,
        before,
        "refused forms stored nothing"
    );
    for op in ops {
        let Some((valid, taken)) = &op.valid else {
            continue;
        };
        let mut fields = vec![("csrf".to_owned(), op.browser.csrf.clone())];
        fields.extend(valid.iter().cloned());
        let resp = op
            .browser
            .client
            .post(app.url(&op.path))
            .form(&fields)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let what = format!("the valid form to {} ({status} {location:?})", op.path);
        match taken {
            Taken::SeeOther(to) => {
                assert_eq!((status, location.as_str()), (303, to.as_str()), "{what}");
            }
            Taken::SeeOtherUnder(prefix) => {
                assert!(
                    status == 303 && location.starts_with(prefix.as_str()),
                    "{what} goes under {prefix}"
                );
            }
            Taken::Page(text) => {
                assert_eq!(status, 200, "{what}");
                let page = resp.text().await.expect("page");
                assert!(page.contains(text), "{what} says {text:?}: {page}");
            }
        }
    }
}

fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

db_test!(every_form_refuses_hostile_bodies_with_a_page_and_stores_nothing);
async fn every_form_refuses_hostile_bodies_with_a_page_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app.post_message(&valid_message()).await;
    let sent: Value = resp.json().await.expect("json");
    let thread_path = sent["thread_url"]
        .as_str()
        .and_then(|u| u.find("/t/").map(|at| u[at..].to_owned()))
        .expect("a private link");
    let reference = sent["reference"].as_str().expect("reference").to_owned();
    let thread_id = sent["thread_id"].as_str().expect("thread id").to_owned();
    let visitor = app.browser();
    let mut anonymous = app.browser();
    let signin = anonymous
        .get("/staff/signin")
        .await
        .text()
        .await
        .expect("page");
    anonymous.csrf = csrf_of(&signin).expect("the sign-in form has a CSRF field");
    let admin = app.signed_in("hostile-admin", "admin").await;
    let lawyer = app.signed_in("hostile-lawyer", "legal").await;

    let valid_visitor: Vec<(&str, &str)> = valid_form();
    let ops = vec![
        FormOp {
            path: "/".into(),
            browser: &visitor,
            // The confirmation page of the new conversation.
            valid: Some((owned(&valid_visitor), Taken::SeeOtherUnder("/sent/".into()))),
        },
        FormOp {
            path: thread_path.clone(),
            browser: &visitor,
            // Back to the conversation, which now shows the new message.
            valid: Some((
                owned(&[("body", "One more thing.")]),
                Taken::SeeOtherUnder(format!("{thread_path}?lang=")),
            )),
        },
        FormOp {
            path: "/staff/signin".into(),
            browser: &anonymous,
            // An administrator lands in the inbox.
            valid: Some((
                owned(&[("login", "hostile-admin"), ("password", STAFF_PASSWORD)]),
                Taken::SeeOther("/staff".into()),
            )),
        },
        FormOp {
            path: format!("/staff/threads/{thread_id}/replies"),
            browser: &admin,
            // The thread, at the answer just stored.
            valid: Some((
                owned(&[("body", "We are on it.")]),
                Taken::SeeOtherUnder(format!("/staff/threads/{thread_id}?sent=1#m-")),
            )),
        },
        FormOp {
            path: format!("/staff/threads/{thread_id}/status"),
            browser: &admin,
            valid: Some((
                owned(&[("status", "open")]),
                Taken::SeeOther(format!("/staff/threads/{thread_id}")),
            )),
        },
        FormOp {
            path: "/staff/admin/api-keys".into(),
            browser: &admin,
            // The new key, shown once.
            valid: Some((
                owned(&[("name", "form key"), ("role", "agent")]),
                Taken::Page("spk_"),
            )),
        },
        FormOp {
            path: "/staff/legal/holds".into(),
            browser: &lawyer,
            valid: Some((
                owned(&[("subject", &reference), ("reason", "Preservation request.")]),
                Taken::Page("Hold placed on 1 conversation."),
            )),
        },
        FormOp {
            path: "/staff/legal/requests".into(),
            browser: &lawyer,
            valid: None,
        },
    ];
    sweep_forms(&app, &ops).await;
}

/// The schema `schema` of the served document, with `$ref` and `allOf` followed.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        return resolve(spec, &spec["components"]["schemas"][name]);
    }
    let mut all = vec![schema];
    for part in schema["allOf"].as_array().into_iter().flatten() {
        all.extend(resolve(spec, part));
    }
    all
}

/// Checks `value` against `schema` for what the document must get right for a client: a `null`
/// only where the schema says `nullable`, every `required` property present, recursively.
fn assert_conforms(spec: &Value, schema: &Value, value: &Value, at: &str) {
    let parts = resolve(spec, schema);
    if value.is_null() {
        assert!(
            parts.iter().any(|s| s["nullable"] == true),
            "{at} is null, which its schema does not allow"
        );
        return;
    }
    for part in parts {
        if let Some(object) = value.as_object() {
            for required in part["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                assert!(
                    object.contains_key(name),
                    "{at}.{name} is required by the schema but absent"
                );
            }
            for (name, field) in object {
                let property = &part["properties"][name];
                if !property.is_null() {
                    assert_conforms(spec, property, field, &format!("{at}.{name}"));
                }
            }
        }
        if let Some(items) = value.as_array() {
            for (i, item) in items.iter().enumerate() {
                assert_conforms(spec, &part["items"], item, &format!("{at}[{i}]"));
            }
        }
    }
}

db_test!(answers_with_nulls_and_refusals_match_the_openapi_document);
async fn answers_with_nulls_and_refusals_match_the_openapi_document(backend: Backend) {
    let app = spawn_app(backend).await;
    conversation(&app).await;
    let admin = key(&app, "admin").await;
    key(&app, "agent").await;
    let spec: Value = app
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .expect("document");
    // Answers that carry nulls (a key never used, the last page of the audit log, an intact
    // chain) and problem documents without field errors.
    let cases = [
        (
            "get",
            "/v1/api-keys",
            "/api/v1/api-keys",
            Some(&admin),
            "200",
        ),
        ("get", "/v1/audit", "/api/v1/audit", Some(&admin), "200"),
        (
            "get",
            "/v1/audit/verify",
            "/api/v1/audit/verify",
            Some(&admin),
            "200",
        ),
        (
            "get",
            "/v1/messages",
            "/api/v1/messages",
            Some(&admin),
            "200",
        ),
        ("get", "/v1/messages", "/api/v1/messages", None, "401"),
        (
            "get",
            "/v1/messages/{id}",
            "/api/v1/messages/nope",
            Some(&admin),
            "404",
        ),
        (
            "get",
            "/v1/audit",
            "/api/v1/audit?limit=x",
            Some(&admin),
            "400",
        ),
    ];
    for (method, path, url, key, status) in cases {
        let mut request = app.client.get(app.url(url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let resp = request.send().await.expect("request");
        assert_eq!(resp.status().as_str(), status, "{url}");
        let content_type = resp.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let body: Value = resp.json().await.expect("json");
        let declared = &spec["paths"][path][method]["responses"][status]["content"];
        let schema = declared
            .as_object()
            .and_then(|c| c.iter().find(|(k, _)| k.starts_with(&content_type)))
            .map(|(_, c)| &c["schema"])
            .unwrap_or_else(|| panic!("{url}: {status} as {content_type} is not documented"));
        assert_conforms(&spec, schema, &body, url);
    }
}

db_test!(every_operation_with_a_body_documents_its_refusals);
async fn every_operation_with_a_body_documents_its_refusals(backend: Backend) {
    let app = spawn_app(backend).await;
    let spec: Value = app
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .expect("document");

    let mut with_body = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            if op["requestBody"].is_null() {
                continue;
            }
            with_body += 1;
            for status in ["400", "413", "415"] {
                assert!(
                    op["responses"][status]["content"]["application/problem+json"].is_object(),
                    "{method} {path} does not document {status} as a problem document"
                );
            }
        }
    }
    assert!(with_body >= 9, "{with_body} operations take a body");
}

db_test!(a_nul_character_in_a_text_field_is_refused_and_never_a_server_error);
async fn a_nul_character_in_a_text_field_is_refused_and_never_a_server_error(backend: Backend) {
    // PostgreSQL's text cannot hold U+0000: a NUL that reached it would be a 5xx there and
    // nothing on SQLite. It must be refused at the edge, the same on both.
    let app = spawn_app(backend).await;
    let (message_id, reference) = conversation(&app).await;
    let agent = key(&app, "agent").await;
    let admin = key(&app, "admin").await;
    let legal = key(&app, "legal").await;
    let nul = "before\u{0}after";
    let mut cases: Vec<(String, Option<&String>, Value)> = Vec::new();
    for field in [
        "name",
        "subject",
        "body",
        "email",
        "locale",
        "policy_version",
    ] {
        let mut msg = valid_message();
        msg[field] = json!(nul);
        cases.push(("/api/v1/messages".into(), None, msg));
    }
    cases.push((
        format!("/api/v1/messages/{message_id}/replies"),
        Some(&agent),
        json!({"body": nul}),
    ));
    cases.push((
        "/api/v1/api-keys".into(),
        Some(&admin),
        json!({"name": nul, "role": "agent"}),
    ));
    cases.push((
        "/api/v1/legal-holds".into(),
        Some(&legal),
        json!({"subject": reference, "reason": nul}),
    ));
    // Mail delivery unseals addresses and audits it: let the outbox settle first.
    app.wait_for_outbox_idle().await;
    let before = app.row_counts().await;

    for (path, key, body) in &cases {
        let mut request = app.client.post(app.url(path)).json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let resp = request.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, 422, "{path} with {body}: {text}");
    }
    // And in a search, which reaches the database as a pattern.
    let search = app
        .client
        .get(app.url("/api/v1/messages?q=before%00after"))
        .bearer_auth(&agent)
        .send()
        .await
        .expect("request");
    assert_eq!(search.status(), 400, "a NUL in a search is refused");
    assert_eq!(
        search.json::<Value>().await.expect("problem")["code"],
        "malformed_request"
    );
    assert_eq!(app.row_counts().await, before);
    let inbox = app.signed_in("nul-agent", "agent").await;
    let everything = inbox.get("/staff").await.text().await.expect("page");
    assert!(
        everything.contains(&reference),
        "the conversation is in the inbox: {everything}"
    );
    let page = inbox.get("/staff?q=before%00after").await;
    assert_eq!(page.status(), 200);
    let found = page.text().await.expect("page");
    assert!(
        !found.contains(&reference) && found.contains("No thread matches"),
        "the inbox page finds nothing: {found}"
    );
}
