//! Rspamd, the real one (Debian's `rspamd`, started by each test with the sample
//! `config/rspamd/local.d`): its score through `checkv2`, learning through `learnspam` and
//! `learnham`, the errors Sealpost tells apart, what Rspamd gets to see, and the client that
//! start-up builds from `spam.rspamd.*`.

use std::time::Duration;

use sealpost::config::{Profile, RspamdSettings, Settings};
use sealpost::spam::rspamd::{Learn, Rspamd, RspamdError, Scan, message};
use secrecy::SecretString;

use crate::helpers::{Backend, TestAppBuilder, captured_logs_since, free_port, log_mark};
use crate::rspamd_server::{RSPAMD_PASSWORD, RspamdServer};

/// The GTUBE test string: every Rspamd refuses a message that carries it.
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

fn default_settings() -> Settings {
    let dir = tempfile::tempdir().expect("temp dir");
    Settings::load_from(
        dir.path(),
        Profile::Development,
        config::Environment::with_prefix("SEALPOST").source(Some(Default::default())),
    )
    .expect("the defaults load")
}

fn scan<'a>(subject: Option<&'a str>, text: &'a str, language: &'a str) -> Scan<'a> {
    Scan {
        subject,
        text,
        language,
    }
}

/// A text of its own per test, so that what one test teaches Rspamd is not another's.
fn unique(text: &str) -> String {
    format!("{text}\nOrder number {}.", uuid::Uuid::now_v7().simple())
}

/// Rspamd's own score for an action (`GET /actions` on the controller).
async fn action_score(server: &RspamdServer, action: &str) -> f64 {
    let actions = server.controller("actions").await;
    actions
        .as_array()
        .and_then(|all| all.iter().find(|a| a["action"] == action))
        .and_then(|a| a["value"].as_f64())
        .unwrap_or_else(|| panic!("no {action} in {actions}"))
}

/// A guard against hanging for ever, far above the 1 s timeout the test sets; not a speed test.
async fn bounded<T>(what: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), what)
        .await
        .expect("a result at all")
}

fn settings_at(url: String, password: &str, timeout_secs: u64) -> RspamdSettings {
    RspamdSettings {
        url,
        password: SecretString::from(password),
        timeout_secs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtube_scores_at_least_rspamds_reject_score_and_sealposts() {
    let Some(server) = RspamdServer::start().await else {
        return;
    };
    let text = format!("Hello,\n{GTUBE}\nBest regards");

    let verdict = server
        .client()
        .check(&scan(Some("Test"), &text, "en"))
        .await
        .expect("Rspamd answers");

    let reject = action_score(&server, "reject").await;
    let sealposts = default_settings().spam.reject_score;
    assert!(
        verdict.score >= reject && verdict.score >= sealposts,
        "{verdict:?} against reject {reject} and spam.reject_score {sealposts}"
    );
    assert_eq!(verdict.action, "reject");
    assert!(verdict.symbols.iter().any(|s| s == "GTUBE"), "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_friendly_message_scores_below_the_hold_score() {
    let Some(server) = RspamdServer::start().await else {
        return;
    };
    let rspamd = server.client();
    let hold = default_settings().spam.hold_score;
    let messages = [
        (
            Some("Question about delivery"),
            "Hello,\nwhen will my order arrive? I ordered a blue teapot last week and have not \
             heard back since.\nThank you for your help,\nAnna",
            "en",
        ),
        (
            None,
            "Is the shop open on Sunday? We would like to come by with the children.",
            "en",
        ),
        (
            Some("Вопрос о доставке"),
            "Здравствуйте!\nКогда придёт мой заказ? Я заказала синий чайник на прошлой неделе.\n\
             Спасибо за помощь,\nАнна",
            "ru",
        ),
        (
            Some("Жеткізу туралы сұрақ"),
            "Сәлеметсіз бе!\nМенің тапсырысым қашан келеді? Өткен аптада көк шәйнек тапсырыс \
             бердім.\nРахмет,\nАнна",
            "kk",
        ),
    ];

    for (subject, text, language) in messages {
        let verdict = rspamd
            .check(&scan(subject, text, language))
            .await
            .expect("Rspamd answers");

        assert!(
            verdict.score < hold,
            "{subject:?} scored {verdict:?}, spam.hold_score is {hold}"
        );
        assert!(
            verdict.score.abs() < 0.5,
            "near 0: {subject:?}: {verdict:?}"
        );
        assert_eq!(verdict.action, "no action", "{subject:?}: {verdict:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learning_spam_and_ham_changes_rspamds_learned_counts() {
    let Some(server) = RspamdServer::start().await else {
        return;
    };
    let rspamd = server.client();
    let spam = unique(
        "Dear friend, you have won a prize of one million dollars. Send your bank details today \
         to claim the prize before the offer expires.",
    );
    let ham = unique(
        "Hello, the teapot arrived today and it is lovely. Thank you for the quick delivery and \
         the kind note in the parcel.",
    );
    let learned = |stat: &serde_json::Value| stat["learned"].as_u64().expect("learned in /stat");
    let before = learned(&server.controller("stat").await);
    assert_eq!(server.learned(), (0, 0));

    rspamd
        .learn(Learn::Spam, &scan(Some("You won"), &spam, "en"))
        .await
        .expect("learned as spam");
    let after_spam = learned(&server.controller("stat").await);
    let counts_after_spam = server.learned();
    rspamd
        .learn(Learn::Ham, &scan(Some("Thank you"), &ham, "en"))
        .await
        .expect("learned as ham");
    let after_ham = learned(&server.controller("stat").await);

    assert_eq!(after_spam, before + 1);
    assert_eq!(counts_after_spam, (1, 0));
    assert_eq!(after_ham, before + 2);
    assert_eq!(server.learned(), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learning_the_same_message_twice_is_ok_and_not_spam_moves_it_over() {
    let Some(server) = RspamdServer::start().await else {
        return;
    };
    let rspamd = server.client();
    let text = unique(
        "Cheap watches and bags, best replica quality, free shipping worldwide, order now and \
         get a second one free of charge.",
    );
    let message = scan(Some("Best offer"), &text, "en");

    rspamd.learn(Learn::Spam, &message).await.expect("learned");
    let again = rspamd.learn(Learn::Spam, &message).await;
    let counts_after_twice = server.learned();
    // Staff said "Spam", then "Not spam".
    let moved = rspamd.learn(Learn::Ham, &message).await;

    assert!(again.is_ok(), "{again:?}");
    assert_eq!(counts_after_twice, (1, 0), "learned once only");
    assert!(moved.is_ok(), "{moved:?}");
    assert_eq!(server.learned(), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_too_short_to_learn_from_is_not_an_error() {
    let Some(server) = RspamdServer::start().await else {
        return;
    };

    let learned = server
        .client()
        .learn(Learn::Spam, &scan(Some("Hi"), "hi", "en"))
        .await;

    assert!(learned.is_ok(), "{learned:?}");
    assert_eq!(server.learned(), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_password_is_refused() {
    let Some(server) = RspamdServer::start().await else {
        return;
    };
    let text = unique("Hello, is the shop open on Sunday? We would like to visit.");
    let message = scan(Some("Opening hours"), &text, "en");

    for password in ["not-the-password", ""] {
        let rspamd = Rspamd::from_settings(&server.settings(password)).expect("a client");

        let checked = rspamd.check(&message).await;
        let learned = rspamd.learn(Learn::Ham, &message).await;

        assert!(
            matches!(checked, Err(RspamdError::Refused(_))),
            "{password:?}: {checked:?}"
        );
        assert!(
            matches!(learned, Err(RspamdError::Refused(_))),
            "{password:?}: {learned:?}"
        );
    }
    assert_eq!(server.learned(), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_or_no_answer_in_time_is_unavailable() {
    // No Rspamd needed: a port where nothing listens, and one that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let text = "Hello, is the shop open on Sunday?";
    let message = scan(None, text, "en");

    for url in [format!("http://127.0.0.1:{}", free_port()), silent_url] {
        let rspamd =
            Rspamd::from_settings(&settings_at(url.clone(), RSPAMD_PASSWORD, 1)).expect("a client");
        let checked = bounded(rspamd.check(&message)).await;
        let learned = bounded(rspamd.learn(Learn::Spam, &message)).await;
        let pinged = bounded(rspamd.ping()).await;

        assert!(
            matches!(checked, Err(RspamdError::Unavailable(_))),
            "{checked:?}"
        );
        assert!(
            matches!(learned, Err(RspamdError::Unavailable(_))),
            "{learned:?}"
        );
        assert!(
            matches!(pinged, Err(RspamdError::Unavailable(_))),
            "{pinged:?}"
        );
    }
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_rspamd_receives_and_keeps_names_nobody() {
    let Some(server) = RspamdServer::start().await else {
        return;
    };
    let text = unique("Hello, could you tell me when the shop opens after the holidays?");
    let scanned = scan(Some("Opening hours"), &text, "en");
    let built = message(&scanned).expect("a message");
    let mime = mail_parser::MessageParser::default()
        .parse(&built)
        .expect("parses");
    let id = mime.message_id().expect("a Message-ID").to_owned();

    let verdict = server.client().check(&scanned).await.expect("checked");
    let history = server.controller("history").await;

    assert!(verdict.score < 5.0, "{verdict:?}");
    let rows = history
        .as_array()
        .or_else(|| history["rows"].as_array())
        .expect("history rows");
    let row = rows
        .iter()
        .find(|r| r["id"].as_str() == Some(id.as_str()) || r["message-id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not in the history: {history}"));
    // No IP and no envelope sender went with the request.
    assert_eq!(row["ip"], "unknown", "{row}");
    assert_eq!(row["from"], "unknown", "{row}");
    // The only addresses in the message, and in Rspamd's log of the scan, are the fixed ones.
    let addresses = |text: &str| -> Vec<String> {
        text.split(|c: char| c.is_whitespace() || "<>,;\"'()[]".contains(c))
            .filter(|word| word.contains('@') && word.contains('.'))
            .map(str::to_owned)
            .collect()
    };
    let in_message = addresses(&String::from_utf8_lossy(&built));
    assert_eq!(
        in_message,
        ["form@sealpost.invalid", "staff@sealpost.invalid", &id[..]]
    );
    let log = server.log_tail(400);
    let logged: Vec<String> = addresses(&log)
        .into_iter()
        .filter(|a| !a.ends_with("sealpost.invalid"))
        .collect();
    assert!(logged.is_empty(), "{logged:?} in:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_sample_configuration_rspamd_looks_nothing_up() {
    let Some(server) = RspamdServer::start().await else {
        return;
    };
    // Links, a shortener, an address and an IP: each would be a DNS blocklist query (SURBL,
    // URIBL, Spamhaus DBL, the e-mail lists) with Rspamd's stock modules.
    let text = unique(
        "Hello, please see https://www.example.com/offer and http://bit.ly/3abcdef or write \
         to someone@example.org; the server at http://192.0.2.7/login was down.",
    );
    let before = server.dns_queries();

    let verdict = server
        .client()
        .check(&scan(Some("Links"), &text, "en"))
        .await
        .expect("Rspamd answers");
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(server.dns_queries(), 0, "after {verdict:?}");
    assert_eq!(before, 0, "at start-up");
}

db_test!(start_up_builds_the_rspamd_client_from_settings_and_counts_its_requests);
async fn start_up_builds_the_rspamd_client_from_settings_and_counts_its_requests(backend: Backend) {
    const TOKEN: &str = "scraper-token-for-tests-only";
    let Some(builder) = TestAppBuilder::new(backend.clone()).with_rspamd().await else {
        return;
    };
    let app = builder.set("SEALPOST__METRICS__TOKEN", TOKEN).spawn().await;
    let without = TestAppBuilder::new(backend).spawn().await;
    let text = format!("Hello,\n{GTUBE}");

    let rspamd = app.state.rspamd.as_ref().expect("spam.rspamd.url is set");
    let verdict = rspamd
        .check(&scan(Some("Test"), &text, "en"))
        .await
        .expect("the configured password is sent");
    let scraped = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");

    let stat = app
        .rspamd
        .as_ref()
        .expect("started")
        .controller("stat")
        .await;

    assert_eq!(verdict.action, "reject");
    assert_eq!(stat["scanned"], 1, "{stat}");
    assert!(
        scraped.contains("sealpost_rspamd_requests_total{request=\"check\",outcome=\"ok\"} 1"),
        "{scraped}"
    );
    assert!(
        without.state.rspamd.is_none(),
        "off without spam.rspamd.url"
    );
}

db_test!(an_rspamd_that_does_not_answer_is_a_warning_at_start_not_a_failure);
async fn an_rspamd_that_does_not_answer_is_a_warning_at_start_not_a_failure(backend: Backend) {
    let mark = log_mark();
    let url = format!("http://127.0.0.1:{}", free_port());

    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SPAM__RSPAMD__URL", &url)
        .set("SEALPOST__SPAM__RSPAMD__TIMEOUT_SECS", "1")
        .spawn()
        .await;

    assert_eq!(app.get("/healthz").await.status(), 200);
    assert!(app.state.rspamd.is_some());
    let logs = captured_logs_since(mark);
    let warning = logs
        .lines()
        .find(|l| l.contains("Rspamd does not answer") && l.contains(&url))
        .unwrap_or_else(|| panic!("no warning naming {url}"));
    assert!(warning.contains("\"level\":\"WARN\""), "{warning}");
}
