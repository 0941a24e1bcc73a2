//! The self-hosted proof of work (ALTCHA PoW v2): challenges from `GET /api/v1/challenge`,
//! solved here with the `altcha` crate's own solver (or, in the browser test, by the vendored
//! widget in headless Chromium), sent through the form and the API; replayed, expired, forged
//! and missing solutions refused or held as configured; the vendored widget served as pinned.

use std::time::Duration;

use base64::Engine as _;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use sealpost::entities::{pow_spent, threads};

use crate::helpers::{Backend, TestApp, TestAppBuilder, valid_form, valid_message};

/// A server with the proof of work on. A low cost keeps the unoptimized test solver quick; the
/// browser test uses the default.
async fn with_pow(backend: Backend) -> TestApp {
    builder(backend).spawn().await
}

fn builder(backend: Backend) -> TestAppBuilder {
    TestAppBuilder::new(backend)
        .set("SEALPOST__SPAM__POW__ENABLED", "true")
        .set("SEALPOST__SPAM__POW__COST", "20")
        .set("SEALPOST__SPAM__POW__EXPIRES_SECS", "30")
}

/// A challenge as the widget gets it.
async fn challenge(app: &TestApp) -> altcha::Challenge {
    let resp = app.get("/api/v1/challenge").await;
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("a challenge")
}

/// What the widget puts in its hidden field: base64 of the challenge and its solution.
fn payload(challenge: &altcha::Challenge, solution: &altcha::Solution) -> String {
    let json = json!({ "challenge": challenge, "solution": solution });
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

fn solve(challenge: &altcha::Challenge) -> altcha::Solution {
    altcha::solve_challenge(altcha::SolveChallengeOptions::new(challenge))
        .expect("a solvable challenge")
        .expect("solved within the solver's timeout")
}

/// A fresh challenge from the server, solved.
async fn solved(app: &TestApp) -> String {
    let challenge = challenge(app).await;
    let solution = solve(&challenge);
    payload(&challenge, &solution)
}

async fn api_with(app: &TestApp, altcha: Option<&str>) -> reqwest::Response {
    let mut msg = valid_message();
    if let Some(altcha) = altcha {
        msg["altcha"] = json!(altcha);
    }
    app.post_message(&msg).await
}

async fn form_with(app: &TestApp, altcha: Option<&str>) -> reqwest::Response {
    let mut form = valid_form();
    if let Some(altcha) = altcha {
        form.push(("altcha", altcha));
    }
    app.post_form(&form).await
}

/// Status and spam verdict of every conversation, oldest first.
async fn conversations(app: &TestApp) -> Vec<(String, String)> {
    threads::Entity::find()
        .order_by_asc(threads::Column::CreatedAt)
        .order_by_asc(threads::Column::Id)
        .all(app.db())
        .await
        .expect("threads")
        .into_iter()
        .map(|t| (t.status, t.spam_verdict.unwrap_or_default()))
        .collect()
}

async fn problem_of(resp: reqwest::Response) -> Value {
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    resp.json().await.expect("a problem document")
}

db_test!(the_challenge_is_a_signed_altcha_challenge_that_no_cache_keeps);
async fn the_challenge_is_a_signed_altcha_challenge_that_no_cache_keeps(backend: Backend) {
    let app = with_pow(backend).await;
    let before = chrono::Utc::now().timestamp();

    let resp = app.get("/api/v1/challenge").await;
    let again: Value = app
        .get("/api/v1/challenge")
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("application/json")
    );
    let body: Value = resp.json().await.expect("json");
    let p = &body["parameters"];
    assert_eq!(p["algorithm"], "PBKDF2/SHA-256");
    assert_eq!(p["cost"], 20);
    assert_eq!(p["keyLength"], 32);
    let expires = p["expiresAt"].as_i64().expect("expiresAt");
    assert!(
        (before + 30..=before + 32).contains(&expires),
        "expires {expires}, asked at {before} with spam.pow.expires_secs 30"
    );
    let hex = |v: &Value, len: usize| {
        let s = v.as_str().unwrap_or_default();
        s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
    };
    assert!(hex(&p["nonce"], 32) && hex(&p["salt"], 32), "{body}");
    assert_eq!(p["keyPrefix"], "00");
    assert!(p.get("keySignature").is_none(), "{body}");
    assert!(hex(&body["signature"], 64), "{body}");
    assert_ne!(
        body["signature"], again["signature"],
        "each challenge is new"
    );
    assert_ne!(p["nonce"], again["parameters"]["nonce"]);
    // The document describes it, with an example, for visitors' callers.
    let spec: Value = app
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .expect("spec");
    let op = &spec["paths"]["/v1/challenge"]["get"];
    assert_eq!(op["tags"][0], "visitor");
    assert!(op["responses"]["404"].is_object(), "{op}");
    assert!(
        spec["components"]["schemas"]["Challenge"]["example"].is_object(),
        "{}",
        spec["components"]["schemas"]["Challenge"]
    );
}

db_test!(with_the_proof_of_work_off_the_challenge_is_a_404_that_says_so);
async fn with_the_proof_of_work_off_the_challenge_is_a_404_that_says_so(backend: Backend) {
    let app = TestAppBuilder::new(backend).spawn().await;

    let resp = app.get("/api/v1/challenge").await;

    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let problem = problem_of(resp).await;
    assert_eq!(problem["code"], "not_found");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("proof of work is off"),
        "{problem}"
    );
    // And a message without `altcha` is simply accepted.
    assert_eq!(api_with(&app, None).await.status(), 201);
    assert_eq!(conversations(&app).await[0].0, "new");
}

db_test!(a_solved_challenge_is_accepted_by_the_form_and_by_the_api);
async fn a_solved_challenge_is_accepted_by_the_form_and_by_the_api(backend: Backend) {
    let app = with_pow(backend).await;
    let (for_form, for_api) = (solved(&app).await, solved(&app).await);

    let page = form_with(&app, Some(&for_form)).await;
    let api = api_with(&app, Some(&for_api)).await;

    assert_eq!(page.status(), 303, "{:?}", page.text().await);
    assert_eq!(api.status(), 201, "{:?}", api.text().await);
    let seen = conversations(&app).await;
    assert_eq!(seen.len(), 2);
    for (status, verdict) in &seen {
        assert_eq!(status, "new", "not held: {verdict}");
        assert!(!verdict.contains("proof_of_work"), "{verdict}");
    }
    let spent = pow_spent::Entity::find().all(app.db()).await.expect("rows");
    assert_eq!(spent.len(), 2, "each solved challenge is written down");
}

db_test!(the_same_solution_again_is_refused_and_nothing_is_stored);
async fn the_same_solution_again_is_refused_and_nothing_is_stored(backend: Backend) {
    let app = with_pow(backend).await;
    let once = solved(&app).await;
    assert_eq!(api_with(&app, Some(&once)).await.status(), 201);
    // Mail delivery unseals addresses and audits it: let the outbox settle first.
    app.wait_for_outbox_idle().await;
    let before = app.row_counts().await;

    let api = api_with(&app, Some(&once)).await;
    let page = form_with(&app, Some(&once)).await;

    assert_eq!(api.status(), 400);
    let problem = problem_of(api).await;
    assert_eq!(problem["code"], "pow_rejected");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("fetch a new challenge"), "{detail}");
    assert_eq!(page.status(), 400);
    let page = page.text().await.expect("page");
    assert!(
        page.contains("did not go through"),
        "the page says what happened"
    );
    assert!(
        page.contains("value=\"Dmitri Karamazov\""),
        "the visitor's text is kept"
    );
    assert!(
        page.contains("<altcha-widget"),
        "a new widget to solve again"
    );
    assert_eq!(app.row_counts().await, before, "nothing more is stored");
}

db_test!(a_solution_used_on_one_instance_is_refused_by_another_on_the_same_database);
async fn a_solution_used_on_one_instance_is_refused_by_another_on_the_same_database(
    backend: Backend,
) {
    let first = with_pow(backend.clone()).await;
    // The second instance shares the first's data directory (its development keys, and on
    // SQLite its database file) and, on PostgreSQL, its schema.
    let data_dir = first.data_dir.path().display().to_string();
    let mut second = builder(backend).set("SEALPOST__DATA_DIR", &data_dir);
    if let Backend::Postgres(_) = first.backend {
        second = second.set(
            "SEALPOST__DATABASE__SCHEMA",
            &first.state.settings.database.schema,
        );
    }
    let second = second.spawn().await;
    let once = solved(&first).await;

    let here = api_with(&first, Some(&once)).await;
    let there = api_with(&second, Some(&once)).await;

    assert_eq!(here.status(), 201);
    assert_eq!(there.status(), 400);
    assert_eq!(problem_of(there).await["code"], "pow_rejected");
    assert_eq!(first.count_threads().await, 1);
}

db_test!(of_many_submissions_of_one_solution_at_once_exactly_one_counts);
async fn of_many_submissions_of_one_solution_at_once_exactly_one_counts(backend: Backend) {
    let app = with_pow(backend).await;
    let once = solved(&app).await;

    let answers = futures_util::future::join_all((0..6).map(|_| api_with(&app, Some(&once)))).await;

    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 400, 400, 400, 400, 400]);
    assert_eq!(app.count_threads().await, 1);
}

db_test!(an_expired_challenge_is_accepted_but_held_for_review);
async fn an_expired_challenge_is_accepted_but_held_for_review(backend: Backend) {
    let app = with_pow(backend).await;
    let pow = app.state.pow.as_ref().expect("the proof of work is on");
    // A form left open past its challenge's expiry: signed by the server, solved, but late.
    let late = |secs| {
        let challenge = pow
            .challenge_expiring_at(chrono::Utc::now() - chrono::Duration::seconds(secs))
            .expect("a challenge");
        let solution = solve(&challenge);
        payload(&challenge, &solution)
    };
    let (for_form, for_api) = (late(5), late(3600));

    let page = form_with(&app, Some(&for_form)).await;
    let api = api_with(&app, Some(&for_api)).await;

    assert_eq!(page.status(), 303);
    assert_eq!(api.status(), 201);
    for (status, verdict) in conversations(&app).await {
        assert_eq!(status, "held");
        assert!(verdict.contains("expired_proof_of_work"), "{verdict}");
    }
    assert!(
        pow_spent::Entity::find()
            .all(app.db())
            .await
            .expect("rows")
            .is_empty(),
        "an expired challenge is not written down: it counts for nothing"
    );
}

db_test!(a_forged_solution_is_refused_and_nothing_is_stored);
async fn a_forged_solution_is_refused_and_nothing_is_stored(backend: Backend) {
    let app = with_pow(backend).await;
    let real = challenge(&app).await;
    let solution = solve(&real);
    let flip = |hex: &str| {
        let mut chars: Vec<char> = hex.chars().collect();
        chars[0] = if chars[0] == '0' { '1' } else { '0' };
        chars.into_iter().collect::<String>()
    };
    let mut signature = real.clone();
    signature.signature = real.signature.as_deref().map(flip);
    let mut cheaper = real.clone();
    cheaper.parameters.cost = 1;
    let mut unsigned = real.clone();
    unsigned.signature = None;
    // Claiming the challenge expired long ago would only get it held, were the signature not
    // checked first.
    let mut backdated = real.clone();
    backdated.parameters.expires_at = Some(1_000_000_000);
    let mut wrong_key = solution.clone();
    wrong_key.derived_key = flip(&solution.derived_key);
    // The key of one counter claimed for another: the server derives the key again.
    let mut wrong_counter = solution.clone();
    wrong_counter.counter = solution.counter.wrapping_add(1);
    // A challenge of the same shape, signed with another key.
    let stranger = altcha::create_challenge(altcha::CreateChallengeOptions {
        algorithm: "PBKDF2/SHA-256".into(),
        cost: 20,
        expires_at: real.parameters.expires_at,
        hmac_signature_secret: Some("not the server's key".into()),
        ..Default::default()
    })
    .expect("a challenge");
    let stranger_solution = solve(&stranger);
    let forged = [
        ("changed signature", payload(&signature, &solution)),
        ("changed cost", payload(&cheaper, &solution)),
        ("no signature", payload(&unsigned, &solution)),
        ("changed expiry", payload(&backdated, &solution)),
        ("wrong derived key", payload(&real, &wrong_key)),
        ("wrong counter", payload(&real, &wrong_counter)),
        ("another key", payload(&stranger, &stranger_solution)),
        ("not base64", "this is no payload".to_owned()),
        (
            "the widget's test mode",
            base64::engine::general_purpose::STANDARD
                .encode(r#"{"challenge":null,"solution":null,"test":true}"#),
        ),
    ];
    let before = app.row_counts().await;

    for (what, payload) in &forged {
        let api = api_with(&app, Some(payload)).await;
        let page = form_with(&app, Some(payload)).await;

        assert_eq!(api.status(), 400, "{what}");
        assert_eq!(problem_of(api).await["code"], "pow_rejected", "{what}");
        assert_eq!(page.status(), 400, "{what}");
    }

    assert_eq!(app.row_counts().await, before, "nothing is stored");
    // The real solution still counts: refusing the forgeries did not spend it.
    assert_eq!(
        api_with(&app, Some(&payload(&real, &solution)))
            .await
            .status(),
        201
    );
}

db_test!(a_missing_solution_is_held_for_review_or_refused_with_require);
async fn a_missing_solution_is_held_for_review_or_refused_with_require(backend: Backend) {
    let lenient = with_pow(backend.clone()).await;
    let strict = builder(backend)
        .set("SEALPOST__SPAM__POW__REQUIRE", "true")
        .spawn()
        .await;

    let held_page = form_with(&lenient, None).await;
    let held_api = api_with(&lenient, Some("")).await;
    let refused_api = api_with(&strict, None).await;
    let refused_page = form_with(&strict, None).await;

    assert_eq!(held_page.status(), 303);
    assert_eq!(held_api.status(), 201);
    for (status, verdict) in conversations(&lenient).await {
        assert_eq!(status, "held");
        assert!(verdict.contains("no_proof_of_work"), "{verdict}");
    }
    assert_eq!(refused_api.status(), 400);
    let problem = problem_of(refused_api).await;
    assert_eq!(problem["code"], "pow_rejected");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("GET /api/v1/challenge"),
        "{problem}"
    );
    assert_eq!(refused_page.status(), 400);
    let page = refused_page.text().await.expect("page");
    assert!(page.contains("This form needs JavaScript"), "{page}");
    assert!(page.contains("Is the shop open on Sunday?"), "text kept");
    assert_eq!(strict.count_threads().await, 0);
    // Solved, the strict site takes it.
    let once = solved(&strict).await;
    assert_eq!(api_with(&strict, Some(&once)).await.status(), 201);
}

db_test!(a_follow_up_on_the_private_link_needs_no_proof_of_work);
async fn a_follow_up_on_the_private_link_needs_no_proof_of_work(backend: Backend) {
    let app = with_pow(backend).await;
    let once = solved(&app).await;
    let first: Value = api_with(&app, Some(&once))
        .await
        .json()
        .await
        .expect("json");
    let path = first["thread_url"]
        .as_str()
        .expect("url")
        .trim_start_matches("http://127.0.0.1:8080")
        .to_owned();

    let resp = app
        .client
        .post(app.url(&path))
        .form(&[("body", "One more thing.")])
        .send()
        .await
        .expect("request");

    assert_eq!(resp.status(), 303);
    assert_eq!(app.count_messages().await, 2);
    assert_eq!(conversations(&app).await[0].0, "new");
}

db_test!(the_form_loads_the_vendored_widget_under_a_policy_for_this_site_s_scripts_only);
async fn the_form_loads_the_vendored_widget_under_a_policy_for_this_site_s_scripts_only(
    backend: Backend,
) {
    let app = with_pow(backend.clone()).await;
    let strict = builder(backend.clone())
        .set("SEALPOST__SPAM__POW__REQUIRE", "true")
        .spawn()
        .await;
    let off = TestAppBuilder::new(backend).spawn().await;

    let form = app.get("/?lang=en").await;
    let russian = app.get("/?lang=ru").await.text().await.expect("page");
    let privacy = app.get("/privacy").await;
    let strict_form = strict.get("/?lang=kk").await.text().await.expect("page");
    let off_form = off.get("/").await;

    let csp = form.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "worker-src 'self';",
        "connect-src 'self';",
        "style-src 'self';",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    for loose in [
        "unsafe-inline",
        "unsafe-eval",
        "blob:",
        "http:",
        "https:",
        "*",
    ] {
        assert!(!csp.contains(loose), "{loose} in {csp}");
    }
    let page = form.text().await.expect("page");
    for piece in [
        r#"<script type="module" src="/static/altcha/altcha.js"></script>"#,
        r#"<script type="module" src="/static/pow.js"></script>"#,
        r#"<link rel="stylesheet" href="/static/altcha/altcha.css">"#,
        r#"<altcha-widget challenge="/api/v1/challenge" name="altcha" auto="onfocus" language="en""#,
        "<noscript>",
        "Without JavaScript your message is still sent, but it is reviewed before it reaches anyone.",
    ] {
        assert!(page.contains(piece), "{piece}");
    }
    assert!(
        !page.contains("/static/altcha/en.js"),
        "English is built in"
    );
    assert!(russian.contains(r#"<script type="module" src="/static/altcha/ru.js"></script>"#));
    assert!(russian.contains(r#"language="ru""#));
    assert!(russian.contains("Без JavaScript сообщение тоже будет отправлено"));
    assert!(strict_form.contains(r#"src="/static/altcha/kk.js""#));
    assert!(strict_form.contains("Бұл формаға JavaScript қажет"));
    // Every other page keeps its script-free policy.
    let privacy_csp = privacy.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(!privacy_csp.contains("script-src"), "{privacy_csp}");
    assert!(!privacy_csp.contains("worker-src"), "{privacy_csp}");
    let off_csp = off_form.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(!off_csp.contains("script-src"), "{off_csp}");
    let off_page = off_form.text().await.expect("page");
    assert!(
        !off_page.contains("<script"),
        "no script without the proof of work"
    );
    assert!(!off_page.contains("altcha"));
    assert!(!off_page.contains("<noscript>"));
}

/// The pins, as written down next to the vendored files.
const PINS: &str = include_str!("../../templates/static/altcha/SHA256SUMS");

db_test!(the_served_widget_is_the_vendored_one_byte_for_byte_as_pinned);
async fn the_served_widget_is_the_vendored_one_byte_for_byte_as_pinned(backend: Backend) {
    let app = with_pow(backend).await;
    let pins: Vec<(&str, &str)> = PINS
        .lines()
        .filter_map(|line| line.split_once("  "))
        .collect();
    let names: Vec<&str> = pins.iter().map(|(_, name)| *name).collect();
    assert_eq!(
        names,
        [
            "altcha.js",
            "altcha.css",
            "pbkdf2.js",
            "ru.js",
            "kk.js",
            "LICENSE.txt"
        ]
    );

    for (pin, name) in &pins {
        let resp = app.get(&format!("/static/altcha/{name}")).await;
        assert_eq!(resp.status(), 200, "{name}");
        let content_type = resp.headers()["content-type"]
            .to_str()
            .expect("type")
            .to_owned();
        if name.ends_with(".js") {
            assert_eq!(content_type, "text/javascript; charset=utf-8", "{name}");
        }
        let bytes = resp.bytes().await.expect("body");
        let served: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(&served, pin, "{name} is not the pinned file");
    }
    assert_eq!(app.get("/static/altcha/README.md").await.status(), 404);
    assert_eq!(app.get("/static/altcha/SHA256SUMS").await.status(), 404);
    let glue = app.get("/static/pow.js").await;
    assert_eq!(glue.status(), 200);
    assert!(
        glue.text()
            .await
            .expect("body")
            .contains("new Worker(\"/static/altcha/pbkdf2.js\")")
    );
    // The widget is the build without bundled workers, and speaks to no other host.
    let widget = app
        .get("/static/altcha/altcha.js")
        .await
        .text()
        .await
        .expect("body");
    assert!(
        !widget.contains("createObjectURL"),
        "a build with inline workers"
    );
}

db_test!(the_retention_sweeper_forgets_spent_challenges_once_they_expire);
async fn the_retention_sweeper_forgets_spent_challenges_once_they_expire(backend: Backend) {
    let app = with_pow(backend).await;
    let once = solved(&app).await;
    assert_eq!(api_with(&app, Some(&once)).await.status(), 201);
    let long_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).fixed_offset();
    pow_spent::Entity::insert(pow_spent::ActiveModel {
        digest: Set(vec![7; 32]),
        expires_at: Set(long_ago),
    })
    .exec_without_returning(app.db())
    .await
    .expect("an expired row");

    let swept = sealpost::privacy::sweep(&app.state).await.expect("sweep");

    assert_eq!(swept.spent_challenges_forgotten, 1);
    let left = pow_spent::Entity::find().all(app.db()).await.expect("rows");
    assert_eq!(left.len(), 1, "the unexpired one stays");
    assert_ne!(left[0].digest, vec![7; 32]);
    assert!(
        pow_spent::Entity::find()
            .filter(pow_spent::Column::ExpiresAt.lt(chrono::Utc::now().fixed_offset()))
            .all(app.db())
            .await
            .expect("rows")
            .is_empty()
    );
    // Still used: the same solution is refused after the sweep.
    assert_eq!(api_with(&app, Some(&once)).await.status(), 400);
}

/// Headless Chromium on the real form: the vendored widget fetches a challenge, solves it in its
/// worker while the test types, and the message goes through without being held. Every request
/// the page and its worker made, as DevTools saw them, went to the server; no other host even
/// resolves. SQLite only: what is tested is the browser's side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_real_browser_the_widget_solves_the_challenge_and_calls_no_other_host() {
    use fantoccini::Locator;

    let Some((_driver, client)) = crate::xss_browser::start_browser(
        &["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".to_owned()],
        true,
    )
    .await
    else {
        return;
    };
    let app = TestAppBuilder::new(Backend::Sqlite)
        .set("SEALPOST__SPAM__POW__ENABLED", "true")
        .spawn()
        .await;

    // What the browser's own start page loaded is not the form's doing. And the detector
    // first: a request to another host, from a page without a policy, is seen.
    client.goto("about:blank").await.expect("a blank page");
    client
        .execute(
            "fetch('http://elsewhere.invalid/detector').catch(() => {}); return 1;",
            vec![],
        )
        .await
        .expect("script");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let detected = crate::xss_browser::network_requests(&client).await;
    assert!(
        detected
            .iter()
            .any(|url| url == "http://elsewhere.invalid/detector"),
        "the log misses a request to another host: {detected:#?}"
    );
    client
        .goto(&app.url("/?lang=en"))
        .await
        .expect("the form opens");
    client
        .find(Locator::Id("name"))
        .await
        .expect("name")
        .send_keys("Ivan Browser")
        .await
        .expect("typing");
    client
        .find(Locator::Id("body"))
        .await
        .expect("body")
        .send_keys("Written in a real browser, solved by the widget on its own.")
        .await
        .expect("typing");
    client
        .find(Locator::Id("consent"))
        .await
        .expect("consent")
        .click()
        .await
        .expect("ticking");
    // The widget started when the form got focus; wait for its payload.
    let mut solved = String::new();
    for _ in 0..300 {
        let value = client
            .execute(
                "const i = document.querySelector('input[name=altcha]'); return i ? i.value : '';",
                vec![],
            )
            .await
            .expect("script");
        solved = value.as_str().unwrap_or_default().to_owned();
        if !solved.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = client
        .execute(
            "return document.querySelector('altcha-widget').getState();",
            vec![],
        )
        .await
        .expect("state");
    assert!(
        !solved.is_empty(),
        "the widget did not solve (state {state})"
    );
    assert_eq!(state, "verified");
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("sending");
    let mut sent = false;
    for _ in 0..100 {
        if client
            .current_url()
            .await
            .is_ok_and(|u| u.path().starts_with("/sent/"))
        {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let requests = crate::xss_browser::network_requests(&client).await;
    let _ = client.close().await;

    assert!(sent, "the form did not go through");
    let seen = conversations(&app).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "new", "held: {}", seen[0].1);
    assert!(!seen[0].1.contains("proof_of_work"), "{}", seen[0].1);
    for expected in [
        "/static/altcha/altcha.js",
        "/static/altcha/altcha.css",
        "/static/pow.js",
        "/static/altcha/pbkdf2.js",
        "/api/v1/challenge",
        "/sent/",
    ] {
        assert!(
            requests.iter().any(|url| url.contains(expected)),
            "{expected} not among {requests:#?}"
        );
    }
    let network: Vec<&String> = requests
        .iter()
        .filter(|url| !url.starts_with("data:") && !url.starts_with("blob:"))
        .collect();
    for url in &network {
        assert!(
            url.starts_with(&format!("{}/", app.address)),
            "a request to another host: {url} (of {network:#?})"
        );
    }
}
