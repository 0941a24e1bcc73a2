//! Every staff reply of `tests/fixtures/replies/` (see its README), composed after a real mail
//! client's structure, goes through the real inbound path, over SMTP and over HTTP, and the
//! visitor must receive exactly the expected new text and nothing of the staff side: no staff
//! name, address, phone, alias or quoted history in any part or header of the mail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestAppBuilder, header, mail_mentions, text_body};

const STAFF: &str = "staff@shop.example";
const STAFF_DOMAIN: &str = "shop.example";
const SUPPORT_NAME: &str = "Shop Support";
const VISITOR: &str = "anna.k@example.org";
const INBOUND_TOKEN: &str = "corpus-inbound-token";

pub struct Fixture {
    pub name: String,
    pub eml: String,
    pub expected: String,
    pub signature: Option<String>,
    pub leaks: Vec<String>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies")
}

pub fn fixtures() -> Vec<Fixture> {
    let dir = fixtures_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".eml").map(str::to_owned))
        .collect();
    names.sort();
    let read = |name: &str, ext: &str| std::fs::read_to_string(dir.join(format!("{name}.{ext}")));
    names
        .into_iter()
        .map(|name| Fixture {
            eml: read(&name, "eml").expect("eml"),
            expected: read(&name, "expected").unwrap_or_else(|_| panic!("{name}.expected")),
            signature: read(&name, "signature").ok(),
            leaks: read(&name, "leaks")
                .map(|l| {
                    l.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            name,
        })
        .collect()
}

/// The mail files the app wrote, read once each.
#[derive(Default)]
struct MailDir {
    seen: BTreeMap<PathBuf, Vec<u8>>,
}

impl MailDir {
    fn refresh(&mut self, app: &TestApp) {
        let dir = app.data_dir.path().join("mail");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            // A file being written may be short; only a parseable one counts.
            if path.extension().is_some_and(|e| e == "eml")
                && !self.seen.contains_key(&path)
                && let Ok(bytes) = std::fs::read(&path)
                && header(&bytes, "Subject").is_some()
                && !text_body(&bytes).is_empty()
            {
                self.seen.insert(path, bytes);
            }
        }
    }

    async fn wait(&mut self, app: &TestApp, what: &str, pick: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        for _ in 0..400 {
            self.refresh(app);
            if let Some(found) = self.seen.values().find(|m| pick(m)) {
                return found.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("no {what} arrived");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Smtp,
    Http,
}

/// What one fixture gave through one door.
pub struct Outcome {
    pub name: String,
    pub door: Door,
    pub received: String,
    pub expected: String,
    pub leaks: Vec<String>,
}

fn addr_of(raw: &[u8], name: &str) -> String {
    header(raw, name)
        .map(|v| {
            let v = v.trim();
            match (v.rfind('<'), v.rfind('>')) {
                (Some(a), Some(b)) if a < b => v[a + 1..b].to_owned(),
                _ => v.to_owned(),
            }
        })
        .unwrap_or_default()
}

/// The staff answer's own words in the visitor's mail: between the intro paragraph and the
/// reply hint.
pub fn answer_text(raw: &[u8]) -> String {
    let text = text_body(raw).replace("\r\n", "\n");
    let start = text.find("\n\n").map_or(0, |i| i + 2);
    let end = text
        .rfind("\n\nReply to this e-mail to answer.")
        .unwrap_or(text.len());
    text[start..end.max(start)].trim().to_owned()
}

/// The strings that must never reach the visitor for this fixture.
fn forbidden(fixture: &Fixture, filled: &str, alias: &str) -> Vec<String> {
    let mut list = vec![
        STAFF.to_owned(),
        alias.to_owned(),
        "my order 1234 has not arrived".to_owned(),
        "A visitor wrote through the feedback form".to_owned(),
    ];
    list.extend(fixture.leaks.iter().cloned());
    if let Some(parsed) = mail_parser::MessageParser::default().parse(filled.as_bytes())
        && let Some(name) = parsed.from().and_then(|a| a.first()).and_then(|a| a.name())
    {
        list.push(name.to_owned());
        for word in name.split_whitespace() {
            let word = word.trim_matches(|c: char| !c.is_alphanumeric());
            if word.chars().filter(|c| c.is_alphabetic()).count() >= 3 {
                list.push(word.to_owned());
            }
        }
    }
    list
}

pub fn backend_name(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    }
}

pub async fn corpus_app(backend: Backend) -> TestApp {
    TestAppBuilder::new(backend)
        .with_smtp_listener()
        .set("SEALPOST__MAIL__INBOUND__TOKEN", INBOUND_TOKEN)
        .set("SEALPOST__MAIL__STAFF_ADDRESSES", STAFF)
        .set(
            "SEALPOST__MAIL__SUPPORT_FROM",
            &format!("{SUPPORT_NAME} <support@{STAFF_DOMAIN}>"),
        )
        .set("SEALPOST__MAIL__ACKNOWLEDGE_VISITOR", "false")
        .spawn()
        .await
}

/// Runs every fixture through `door` and returns what the visitor got.
pub async fn run_corpus(app: &TestApp, door: Door) -> Vec<Outcome> {
    app.add_staff("boris", "agent").await;
    let staff_id = app.staff_id("boris").await;
    let mut mails = MailDir::default();
    let mut outcomes = Vec::new();
    for fixture in fixtures() {
        let account = sealpost::entities::staff::Entity::find_by_id(staff_id)
            .one(app.db())
            .await
            .expect("db")
            .expect("account");
        let mut active: sealpost::entities::staff::ActiveModel = account.into();
        active.mail_address = Set(Some(STAFF.to_owned()));
        active.mail_signature = Set(fixture.signature.clone());
        active.update(app.db()).await.expect("signature saved");

        let submitted = app
            .post_message(&json!({
                "name": "Anna Karenina",
                "email": VISITOR,
                "subject": "Where is my order?",
                "body": "Hello,\nmy order 1234 has not arrived.",
                "consent": true
            }))
            .await;
        assert_eq!(submitted.status(), 201, "{}", fixture.name);
        let reference = submitted.json::<serde_json::Value>().await.expect("json")["reference"]
            .as_str()
            .expect("reference")
            .to_owned();
        let notification = mails
            .wait(app, "notification", |m| {
                header(m, "Subject").is_some_and(|s| s.contains(&reference))
                    && header(m, "To").is_some_and(|t| t.contains(STAFF))
            })
            .await;
        let alias = addr_of(&notification, "Reply-To");
        let filled = fixture
            .eml
            .replace("{{STAFF}}", STAFF)
            .replace("{{ALIAS}}", &alias)
            .replace(
                "{{NOTIFICATION_ID}}",
                &header(&notification, "Message-ID").expect("id"),
            )
            .replace(
                "{{SUBJECT}}",
                &header(&notification, "Subject").expect("subject"),
            )
            .replace("{{REFERENCE}}", &reference)
            .replace("{{STAFF_DOMAIN}}", STAFF_DOMAIN)
            .replace("\r\n", "\n")
            .replace('\n', "\r\n");
        match door {
            Door::Smtp => {
                let addr = app.smtp_addr.expect("listener");
                let transport =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
                        .port(addr.port())
                        .build();
                let envelope = lettre::address::Envelope::new(
                    Some(STAFF.parse().expect("from")),
                    vec![alias.parse().expect("to")],
                )
                .expect("envelope");
                transport
                    .send_raw(&envelope, filled.as_bytes())
                    .await
                    .unwrap_or_else(|e| panic!("{}: refused over SMTP: {e}", fixture.name));
            }
            Door::Http => {
                let resp = app
                    .client
                    .post(app.url("/api/v1/inbound"))
                    .bearer_auth(INBOUND_TOKEN)
                    .query(&[("recipient", alias.as_str()), ("sender", STAFF)])
                    .header("content-type", "message/rfc822")
                    .body(filled.clone())
                    .send()
                    .await
                    .expect("request");
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                assert_eq!(status, 202, "{}: {body}", fixture.name);
            }
        }
        let answer = mails
            .wait(app, "answer to the visitor", |m| {
                header(m, "Subject").is_some_and(|s| s.starts_with("Re:") && s.contains(&reference))
                    && header(m, "To").is_some_and(|t| t.contains(VISITOR))
            })
            .await;
        let visitor_alias = addr_of(&answer, "Reply-To");
        let expected = fixture
            .expected
            .replace("{{VISITOR_ALIAS}}", &visitor_alias)
            .replace("{{SUPPORT_NAME}}", SUPPORT_NAME)
            .trim()
            .to_owned();
        let leaks = forbidden(&fixture, &filled, &alias)
            .into_iter()
            .filter(|needle| mail_mentions(&answer, needle))
            .collect();
        outcomes.push(Outcome {
            name: fixture.name.clone(),
            door,
            received: answer_text(&answer),
            expected,
            leaks,
        });
    }
    outcomes
}

/// Prints the figures and every mismatch, then fails unless all are exact and nothing leaked.
pub fn report(backend: &str, outcomes: &[Outcome]) {
    let exact = outcomes.iter().filter(|o| o.received == o.expected).count();
    let leaking: Vec<&Outcome> = outcomes.iter().filter(|o| !o.leaks.is_empty()).collect();
    let leaks: usize = leaking.iter().map(|o| o.leaks.len()).sum();
    for o in outcomes.iter().filter(|o| o.received != o.expected) {
        eprintln!(
            "--- {} ({:?}): expected\n{}\n--- received\n{}\n",
            o.name, o.door, o.expected, o.received
        );
    }
    for o in &leaking {
        eprintln!("LEAK {} ({:?}): {:?}", o.name, o.door, o.leaks);
    }
    let door = outcomes.first().map(|o| o.door);
    println!(
        "reply corpus ({backend}, {door:?}): {exact}/{} exact, {leaks} leaks in {} mails",
        outcomes.len(),
        leaking.len()
    );
    assert!(
        exact == outcomes.len() && leaks == 0,
        "reply corpus ({backend}, {door:?}): {exact}/{} exact, {leaks} leaks",
        outcomes.len()
    );
}

db_test!(every_staff_reply_of_the_corpus_crosses_smtp_as_its_new_text_only);
async fn every_staff_reply_of_the_corpus_crosses_smtp_as_its_new_text_only(backend: Backend) {
    let name = backend_name(&backend);
    let app = corpus_app(backend).await;

    let outcomes = run_corpus(&app, Door::Smtp).await;

    report(name, &outcomes);
}

db_test!(every_staff_reply_of_the_corpus_crosses_http_as_its_new_text_only);
async fn every_staff_reply_of_the_corpus_crosses_http_as_its_new_text_only(backend: Backend) {
    let name = backend_name(&backend);
    let app = corpus_app(backend).await;

    let outcomes = run_corpus(&app, Door::Http).await;

    report(name, &outcomes);
}

#[test]
fn the_corpus_has_every_client_and_language_the_relay_promises() {
    let all = fixtures();
    assert!(all.len() >= 60, "{} fixtures", all.len());
    for needle in [
        "outlook-desktop",
        "outlook-web",
        "outlook-ios",
        "gmail",
        "apple-mail",
        "ios-mail",
        "thunderbird",
        "yahoo",
        "yandex",
        "mailru",
    ] {
        assert!(all.iter().any(|f| f.name.starts_with(needle)), "{needle}");
    }
    for lang in ["-en-", "-ru-", "-kk-"] {
        assert!(
            all.iter().filter(|f| f.name.contains(lang)).count() >= 10,
            "{lang}"
        );
    }
    assert!(all.iter().filter(|f| f.signature.is_some()).count() >= 4);
    assert!(all.iter().any(|f| f.name.contains("forward")));
    assert!(all.iter().any(|f| f.name.contains("nested")));
    assert!(all.iter().any(|f| f.name.contains("bottom")));
}
