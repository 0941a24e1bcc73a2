//! Security headers on every kind of response.

use crate::helpers::{Backend, TestAppBuilder, spawn_app};

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
