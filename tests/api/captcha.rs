//! hCaptcha, verified by a local verifier over real HTTP on 127.0.0.1.

use serde_json::json;

use crate::helpers::{Backend, CAPTCHA_PASS, TestAppBuilder, valid_form, valid_message};

db_test!(a_solved_captcha_lets_the_message_through);
async fn a_solved_captcha_lets_the_message_through(backend: Backend) {
    let app = TestAppBuilder::new(backend).with_captcha().spawn().await;
    let mut msg = valid_message();
    msg["captcha_token"] = json!(CAPTCHA_PASS);
    let mut form = valid_form();
    form.push(("h-captcha-response", CAPTCHA_PASS));

    let api = app.post_message(&msg).await;
    let page = app.post_form(&form).await;

    assert_eq!(api.status(), 201);
    assert_eq!(page.status(), 303);
    assert_eq!(app.count_threads().await, 2);
}

db_test!(a_refused_or_missing_captcha_is_a_400_and_nothing_is_stored);
async fn a_refused_or_missing_captcha_is_a_400_and_nothing_is_stored(backend: Backend) {
    let app = TestAppBuilder::new(backend).with_captcha().spawn().await;
    let mut wrong = valid_message();
    wrong["captcha_token"] = json!("20000000-aaaa-bbbb-cccc-000000000002");
    let mut form = valid_form();
    form.push(("h-captcha-response", "wrong"));

    let refused = app.post_message(&wrong).await;
    let missing = app.post_message(&valid_message()).await;
    let page = app.post_form(&form).await;

    assert_eq!(refused.status(), 400);
    let p: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(p["code"], "captcha_rejected");
    assert_eq!(missing.status(), 400);
    assert_eq!(page.status(), 400);
    let page = page.text().await.expect("body");
    assert!(page.contains("The captcha was not solved"));
    assert!(
        page.contains("value=\"Dmitri Karamazov\""),
        "the visitor's text is kept"
    );
    assert_eq!(app.count_threads().await, 0);
}

db_test!(the_form_loads_the_captcha_widget_and_the_csp_allows_only_its_hosts);
async fn the_form_loads_the_captcha_widget_and_the_csp_allows_only_its_hosts(backend: Backend) {
    let app = TestAppBuilder::new(backend).with_captcha().spawn().await;

    let resp = app.get("/").await;

    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("script-src https://hcaptcha.com https://*.hcaptcha.com"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let page = resp.text().await.expect("body");
    assert!(
        page.contains("class=\"h-captcha\" data-sitekey=\"10000000-ffff-ffff-ffff-000000000001\"")
    );
    assert!(page.contains("https://js.hcaptcha.com/1/api.js"));
}

db_test!(an_unreachable_verifier_fails_closed_with_503);
async fn an_unreachable_verifier_fails_closed_with_503(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .with_unreachable_captcha()
        .spawn()
        .await;
    let mut msg = valid_message();
    msg["captcha_token"] = json!(CAPTCHA_PASS);

    let resp = app.post_message(&msg).await;

    assert_eq!(resp.status(), 503);
    assert_eq!(app.count_threads().await, 0);
}
