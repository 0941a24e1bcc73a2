//! The second factor: enrolment with a QR code, sign-in with a TOTP code or a recovery code,
//! replay refused, and the setting that makes it mandatory for `legal` and `admin`.

use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::{Backend, STAFF_PASSWORD, StaffBrowser, TestAppBuilder, csrf_of, location};

pub(crate) fn secrets_on(page: &str) -> Vec<String> {
    page.split("<p class=\"secret\">")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn totp(secret_base32: &str) -> TOTP {
    let bytes = Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .expect("base32");
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes).expect("totp")
}

pub(crate) fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

pub(crate) async fn post_code(browser: &StaffBrowser, path: &str, code: &str) -> reqwest::Response {
    let page = browser.get(path).await.text().await.unwrap();
    let csrf = csrf_of(&page).unwrap_or_else(|| browser.csrf.clone());
    browser
        .client
        .post(browser.url(path))
        .form(&[("csrf", csrf.as_str()), ("code", code)])
        .send()
        .await
        .unwrap()
}

db_test!(an_admin_must_enrol_then_signs_in_with_a_code_or_a_recovery_code);
async fn an_admin_must_enrol_then_signs_in_with_a_code_or_a_recovery_code(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__STAFF__REQUIRE_SECOND_FACTOR", "true")
        .spawn()
        .await;
    app.add_staff("pavel", "admin").await;
    let mut browser = app.browser();

    // The password alone leads only to enrolment.
    let resp = browser.sign_in("pavel", STAFF_PASSWORD).await;
    assert_eq!(location(&resp), "/staff/account/second-factor");
    let held = browser.get("/staff/admin").await;
    assert_eq!(location(&held), "/staff/account/second-factor");
    let page = browser
        .get("/staff/account/second-factor")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg"), "a QR code is shown");
    assert!(page.contains("requires a second factor"));
    let secret = secrets_on(&page).remove(0);
    let again = browser
        .get("/staff/account/second-factor")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(secrets_on(&again)[0], secret, "a reload keeps the secret");
    let totp = totp(&secret);

    let wrong = post_code(&browser, "/staff/account/second-factor", "000000").await;
    assert_eq!(wrong.status(), 422);
    let enrolled_at = now();
    let done = post_code(
        &browser,
        "/staff/account/second-factor",
        &totp.generate(enrolled_at),
    )
    .await;
    assert_eq!(done.status(), 200);
    let codes = secrets_on(&done.text().await.unwrap());
    assert_eq!(codes.len(), 10, "ten recovery codes");
    assert!(codes.iter().all(|c| c.len() == 11 && &c[5..6] == "-"));
    assert_eq!(
        browser.get("/staff/admin").await.status(),
        200,
        "signed in now"
    );
    browser.refresh_csrf().await;
    assert_eq!(browser.post("/staff/signout", &[]).await.status(), 303);

    // Next time: password, then a code.
    let resp = browser.sign_in("pavel", STAFF_PASSWORD).await;
    assert_eq!(location(&resp), "/staff/signin/second-factor");
    assert_eq!(
        location(&browser.get("/staff/admin").await),
        "/staff/signin/second-factor"
    );
    let replay = post_code(
        &browser,
        "/staff/signin/second-factor",
        &totp.generate(enrolled_at),
    )
    .await;
    assert_eq!(replay.status(), 422, "a code already used is refused");
    let ok = post_code(
        &browser,
        "/staff/signin/second-factor",
        &totp.generate(now() + 30),
    )
    .await;
    assert_eq!(ok.status(), 303);
    assert_eq!(browser.get("/staff/admin").await.status(), 200);
    browser.refresh_csrf().await;
    browser.post("/staff/signout", &[]).await;

    // A recovery code works once.
    browser.sign_in("pavel", STAFF_PASSWORD).await;
    let recovered = post_code(
        &browser,
        "/staff/signin/second-factor",
        &codes[0].to_lowercase(),
    )
    .await;
    assert_eq!(recovered.status(), 303);
    browser.refresh_csrf().await;
    browser.post("/staff/signout", &[]).await;
    browser.sign_in("pavel", STAFF_PASSWORD).await;
    let reused = post_code(&browser, "/staff/signin/second-factor", &codes[0]).await;
    assert_eq!(reused.status(), 422);

    // A required second factor cannot be turned off.
    let other = post_code(&browser, "/staff/signin/second-factor", &codes[1]).await;
    assert_eq!(other.status(), 303);
    browser.refresh_csrf().await;
    let off = browser
        .post(
            "/staff/account/second-factor/disable",
            &[("code", &totp.generate(now() + 30))],
        )
        .await;
    assert_eq!(off.status(), 422);
}

db_test!(an_agent_may_turn_the_second_factor_on_and_off);
async fn an_agent_may_turn_the_second_factor_on_and_off(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__STAFF__REQUIRE_SECOND_FACTOR", "true")
        .spawn()
        .await;
    let browser = app.signed_in("raisa", "agent").await;
    assert_eq!(
        browser.get("/staff").await.status(),
        200,
        "not required for agents"
    );

    let page = browser
        .get("/staff/account/second-factor")
        .await
        .text()
        .await
        .unwrap();
    let totp = totp(&secrets_on(&page)[0]);
    let done = post_code(
        &browser,
        "/staff/account/second-factor",
        &totp.generate(now()),
    )
    .await;
    assert_eq!(done.status(), 200);
    let account = browser.get("/staff/account").await.text().await.unwrap();
    assert!(account.contains("Recovery codes left: <strong>10</strong>"));

    let off = browser
        .post(
            "/staff/account/second-factor/disable",
            &[("code", &totp.generate(now() + 30))],
        )
        .await;
    assert_eq!(off.status(), 303);
    let account = browser.get("/staff/account").await.text().await.unwrap();
    assert!(account.contains("No second factor yet"));
}
