//! The public feedback form at `/`, as a visitor's browser uses it.

use sea_orm::EntityTrait;
use sealpost::entities::{contacts, threads};

use crate::helpers::{Backend, spawn_app, valid_form};

async fn text(resp: reqwest::Response) -> String {
    resp.text().await.expect("body")
}

fn with(
    fields: &[(&'static str, &'static str)],
    key: &str,
    value: &'static str,
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<_> = fields.iter().filter(|(k, _)| *k != key).cloned().collect();
    out.push((Box::leak(key.to_owned().into_boxed_str()), value));
    out
}

db_test!(the_form_speaks_the_visitors_language);
async fn the_form_speaks_the_visitors_language(backend: Backend) {
    let app = spawn_app(backend).await;

    let en = app.get("/").await;
    let ru = app
        .client
        .get(app.url("/"))
        .header("accept-language", "ru-RU,ru;q=0.9,en;q=0.5")
        .send()
        .await
        .expect("request");
    let kk = app.get("/?lang=kk").await;

    assert_eq!(en.status(), 200);
    let en = text(en).await;
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains("Write to us"));
    assert!(en.contains("Without an address nobody can answer you by e-mail"));
    for field in [
        "name=\"name\"",
        "name=\"email\"",
        "name=\"subject\"",
        "name=\"body\"",
        "name=\"consent\"",
        "name=\"website\"",
    ] {
        assert!(en.contains(field), "form lacks {field}");
    }
    assert!(en.contains("<label for=\"email\">"), "fields have labels");
    let ru = text(ru).await;
    assert!(ru.contains("<html lang=\"ru\">"));
    assert!(
        ru.contains("Напишите нам") || ru.contains("Отправить"),
        "Russian text expected"
    );
    let kk = text(kk).await;
    assert!(kk.contains("<html lang=\"kk\">"));
    assert!(
        !kk.contains("Send message"),
        "Kazakh page shows no English button"
    );
}

db_test!(a_valid_form_redirects_to_a_confirmation_with_reference_and_private_link);
async fn a_valid_form_redirects_to_a_confirmation_with_reference_and_private_link(
    backend: Backend,
) {
    let app = spawn_app(backend).await;

    let resp = app.post_form(&valid_form()).await;

    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with("/sent/"), "{location}");
    let page = app.get(&location).await;
    assert_eq!(page.status(), 200);
    let page = text(page).await;
    let thread = threads::Entity::find()
        .one(app.db())
        .await
        .expect("q")
        .expect("stored");
    assert!(
        page.contains(&thread.reference),
        "confirmation shows the reference"
    );
    let token = location
        .trim_start_matches("/sent/")
        .split('?')
        .next()
        .expect("token");
    assert!(
        page.contains(&format!("/t/{token}")),
        "confirmation shows the private link"
    );
    assert!(!page.contains("dmitri.k@example.org"));
    let contact = contacts::Entity::find()
        .one(app.db())
        .await
        .expect("q")
        .expect("contact");
    assert!(contact.email_sealed.is_some());
    let raw = app.raw_database_bytes().await;
    assert!(
        !raw.windows(13).any(|w| w == b"dmitri.k@exam"),
        "address stored in clear"
    );
    assert!(
        !raw.windows(8).any(|w| w == b"Karamazo"),
        "name stored in clear"
    );
}

db_test!(a_refused_form_comes_back_with_messages_next_to_fields_and_input_kept);
async fn a_refused_form_comes_back_with_messages_next_to_fields_and_input_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let fields = with(&valid_form(), "email", "dmitri-at-example");
    let fields = with(&fields, "body", "");
    let fields: Vec<_> = fields
        .into_iter()
        .filter(|(k, _)| *k != "consent")
        .collect();

    let resp = app.post_form(&fields).await;

    assert_eq!(resp.status(), 422);
    let page = text(resp).await;
    assert!(page.contains("id=\"email-error\""), "error next to e-mail");
    assert!(page.contains("This does not look like an e-mail address"));
    assert!(page.contains("id=\"body-error\""), "error next to message");
    assert!(
        page.contains("id=\"consent-error\""),
        "error next to consent"
    );
    assert!(
        page.contains("value=\"dmitri-at-example\""),
        "typed e-mail kept"
    );
    assert!(
        page.contains("value=\"Dmitri Karamazov\""),
        "typed name kept"
    );
    assert!(page.contains("value=\"A question\""), "typed subject kept");
    assert_eq!(app.count_threads().await, 0);
}

db_test!(typed_text_comes_back_escaped_not_as_markup);
async fn typed_text_comes_back_escaped_not_as_markup(backend: Backend) {
    let app = spawn_app(backend).await;
    let fields = with(&valid_form(), "name", "\"><script>alert(1)</script>");
    let fields = with(&fields, "email", "bad");

    let resp = app.post_form(&fields).await;

    assert_eq!(resp.status(), 422);
    let page = text(resp).await;
    assert!(!page.contains("<script>alert(1)</script>"));
    assert!(
        page.contains("&#34;&#62;&#60;script&#62;") || page.contains("&quot;&gt;&lt;script&gt;")
    );
}

db_test!(a_filled_honeypot_gets_the_same_success_and_stores_nothing);
async fn a_filled_honeypot_gets_the_same_success_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let fields = with(&valid_form(), "website", "http://spam.example");

    let resp = app.post_form(&fields).await;

    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with("/sent/"));
    let page = app.get(&location).await;
    assert_eq!(page.status(), 200);
    let page = text(page).await;
    assert!(
        page.contains("id=\"reference\">SP-"),
        "a reference is shown"
    );
    assert_eq!(app.count_threads().await, 0);
    assert_eq!(app.count_contacts().await, 0);
}

db_test!(a_form_post_that_is_not_urlencoded_is_refused_with_a_page);
async fn a_form_post_that_is_not_urlencoded_is_refused_with_a_page(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app
        .client
        .post(app.url("/"))
        .header("content-type", "application/json")
        .body("{\"body\":\"x\"}")
        .send()
        .await
        .expect("request");

    assert_eq!(resp.status(), 415);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/html")
    );
    assert_eq!(app.count_threads().await, 0);
}

db_test!(a_form_over_the_size_limit_is_refused_with_413);
async fn a_form_over_the_size_limit_is_refused_with_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let huge = "x".repeat(70_000);
    let mut fields = valid_form();
    fields.retain(|(k, _)| *k != "body");

    let resp = app
        .client
        .post(app.url("/"))
        .form(&[fields, vec![("body", huge.as_str())]].concat())
        .send()
        .await
        .expect("request");

    assert_eq!(resp.status(), 413);
    assert!(
        text(resp).await.contains("<html"),
        "an HTML page, not a bare status"
    );
    assert_eq!(app.count_threads().await, 0);
}

db_test!(the_privacy_policy_is_published_in_every_language);
async fn the_privacy_policy_is_published_in_every_language(backend: Backend) {
    let app = spawn_app(backend).await;
    for lang in ["en", "ru", "kk"] {
        let resp = app.get(&format!("/privacy?lang={lang}")).await;
        assert_eq!(resp.status(), 200);
        let page = text(resp).await;
        assert!(page.contains(&format!("<html lang=\"{lang}\">")));
        assert!(page.contains("2026-11-24"), "policy version shown");
        assert!(
            page.matches("<h2>").count() >= 8,
            "{lang} policy has its sections"
        );
    }
}

db_test!(the_stylesheet_and_icon_are_served_by_the_app);
async fn the_stylesheet_and_icon_are_served_by_the_app(backend: Backend) {
    let app = spawn_app(backend).await;

    let css = app.get("/static/sealpost.css").await;
    let icon = app.get("/favicon.svg").await;

    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/css")
    );
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
}

db_test!(an_unknown_page_is_a_localized_404);
async fn an_unknown_page_is_a_localized_404(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app.get("/no-such-page?lang=ru").await;

    assert_eq!(resp.status(), 404);
    let page = text(resp).await;
    assert!(page.contains("<html lang=\"ru\">"));
    assert!(page.contains("404"));
}

db_test!(a_long_russian_message_fits_through_the_form_as_the_browser_sends_it);
async fn a_long_russian_message_fits_through_the_form_as_the_browser_sends_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.get("/?lang=ru").await.text().await.expect("body");
    assert!(
        page.contains("enctype=\"multipart/form-data\""),
        "the form posts multipart"
    );
    let long = "Здравствуйте, мир! ".repeat(1050);
    assert!(long.chars().count() <= 20_000 && long.len() > 35_000);
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in valid_form() {
        form = form.text(
            k,
            if k == "body" {
                long.clone()
            } else {
                v.to_owned()
            },
        );
    }

    let resp = app
        .client
        .post(app.url("/"))
        .multipart(form)
        .send()
        .await
        .expect("request");

    assert_eq!(resp.status(), 303);
    let stored = sealpost::entities::messages::Entity::find()
        .one(app.db())
        .await
        .expect("q")
        .expect("stored");
    assert!(stored.body_html.contains("Здравствуйте, мир!"));
    assert!(stored.body_html.chars().count() > 19_000);
}

db_test!(the_form_names_both_required_things_and_keeps_the_policy_version_whole);
async fn the_form_names_both_required_things_and_keeps_the_policy_version_whole(backend: Backend) {
    let app = spawn_app(backend).await;
    for (lang, intro) in [
        (
            "en",
            "Only the message and your consent to the privacy policy are required",
        ),
        (
            "ru",
            "Обязательны только само сообщение и согласие с политикой конфиденциальности",
        ),
        (
            "kk",
            "Тек хабарламаның өзі мен құпиялылық саясатына келісіміңіз міндетті",
        ),
    ] {
        let page = text(app.get(&format!("/?lang={lang}")).await).await;
        assert!(page.contains(intro), "{lang}: {page}");
        assert!(!page.contains("Only the message itself"), "{lang}");
        // One unbreakable piece on a narrow screen.
        assert!(
            page.contains("<span class=\"nowrap\">") && page.contains("2026-11-24</span>"),
            "{lang}: {page}"
        );
    }
}

db_test!(a_form_without_a_policy_version_says_the_field_is_missing);
async fn a_form_without_a_policy_version_says_the_field_is_missing(backend: Backend) {
    let app = spawn_app(backend).await;
    let without: Vec<_> = valid_form()
        .into_iter()
        .filter(|(k, _)| *k != "policy_version")
        .collect();
    let empty = with(&valid_form(), "policy_version", "");

    for fields in [without, empty] {
        let resp = app.post_form(&fields).await;

        assert_eq!(resp.status(), 422);
        let page = text(resp).await;
        assert!(page.contains("id=\"policy-version-error\""), "{page}");
        assert!(
            page.contains("The form arrived without the version of the privacy policy it showed."),
            "{page}"
        );
        assert!(
            !page.contains("has changed"),
            "not a changed policy: {page}"
        );
        assert!(!page.contains("id=\"consent-error\""), "consent was given");
        // Sending the page back as it came now works: it carries the version again.
        assert!(page.contains("name=\"policy_version\" value=\"2026-11-24\""));
        assert!(page.contains("value=\"Dmitri Karamazov\""), "input kept");
    }
    assert_eq!(app.count_threads().await, 0);

    // In the visitor's language too.
    let ru = with(&with(&valid_form(), "policy_version", ""), "lang", "ru");
    let page = text(app.post_form(&ru).await).await;
    assert!(
        page.contains("Форма пришла без версии политики конфиденциальности"),
        "{page}"
    );
}

db_test!(a_form_with_an_old_policy_version_says_the_policy_changed);
async fn a_form_with_an_old_policy_version_says_the_policy_changed(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app
        .post_form(&with(&valid_form(), "policy_version", "2020-01-01"))
        .await;

    assert_eq!(resp.status(), 422);
    let page = text(resp).await;
    assert!(
        page.contains("The privacy policy has changed since this page was opened."),
        "{page}"
    );
    assert!(page.contains("id=\"consent-error\""));
    assert!(!page.contains("id=\"policy-version-error\""));
    assert_eq!(app.count_threads().await, 0);
}
