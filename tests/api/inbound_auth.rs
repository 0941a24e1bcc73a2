//! Whether relay mail really comes from the domain in its `From:` (`mail.inbound.authentication`).
//! Under `verify` Sealpost checks DKIM, SPF and DMARC itself, against DNS answers these tests put
//! in its cache (the nameserver is a closed port on 127.0.0.1, so no query leaves the machine);
//! under `trust-mta` it believes the topmost `Authentication-Results` of the configured
//! authserv-id; under `off`, for development only, it believes everyone.
//!
//! A staff answer that fails is refused (550 5.7.1 over SMTP, 422 over HTTP); a visitor's reply
//! that fails is held for staff to release or discard.

use base64::Engine;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sealpost::entities::messages;
use serde_json::json;

use crate::helpers::{Backend, StaffBrowser, TestApp, TestAppBuilder, header, text_body};

const STAFF: &str = "staff@shop.example";
const VISITOR: &str = "anna@visitor.example";
const INBOUND_TOKEN: &str = "inbound-token-for-tests-only";
const METRICS_TOKEN: &str = "metrics-token-for-tests-only";
/// The shop's outgoing mail server: the only address its SPF record allows.
const SHOP_MAIL_SERVER: &str = "203.0.113.25";
const SHOP_SPF: &str = "v=spf1 ip4:203.0.113.25 -all";
const SELECTOR: &str = "selector";
const AUTHSERV_ID: &str = "mx.shop.example";
const REFUSAL_METRIC: &str = r#"sealpost_inbound_mail_refusals_total{reason="unauthenticated"}"#;

/// An Ed25519 DKIM key made for one test.
struct DkimKey {
    pkcs8: Vec<u8>,
}

impl DkimKey {
    fn generate() -> Self {
        Self {
            pkcs8: Ed25519Key::generate_pkcs8().expect("key generated"),
        }
    }

    fn key(&self) -> Ed25519Key {
        Ed25519Key::from_pkcs8_der(&self.pkcs8).expect("key read")
    }

    /// The TXT record that publishes it at `selector._domainkey.<domain>`.
    fn record(&self) -> String {
        let public = base64::engine::general_purpose::STANDARD.encode(self.key().public_key());
        format!("v=DKIM1; k=ed25519; p={public}")
    }

    /// The mail with a DKIM-Signature of `domain` on top, as the domain's mail server adds it.
    fn sign(&self, domain: &str, raw: &str) -> String {
        let signature = DkimSigner::from_key(self.key())
            .domain(domain)
            .selector(SELECTOR)
            .headers(["From", "To", "Subject", "Date", "Message-ID"])
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed)
            .sign(raw.as_bytes())
            .expect("signed");
        format!("{}{raw}", signature.to_header())
    }
}

/// An app with the SMTP listener, inbound over HTTP and metrics on, `staff@shop.example` as
/// the staff address, and `mode` as `mail.inbound.authentication` (`None`: the default).
async fn spawn(backend: Backend, mode: Option<&str>) -> TestApp {
    let mut builder = TestAppBuilder::new(backend)
        .with_smtp_listener()
        .set("SEALPOST__MAIL__STAFF_ADDRESSES", STAFF)
        .set("SEALPOST__MAIL__INBOUND__TOKEN", INBOUND_TOKEN)
        .set("SEALPOST__METRICS__TOKEN", METRICS_TOKEN)
        .set("SEALPOST__MAIL__INBOUND__NAMESERVER", "127.0.0.1:9")
        .set("SEALPOST__MAIL__INBOUND__TRUSTED_AUTHSERV_ID", AUTHSERV_ID);
    if let Some(mode) = mode {
        builder = builder.set("SEALPOST__MAIL__INBOUND__AUTHENTICATION", mode);
    }
    builder.spawn().await
}

/// An app under `verify` whose DNS knows shop.example: its DKIM key, an SPF record that allows
/// only [`SHOP_MAIL_SERVER`], a DMARC record with `p=reject`; and that `example` and
/// visitor.example publish no DMARC record (the tree walk asks for both).
async fn verifying_app(backend: Backend) -> (TestApp, DkimKey) {
    let app = spawn(backend, Some("verify")).await;
    let shop_key = DkimKey::generate();
    let dns = &app.state.authenticator.cache;
    dns.add_txt("selector._domainkey.shop.example", &shop_key.record())
        .expect("DKIM record");
    dns.add_txt("shop.example", SHOP_SPF).expect("SPF record");
    dns.add_txt("_dmarc.shop.example", "v=DMARC1; p=reject")
        .expect("DMARC record");
    dns.add_missing("_dmarc.example");
    dns.add_missing("_dmarc.visitor.example");
    (app, shop_key)
}

/// What one conversation gives each side: the aliases to answer to, the visitor's page.
struct Conversation {
    thread_id: String,
    staff_alias: String,
    visitor_alias: String,
    visitor_page: String,
}

/// Anna writes through the API; staff get the notification, Anna the acknowledgement.
async fn start_conversation(app: &TestApp) -> Conversation {
    let resp = app
        .post_message(&json!({
            "name": "Anna Karenina",
            "email": VISITOR,
            "subject": "Where is my parcel?",
            "body": "Hello,\nmy order 1234 has not arrived.",
            "consent": true
        }))
        .await;
    assert_eq!(resp.status(), 201);
    let created: serde_json::Value = resp.json().await.expect("json");
    let url = created["thread_url"].as_str().expect("thread_url");
    let visitor_page = url[url.find("/t/").expect("a /t/ link")..].to_owned();
    let mails = app.wait_for_emails(2).await;
    let reply_to = |to: &str| {
        let mail = mails
            .iter()
            .find(|m| header(m, "To").is_some_and(|t| t.contains(to)))
            .unwrap_or_else(|| panic!("a mail to {to}"));
        header(mail, "Reply-To")
            .expect("Reply-To")
            .trim_matches(['<', '>', ' '])
            .to_owned()
    };
    Conversation {
        thread_id: created["thread_id"].as_str().expect("thread_id").to_owned(),
        staff_alias: reply_to(STAFF),
        visitor_alias: reply_to(VISITOR),
        visitor_page,
    }
}

/// A plain-text mail as a mail client writes it.
fn mail(from: &str, to: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: Where is my parcel?\r\n\
         Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{}@mail.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        uuid::Uuid::now_v7().simple()
    )
}

/// Sends a mail straight to the app's SMTP listener (no XFORWARD: the client is 127.0.0.1).
async fn smtp_send(
    app: &TestApp,
    from: &str,
    to: &str,
    raw: &str,
) -> Result<(), lettre::transport::smtp::Error> {
    let addr = app.smtp_addr.expect("listener on");
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(addr.port())
        .build();
    let envelope = lettre::address::Envelope::new(
        Some(from.parse().expect("from")),
        vec![to.parse().expect("to")],
    )
    .expect("envelope");
    transport
        .send_raw(&envelope, raw.as_bytes())
        .await
        .map(|_| ())
}

/// Posts a mail to `POST /api/v1/inbound` with the given query parameters.
async fn http_deliver(app: &TestApp, query: &[(&str, &str)], raw: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/inbound"))
        .bearer_auth(INBOUND_TOKEN)
        .header("content-type", "message/rfc822")
        .query(query)
        .body(raw.to_owned())
        .send()
        .await
        .expect("request")
}

/// The mails Anna got so far, once the outbox is idle.
async fn mails_to_visitor(app: &TestApp) -> Vec<Vec<u8>> {
    app.wait_for_outbox_idle().await;
    app.sent_emails()
        .into_iter()
        .filter(|m| header(m, "To").is_some_and(|t| t.contains(VISITOR)))
        .collect()
}

/// Waits for the mail to Anna whose text has `words`.
async fn visitor_mail_with(app: &TestApp, words: &str) -> Vec<u8> {
    crate::helpers::wait_for(|| {
        app.sent_emails().into_iter().find(|m| {
            header(m, "To").is_some_and(|t| t.contains(VISITOR)) && text_body(m).contains(words)
        })
    })
    .await
    .unwrap_or_else(|| panic!("no mail to the visitor with {words:?}"))
}

/// The value of one series of `GET /metrics`.
async fn metric(app: &TestApp, series: &str) -> Option<f64> {
    let resp = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("text");
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn page(app: &TestApp, path: &str) -> String {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.text().await.expect("page")
}

async fn staff_page(browser: &StaffBrowser, path: &str) -> String {
    let resp = browser.get(path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.text().await.expect("page")
}

/// Anna's reply that fails authentication, delivered over HTTP: unsigned, without a client
/// address for SPF, from a domain with no DMARC record.
async fn hold_visitor_reply(app: &TestApp, conversation: &Conversation, body: &str) {
    let resp = http_deliver(
        app,
        &[],
        &mail(
            &format!("Anna <{VISITOR}>"),
            &conversation.visitor_alias,
            body,
        ),
    )
    .await;
    assert_eq!(resp.status(), 202);
    let outcome: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(outcome["outcome"], "held", "{outcome}");
}

/// The action of the form on the staff thread page that posts `decision` for a held message.
fn held_action(staff_page: &str, thread_id: &str, decision: &str) -> String {
    let prefix = format!("/staff/threads/{thread_id}/messages/");
    let at = staff_page
        .find(&prefix)
        .unwrap_or_else(|| panic!("no form for a held message on the page:\n{staff_page}"));
    let rest = &staff_page[at + prefix.len()..];
    let message_id = &rest[..rest.find('/').expect("message id")];
    format!("{prefix}{message_id}/{decision}")
}

// --- verify ---------------------------------------------------------------------------------

db_test!(verify_relays_a_staff_answer_signed_with_the_staff_domains_key);
async fn verify_relays_a_staff_answer_signed_with_the_staff_domains_key(backend: Backend) {
    let (app, shop_key) = verifying_app(backend).await;
    let conversation = start_conversation(&app).await;
    // Sent from 127.0.0.1, which the SPF record does not allow: DKIM alone must carry it.
    let answer = shop_key.sign(
        "shop.example",
        &mail(
            &format!("Boris <{STAFF}>"),
            &conversation.staff_alias,
            "Hello Anna,\nyour parcel left the warehouse today.",
        ),
    );

    let sent = smtp_send(&app, STAFF, &conversation.staff_alias, &answer).await;

    sent.expect("accepted");
    let to_visitor = visitor_mail_with(&app, "your parcel left the warehouse today").await;
    assert_eq!(
        header(&to_visitor, "From").as_deref(),
        Some("Support <support@sealpost.localhost>")
    );
}

db_test!(verify_refuses_an_unsigned_staff_answer_over_smtp_with_550_5_7_1);
async fn verify_refuses_an_unsigned_staff_answer_over_smtp_with_550_5_7_1(backend: Backend) {
    let (app, _) = verifying_app(backend).await;
    let conversation = start_conversation(&app).await;
    let rows_before = app.row_counts().await;
    let forged = mail(
        &format!("Boris <{STAFF}>"),
        &conversation.staff_alias,
        "Please pay the customs fee at pay.evil.example.",
    );

    let sent = smtp_send(&app, STAFF, &conversation.staff_alias, &forged).await;

    let err = sent.expect_err("refused");
    assert!(err.is_permanent(), "{err}");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("550"));
    assert!(
        err.to_string()
            .contains("5.7.1 Sender authentication (DMARC) failed for a staff address"),
        "{err}"
    );
    assert_eq!(app.row_counts().await, rows_before, "nothing stored");
    assert_eq!(
        mails_to_visitor(&app).await.len(),
        1,
        "the visitor got only the acknowledgement"
    );
    assert_eq!(metric(&app, REFUSAL_METRIC).await, Some(1.0));
}

db_test!(verify_refuses_a_staff_answer_signed_by_another_domain_over_http_with_422);
async fn verify_refuses_a_staff_answer_signed_by_another_domain_over_http_with_422(
    backend: Backend,
) {
    let (app, _) = verifying_app(backend).await;
    let evil_key = DkimKey::generate();
    let dns = &app.state.authenticator.cache;
    dns.add_txt("selector._domainkey.evil.example", &evil_key.record())
        .expect("DKIM record");
    dns.add_missing("_dmarc.evil.example");
    let conversation = start_conversation(&app).await;
    let rows_before = app.row_counts().await;
    // A valid signature, but of evil.example, not of the From: domain.
    let forged = evil_key.sign(
        "evil.example",
        &mail(
            &format!("Boris <{STAFF}>"),
            &conversation.staff_alias,
            "Please pay the customs fee at pay.evil.example.",
        ),
    );

    let resp = http_deliver(&app, &[], &forged).await;

    assert_eq!(resp.status(), 422);
    let problem: serde_json::Value = resp.json().await.expect("json");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("did not authenticate")),
        "{problem}"
    );
    assert_eq!(app.row_counts().await, rows_before, "nothing stored");
    assert_eq!(
        mails_to_visitor(&app).await.len(),
        1,
        "the visitor got only the acknowledgement"
    );
    assert_eq!(metric(&app, REFUSAL_METRIC).await, Some(1.0));
}

db_test!(verify_refuses_a_staff_answer_whose_shop_signature_was_made_with_another_key);
async fn verify_refuses_a_staff_answer_whose_shop_signature_was_made_with_another_key(
    backend: Backend,
) {
    let (app, _) = verifying_app(backend).await;
    let conversation = start_conversation(&app).await;
    // Claims d=shop.example, but the key is not the one shop.example publishes.
    let forged = DkimKey::generate().sign(
        "shop.example",
        &mail(
            &format!("Boris <{STAFF}>"),
            &conversation.staff_alias,
            "Please pay the customs fee at pay.evil.example.",
        ),
    );

    let sent = smtp_send(&app, STAFF, &conversation.staff_alias, &forged).await;

    let err = sent.expect_err("refused");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("550"));
    assert!(err.to_string().contains("5.7.1"), "{err}");
    assert_eq!(mails_to_visitor(&app).await.len(), 1);
}

db_test!(verify_relays_an_unsigned_staff_answer_over_http_from_an_address_in_the_spf_record);
async fn verify_relays_an_unsigned_staff_answer_over_http_from_an_address_in_the_spf_record(
    backend: Backend,
) {
    let (app, _) = verifying_app(backend).await;
    let conversation = start_conversation(&app).await;
    let answer = mail(
        &format!("Boris <{STAFF}>"),
        &conversation.staff_alias,
        "Hello Anna,\nthe courier comes tomorrow morning.",
    );

    let resp = http_deliver(
        &app,
        &[
            ("client_ip", SHOP_MAIL_SERVER),
            ("helo", "mail.shop.example"),
        ],
        &answer,
    )
    .await;

    assert_eq!(resp.status(), 202);
    let outcome: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(outcome["outcome"], "relayed", "{outcome}");
    visitor_mail_with(&app, "the courier comes tomorrow morning").await;
}

db_test!(verify_refuses_an_unsigned_staff_answer_over_http_from_an_address_not_in_the_spf_record);
async fn verify_refuses_an_unsigned_staff_answer_over_http_from_an_address_not_in_the_spf_record(
    backend: Backend,
) {
    let (app, _) = verifying_app(backend).await;
    let conversation = start_conversation(&app).await;
    let answer = mail(
        &format!("Boris <{STAFF}>"),
        &conversation.staff_alias,
        "Hello Anna,\nthe courier comes tomorrow morning.",
    );

    let resp = http_deliver(
        &app,
        &[("client_ip", "198.51.100.7"), ("helo", "mail.shop.example")],
        &answer,
    )
    .await;

    assert_eq!(resp.status(), 422);
    assert_eq!(mails_to_visitor(&app).await.len(), 1);
    assert_eq!(metric(&app, REFUSAL_METRIC).await, Some(1.0));
}

db_test!(verify_holds_a_visitor_reply_that_fails_authentication_for_staff_review);
async fn verify_holds_a_visitor_reply_that_fails_authentication_for_staff_review(backend: Backend) {
    let (app, _) = verifying_app(backend).await;
    let conversation = start_conversation(&app).await;
    let staff = app.signed_in("ulla", "agent").await;

    hold_visitor_reply(&app, &conversation, "Please send it to my office instead.").await;

    let visitor_view = page(&app, &conversation.visitor_page).await;
    assert!(visitor_view.contains("my order 1234 has not arrived"));
    assert!(!visitor_view.contains("send it to my office"), "not shown");
    let thread = format!("/staff/threads/{}", conversation.thread_id);
    let staff_view = staff_page(&staff, &thread).await;
    assert!(staff_view.contains("Held for review"), "{staff_view}");
    assert!(staff_view.contains("Please send it to my office instead."));
    let release = held_action(&staff_view, &conversation.thread_id, "release");
    let discard = held_action(&staff_view, &conversation.thread_id, "discard");
    assert!(staff_view.contains(&format!("action=\"{release}\"")));
    assert!(staff_view.contains(&format!("action=\"{discard}\"")));
    let held = messages::Entity::find()
        .filter(messages::Column::HeldReason.is_not_null())
        .all(app.db())
        .await
        .expect("q");
    assert_eq!(held.len(), 1, "stored as held");
    assert_eq!(
        mails_to_visitor(&app).await.len(),
        1,
        "nothing relayed to the visitor"
    );
}

db_test!(releasing_a_held_visitor_reply_puts_it_on_the_visitors_page);
async fn releasing_a_held_visitor_reply_puts_it_on_the_visitors_page(backend: Backend) {
    let (app, _) = verifying_app(backend).await;
    let conversation = start_conversation(&app).await;
    let staff = app.signed_in("ulla", "agent").await;
    hold_visitor_reply(&app, &conversation, "Please send it to my office instead.").await;
    let thread = format!("/staff/threads/{}", conversation.thread_id);
    let release = held_action(
        &staff_page(&staff, &thread).await,
        &conversation.thread_id,
        "release",
    );

    let resp = staff.post(&release, &[]).await;

    assert_eq!(resp.status(), 303);
    let visitor_view = page(&app, &conversation.visitor_page).await;
    assert!(
        visitor_view.contains("Please send it to my office instead."),
        "{visitor_view}"
    );
    let staff_view = staff_page(&staff, &thread).await;
    assert!(staff_view.contains("Please send it to my office instead."));
    assert!(!staff_view.contains("Held for review"));
}

db_test!(discarding_a_held_visitor_reply_removes_it_from_both_pages);
async fn discarding_a_held_visitor_reply_removes_it_from_both_pages(backend: Backend) {
    let (app, _) = verifying_app(backend).await;
    let conversation = start_conversation(&app).await;
    let staff = app.signed_in("ulla", "agent").await;
    hold_visitor_reply(&app, &conversation, "Click here to win a prize.").await;
    let thread = format!("/staff/threads/{}", conversation.thread_id);
    let discard = held_action(
        &staff_page(&staff, &thread).await,
        &conversation.thread_id,
        "discard",
    );
    let messages_before = app.count_messages().await;

    let resp = staff.post(&discard, &[]).await;

    assert_eq!(resp.status(), 303);
    let staff_view = staff_page(&staff, &thread).await;
    assert!(!staff_view.contains("Click here to win a prize."));
    assert!(!staff_view.contains("Held for review"));
    let visitor_view = page(&app, &conversation.visitor_page).await;
    assert!(!visitor_view.contains("Click here to win a prize."));
    assert_eq!(app.count_messages().await, messages_before - 1, "deleted");
}

// --- trust-mta ------------------------------------------------------------------------------

db_test!(trust_mta_relays_a_staff_answer_the_trusted_mta_found_dmarc_pass);
async fn trust_mta_relays_a_staff_answer_the_trusted_mta_found_dmarc_pass(backend: Backend) {
    let app = spawn(backend, Some("trust-mta")).await;
    let conversation = start_conversation(&app).await;
    let answer = format!(
        "Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=shop.example\r\n{}",
        mail(
            &format!("Boris <{STAFF}>"),
            &conversation.staff_alias,
            "Hello Anna,\nwe sent a replacement.",
        )
    );

    let sent = smtp_send(&app, STAFF, &conversation.staff_alias, &answer).await;

    sent.expect("accepted");
    visitor_mail_with(&app, "we sent a replacement").await;
}

db_test!(trust_mta_refuses_a_staff_answer_whose_topmost_trusted_result_is_dmarc_fail);
async fn trust_mta_refuses_a_staff_answer_whose_topmost_trusted_result_is_dmarc_fail(
    backend: Backend,
) {
    let app = spawn(backend, Some("trust-mta")).await;
    let conversation = start_conversation(&app).await;
    // The MTA's own verdict on top; below it a "pass" the forger wrote under the same id.
    let forged = format!(
        "Authentication-Results: {AUTHSERV_ID}; spf=fail smtp.mailfrom=shop.example;\r\n \
         dmarc=fail (p=reject) header.from=shop.example\r\n\
         Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=shop.example\r\n{}",
        mail(
            &format!("Boris <{STAFF}>"),
            &conversation.staff_alias,
            "Please pay the customs fee at pay.evil.example.",
        )
    );

    let sent = smtp_send(&app, STAFF, &conversation.staff_alias, &forged).await;

    let err = sent.expect_err("refused");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("550"));
    assert!(err.to_string().contains("5.7.1"), "{err}");
    assert_eq!(mails_to_visitor(&app).await.len(), 1);
    assert_eq!(metric(&app, REFUSAL_METRIC).await, Some(1.0));
}

db_test!(trust_mta_does_not_believe_authentication_results_of_another_authserv_id);
async fn trust_mta_does_not_believe_authentication_results_of_another_authserv_id(
    backend: Backend,
) {
    let app = spawn(backend, Some("trust-mta")).await;
    let conversation = start_conversation(&app).await;
    let forged = format!(
        "Authentication-Results: mx.elsewhere.example; dkim=pass header.d=shop.example;\r\n \
         dmarc=pass header.from=shop.example\r\n{}",
        mail(
            &format!("Boris <{STAFF}>"),
            &conversation.staff_alias,
            "Please pay the customs fee at pay.evil.example.",
        )
    );

    let sent = smtp_send(&app, STAFF, &conversation.staff_alias, &forged).await;

    let err = sent.expect_err("refused");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("550"));
    assert!(err.to_string().contains("5.7.1"), "{err}");
    assert_eq!(mails_to_visitor(&app).await.len(), 1);
}

// --- off ------------------------------------------------------------------------------------

db_test!(off_the_development_default_relays_an_unsigned_staff_answer);
async fn off_the_development_default_relays_an_unsigned_staff_answer(backend: Backend) {
    // No `mail.inbound.authentication` set: development's default, "off". Anyone who knows a
    // staff address can answer as staff, which is why production defaults to "verify".
    let app = spawn(backend, None).await;
    let conversation = start_conversation(&app).await;
    let answer = mail(
        &format!("Boris <{STAFF}>"),
        &conversation.staff_alias,
        "Hello Anna,\nno signature needed here.",
    );

    let sent = smtp_send(&app, STAFF, &conversation.staff_alias, &answer).await;

    sent.expect("accepted");
    visitor_mail_with(&app, "no signature needed here").await;
}
