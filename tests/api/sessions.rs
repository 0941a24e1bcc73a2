//! Staff sessions as the privacy policy describes them: "Keep me signed in on this device",
//! the list of one's sessions with a sign-out for each and for all the others, and the reset
//! link a person asks for on the sign-in page, mailed to the account's own address.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sealpost::entities::{outbox, staff, staff_sessions};

use crate::helpers::{
    Backend, STAFF_PASSWORD, StaffBrowser, TestApp, TestAppBuilder, csrf_of, header, location,
    reset_link_in, spawn_app, text_body,
};

const NEW_PASSWORD: &str = "violet tractor umbrella seventeen";
const FIREFOX_ON_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                                 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// Signs in through the form with the "Keep me signed in" box ticked or not, from a browser
/// that names itself `user_agent`; returns the answer and the session cookie it set.
async fn sign_in(
    browser: &mut StaffBrowser,
    login: &str,
    remember: bool,
    user_agent: &str,
) -> (reqwest::Response, String) {
    let page = browser.get("/staff/signin").await.text().await.unwrap();
    let csrf = csrf_of(&page).expect("a CSRF field");
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("login", login),
        ("password", STAFF_PASSWORD),
    ];
    if remember {
        fields.push(("remember", "on"));
    }
    let resp = browser
        .client
        .post(browser.url("/staff/signin"))
        .header("user-agent", user_agent)
        .form(&fields)
        .send()
        .await
        .unwrap();
    let cookie = session_set_cookie(&resp).unwrap_or_default();
    (resp, cookie)
}

/// The `Set-Cookie` of the session cookie in an answer, whole.
fn session_set_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sealpost_session="))
        .map(str::to_owned)
}

/// A signed-in browser of `login` (created here), with or without the box.
async fn signed_in(app: &TestApp, login: &str, remember: bool, user_agent: &str) -> StaffBrowser {
    let mut browser = app.browser();
    let (resp, _) = sign_in(&mut browser, login, remember, user_agent).await;
    assert_eq!(resp.status(), 303, "{login} signs in");
    browser.refresh_csrf().await;
    browser
}

/// Moves every session of `login` back in time: last seen, and signed in, `hours` ago.
async fn idle_for(app: &TestApp, login: &str, hours: i64) {
    let then = (chrono::Utc::now() - chrono::Duration::hours(hours)).fixed_offset();
    staff_sessions::Entity::update_many()
        .col_expr(staff_sessions::Column::LastSeenAt, Expr::value(then))
        .col_expr(staff_sessions::Column::CreatedAt, Expr::value(then))
        .filter(staff_sessions::Column::StaffId.eq(app.staff_id(login).await))
        .exec(app.db())
        .await
        .unwrap();
}

async fn sessions_of(app: &TestApp, login: &str) -> Vec<staff_sessions::Model> {
    staff_sessions::Entity::find()
        .filter(staff_sessions::Column::StaffId.eq(app.staff_id(login).await))
        .all(app.db())
        .await
        .unwrap()
}

/// Changes the password of the browser's account from the test one to [`NEW_PASSWORD`].
async fn change_password(browser: &StaffBrowser) -> reqwest::Response {
    browser
        .post(
            "/staff/account/password",
            &[
                ("current_password", STAFF_PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await
}

/// Whether a browser is still signed in (the inbox opens rather than sending it to sign in).
async fn still_signed_in(browser: &StaffBrowser) -> bool {
    browser.get("/staff").await.status() == 200
}

/// The sign-out forms of other sessions on the account page, by handle.
fn handles_on(page: &str) -> Vec<String> {
    page.split("/staff/account/sessions/")
        .skip(1)
        .filter_map(|rest| rest.split_once("/end\""))
        .map(|(handle, _)| handle.to_owned())
        .collect()
}

db_test!(without_the_box_the_cookie_ends_with_the_browser_and_with_it_lasts_remember_days);
async fn without_the_box_the_cookie_ends_with_the_browser_and_with_it_lasts_remember_days(
    backend: Backend,
) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__STAFF__REMEMBER_DAYS", "3")
        .spawn()
        .await;
    app.add_staff("anya", "agent").await;
    let page = app
        .browser()
        .get("/staff/signin")
        .await
        .text()
        .await
        .unwrap();

    let (_, plain) = sign_in(&mut app.browser(), "anya", false, FIREFOX_ON_LINUX).await;
    let (_, kept) = sign_in(&mut app.browser(), "anya", true, FIREFOX_ON_LINUX).await;

    assert!(page.contains("Keep me signed in on this device"), "{page}");
    assert!(
        !page.contains("name=\"remember\" type=\"checkbox\" value=\"on\" checked"),
        "the box is off by default"
    );
    assert!(
        page.contains("/staff/forgot"),
        "a link to ask for a reset link"
    );
    let plain = plain.to_lowercase();
    assert!(plain.starts_with("sealpost_session="), "{plain}");
    assert!(
        !plain.contains("max-age") && !plain.contains("expires"),
        "a session cookie: {plain}"
    );
    let kept = kept.to_lowercase();
    assert!(kept.contains("max-age=259200"), "three days: {kept}");
    assert!(
        kept.contains("httponly") && kept.contains("samesite=lax"),
        "{kept}"
    );
    let mut remember: Vec<bool> = sessions_of(&app, "anya")
        .await
        .iter()
        .map(|s| s.remember)
        .collect();
    remember.sort();
    assert_eq!(remember, [false, true]);
}

db_test!(a_remembered_session_outlives_the_idle_expiry_but_not_its_own_end);
async fn a_remembered_session_outlives_the_idle_expiry_but_not_its_own_end(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_staff("boris", "agent").await;
    app.add_staff("vera", "agent").await;
    let forgetful = signed_in(&app, "boris", false, FIREFOX_ON_LINUX).await;
    let kept = signed_in(&app, "vera", true, FIREFOX_ON_LINUX).await;
    // Idle for 13 hours: past the idle expiry (30 min) and the plain absolute one (12 h), well
    // inside remember_days (14).
    idle_for(&app, "boris", 13).await;
    idle_for(&app, "vera", 13).await;

    assert!(
        !still_signed_in(&forgetful).await,
        "idle ends a plain session"
    );
    assert!(still_signed_in(&kept).await, "a remembered one stays");
    sealpost::auth::session::purge_expired(app.db(), &app.state.settings.staff)
        .await
        .unwrap();
    assert_eq!(
        sessions_of(&app, "vera").await.len(),
        1,
        "housekeeping keeps it"
    );

    // At remember_days after sign-in it ends all the same.
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).fixed_offset();
    staff_sessions::Entity::update_many()
        .col_expr(staff_sessions::Column::ExpiresAt, Expr::value(past))
        .filter(staff_sessions::Column::StaffId.eq(app.staff_id("vera").await))
        .exec(app.db())
        .await
        .unwrap();
    assert!(
        !still_signed_in(&kept).await,
        "its absolute end is remember_days"
    );
}

db_test!(sign_out_a_password_change_and_disabling_end_remembered_sessions);
async fn sign_out_a_password_change_and_disabling_end_remembered_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_staff("galina", "agent").await;
    app.add_staff("dmitri", "agent").await;
    let admin = app.signed_in("root", "admin").await;

    // Sign-out: the remembered cookie, sent again, signs nobody in.
    let mut laptop = app.browser();
    let (_, set) = sign_in(&mut laptop, "galina", true, FIREFOX_ON_LINUX).await;
    let cookie = set.split(';').next().unwrap().to_owned();
    laptop.refresh_csrf().await;
    let out = laptop.post("/staff/signout", &[]).await;
    assert_eq!(location(&out), "/staff/signin?done=signout");
    let replay = app
        .client
        .get(app.url("/staff"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay.status(),
        303,
        "sign-out ended the remembered session"
    );
    assert!(sessions_of(&app, "galina").await.is_empty());

    // A password change ends the other remembered sessions, not this one.
    let here = signed_in(&app, "galina", true, FIREFOX_ON_LINUX).await;
    let there = signed_in(&app, "galina", true, CHROME_ON_WINDOWS).await;
    assert_eq!(change_password(&here).await.status(), 303);
    assert!(still_signed_in(&here).await);
    assert!(!still_signed_in(&there).await, "a password change ends it");

    // Disabling the account ends them all.
    let kept = signed_in(&app, "dmitri", true, FIREFOX_ON_LINUX).await;
    let disabled = admin
        .post("/staff/admin/accounts/dmitri/disable", &[])
        .await;
    assert!(disabled.status().is_redirection() || disabled.status() == 200);
    assert!(!still_signed_in(&kept).await, "disabling ends it");
    assert!(sessions_of(&app, "dmitri").await.is_empty());
}

db_test!(the_session_list_shows_the_reduced_browser_and_system_and_no_ip);
async fn the_session_list_shows_the_reduced_browser_and_system_and_no_ip(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_staff("irina", "agent").await;
    let laptop = signed_in(&app, "irina", false, FIREFOX_ON_LINUX).await;
    let _office = signed_in(&app, "irina", true, CHROME_ON_WINDOWS).await;

    let page = laptop.get("/staff/account").await.text().await.unwrap();

    assert!(page.contains("Firefox on Linux"), "{page}");
    assert!(page.contains("Chrome on Windows"), "{page}");
    assert_eq!(page.matches("this device").count(), 1, "{page}");
    let this_row = page
        .split("<tr")
        .find(|row| row.contains("this device"))
        .unwrap();
    assert!(this_row.contains("Firefox on Linux"), "{this_row}");
    assert!(
        page.contains("Kept signed in until"),
        "the remembered one says so"
    );
    assert!(page.contains("Sign out everywhere else"));
    for never in ["127.0.0.1", "121.0", "120.0.0.0", "X11", "Win64"] {
        assert!(!page.contains(never), "the page shows {never:?}");
    }
    let mut stored: Vec<(String, String)> = sessions_of(&app, "irina")
        .await
        .into_iter()
        .map(|s| (s.browser, s.os))
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [
            ("Chrome".to_owned(), "Windows".to_owned()),
            ("Firefox".to_owned(), "Linux".to_owned())
        ],
        "only the families are stored"
    );
}

db_test!(one_session_is_signed_out_by_its_row_and_the_rest_everywhere_else);
async fn one_session_is_signed_out_by_its_row_and_the_rest_everywhere_else(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_staff("lena", "agent").await;
    app.add_staff("oleg", "agent").await;
    let here = signed_in(&app, "lena", false, FIREFOX_ON_LINUX).await;
    let phone = signed_in(&app, "lena", true, CHROME_ON_WINDOWS).await;
    let tablet = signed_in(&app, "lena", false, CHROME_ON_WINDOWS).await;
    let stranger = signed_in(&app, "oleg", false, FIREFOX_ON_LINUX).await;

    // Someone else's session is not found from here, and stays.
    let theirs = handles_on(&stranger.get("/staff/account").await.text().await.unwrap());
    assert!(theirs.is_empty(), "oleg has no other session to list");
    let mine = handles_on(&here.get("/staff/account").await.text().await.unwrap());
    assert_eq!(mine.len(), 2, "the two other sessions of lena");
    let oleg_page = stranger.get("/staff/account").await.text().await.unwrap();
    assert!(oleg_page.contains("this device"));
    let foreign = stranger
        .post(&format!("/staff/account/sessions/{}/end", mine[0]), &[])
        .await;
    assert_eq!(
        foreign.status(),
        404,
        "another person's session is no session here"
    );
    let bogus = here
        .post("/staff/account/sessions/not-a-handle/end", &[])
        .await;
    assert_eq!(bogus.status(), 404);
    let no_csrf = here
        .client
        .post(here.url(&format!("/staff/account/sessions/{}/end", mine[0])))
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    assert_eq!(
        sessions_of(&app, "lena").await.len(),
        3,
        "nothing ended yet"
    );

    // One row's sign-out ends exactly that session.
    let ended = here
        .post(&format!("/staff/account/sessions/{}/end", mine[0]), &[])
        .await;
    assert_eq!(location(&ended), "/staff/account?done=session#sessions");
    let alive = [
        still_signed_in(&phone).await,
        still_signed_in(&tablet).await,
    ];
    assert_eq!(
        alive.iter().filter(|a| **a).count(),
        1,
        "one of the two ended"
    );
    assert!(still_signed_in(&here).await);

    // "Sign out everywhere else" ends the rest, not this one and not oleg's.
    let others = here.post("/staff/account/sessions/end-others", &[]).await;
    assert_eq!(location(&others), "/staff/account?done=others#sessions");
    assert!(!still_signed_in(&phone).await && !still_signed_in(&tablet).await);
    assert!(still_signed_in(&here).await);
    assert!(still_signed_in(&stranger).await);
    let page = here.get("/staff/account").await.text().await.unwrap();
    assert!(page.contains("You are signed in nowhere else."), "{page}");

    let actions: Vec<String> = sealpost::entities::audit_log::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.iter().any(|a| a == "staff.session_ended"));
    assert!(actions.iter().any(|a| a == "staff.other_sessions_ended"));
}

/// Asks for a reset link from a fresh browser; returns the answer and the page it leads to.
async fn ask_for_link(app: &TestApp, login: &str) -> (u16, String, String) {
    let browser = app.browser();
    let form = browser.get("/staff/forgot").await.text().await.unwrap();
    let csrf = csrf_of(&form).expect("a CSRF field");
    let resp = browser
        .client
        .post(browser.url("/staff/forgot"))
        .form(&[("csrf", csrf.as_str()), ("login", login)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let to = location(&resp);
    let page = if to.is_empty() {
        resp.text().await.unwrap()
    } else {
        browser.get(&to).await.text().await.unwrap()
    };
    (status, to, page)
}

db_test!(a_forgotten_password_is_reset_through_a_one_time_link_mailed_to_the_account);
async fn a_forgotten_password_is_reset_through_a_one_time_link_mailed_to_the_account(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.add_staff("nina", "agent").await;
    let old_session = signed_in(&app, "nina", true, FIREFOX_ON_LINUX).await;
    let bad = old_session
        .post("/staff/account/email", &[("email", "nina at example")])
        .await;
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("That is not an e-mail address")
    );
    let saved = old_session
        .post(
            "/staff/account/email",
            &[("email", "Nina.Home@example.net")],
        )
        .await;
    assert_eq!(location(&saved), "/staff/account?done=email#email");

    let (status, to, page) = ask_for_link(&app, "nina").await;

    assert_eq!(status, 303);
    assert_eq!(to, "/staff/forgot?done=sent");
    assert!(page.contains("If that account exists and has an address, a link is on its way."));
    assert!(
        still_signed_in(&old_session).await,
        "asking alone ends nothing"
    );
    let mails = app.wait_for_emails(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        header(&mails[0], "To").as_deref(),
        Some("Nina.Home@example.net")
    );
    let link = reset_link_in(&text_body(&mails[0]));
    let mut browser = app.browser();
    assert_eq!(browser.get(&link).await.status(), 200);
    let (form, set) = browser.choose_password(&link, NEW_PASSWORD).await;
    assert!(form.contains("nina"));
    assert_eq!(set.status(), 303);
    assert!(
        !still_signed_in(&old_session).await,
        "using it ends other sessions"
    );
    assert_eq!(browser.sign_in("nina", STAFF_PASSWORD).await.status(), 422);
    assert_eq!(browser.sign_in("nina", NEW_PASSWORD).await.status(), 303);
    assert_eq!(
        app.browser().get(&link).await.status(),
        404,
        "it works once"
    );
    app.assert_audit_never_mentions(&["Nina.Home@example.net", "example.net"])
        .await;
    assert!(
        !crate::helpers::captured_logs().contains("Nina.Home@example.net"),
        "the address is never logged"
    );
}

db_test!(unknown_logins_and_accounts_without_an_address_get_the_same_answer_and_no_mail);
async fn unknown_logins_and_accounts_without_an_address_get_the_same_answer_and_no_mail(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.add_staff("pyotr", "agent").await;
    app.add_staff("rosa", "agent").await;
    let admin = app.signed_in("root", "admin").await;
    let rosa = signed_in(&app, "rosa", false, FIREFOX_ON_LINUX).await;
    rosa.post("/staff/account/email", &[("email", "rosa@example.net")])
        .await;
    admin.post("/staff/admin/accounts/rosa/disable", &[]).await;

    let unknown = ask_for_link(&app, "no-such-person").await;
    let without_address = ask_for_link(&app, "pyotr").await;
    let disabled = ask_for_link(&app, "rosa").await;

    assert_eq!(unknown.0, 303);
    assert_eq!(unknown, without_address, "the same answer and page");
    assert_eq!(unknown, disabled, "the same answer and page");
    assert_eq!(outbox::Entity::find().count(app.db()).await.unwrap(), 0);
    assert!(app.sent_emails().is_empty());
    let pyotr = staff::Entity::find()
        .filter(staff::Column::Login.eq("pyotr"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(pyotr.reset_token_hash.is_none(), "no link was made");
}

db_test!(asking_for_links_is_throttled_like_failed_sign_ins_for_any_login);
async fn asking_for_links_is_throttled_like_failed_sign_ins_for_any_login(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__STAFF__SIGNIN_MAX_FAILURES", "2")
        .spawn()
        .await;
    app.add_staff("sasha", "agent").await;
    let sasha = signed_in(&app, "sasha", false, FIREFOX_ON_LINUX).await;
    sasha
        .post("/staff/account/email", &[("email", "sasha@example.net")])
        .await;

    for login in ["sasha", "nobody-at-all"] {
        assert_eq!(ask_for_link(&app, login).await.0, 303);
        assert_eq!(ask_for_link(&app, login).await.0, 303);
        let browser = app.browser();
        let form = browser.get("/staff/forgot").await.text().await.unwrap();
        let third = browser
            .client
            .post(browser.url("/staff/forgot"))
            .form(&[("csrf", csrf_of(&form).unwrap().as_str()), ("login", login)])
            .send()
            .await
            .unwrap();
        assert_eq!(third.status(), 429, "{login}");
        assert!(third.headers().contains_key("retry-after"));
        assert!(third.text().await.unwrap().contains("Too many requests"));
    }
    assert_eq!(app.wait_for_emails(2).await.len(), 2, "two links, no third");
    assert!(
        still_signed_in(&sasha).await,
        "sign-in is not what was throttled"
    );
}

db_test!(a_password_change_voids_a_reset_link_still_in_the_mailbox);
async fn a_password_change_voids_a_reset_link_still_in_the_mailbox(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_staff("tomas", "agent").await;
    let tomas = signed_in(&app, "tomas", false, FIREFOX_ON_LINUX).await;
    tomas
        .post("/staff/account/email", &[("email", "tomas@example.net")])
        .await;
    ask_for_link(&app, "tomas").await;
    let mails = app.wait_for_emails(1).await;
    let link = reset_link_in(&text_body(&mails[0]));
    assert_eq!(app.browser().get(&link).await.status(), 200);

    assert_eq!(change_password(&tomas).await.status(), 303);

    assert_eq!(app.browser().get(&link).await.status(), 404);
}

db_test!(the_command_line_sets_and_clears_an_accounts_address);
async fn the_command_line_sets_and_clears_an_accounts_address(backend: Backend) {
    use std::io::Write;
    let app = spawn_app(backend).await;
    let email_of = |login: &'static str| {
        let db = app.db().clone();
        async move {
            staff::Entity::find()
                .filter(staff::Column::Login.eq(login))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .email
        }
    };
    let mut add = app
        .command()
        .args([
            "staff",
            "add",
            "ulla",
            "--role",
            "agent",
            "--password-stdin",
        ])
        .args(["--email", "ulla@example.net"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(format!("{STAFF_PASSWORD}\n").as_bytes())
        .unwrap();
    let added = add.wait_with_output().unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert_eq!(email_of("ulla").await.as_deref(), Some("ulla@example.net"));

    let bad = app
        .command()
        .args(["staff", "edit", "ulla", "--email", "not an address"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an e-mail address"));
    assert_eq!(email_of("ulla").await.as_deref(), Some("ulla@example.net"));

    let cleared = app
        .command()
        .args(["staff", "edit", "ulla", "--no-email"])
        .output()
        .unwrap();
    assert!(cleared.status.success());
    assert!(!String::from_utf8_lossy(&cleared.stdout).contains("example.net"));
    assert_eq!(email_of("ulla").await, None);
}

db_test!(the_second_factor_keeps_the_choice_of_the_sign_in_form);
async fn the_second_factor_keeps_the_choice_of_the_sign_in_form(backend: Backend) {
    use crate::second_factor::{now, post_code, secrets_on, totp};
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__STAFF__REQUIRE_SECOND_FACTOR", "true")
        .spawn()
        .await;
    app.add_staff("wanda", "admin").await;
    let max_age = |resp: &reqwest::Response| {
        session_set_cookie(resp)
            .expect("a session cookie")
            .to_lowercase()
            .contains("max-age=1209600")
    };

    // Enrolment at the first sign-in, with the box ticked: kept for remember_days throughout.
    let mut browser = app.browser();
    let (resp, _) = sign_in(&mut browser, "wanda", true, FIREFOX_ON_LINUX).await;
    assert_eq!(location(&resp), "/staff/account/second-factor");
    assert!(max_age(&resp));
    let page = browser
        .get("/staff/account/second-factor")
        .await
        .text()
        .await
        .unwrap();
    let totp = totp(&secrets_on(&page).remove(0));
    let enrolled = post_code(
        &browser,
        "/staff/account/second-factor",
        &totp.generate(now()),
    )
    .await;
    assert_eq!(enrolled.status(), 200);
    assert!(max_age(&enrolled), "the full session is remembered too");
    browser.refresh_csrf().await;
    browser.post("/staff/signout", &[]).await;

    // Password, then a code: the half-way cookie ends with the browser, the full one is kept.
    let (resp, _) = sign_in(&mut browser, "wanda", true, FIREFOX_ON_LINUX).await;
    assert_eq!(location(&resp), "/staff/signin/second-factor");
    assert!(!max_age(&resp), "a half-finished sign-in is never kept");
    let done = post_code(
        &browser,
        "/staff/signin/second-factor",
        &totp.generate(now() + 30),
    )
    .await;
    assert_eq!(done.status(), 303);
    assert!(max_age(&done), "the choice survives the second factor");
    let rows = sessions_of(&app, "wanda").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].remember && rows[0].stage == "full");
    assert_eq!(rows[0].browser, "Firefox");
}
