//! Security headers on every kind of response, and refusals that reach a client mid-upload.

use std::time::Duration;

use sealpost::domain::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, TestAppBuilder, spawn_app};

fn assert_hardened(resp: &reqwest::Response, what: &str) {
    let h = resp.headers();
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .expect("csp");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert!(h.contains_key("x-request-id"), "{what}");
}

db_test!(pages_api_and_errors_carry_the_security_headers);
async fn pages_api_and_errors_carry_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;

    for path in [
        "/",
        "/privacy",
        "/no-such-page",
        "/api/v1/nothing",
        "/api/openapi.json",
        "/healthz",
    ] {
        let resp = app.get(path).await;
        assert_hardened(&resp, path);
        assert!(
            !resp.headers().contains_key("strict-transport-security"),
            "no HSTS unless configured"
        );
    }
    let form_csp = app.get("/").await.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        !form_csp.contains("script-src"),
        "no script may run on the form without captcha: {form_csp}"
    );
}

db_test!(hsts_is_sent_when_configured);
async fn hsts_is_sent_when_configured(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SERVER__HSTS", "true")
        .spawn()
        .await;

    let resp = app.get("/").await;

    assert!(
        resp.headers()["strict-transport-security"]
            .to_str()
            .expect("hsts")
            .starts_with("max-age=")
    );
}

db_test!(the_page_sets_no_cookie);
async fn the_page_sets_no_cookie(backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.get("/").await;
    let sent = app.post_form(&crate::helpers::valid_form()).await;

    assert!(!page.headers().contains_key("set-cookie"));
    assert!(!sent.headers().contains_key("set-cookie"));
}

/// Sends a POST whose body comes in two pieces with a pause between, as a slow uplink or a
/// busy client sends an upload, then reads the whole answer. Returns its status line, or what
/// went wrong on the connection.
async fn slow_upload(app: &TestApp, path: &str, headers: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(100);
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(first).await.expect("first piece");
    // Long enough for the server to decide and answer before the rest arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for piece in rest.chunks(rest.len().div_ceil(4)) {
        if let Err(e) = stream.write_all(piece).await {
            return format!("sending the rest of the body failed: {e}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut answer = vec![0; 64];
    let read = match stream.read(&mut answer).await {
        Ok(read) => read,
        Err(e) => return format!("reading the answer failed: {e}"),
    };
    let answer = String::from_utf8_lossy(&answer[..read]);
    answer.lines().next().unwrap_or_default().to_owned()
}

db_test!(a_refusal_before_the_body_is_read_still_reaches_a_client_mid_upload);
async fn a_refusal_before_the_body_is_read_still_reaches_a_client_mid_upload(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent_key = sealpost::auth::api_key::create(
        app.db(),
        "system:test",
        "agent key",
        Role::parse("agent").expect("role"),
        None,
    )
    .await
    .expect("key")
    .key;
    let json = format!("{{\"padding\":\"{}\"}}", " ".repeat(40_000));
    for (path, headers, expected) in [
        // An API key whose role may not file disclosure requests.
        (
            "/api/v1/disclosures",
            format!("Authorization: Bearer {agent_key}\r\nContent-Type: application/json\r\n"),
            "HTTP/1.1 403 Forbidden",
        ),
        // No credential at all.
        (
            "/api/v1/disclosures",
            "Content-Type: application/json\r\n".to_owned(),
            "HTTP/1.1 401 Unauthorized",
        ),
        // A signed-out browser posting the legal intake form is sent to sign in.
        (
            "/staff/legal/requests",
            "Content-Type: application/x-www-form-urlencoded\r\n".to_owned(),
            "HTTP/1.1 303 See Other",
        ),
        // No such operation.
        (
            "/api/v1/no-such-thing",
            "Content-Type: application/json\r\n".to_owned(),
            "HTTP/1.1 404 Not Found",
        ),
    ] {
        let answer = slow_upload(&app, path, &headers, json.as_bytes()).await;
        assert_eq!(answer, expected, "POST {path}");
    }
    // The refused bodies were read and forgotten: nothing was stored.
    assert_eq!(app.count_threads().await, 0);
}
