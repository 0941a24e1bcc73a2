//! The staff side through its pages: signing in and out, sessions, CSRF, throttling, the
//! password, the inbox and a thread, administration.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sealpost::entities::staff_sessions;

use crate::helpers::{
    Backend, STAFF_PASSWORD, TestAppBuilder, csrf_of, location, reset_link_in, spawn_app,
    text_body, valid_message,
};

const NEW_PASSWORD: &str = "violet tractor umbrella seventeen";

async fn thread_id_of_first_thread(app: &crate::helpers::TestApp) -> uuid::Uuid {
    sealpost::entities::threads::Entity::find()
        .one(app.db())
        .await
        .expect("db")
        .expect("a thread")
        .id
}

db_test!(a_person_signs_in_reads_answers_changes_the_password_and_signs_out);
async fn a_person_signs_in_reads_answers_changes_the_password_and_signs_out(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    app.add_staff("olga", "agent").await;
    let mut browser = app.browser();

    // Sign in.
    let resp = browser.sign_in("olga", STAFF_PASSWORD).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/staff");
    browser.refresh_csrf().await;

    // Read: the inbox lists the thread, the thread page shows the message.
    let inbox = browser.get("/staff").await.text().await.expect("page");
    assert!(inbox.contains("Question about delivery"), "{inbox}");
    let thread_id = thread_id_of_first_thread(&app).await;
    let page = browser
        .get(&format!("/staff/threads/{thread_id}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("when will my order arrive?"));
    assert!(
        page.contains("Anna Karenina"),
        "the visitor's name is shown"
    );
    assert!(!page.contains("anna.k@example.org"), "the address never is");

    // Answer: stored in the thread and mailed to the visitor from the support address.
    let resp = browser
        .post_multipart(
            &format!("/staff/threads/{thread_id}/replies"),
            &[("body", "It ships on Monday. — Olga")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let page = browser
        .get(&format!("/staff/threads/{thread_id}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("It ships on Monday."));
    assert!(page.contains("olga (staff)"));
    assert!(page.contains("status-answered"));
    let mails = app.wait_for_emails(3).await;
    let answer = mails
        .iter()
        .find(|m| text_body(m).contains("It ships on Monday."))
        .expect("the answer is mailed");
    let to = crate::helpers::header(answer, "To").expect("To");
    assert!(to.contains("anna.k@example.org"));
    let from = crate::helpers::header(answer, "From").expect("From");
    assert!(from.contains("support@"), "{from}");

    // Change the password.
    let resp = browser
        .post(
            "/staff/account/password",
            &[
                ("current_password", STAFF_PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/staff/account?done=password");

    // Sign out: the session is gone, and the new password is the one that works.
    let resp = browser.post("/staff/signout", &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(browser.get("/staff").await.status(), 303);
    assert_eq!(
        staff_sessions::Entity::find()
            .count(app.db())
            .await
            .expect("db"),
        0
    );
    let mut again = app.browser();
    assert_eq!(again.sign_in("olga", STAFF_PASSWORD).await.status(), 422);
    assert_eq!(again.sign_in("olga", NEW_PASSWORD).await.status(), 303);
}

db_test!(the_cookie_holds_only_an_opaque_id_whose_hash_is_stored);
async fn the_cookie_holds_only_an_opaque_id_whose_hash_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_staff("petr", "agent").await;
    let mut browser = app.browser();

    let resp = browser.sign_in("petr", STAFF_PASSWORD).await;

    let set_cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sealpost_session="))
        .expect("a session cookie");
    assert!(set_cookie.contains("HttpOnly"));
    assert!(set_cookie.contains("SameSite=Lax"));
    assert!(!set_cookie.contains("Secure"), "plain http in development");
    assert!(!set_cookie.contains("petr"));
    let value = set_cookie
        .trim_start_matches("sealpost_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(value.len() >= 43, "256 random bits");
    let rows = staff_sessions::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].id_hash, value.as_bytes(), "only a hash is stored");
    use sha2::Digest;
    assert_eq!(
        rows[0].id_hash,
        sha2::Sha256::digest(value.as_bytes()).to_vec()
    );
}

#[tokio::test]
async fn a_production_cookie_is_secure() {
    let app = TestAppBuilder::new(Backend::Sqlite)
        .set("SEALPOST__SITE__BASE_URL", "https://feedback.example.org")
        .spawn()
        .await;
    app.add_staff("petra", "agent").await;
    let mut browser = app.browser();

    let resp = browser.sign_in("petra", STAFF_PASSWORD).await;

    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("sealpost_session=") && c.contains("Secure")),
        "{cookies:?}"
    );
}

db_test!(an_unknown_login_and_a_wrong_password_get_the_same_answer);
async fn an_unknown_login_and_a_wrong_password_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_staff("rita", "agent").await;
    app.add_staff("sven", "agent").await;
    sealpost::auth::set_disabled(
        app.db(),
        "system:test",
        &sealpost::domain::Login::parse("sven").unwrap(),
        true,
    )
    .await
    .unwrap();

    let mut browser = app.browser();
    let wrong = browser.sign_in("rita", "not the password at all").await;
    let (wrong_status, wrong_page) = (wrong.status(), wrong.text().await.unwrap());
    let unknown = browser.sign_in("nobody", "not the password at all").await;
    let (unknown_status, unknown_page) = (unknown.status(), unknown.text().await.unwrap());
    let disabled = browser.sign_in("sven", STAFF_PASSWORD).await;
    let (disabled_status, disabled_page) = (disabled.status(), disabled.text().await.unwrap());

    assert_eq!(wrong_status, 422);
    assert_eq!(unknown_status, 422);
    assert_eq!(disabled_status, 422);
    let message = "The login or the password is not right.";
    assert!(wrong_page.contains(message));
    assert!(unknown_page.contains(message));
    assert!(disabled_page.contains(message));
    assert_eq!(
        staff_sessions::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );
}

db_test!(repeated_failures_throttle_an_account_even_for_the_right_password);
async fn repeated_failures_throttle_an_account_even_for_the_right_password(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__STAFF__SIGNIN_MAX_FAILURES", "3")
        .spawn()
        .await;
    app.add_staff("tanya", "agent").await;
    let mut browser = app.browser();

    for _ in 0..3 {
        assert_eq!(
            browser.sign_in("tanya", "wrong wrong wrong").await.status(),
            422
        );
    }
    let resp = browser.sign_in("tanya", STAFF_PASSWORD).await;

    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 15 * 60, "{wait}");
    let page = resp.text().await.unwrap();
    assert!(page.contains("Too many failed sign-ins"), "{page}");
    // An unknown login is throttled the same way, so the answer reveals nothing.
    for _ in 0..3 {
        browser.sign_in("ghost", "wrong wrong wrong").await;
    }
    assert_eq!(
        browser.sign_in("ghost", "wrong wrong wrong").await.status(),
        429
    );
}

db_test!(repeated_failures_from_one_address_throttle_it_across_logins);
async fn repeated_failures_from_one_address_throttle_it_across_logins(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__STAFF__SIGNIN_MAX_FAILURES_PER_IP", "4")
        .spawn()
        .await;
    app.add_staff("uma", "agent").await;
    let mut browser = app.browser();

    for login in ["a-one", "a-two", "a-three", "a-four"] {
        assert_eq!(
            browser.sign_in(login, "wrong wrong wrong").await.status(),
            422
        );
    }

    assert_eq!(browser.sign_in("uma", STAFF_PASSWORD).await.status(), 429);
}

db_test!(forms_without_the_csrf_token_are_refused);
async fn forms_without_the_csrf_token_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    let browser = app.signed_in("vera", "agent").await;
    let thread_id = thread_id_of_first_thread(&app).await;

    let no_token = browser
        .client
        .post(browser.url(&format!("/staff/threads/{thread_id}/status")))
        .form(&[("status", "closed")])
        .send()
        .await
        .unwrap();
    let wrong_token = browser
        .client
        .post(browser.url(&format!("/staff/threads/{thread_id}/status")))
        .form(&[
            ("status", "closed"),
            ("csrf", "forged-token-forged-token-forged-token"),
        ])
        .send()
        .await
        .unwrap();
    let multipart_without = browser
        .client
        .post(browser.url(&format!("/staff/threads/{thread_id}/replies")))
        .multipart(reqwest::multipart::Form::new().text("body", "hi"))
        .send()
        .await
        .unwrap();
    // The sign-in form of a fresh browser, posted without first getting the form.
    let fresh = app.browser();
    let signin = fresh
        .client
        .post(fresh.url("/staff/signin"))
        .form(&[("login", "vera"), ("password", STAFF_PASSWORD)])
        .send()
        .await
        .unwrap();

    assert_eq!(no_token.status(), 403);
    assert_eq!(wrong_token.status(), 403);
    assert_eq!(multipart_without.status(), 403);
    assert_eq!(signin.status(), 403);
    let thread = sealpost::entities::threads::Entity::find_by_id(thread_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(thread.status, "new", "nothing changed");
    assert_eq!(app.count_messages().await, 1);
}

db_test!(an_idle_or_expired_session_ends);
async fn an_idle_or_expired_session_ends(backend: Backend) {
    use sea_orm::sea_query::Expr;
    let app = spawn_app(backend).await;
    let idle = app.signed_in("walt", "agent").await;
    let old = app.signed_in("xena", "agent").await;
    let walt = app.staff_id("walt").await;
    let xena = app.staff_id("xena").await;
    let long_ago = (chrono::Utc::now() - chrono::Duration::hours(2)).fixed_offset();

    staff_sessions::Entity::update_many()
        .col_expr(staff_sessions::Column::LastSeenAt, Expr::value(long_ago))
        .filter(staff_sessions::Column::StaffId.eq(walt))
        .exec(app.db())
        .await
        .unwrap();
    staff_sessions::Entity::update_many()
        .col_expr(staff_sessions::Column::ExpiresAt, Expr::value(long_ago))
        .filter(staff_sessions::Column::StaffId.eq(xena))
        .exec(app.db())
        .await
        .unwrap();

    let resp = idle.get("/staff").await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/staff/signin"));
    let resp = old.get("/staff").await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/staff/signin"));
    assert_eq!(
        staff_sessions::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0,
        "expired sessions are deleted when seen"
    );
}

db_test!(a_password_change_ends_every_other_session_and_refuses_weak_ones);
async fn a_password_change_ends_every_other_session_and_refuses_weak_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    let laptop = app.signed_in("yuri", "agent").await;
    let mut phone = app.browser();
    assert_eq!(phone.sign_in("yuri", STAFF_PASSWORD).await.status(), 303);

    let weak = laptop
        .post(
            "/staff/account/password",
            &[
                ("current_password", STAFF_PASSWORD),
                ("new_password", "password1234"),
                ("new_password_again", "password1234"),
            ],
        )
        .await;
    let mismatch = laptop
        .post(
            "/staff/account/password",
            &[
                ("current_password", STAFF_PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", "something else entirely"),
            ],
        )
        .await;
    let wrong_current = laptop
        .post(
            "/staff/account/password",
            &[
                ("current_password", "not my password at all"),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(weak.status(), 422);
    let weak_page = weak.text().await.unwrap();
    assert!(weak_page.contains("That password is refused"));
    // zxcvbn's warning ends with its own full stop: one between the sentences, not two.
    assert!(
        weak_page.contains("This is a very common password. Add another word or two."),
        "{weak_page}"
    );
    assert!(!weak_page.contains(".."), "{weak_page}");
    assert_eq!(mismatch.status(), 422);
    assert!(
        mismatch
            .text()
            .await
            .unwrap()
            .contains("The two new passwords differ")
    );
    assert_eq!(wrong_current.status(), 422);
    assert!(
        wrong_current
            .text()
            .await
            .unwrap()
            .contains("The current password is not right")
    );
    assert_eq!(
        phone.get("/staff").await.status(),
        200,
        "nothing changed yet"
    );

    let ok = laptop
        .post(
            "/staff/account/password",
            &[
                ("current_password", STAFF_PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;

    assert_eq!(ok.status(), 303);
    assert_eq!(
        laptop.get("/staff").await.status(),
        200,
        "this session stays"
    );
    assert_eq!(
        phone.get("/staff").await.status(),
        303,
        "the other one ended"
    );
}

db_test!(a_forced_reset_kills_the_password_and_sessions_and_the_link_works_once);
async fn a_forced_reset_kills_the_password_and_sessions_and_the_link_works_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.signed_in("zoe", "admin").await;
    let victim = app.signed_in("ivan", "agent").await;

    let resp = admin.post("/staff/admin/accounts/ivan/reset", &[]).await;
    assert_eq!(resp.status(), 200);
    let link = reset_link_in(&resp.text().await.unwrap());

    assert_eq!(victim.get("/staff").await.status(), 303, "sessions ended");
    let mut browser = app.browser();
    assert_eq!(
        browser.sign_in("ivan", STAFF_PASSWORD).await.status(),
        422,
        "the old password is gone"
    );
    assert_eq!(browser.get(&link).await.status(), 200);
    let (form, set) = browser.choose_password(&link, NEW_PASSWORD).await;
    assert!(form.contains("ivan"));
    assert_eq!(set.status(), 303);
    assert_eq!(browser.sign_in("ivan", NEW_PASSWORD).await.status(), 303);
    let again = app.browser().get(&link).await;
    assert_eq!(again.status(), 404, "the link works once");
}

db_test!(the_inbox_filters_by_status_searches_and_pages);
async fn the_inbox_filters_by_status_searches_and_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..27 {
        let mut message = valid_message();
        message["subject"] = format!("Order number {i:02}").into();
        message["body"] = if i == 13 {
            "My parcel with the <b>zebra</b> mug broke".into()
        } else {
            "Where is my order?".into()
        };
        assert_eq!(app.post_message(&message).await.status(), 201);
    }
    let browser = app.signed_in("kira", "agent").await;
    let thread_id = thread_id_of_first_thread(&app).await;
    browser
        .post(
            &format!("/staff/threads/{thread_id}/status"),
            &[("status", "spam")],
        )
        .await;

    let first = browser.get("/staff").await.text().await.unwrap();
    assert_eq!(first.matches("class=\"inbox-item\"").count(), 25);
    let next = first
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("after="))
        .expect("an Older link")
        .replace("&amp;", "&");
    let second = browser.get(&next).await.text().await.unwrap();
    assert_eq!(second.matches("class=\"inbox-item\"").count(), 2);
    for i in 0..27 {
        let subject = format!("Order number {i:02}");
        assert_eq!(
            first.matches(&subject).count() + second.matches(&subject).count(),
            1,
            "{subject} is listed exactly once"
        );
    }

    let spam = browser
        .get("/staff?status=spam")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(spam.matches("class=\"inbox-item\"").count(), 1);
    let new = browser.get("/staff?status=new").await.text().await.unwrap();
    assert_eq!(new.matches("class=\"inbox-item\"").count(), 25);
    let found = browser.get("/staff?q=ZEBRA").await.text().await.unwrap();
    assert_eq!(found.matches("class=\"inbox-item\"").count(), 1);
    assert!(found.contains("Order number 13"));
    let by_subject = browser
        .get("/staff?q=number%2007")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(by_subject.matches("class=\"inbox-item\"").count(), 1);
    let wildcard = browser.get("/staff?q=%25").await.text().await.unwrap();
    assert_eq!(
        wildcard.matches("class=\"inbox-item\"").count(),
        0,
        "% is literal"
    );
    assert_eq!(browser.get("/staff?status=bogus").await.status(), 400);
    assert_eq!(browser.get("/staff?after=bogus").await.status(), 400);
}

db_test!(status_changes_and_spam_marking_are_kept);
async fn status_changes_and_spam_marking_are_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.post_message(&valid_message()).await.status(), 201);
    let browser = app.signed_in("lena", "agent").await;
    let thread_id = thread_id_of_first_thread(&app).await;

    let closed = browser
        .post(
            &format!("/staff/threads/{thread_id}/status"),
            &[("status", "closed")],
        )
        .await;
    assert_eq!(closed.status(), 303);
    let page = browser
        .get(&format!("/staff/threads/{thread_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("status status-closed"));
    let bogus = browser
        .post(
            &format!("/staff/threads/{thread_id}/status"),
            &[("status", "deleted")],
        )
        .await;
    assert_eq!(bogus.status(), 422);
    let unknown = browser
        .post(
            &format!("/staff/threads/{}/status", uuid::Uuid::now_v7()),
            &[("status", "spam")],
        )
        .await;
    assert_eq!(unknown.status(), 404);
    let empty_reply = browser
        .post_multipart(
            &format!("/staff/threads/{thread_id}/replies"),
            &[("body", "  ")],
        )
        .await;
    assert_eq!(empty_reply.status(), 422);
    assert_eq!(app.count_messages().await, 1);
}

db_test!(an_agent_cannot_open_administration_and_an_admin_manages_keys);
async fn an_agent_cannot_open_administration_and_an_admin_manages_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = app.signed_in("mira", "agent").await;
    let admin = app.signed_in("nina", "admin").await;

    assert_eq!(agent.get("/staff/admin").await.status(), 403);
    let created = admin
        .post(
            "/staff/admin/api-keys",
            &[("name", "helpdesk bridge"), ("role", "agent")],
        )
        .await;
    assert_eq!(created.status(), 200);
    let page = created.text().await.unwrap();
    let at = page.find("spk_").expect("the key is shown once");
    let key: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
        .collect();
    let listed = admin.get("/staff/admin").await.text().await.unwrap();
    assert!(listed.contains("helpdesk bridge"));
    assert!(!listed.contains(&key), "never shown again");

    let with_key = app
        .client
        .get(app.url("/api/v1/messages"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_ne!(with_key.status(), 401);
    let id = sealpost::auth::api_key::list(app.db()).await.unwrap()[0].id;
    let revoked = admin
        .post(&format!("/staff/admin/api-keys/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status(), 303);
    let after = app
        .client
        .get(app.url("/api/v1/messages"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    let self_disable = admin.post("/staff/admin/accounts/nina/disable", &[]).await;
    assert_eq!(self_disable.status(), 422);
    let disable = admin.post("/staff/admin/accounts/mira/disable", &[]).await;
    assert_eq!(disable.status(), 303);
    assert_eq!(
        agent.get("/staff").await.status(),
        303,
        "a disabled account is signed out"
    );
}

db_test!(after_sign_in_the_page_first_asked_for_opens);
async fn after_sign_in_the_page_first_asked_for_opens(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_staff("oleg", "agent").await;
    let browser = app.browser();

    let resp = browser.get("/staff?status=open").await;
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    assert_eq!(to, "/staff/signin?next=%2Fstaff%3Fstatus%3Dopen");
    let page = browser.get(&to).await.text().await.unwrap();
    let csrf = csrf_of(&page).unwrap();
    let resp = browser
        .client
        .post(browser.url("/staff/signin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "oleg"),
            ("password", STAFF_PASSWORD),
            ("next", "/staff?status=open"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), "/staff?status=open");
    let evil = browser
        .client
        .post(browser.url("/staff/signin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "oleg"),
            ("password", STAFF_PASSWORD),
            ("next", "//evil.example/staff"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&evil), "/staff", "no open redirect");
}

db_test!(a_canary_address_appears_in_no_staff_page_api_response_or_log);
async fn a_canary_address_appears_in_no_staff_page_api_response_or_log(backend: Backend) {
    let app = spawn_app(backend).await;
    // Mixed case: staff must not see it in any case.
    let canary = format!("Canary-{}@Example.NET", uuid::Uuid::now_v7().simple());
    let mut fields = crate::helpers::valid_form();
    for field in fields.iter_mut() {
        if field.0 == "email" {
            field.1 = Box::leak(canary.clone().into_boxed_str());
        }
    }
    assert_eq!(app.post_form(&fields).await.status(), 303);
    let agent = app.signed_in("c-agent", "agent").await;
    let admin = app.signed_in("c-admin", "admin").await;
    let thread_id = thread_id_of_first_thread(&app).await;
    let message_id = sealpost::entities::messages::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    let answered = agent
        .post_multipart(
            &format!("/staff/threads/{thread_id}/replies"),
            &[("body", "Thanks, we are on it.")],
        )
        .await;
    assert_eq!(answered.status(), 303);
    let key = sealpost::auth::api_key::create(
        app.db(),
        "system:test",
        "canary",
        sealpost::domain::Role::Admin,
        None,
    )
    .await
    .unwrap()
    .key;

    // Each place with what a person must find there, so that an error page or a redirect
    // cannot pass for a page without the address.
    let mut seen = Vec::new();
    let pages: [(&crate::helpers::StaffBrowser, String, &str); 8] = [
        (&agent, "/staff".into(), "A question"),
        (&agent, "/staff?q=example.net".into(), "No thread matches"),
        (&agent, "/staff?q=Sunday".into(), "A question"),
        (
            &agent,
            format!("/staff/threads/{thread_id}"),
            "Is the shop open on Sunday?",
        ),
        (&agent, "/staff/account".into(), "c-agent"),
        (&admin, "/staff/admin".into(), "c-agent"),
        (&admin, "/staff".into(), "A question"),
        (&admin, "/staff/account".into(), "c-admin"),
    ];
    for (browser, path, must_show) in pages {
        let resp = browser.get(&path).await;
        let status = resp.status();
        let head = format!("{:?}", resp.headers());
        let body = resp.text().await.unwrap();
        assert_eq!(status, 200, "{path}");
        assert!(
            body.contains(must_show),
            "{path} shows {must_show:?}: {body}"
        );
        seen.push((path, format!("{head}\n{body}")));
    }
    for (path, must_show) in [
        ("/api/v1/messages".to_owned(), "A question"),
        (
            format!("/api/v1/messages/{message_id}"),
            "Thanks, we are on it.",
        ),
        (
            format!("/api/v1/messages/{thread_id}"),
            "Is the shop open on Sunday?",
        ),
        ("/api/v1/api-keys".to_owned(), "canary"),
    ] {
        let resp = app
            .client
            .get(app.url(&path))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let head = format!("{:?}", resp.headers());
        let body = resp.text().await.unwrap();
        assert_eq!(status, 200, "{path}");
        assert!(
            body.contains(must_show),
            "{path} shows {must_show:?}: {body}"
        );
        seen.push((path, format!("{head}\n{body}")));
    }
    app.wait_for_outbox_idle().await;
    let to_staff: Vec<Vec<u8>> = app
        .sent_emails()
        .into_iter()
        .filter(|m| crate::helpers::header(m, "To").is_some_and(|t| t.contains("staff@")))
        .collect();
    assert_eq!(to_staff.len(), 1, "the notification");

    let lower = canary.to_lowercase();
    let local = lower.split('@').next().unwrap().to_owned();
    for (path, text) in &seen {
        let text = text.to_lowercase();
        assert!(!text.contains(&lower), "{path} shows the address");
        assert!(!text.contains(&local), "{path} shows part of the address");
    }
    for mail in &to_staff {
        assert!(
            !crate::helpers::mail_mentions(mail, &canary),
            "a mail to staff holds the address"
        );
        assert!(
            !crate::helpers::mail_mentions(mail, &local),
            "a mail to staff holds part of it"
        );
    }
    let logs = crate::helpers::captured_logs().to_lowercase();
    assert!(!logs.contains(&lower), "the logs hold the address");
}
