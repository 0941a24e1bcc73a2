//! The privacy policy at /privacy: the shipped text states what the service does with the
//! periods it is configured with, and an operator's own text and name come from the
//! configuration.

use crate::helpers::{Backend, TestAppBuilder};

async fn policy(app: &crate::helpers::TestApp, lang: &str) -> String {
    let resp = app.get(&format!("/privacy?lang={lang}")).await;
    assert_eq!(resp.status(), 200, "{lang}");
    resp.text().await.expect("page")
}

db_test!(the_shipped_policy_describes_the_configured_service);
async fn the_shipped_policy_describes_the_configured_service(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SITE__OPERATOR_NAME", "Roller & Co <Ltd>")
        .set("SEALPOST__SITE__OPERATOR_ADDRESS", "1 Main Street, Almaty")
        .set("SEALPOST__SITE__OPERATOR_CONTACT", "privacy@roller.example")
        .set("SEALPOST__RETENTION__SPAM_DAYS", "12")
        .set("SEALPOST__RETENTION__SEALED_IP_DAYS", "9")
        .set("SEALPOST__RETENTION__CLOSED_THREAD_DAYS", "400")
        .spawn()
        .await;
    for lang in ["en", "ru", "kk"] {
        let page = policy(&app, lang).await;
        // The operator, escaped as written, and the contact as a link.
        assert!(
            page.contains("Roller &amp; Co &lt;Ltd&gt;"),
            "{lang}: {page}"
        );
        assert!(!page.contains("<Ltd>"), "{lang}");
        assert!(page.contains("1 Main Street, Almaty"), "{lang}");
        assert!(
            page.contains(r#"href="mailto:privacy@roller.example""#),
            "{lang}"
        );
        // The periods are the configured ones.
        for days in ["12", "9", "400"] {
            assert!(page.contains(days), "{lang}: {days} days");
        }
        // Nothing is left as a placeholder, and nothing is promised as "being added".
        assert!(
            !page.contains("{operator") && !page.contains("{if"),
            "{lang}"
        );
        assert!(!page.contains("Site Administration"), "{lang}");
        // The captcha is off in tests, so its section is not there.
        assert!(!page.contains("hCaptcha"), "{lang}");
    }
    let en = policy(&app, "en").await;
    for promise in [
        "download a copy",
        "withdraw your consent and erase",
        "/transparency",
        "set no cookies at all",
        "deleted after 12 days",
        "legal hold",
    ] {
        assert!(en.contains(promise), "{promise}");
    }
    assert!(!en.contains("We are adding"));
}

db_test!(without_an_operator_the_policy_names_the_site_and_shows_the_captcha_when_on);
async fn without_an_operator_the_policy_names_the_site_and_shows_the_captcha_when_on(
    backend: Backend,
) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SITE__NAME", "Roller Feedback")
        .with_captcha()
        .spawn()
        .await;
    let page = policy(&app, "en").await;
    assert!(
        page.contains("This site is run by <strong>Roller Feedback</strong>"),
        "{page}"
    );
    assert!(!page.contains("Postal address"), "no address configured");
    assert!(
        page.contains("hCaptcha"),
        "the captcha is on: its section is there"
    );
}

db_test!(an_operators_own_policy_text_is_served_with_a_fallback_language);
async fn an_operators_own_policy_text_is_served_with_a_fallback_language(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("en.md"),
        "## Our own policy\n\nRun by {operator_name}. We keep spam {spam_days} days.\n\n\
         <script>alert(1)</script>\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("ru.md"),
        "## Наша политика\n\nСпам хранится {spam_days} дн.\n",
    )
    .expect("write");
    let app = TestAppBuilder::new(backend)
        .set(
            "SEALPOST__SITE__POLICY_DIR",
            dir.path().to_str().expect("path"),
        )
        .set("SEALPOST__SITE__OPERATOR_NAME", "Roller Ltd")
        .spawn()
        .await;
    let en = policy(&app, "en").await;
    assert!(en.contains("<h2>Our own policy</h2>"), "{en}");
    assert!(
        en.contains("Run by Roller Ltd. We keep spam 30 days."),
        "{en}"
    );
    assert!(
        !en.contains("<script>") && !en.contains("alert(1)"),
        "cleaned"
    );
    assert!(!en.contains("not yet available in your language"));
    let ru = policy(&app, "ru").await;
    assert!(ru.contains("Спам хранится 30 дн."), "{ru}");
    // No Kazakh file: the default language's text, marked as such, under the Kazakh page.
    let kk = policy(&app, "kk").await;
    assert!(kk.contains("<html lang=\"kk\">"));
    assert!(
        kk.contains("<article class=\"prose policy\" lang=\"en\">"),
        "{kk}"
    );
    assert!(kk.contains("Our own policy"));
    assert!(
        kk.contains("Бұл саясат әлі сіздің тіліңізге аударылмаған"),
        "{kk}"
    );
}
