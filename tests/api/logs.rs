//! No e-mail address, name or IP ever appears in a log line.

use serde_json::json;

use crate::helpers::{Backend, TestAppBuilder, captured_logs};

db_test!(a_submission_leaves_no_address_name_or_ip_in_the_logs);
async fn a_submission_leaves_no_address_name_or_ip_in_the_logs(backend: Backend) {
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SERVER__TRUSTED_PROXIES", "127.0.0.1/32,::1/128")
        .spawn()
        .await;
    let marker = uuid::Uuid::now_v7().simple().to_string();
    let email = format!("log-{marker}@example.org");
    let name = format!("Name{marker}");
    let ip = "203.0.113.77";

    let api = app
        .client
        .post(app.url("/api/v1/messages"))
        .header("x-forwarded-for", ip)
        .json(&json!({"name": name, "email": email, "body": "hello", "consent": true}))
        .send()
        .await
        .expect("request");
    let form = app
        .client
        .post(app.url("/"))
        .header("x-forwarded-for", ip)
        .form(&[
            ("name", name.as_str()),
            ("email", email.as_str()),
            ("body", "hello"),
            ("consent", "on"),
            ("policy_version", "2026-11-24"),
        ])
        .send()
        .await
        .expect("request");
    let refused = app
        .client
        .post(app.url("/api/v1/messages"))
        .header("x-forwarded-for", ip)
        .json(&json!({"name": name, "email": email, "body": "", "consent": true}))
        .send()
        .await
        .expect("request");
    let request_id = api.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    assert_eq!(api.status(), 201);
    assert_eq!(form.status(), 303);
    assert_eq!(refused.status(), 422);
    let location = form.headers()["location"].to_str().expect("loc").to_owned();
    let token = location
        .trim_start_matches("/sent/")
        .split('?')
        .next()
        .expect("t")
        .to_owned();
    app.get(&location).await;
    app.get(&format!("/t/{token}")).await;

    let logs = captured_logs();
    assert!(logs.contains(&request_id), "log lines carry the request id");
    assert!(logs.contains("message received"));
    for secret in [
        email.as_str(),
        name.as_str(),
        marker.as_str(),
        ip,
        "203.0.113",
        token.as_str(),
    ] {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs");
    }
}

db_test!(relay_mail_leaves_no_address_in_the_logs);
async fn relay_mail_leaves_no_address_in_the_logs(backend: Backend) {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let app = TestAppBuilder::new(backend)
        .with_smtp_listener()
        .spawn()
        .await;
    let marker = uuid::Uuid::now_v7().simple().to_string();
    let email = format!("relay-{marker}@example.org");
    let resp = app
        .post_message(&json!({"email": email, "body": "hello", "consent": true}))
        .await;
    assert_eq!(resp.status(), 201);
    let mails = app.wait_for_emails(2).await;
    let ack = mails
        .iter()
        .find(|m| crate::helpers::header(m, "To").is_some_and(|t| t.contains(&marker)))
        .expect("ack");
    let alias = crate::helpers::header(ack, "Reply-To").expect("alias");
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(app.smtp_addr.expect("listener").port())
        .build();
    let envelope = lettre::address::Envelope::new(
        Some(email.parse().expect("from")),
        vec![alias.parse().expect("to")],
    )
    .expect("envelope");
    let reply = format!("From: {email}\r\nTo: {alias}\r\nSubject: again\r\n\r\nThanks!\r\n");
    transport
        .send_raw(&envelope, reply.as_bytes())
        .await
        .expect("accepted");
    let stranger = format!("stranger-{marker}@example.org");
    let refused = lettre::address::Envelope::new(
        Some(stranger.parse().expect("from")),
        vec![alias.parse().expect("to")],
    )
    .expect("envelope");
    let stranger_sent = transport
        .send_raw(
            &refused,
            format!("From: {stranger}\r\n\r\nx\r\n").as_bytes(),
        )
        .await;
    app.wait_for_emails(3).await;

    // The stranger is refused in the dialogue, for good, and nothing of it is stored.
    let refusal = stranger_sent.expect_err("mail from a stranger to the alias is refused");
    assert!(refusal.is_permanent(), "a permanent refusal: {refusal}");
    assert_eq!(
        refusal.status().map(|code| code.to_string()).as_deref(),
        Some("550"),
        "{refusal}"
    );
    assert_eq!(
        app.count_messages().await,
        2,
        "the visitor's message and reply, nothing from the stranger"
    );

    let logs = captured_logs();
    assert!(logs.contains("relay mail stored"));
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(&marker)).collect();
    assert!(
        leaks.is_empty(),
        "an address of the relay reached the logs: {leaks:#?}"
    );
}
