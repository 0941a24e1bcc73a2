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
        &format!(
            "Hello Anna,\nyour parcel left today. Write to {STAFF} if it does not arrive.\n\n\
             Boris\n-- \nBoris Staffer, Shop support, +1 555 0100\n\n\
             On Tue, 24 Nov 2026 at 10:00, Anna Karenina via Sealpost <{alias}> wrote:\n> Hello,\n> my order"
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
    for leak in [
        STAFF,
        "Boris Staffer",
        "+1 555 0100",
        "10.1.2.3",
        "mx.example.org",
    ] {
        assert!(
            !mail_mentions(to_visitor, leak),
            "{leak} reached the visitor"
        );
    }
    let text = text_body(to_visitor);
    assert!(text.contains("your parcel left today"));
    assert!(!text.contains("my order 1234"), "quoted history is cut");
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
