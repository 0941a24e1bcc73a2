//! The two-way relay: staff get notifications from an alias and answer by e-mail; visitors
//! get acknowledgements and answers from the support address; nobody sees the other's address.

use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sealpost::entities::{contacts, messages, outbox, threads};
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestAppBuilder, header, mail_mentions, text_body};

const VISITOR: &str = "anna.k@example.org";
const STAFF: &str = "staff@sealpost.localhost";

async fn app_with_listener(backend: Backend) -> TestApp {
    TestAppBuilder::new(backend)
        .with_smtp_listener()
        .set("SEALPOST__SERVER__TRUSTED_PROXIES", "127.0.0.1/32,::1/128")
        .spawn()
        .await
}

/// Submits a message as Anna from 203.0.113.9 and returns (staff notification, acknowledgement).
async fn submit(app: &TestApp) -> (Vec<u8>, Vec<u8>) {
    let resp = app
        .client
        .post(app.url("/api/v1/messages"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({
            "name": "Anna Karenina",
            "email": VISITOR,
            "subject": "Where is my order?",
            "body": "Hello,\nmy order 1234 has not arrived.",
            "consent": true
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 201);
    let mails = app.wait_for_emails(2).await;
    let staff = mails
        .iter()
        .find(|m| header(m, "To").is_some_and(|t| t.contains(STAFF)))
        .expect("staff notification")
        .clone();
    let ack = mails
        .iter()
        .find(|m| header(m, "To").is_some_and(|t| t.contains(VISITOR)))
        .expect("acknowledgement")
        .clone();
    (staff, ack)
}

fn alias_of(raw: &[u8]) -> String {
    let reply_to = header(raw, "Reply-To").expect("Reply-To");
    reply_to.trim_matches(['<', '>', ' ']).to_owned()
}

/// Sends raw mail to the app's SMTP listener, as the MTA in front would.
async fn smtp_send(
    app: &TestApp,
    from: &str,
    to: &str,
    raw: String,
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

fn reply_mail(from: &str, to: &str, in_reply_to: Option<&str>, body: &str) -> String {
    let threading = in_reply_to
        .map(|id| format!("In-Reply-To: {id}\r\nReferences: {id}\r\n"))
        .unwrap_or_default();
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: your message\r\nMessage-ID: <{}@mail.example.org>\r\n\
         Received: from laptop (10.1.2.3) by mx.example.org\r\nX-Originating-IP: 10.1.2.3\r\n{threading}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        uuid::Uuid::now_v7().simple()
    )
}

db_test!(a_new_message_reaches_staff_with_no_trace_of_the_visitor_address);
async fn a_new_message_reaches_staff_with_no_trace_of_the_visitor_address(backend: Backend) {
    let app = app_with_listener(backend).await;

    let (staff, ack) = submit(&app).await;

    let from = header(&staff, "From").expect("From");
    assert!(from.contains("Anna Karenina via Sealpost"), "{from}");
    assert!(
        from.contains("reply+") && from.contains("@relay.sealpost.localhost"),
        "{from}"
    );
    assert_eq!(
        alias_of(&staff),
        from.split('<')
            .nth(1)
            .unwrap_or_default()
            .trim_end_matches('>')
    );
    assert_eq!(
        header(&staff, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert!(
        header(&staff, "Message-ID").is_some_and(|id| id.ends_with("@relay.sealpost.localhost>"))
    );
    for leak in [VISITOR, "anna.k", "203.0.113.9"] {
        assert!(
            !mail_mentions(&staff, leak),
            "{leak} in the staff notification"
        );
    }
    let text = text_body(&staff);
    assert!(text.contains("my order 1234 has not arrived"));
    assert!(text.contains("SP-"));

    assert_eq!(
        header(&ack, "From").as_deref(),
        Some("Support <support@sealpost.localhost>")
    );
    assert_eq!(
        header(&ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_ne!(
        alias_of(&ack),
        alias_of(&staff),
        "each side has its own alias"
    );
    assert!(
        text_body(&ack).contains("/t/"),
        "the acknowledgement carries the private link"
    );
}

db_test!(a_staff_answer_by_email_reaches_the_visitor_with_no_trace_of_staff);
async fn a_staff_answer_by_email_reaches_the_visitor_with_no_trace_of_staff(backend: Backend) {
    let app = app_with_listener(backend).await;
    let (staff, _) = submit(&app).await;
    let alias = alias_of(&staff);
    let notification_id = header(&staff, "Message-ID").expect("id");
    let answer = reply_mail(
        &format!("Boris Staffer <{STAFF}>"),
        &alias,
        Some(&notification_id),
        // No `-- ` line: the signature is the closing block that starts with the name, and
        // the quote below it holds the visitor's own words, which must not come back to them.
        &format!(
            "Hello Anna,\nyour parcel left today. Write to {STAFF} if it does not arrive.\n\n\
             Best regards,\nBoris Staffer\nShop support, +1 555 0100\n\n\
             On Tue, 24 Nov 2026 at 10:00, Anna Karenina via Sealpost <{alias}> wrote:\n\
             > Hello,\n> my order 1234 has not arrived."
        ),
    );

    smtp_send(&app, STAFF, &alias, answer)
        .await
        .expect("accepted");

    let mails = app.wait_for_emails(3).await;
    let to_visitor = mails
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Re: Where is my order?")))
        .expect("answer relayed to the visitor");
    assert_eq!(header(to_visitor, "To").as_deref(), Some(VISITOR));
    assert_eq!(
        header(to_visitor, "From").as_deref(),
        Some("Support <support@sealpost.localhost>")
    );
    // Every part and header, decoded, in any case.
    for leak in [
        STAFF,
        "Boris",
        "Staffer",
        "555 0100",
        "10.1.2.3",
        "mx.example.org",
        &alias,
        "my order 1234 has not arrived",
        "wrote:",
    ] {
        assert!(
            !mail_mentions(to_visitor, leak),
            "{leak} reached the visitor"
        );
    }
    let text = text_body(to_visitor);
    assert!(text.contains("your parcel left today"));
    assert!(
        text.contains("Best regards,"),
        "the sign-off is the staff member's words"
    );
    assert!(header(to_visitor, "Reply-To").is_some_and(|r| r.contains("reply+")));
    let thread = threads::Entity::find()
        .one(app.db())
        .await
        .expect("q")
        .expect("thread");
    assert_eq!(thread.status, "answered");
    let stored = messages::Entity::find()
        .filter(messages::Column::Author.eq("staff"))
        .one(app.db())
        .await
        .expect("q")
        .expect("staff message stored");
    assert!(!stored.body_html.contains(STAFF));
}

db_test!(a_visitor_reply_by_email_joins_the_thread_and_notifies_staff);
async fn a_visitor_reply_by_email_joins_the_thread_and_notifies_staff(backend: Backend) {
    let app = app_with_listener(backend).await;
    let (staff, ack) = submit(&app).await;
    let visitor_alias = alias_of(&ack);

    smtp_send(
        &app,
        VISITOR,
        &visitor_alias,
        reply_mail(
            &format!("Anna <{VISITOR}>"),
            &visitor_alias,
            None,
            "It arrived, thank you!",
        ),
    )
    .await
    .expect("accepted");

    let mails = app.wait_for_emails(3).await;
    let follow_up = mails
        .iter()
        .filter(|m| header(m, "To").is_some_and(|t| t.contains(STAFF)))
        .nth(1)
        .expect("second staff notification");
    assert!(text_body(follow_up).contains("It arrived, thank you!"));
    assert_eq!(
        header(follow_up, "In-Reply-To"),
        header(&staff, "Message-ID"),
        "threaded under the first"
    );
    assert!(!mail_mentions(follow_up, VISITOR));
    assert_eq!(app.count_messages().await, 2);
}

db_test!(a_spammy_visitor_reply_by_email_is_accepted_but_held_and_tells_nobody);
async fn a_spammy_visitor_reply_by_email_is_accepted_but_held_and_tells_nobody(backend: Backend) {
    let app = app_with_listener(backend).await;
    let (_, ack) = submit(&app).await;
    let visitor_alias = alias_of(&ack);

    // Over the reject score: mail is still accepted (a refusal would bounce to a sender who may
    // be forged), and held instead.
    smtp_send(
        &app,
        VISITOR,
        &visitor_alias,
        reply_mail(
            &format!("Anna <{VISITOR}>"),
            &visitor_alias,
            None,
            "Buy backlinks! Online casino, crypto investment, make money online, SEO services, \
             link building: https://a.example https://b.example https://c.example \
             https://d.example https://e.example",
        ),
    )
    .await
    .expect("accepted");

    let held = sealpost::entities::messages::Entity::find()
        .filter(messages::Column::HeldReason.is_not_null())
        .all(app.db())
        .await
        .expect("read");
    assert_eq!(held.len(), 1, "held, not relayed");
    assert!(
        held[0]
            .held_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("the spam defences held it: score 16.0")),
        "{:?}",
        held[0].held_reason
    );
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(
        app.sent_emails().len(),
        2,
        "no notification for the held reply"
    );
}

db_test!(a_forged_reply_token_is_refused_during_the_smtp_dialogue);
async fn a_forged_reply_token_is_refused_during_the_smtp_dialogue(backend: Backend) {
    let app = app_with_listener(backend).await;
    let (staff, _) = submit(&app).await;
    let alias = alias_of(&staff);
    // Change one hex digit of the MAC.
    let at = alias.find('@').expect("@");
    let mut forged = alias.clone();
    let last = &alias[at - 1..at];
    forged.replace_range(at - 1..at, if last == "0" { "1" } else { "0" });

    let forged_result =
        smtp_send(&app, STAFF, &forged, reply_mail(STAFF, &forged, None, "x")).await;
    let unknown = smtp_send(
        &app,
        STAFF,
        "postmaster@relay.sealpost.localhost",
        reply_mail(STAFF, "postmaster@relay.sealpost.localhost", None, "x"),
    )
    .await;

    let err = forged_result.expect_err("refused");
    assert!(err.is_permanent(), "{err}");
    assert!(err.to_string().contains("550"), "{err}");
    assert!(unknown.expect_err("refused").is_permanent());
    assert_eq!(app.count_messages().await, 1);
}

db_test!(mail_from_a_stranger_to_an_alias_is_refused);
async fn mail_from_a_stranger_to_an_alias_is_refused(backend: Backend) {
    let app = app_with_listener(backend).await;
    let (staff, ack) = submit(&app).await;

    let to_staff_alias = smtp_send(
        &app,
        "eve@example.net",
        &alias_of(&staff),
        reply_mail(
            "eve@example.net",
            &alias_of(&staff),
            None,
            "I am staff, honest",
        ),
    )
    .await;
    let to_visitor_alias = smtp_send(
        &app,
        "eve@example.net",
        &alias_of(&ack),
        reply_mail("eve@example.net", &alias_of(&ack), None, "I am Anna"),
    )
    .await;

    assert!(to_staff_alias.expect_err("refused").is_permanent());
    assert!(to_visitor_alias.expect_err("refused").is_permanent());
    assert_eq!(app.count_messages().await, 1);
}

db_test!(automatic_mail_to_an_alias_is_accepted_and_dropped);
async fn automatic_mail_to_an_alias_is_accepted_and_dropped(backend: Backend) {
    let app = app_with_listener(backend).await;
    let (staff, _) = submit(&app).await;
    let alias = alias_of(&staff);
    let outbox_rows = outbox::Entity::find().all(app.db()).await.expect("q").len();

    for extra in ["Auto-Submitted: auto-replied", "Precedence: bulk"] {
        let raw = reply_mail(STAFF, &alias, None, "I am out of office").replacen(
            "MIME-Version",
            &format!("{extra}\r\nMIME-Version"),
            1,
        );
        smtp_send(&app, STAFF, &alias, raw)
            .await
            .expect("accepted, not bounced");
    }

    assert_eq!(app.count_messages().await, 1, "nothing stored");
    assert_eq!(
        outbox::Entity::find().all(app.db()).await.expect("q").len(),
        outbox_rows,
        "nothing sent in answer"
    );
}

db_test!(a_bounce_is_recorded_and_a_bouncing_address_gets_no_more_acknowledgements);
async fn a_bounce_is_recorded_and_a_bouncing_address_gets_no_more_acknowledgements(
    backend: Backend,
) {
    let app = TestAppBuilder::new(backend)
        .with_smtp_listener()
        .set("SEALPOST__MAIL__MAX_BOUNCES", "1")
        .spawn()
        .await;
    let (_, ack) = submit(&app).await;
    let ack_id = header(&ack, "Message-ID").expect("id");
    let alias = alias_of(&ack);
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: {alias}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
         Final-Recipient: rfc822; someone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ack_id}\r\nSubject: x\r\n--b--\r\n"
    );

    let addr = app.smtp_addr.expect("listener");
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(addr.port())
        .build();
    let envelope =
        lettre::address::Envelope::new(None, vec![alias.parse().expect("to")]).expect("env");
    transport
        .send_raw(&envelope, dsn.as_bytes())
        .await
        .expect("accepted");

    let row = outbox::Entity::find()
        .filter(outbox::Column::MessageId.eq(ack_id))
        .one(app.db())
        .await
        .expect("q")
        .expect("row");
    assert!(row.last_error.is_some_and(|e| e.contains("bounced")));
    let contact = contacts::Entity::find()
        .one(app.db())
        .await
        .expect("q")
        .expect("contact");
    assert_eq!(contact.bounces, 1);
    assert_eq!(app.count_messages().await, 1);

    let again = app
        .post_message(
            &json!({"email": VISITOR.to_uppercase(), "body": "Me again", "consent": true}),
        )
        .await;
    assert_eq!(again.status(), 201);
    app.wait_for_outbox_idle().await;
    let acks = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("visitor_ack"))
        .all(app.db())
        .await
        .expect("q");
    assert_eq!(
        acks.len(),
        1,
        "no acknowledgement for an address that bounces"
    );
    assert_eq!(
        app.sent_emails().len(),
        3,
        "two notifications and the first acknowledgement"
    );
}

db_test!(oversize_mail_is_refused_during_the_dialogue);
async fn oversize_mail_is_refused_during_the_dialogue(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .with_smtp_listener()
        .set("SEALPOST__MAIL__INBOUND__MAX_MESSAGE_BYTES", "4096")
        .spawn()
        .await;
    let (staff, _) = submit(&app).await;
    let alias = alias_of(&staff);

    let result = smtp_send(
        &app,
        STAFF,
        &alias,
        reply_mail(STAFF, &alias, None, &"x".repeat(8000)),
    )
    .await;

    let err = result.expect_err("refused");
    assert!(err.to_string().contains("552"), "{err}");
    assert_eq!(app.count_messages().await, 1);
}

db_test!(inbound_mail_over_http_takes_the_same_path);
async fn inbound_mail_over_http_takes_the_same_path(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__MAIL__INBOUND__TOKEN", "s3cret-inbound-token")
        .spawn()
        .await;
    let (staff, _) = submit(&app).await;
    let notification_id = header(&staff, "Message-ID").expect("id");
    let post = |token: &'static str, body: String| {
        app.client
            .post(app.url("/api/v1/inbound"))
            .bearer_auth(token)
            .header("content-type", "message/rfc822")
            .body(body)
            .send()
    };

    let wrong = post("nope", reply_mail(STAFF, &alias_of(&staff), None, "x"))
        .await
        .expect("r");
    // The alias is lost (sent to the support address), but it answers the notification.
    let lost_alias = post(
        "s3cret-inbound-token",
        reply_mail(
            STAFF,
            "support@sealpost.localhost",
            Some(&notification_id),
            "Answer by HTTP.",
        ),
    )
    .await
    .expect("r");

    assert_eq!(wrong.status(), 401);
    assert_eq!(lost_alias.status(), 202);
    let body: serde_json::Value = lost_alias.json().await.expect("json");
    assert_eq!(body["outcome"], "relayed");
    let mails = app.wait_for_emails(3).await;
    assert!(
        mails
            .iter()
            .any(|m| text_body(m).contains("Answer by HTTP."))
    );
}

db_test!(inbound_over_http_is_off_without_a_token);
async fn inbound_over_http_is_off_without_a_token(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;

    let resp = app
        .client
        .post(app.url("/api/v1/inbound"))
        .bearer_auth("anything")
        .header("content-type", "message/rfc822")
        .body("From: a@example.org\r\n\r\nhi")
        .send()
        .await
        .expect("r");

    assert_eq!(resp.status(), 404);
}

/// Sends `raw` both ways: over SMTP (the error, if refused) and over HTTP (status and body).
async fn both_doors(
    app: &TestApp,
    alias: &str,
    raw: &str,
) -> (Result<(), lettre::transport::smtp::Error>, u16, String) {
    let smtp = smtp_send(app, STAFF, alias, raw.to_owned()).await;
    let resp = app
        .client
        .post(app.url("/api/v1/inbound"))
        .bearer_auth("s3cret-inbound-token")
        .query(&[("recipient", alias), ("sender", STAFF)])
        .header("content-type", "message/rfc822")
        .body(raw.to_owned())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (smtp, status, resp.text().await.unwrap_or_default())
}

fn staff_mail(alias: &str, content_type: &str, body: &str) -> String {
    format!(
        "From: Boris Staffer <{STAFF}>\r\nTo: {alias}\r\nSubject: Re: x\r\nMIME-Version: 1.0\r\n\
         Content-Type: {content_type}\r\n\r\n{body}\r\n"
    )
}

db_test!(bad_mail_gets_a_clear_refusal_and_nothing_is_relayed);
async fn bad_mail_gets_a_clear_refusal_and_nothing_is_relayed(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .with_smtp_listener()
        .set("SEALPOST__MAIL__INBOUND__TOKEN", "s3cret-inbound-token")
        .spawn()
        .await;
    let (staff, _) = submit(&app).await;
    let alias = alias_of(&staff);
    let attachment_only = staff_mail(
        &alias,
        "multipart/mixed; boundary=\"b\"",
        "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"label.pdf\"\r\n\r\nJVBERi0xLjQK\r\n--b--",
    );
    let bomb = staff_mail(
        &alias,
        "text/html; charset=utf-8",
        &format!(
            "{}Your parcel left.{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        ),
    );
    let huge_line = staff_mail(&alias, "text/plain; charset=utf-8", &"x".repeat(10_000_000));

    for (what, raw, code) in [
        ("no text part", attachment_only, "554"),
        ("an HTML bomb", bomb, "554"),
        ("a 10 MB one-line body", huge_line, "552"),
    ] {
        let (smtp, status, body) = both_doors(&app, &alias, &raw).await;
        let err = smtp.expect_err(what);
        assert!(err.is_permanent(), "{what}: {err}");
        assert!(err.to_string().contains(code), "{what}: {err}");
        assert_eq!(status, 422, "{what}: {body}");
        assert!(body.contains("\"detail\""), "{what}: {body}");
    }

    assert_eq!(app.count_messages().await, 1, "nothing stored");
    let answers = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("staff_answer"))
        .all(app.db())
        .await
        .expect("q");
    assert!(answers.is_empty(), "nothing relayed to the visitor");
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the server lives on"
    );
}

db_test!(a_broken_charset_is_read_as_far_as_it_goes_and_relayed);
async fn a_broken_charset_is_read_as_far_as_it_goes_and_relayed(backend: Backend) {
    let app = app_with_listener(backend).await;
    let (staff, _) = submit(&app).await;
    let alias = alias_of(&staff);
    let mut raw = staff_mail(
        &alias,
        "text/plain; charset=x-no-such-charset",
        "The caf_ is open until six.",
    )
    .into_bytes();
    // A Latin-1 byte where the label promises a charset nobody knows.
    let at = raw.iter().position(|&b| b == b'_').expect("marker");
    raw[at] = 0xE9;
    let addr = app.smtp_addr.expect("listener");
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(addr.port())
        .build();
    let envelope = lettre::address::Envelope::new(
        Some(STAFF.parse().expect("from")),
        vec![alias.parse().expect("to")],
    )
    .expect("envelope");

    transport.send_raw(&envelope, &raw).await.expect("accepted");

    let mails = app.wait_for_emails(3).await;
    let to_visitor = mails
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Re:")))
        .expect("relayed");
    assert!(text_body(to_visitor).contains("is open until six."));
}

fn message_id(raw: &[u8]) -> String {
    header(raw, "Message-ID").expect("Message-ID")
}

db_test!(every_mail_of_a_conversation_keeps_one_subject_and_answers_the_latest);
async fn every_mail_of_a_conversation_keeps_one_subject_and_answers_the_latest(backend: Backend) {
    let app = app_with_listener(backend).await;
    let (notification, ack) = submit(&app).await;
    let reference = header(&notification, "Subject")
        .and_then(|s| {
            s.split('[')
                .nth(1)
                .map(|r| r.trim_end_matches(']').to_owned())
        })
        .expect("reference in the subject");
    let staff_alias = alias_of(&notification);
    let visitor_alias = alias_of(&ack);

    for text in ["First answer.", "Second answer."] {
        smtp_send(
            &app,
            STAFF,
            &staff_alias,
            reply_mail(STAFF, &staff_alias, Some(&message_id(&notification)), text),
        )
        .await
        .expect("accepted");
        app.wait_for_outbox_idle().await;
    }
    smtp_send(
        &app,
        VISITOR,
        &visitor_alias,
        reply_mail(VISITOR, &visitor_alias, None, "Thanks, it came."),
    )
    .await
    .expect("accepted");
    let mails = app.wait_for_emails(5).await;

    let subject = format!("Where is my order? [{reference}]");
    assert_eq!(
        header(&notification, "Subject").as_deref(),
        Some(subject.as_str())
    );
    assert_eq!(header(&ack, "Subject").as_deref(), Some(subject.as_str()));
    let answer = |text: &str| {
        mails
            .iter()
            .find(|m| text_body(m).contains(text))
            .expect("answer")
            .clone()
    };
    let (first, second) = (answer("First answer."), answer("Second answer."));
    let follow_up = answer("Thanks, it came.");
    for later in [&first, &second, &follow_up] {
        assert_eq!(
            header(later, "Subject"),
            Some(format!("Re: {subject}")),
            "the same subject, as a reply"
        );
    }
    assert_eq!(header(&first, "In-Reply-To"), Some(message_id(&ack)));
    assert_eq!(header(&second, "In-Reply-To"), Some(message_id(&first)));
    let references = header(&second, "References").expect("References");
    assert!(references.contains(&message_id(&ack)) && references.contains(&message_id(&first)));
    assert_eq!(
        header(&follow_up, "In-Reply-To"),
        Some(message_id(&notification))
    );
}

db_test!(a_staff_reply_that_lost_its_alias_and_headers_is_matched_by_its_subject);
async fn a_staff_reply_that_lost_its_alias_and_headers_is_matched_by_its_subject(backend: Backend) {
    let app = app_with_listener(backend).await;
    let (notification, _) = submit(&app).await;
    let subject = header(&notification, "Subject").expect("subject");
    let bare = "reply@relay.sealpost.localhost";
    let lost = |from: &str| {
        format!(
            "From: {from}\r\nTo: {bare}\r\nSubject: RE: {subject}\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nFound it by the reference.\r\n"
        )
    };

    let from_staff = smtp_send(&app, STAFF, bare, lost(STAFF)).await;
    let from_visitor = smtp_send(&app, VISITOR, bare, lost(VISITOR)).await;
    let from_stranger = smtp_send(&app, "eve@example.net", bare, lost("eve@example.net")).await;

    from_staff.expect("matched by the reference in the subject");
    assert!(from_visitor.expect_err("only staff").is_permanent());
    assert!(from_stranger.expect_err("only staff").is_permanent());
    let mails = app.wait_for_emails(3).await;
    assert!(
        mails
            .iter()
            .any(|m| header(m, "To").is_some_and(|t| t.contains(VISITOR))
                && text_body(m).contains("Found it by the reference."))
    );
}

db_test!(a_signature_saved_on_the_account_page_is_cut_from_answers_by_mail);
async fn a_signature_saved_on_the_account_page_is_cut_from_answers_by_mail(backend: Backend) {
    let app = app_with_listener(backend).await;
    let browser = app.signed_in("boris", "agent").await;
    let signature = "Shop support team\nMon–Fri 9:00–18:00, Almaty";
    let not_ours = browser
        .post(
            "/staff/account/mail",
            &[
                ("mail_address", "boris@elsewhere.example"),
                ("mail_signature", signature),
            ],
        )
        .await;
    let saved = browser
        .post(
            "/staff/account/mail",
            &[("mail_address", STAFF), ("mail_signature", signature)],
        )
        .await;
    let (notification, _) = submit(&app).await;
    let alias = alias_of(&notification);

    smtp_send(
        &app,
        STAFF,
        &alias,
        reply_mail(
            STAFF,
            &alias,
            None,
            "Your parcel left today.\n\nShop support team\nMon–Fri 9:00–18:00, Almaty\n",
        ),
    )
    .await
    .expect("accepted");

    assert_eq!(not_ours.status(), 422);
    assert!(
        not_ours
            .text()
            .await
            .expect("page")
            .contains("is not one of the staff addresses")
    );
    assert_eq!(saved.status(), 303);
    let page = browser
        .get("/staff/account")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("Mon–Fri 9:00–18:00, Almaty"),
        "the saved signature is shown"
    );
    let mails = app.wait_for_emails(3).await;
    let to_visitor = mails
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Re:")))
        .expect("relayed");
    let text = text_body(to_visitor);
    assert!(text.contains("Your parcel left today."));
    assert!(!mail_mentions(to_visitor, "Shop support team"), "{text}");
    assert!(!mail_mentions(to_visitor, "Almaty"), "{text}");
}
