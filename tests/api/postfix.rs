//! Behind a real Postfix (Debian's package), configured from `deploy/postfix/` as the README
//! tells operators: a Postfix instance of the test's own (its own config directory, queue and
//! port; never the machine's) hands relay mail to Sealpost and asks Sealpost's policy service
//! at RCPT. Mail is sent through it from a client identity outside `mynetworks` (XCLIENT), and
//! every refusal must happen in that client's own dialogue, with nothing left in the queue to
//! be bounced later.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, TestAppBuilder, free_port, header, services_required};

const RELAY: &str = "relay.example.org";
const STAFF: &str = "staff@shop.example";
const VISITOR: &str = "anna.k@example.org";
/// A client on the internet, as XCLIENT makes Postfix see it.
const OUTSIDE: &str = "198.51.100.7";

/// A Postfix instance of this test's own.
pub struct Postfix {
    dir: tempfile::TempDir,
    pub addr: SocketAddr,
}

fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/postfix")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The daemons an instance needs, as in Debian's stock master.cf, none chrooted.
const BASE_MASTER: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

impl Postfix {
    /// Whether Debian's Postfix is installed and this process may start it (as root).
    fn missing() -> Option<&'static str> {
        if !Path::new("/usr/sbin/postfix").exists() {
            return Some("needs Postfix (apt-get install postfix)");
        }
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        (!root).then_some("needs root to start a Postfix instance")
    }

    /// Starts an instance that hands the relay domain to `listener` and asks `policy`, or
    /// `None` with a printed reason when Postfix cannot be run here (a failure under
    /// `SEALPOST_REQUIRE_SERVICES=1`).
    pub fn start(listener: SocketAddr, policy: SocketAddr, max_bytes: usize) -> Option<Postfix> {
        if let Some(reason) = Self::missing() {
            if services_required() {
                panic!("SEALPOST_REQUIRE_SERVICES=1 but Postfix cannot run: {reason}");
            }
            crate::helpers::skipped(reason);
            return None;
        }
        let dir = tempfile::tempdir().expect("postfix dir");
        let root = dir.path();
        // Postfix's unprivileged daemons open the queue by its path.
        set_mode(root, 0o755);
        let conf = root.join("conf");
        let data = root.join("data");
        for d in [&conf, &data, &root.join("queue")] {
            std::fs::create_dir_all(d).expect("dir");
        }
        let status = Command::new("chown")
            .arg("postfix")
            .arg(&data)
            .status()
            .expect("chown");
        assert!(status.success());
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let root_s = root.display().to_string();
        let conf_s = conf.display().to_string();
        let local = format!(
            "compatibility_level = 3.6
queue_directory = {root_s}/queue
data_directory = {root_s}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{RELAY}
mydomain = {RELAY}
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = {root_s}/maillog
maillog_file_prefixes = {root_s}
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
message_size_limit = {}
",
            max_bytes * 4
        );
        let snippet = deploy_file("main.cf.snippet")
            .replace("/etc/postfix/", &format!("{conf_s}/"))
            .replace("127.0.0.1:10040", &policy.to_string());
        std::fs::write(conf.join("main.cf"), format!("{local}\n{snippet}")).expect("main.cf");
        let master = format!(
            "127.0.0.1:{port} inet n - n - - smtpd\n{BASE_MASTER}\n{}",
            deploy_file("master.cf.snippet")
        );
        std::fs::write(conf.join("master.cf"), master).expect("master.cf");
        let transport = deploy_file("transport").replace(
            "127.0.0.1]:2525",
            &format!("{}]:{}", listener.ip(), listener.port()),
        );
        std::fs::write(conf.join("transport"), transport).expect("transport");
        std::fs::write(
            conf.join("sealpost_recipients"),
            deploy_file("sealpost_recipients"),
        )
        .expect("sealpost_recipients");
        for map in ["transport", "sealpost_recipients"] {
            let out = Command::new("postmap")
                .arg("-c")
                .arg(&conf)
                .arg(conf.join(map))
                .output()
                .expect("postmap");
            assert!(out.status.success(), "postmap {map}: {out:?}");
        }
        let postfix = Postfix { dir, addr };
        postfix.command("check");
        postfix.command("start");
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Some(postfix);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Postfix did not start:\n{}", postfix.log());
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    fn command(&self, verb: &str) {
        // Postfix logs its own fatal errors to syslog unless stderr is a terminal; the maillog
        // of the instance has the rest.
        let out = Command::new("postfix")
            .arg("-c")
            .arg(self.conf())
            .arg(verb)
            .output()
            .expect("postfix");
        assert!(
            out.status.success(),
            "postfix {verb}: {out:?}\n{}",
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The queue files of every mail Postfix holds (to deliver, to retry or to bounce).
    pub fn queued(&self) -> Vec<PathBuf> {
        let queue = self.dir.path().join("queue");
        let mut files = Vec::new();
        for sub in [
            "maildrop", "incoming", "active", "deferred", "hold", "corrupt", "bounce", "defer",
        ] {
            let mut stack = vec![queue.join(sub)];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        files.push(path);
                    }
                }
            }
        }
        files
    }

    /// Waits until Postfix holds no mail, or fails with its log.
    pub async fn wait_until_empty(&self) {
        for _ in 0..200 {
            if self.queued().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("Postfix still holds {:?}\n{}", self.queued(), self.log());
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(self.conf())
            .arg("abort")
            .output();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// An SMTP client that writes each command and reads each reply, so that a test sees at which
/// step a refusal came.
pub struct Dialogue {
    stream: BufReader<TcpStream>,
}

impl Dialogue {
    /// Connects and, with `identity`, tells Postfix (XCLIENT) that the client is that outside
    /// host, as if it had connected from the internet.
    pub async fn open(addr: SocketAddr, identity: Option<(&str, &str)>) -> Dialogue {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut d = Dialogue {
            stream: BufReader::new(stream),
        };
        assert_eq!(d.reply().await.0, 220);
        assert_eq!(d.cmd("EHLO client.test").await.0, 250);
        if let Some((ip, name)) = identity {
            let (code, text) = d
                .cmd(&format!("XCLIENT ADDR={ip} NAME={name} HELO={name}"))
                .await;
            assert_eq!(code, 220, "XCLIENT: {text}");
            assert_eq!(d.cmd(&format!("EHLO {name}")).await.0, 250);
        }
        d
    }

    async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(30), self.stream.read_line(&mut line))
                .await
                .expect("reply in time")
                .expect("read");
            assert!(n > 0, "connection closed; so far: {text}");
            text.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                let code = line[..3].parse().expect("code");
                return (code, text);
            }
        }
    }

    pub async fn cmd(&mut self, line: &str) -> (u16, String) {
        self.stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        self.reply().await
    }

    /// MAIL, RCPT and, if both pass, DATA: the first refusal, or the final reply.
    pub async fn send(&mut self, from: &str, to: &str, mail: &str) -> (&'static str, u16, String) {
        let (code, text) = self.cmd(&format!("MAIL FROM:<{from}>")).await;
        if code >= 400 {
            return ("MAIL", code, text);
        }
        let (code, text) = self.cmd(&format!("RCPT TO:<{to}>")).await;
        if code >= 400 {
            let _ = self.cmd("RSET").await;
            return ("RCPT", code, text);
        }
        let (code, text) = self.cmd("DATA").await;
        if code != 354 {
            return ("DATA", code, text);
        }
        let body = mail.replace("\r\n", "\n").replace('\n', "\r\n");
        let body = body
            .split("\r\n")
            .map(|l| {
                if l.starts_with('.') {
                    format!(".{l}")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n");
        self.stream
            .get_mut()
            .write_all(format!("{body}\r\n.\r\n").as_bytes())
            .await
            .expect("write");
        let (code, text) = self.reply().await;
        ("END", code, text)
    }
}

fn reply_mail(from: &str, to: &str, text: &str) -> String {
    format!(
        "From: {from}\nTo: {to}\nSubject: Re: your message\nMessage-ID: <{}@mail.shop.example>\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{text}\n",
        uuid::Uuid::now_v7().simple()
    )
}

/// Sealpost configured for the relay domain the deploy files name, listener and policy on.
async fn sealpost(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let mut builder = TestAppBuilder::new(backend)
        .with_smtp_listener()
        .with_policy_service()
        .set("SEALPOST__MAIL__RELAY_DOMAIN", RELAY)
        .set("SEALPOST__MAIL__STAFF_ADDRESSES", STAFF);
    for (k, v) in extra {
        builder = builder.set(k, v);
    }
    builder.spawn().await
}

/// A conversation with an address: the staff-side and the visitor-side alias.
async fn conversation(app: &TestApp) -> (String, String) {
    let resp = app
        .post_message(&json!({
            "name": "Anna Karenina",
            "email": VISITOR,
            "subject": "Where is my order?",
            "body": "Hello,\nmy order 1234 has not arrived.",
            "consent": true
        }))
        .await;
    assert_eq!(resp.status(), 201);
    let mails = app.wait_for_emails(2).await;
    let alias_to = |who: &str| {
        let mail = mails
            .iter()
            .find(|m| header(m, "To").is_some_and(|t| t.contains(who)))
            .expect("mail");
        header(mail, "Reply-To")
            .expect("Reply-To")
            .trim_matches(['<', '>', ' '])
            .to_owned()
    };
    (alias_to(STAFF), alias_to(VISITOR))
}

fn forge(alias: &str) -> String {
    let at = alias.find('@').expect("@");
    let mut forged = alias.to_owned();
    let last = &alias[at - 1..at];
    forged.replace_range(at - 1..at, if last == "0" { "1" } else { "0" });
    forged
}

async fn staff_messages(app: &TestApp) -> usize {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    sealpost::entities::messages::Entity::find()
        .filter(sealpost::entities::messages::Column::Author.eq("staff"))
        .all(app.db())
        .await
        .expect("q")
        .len()
}

db_test!(behind_postfix_a_staff_answer_arrives_and_every_forgery_is_refused_at_rcpt);
async fn behind_postfix_a_staff_answer_arrives_and_every_forgery_is_refused_at_rcpt(
    backend: Backend,
) {
    let app = sealpost(backend, &[]).await;
    let Some(postfix) = Postfix::start(
        app.smtp_addr.expect("listener"),
        app.policy_addr.expect("policy"),
        app.state.settings.mail.inbound.max_message_bytes,
    ) else {
        return;
    };
    let (staff_alias, visitor_alias) = conversation(&app).await;
    let mut outside = Dialogue::open(postfix.addr, Some((OUTSIDE, "mail.shop.example"))).await;
    let mut local = Dialogue::open(postfix.addr, None).await;

    let answer = outside
        .send(
            STAFF,
            &staff_alias,
            &reply_mail(STAFF, &staff_alias, "Your parcel left today."),
        )
        .await;
    let only_quote = outside
        .send(
            STAFF,
            &staff_alias,
            &reply_mail(
                STAFF,
                &staff_alias,
                "On Tue, Anna wrote:\n> Hello,\n> my order",
            ),
        )
        .await;
    let forged = outside
        .send(STAFF, &forge(&staff_alias), &reply_mail(STAFF, "x", "x"))
        .await;
    let unknown = outside
        .send(
            STAFF,
            &format!("postmaster@{RELAY}"),
            &reply_mail(STAFF, "x", "x"),
        )
        .await;
    let stranger_to_staff_side = outside
        .send(
            "eve@example.net",
            &staff_alias,
            &reply_mail("eve@example.net", &staff_alias, "I am staff, honest"),
        )
        .await;
    let stranger_to_visitor_side = outside
        .send(
            "eve@example.net",
            &visitor_alias,
            &reply_mail("eve@example.net", &visitor_alias, "I am Anna"),
        )
        .await;
    let forged_from_mynetworks = local
        .send(STAFF, &forge(&staff_alias), &reply_mail(STAFF, "x", "x"))
        .await;
    let stranger_from_mynetworks = local
        .send(
            "eve@example.net",
            &staff_alias,
            &reply_mail("eve@example.net", &staff_alias, "x"),
        )
        .await;

    assert_eq!((answer.0, answer.1), ("END", 250), "{answer:?}");
    assert_eq!(
        (only_quote.0, only_quote.1),
        ("END", 250),
        "accepted by Postfix, so never bounced: {only_quote:?}"
    );
    for (what, outcome) in [
        ("forged alias", &forged),
        ("unknown alias", &unknown),
        ("stranger to the staff side", &stranger_to_staff_side),
        ("stranger to the visitor side", &stranger_to_visitor_side),
        ("forged alias from mynetworks", &forged_from_mynetworks),
        ("stranger from mynetworks", &stranger_from_mynetworks),
    ] {
        assert_eq!(
            (outcome.0, outcome.1),
            ("RCPT", 550),
            "{what}: {outcome:?}\n{}",
            postfix.log()
        );
    }
    assert!(stranger_to_staff_side.2.contains("5.7.1"));
    postfix.wait_until_empty().await;
    let mails = app.wait_for_emails(4).await;
    let to_visitor = mails
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Re:")))
        .expect("the answer reached the visitor");
    assert!(crate::helpers::text_body(to_visitor).contains("Your parcel left today."));
    let notice = mails
        .iter()
        .find(|m| {
            header(m, "Subject").is_some_and(|s| s.starts_with("Your answer was not passed on"))
        })
        .expect("staff are told that the quote-only answer was not passed on");
    assert!(header(notice, "To").is_some_and(|t| t.contains(STAFF)));
    assert!(crate::helpers::text_body(notice).contains("no text Sealpost could read"));
    assert_eq!(
        staff_messages(&app).await,
        1,
        "only the real answer is stored"
    );
    assert!(
        !postfix.log().contains("status=bounced") && !postfix.log().contains("sender non-delivery"),
        "Postfix bounced something:\n{}",
        postfix.log()
    );
}

/// Stands between Postfix and the policy service, so that a test can take Sealpost "down"
/// and bring it back on the same port: down, it closes every connection it is given.
struct Switch {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Switch {
    async fn start(to: SocketAddr) -> Switch {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(false));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(generation);
        let (flag, gen_tx) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let mut cut = gen_tx.subscribe();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    }
                });
            }
        });
        Switch {
            addr,
            up,
            generation,
        }
    }

    fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

db_test!(while_sealpost_is_down_postfix_defers_and_asks_again_once_it_is_back);
async fn while_sealpost_is_down_postfix_defers_and_asks_again_once_it_is_back(backend: Backend) {
    let app = sealpost(backend, &[]).await;
    let switch = Switch::start(app.policy_addr.expect("policy")).await;
    let Some(postfix) = Postfix::start(
        app.smtp_addr.expect("listener"),
        switch.addr,
        app.state.settings.mail.inbound.max_message_bytes,
    ) else {
        return;
    };
    let (staff_alias, _) = conversation(&app).await;
    let mail = reply_mail(STAFF, &staff_alias, "Sent while Sealpost restarted.");

    switch.set(false);
    let mut first = Dialogue::open(postfix.addr, Some((OUTSIDE, "mail.shop.example"))).await;
    let while_down = first.send(STAFF, &staff_alias, &mail).await;
    switch.set(true);
    let mut second = Dialogue::open(postfix.addr, Some((OUTSIDE, "mail.shop.example"))).await;
    let once_back = second.send(STAFF, &staff_alias, &mail).await;

    assert_eq!(while_down.0, "RCPT", "{while_down:?}");
    assert!(
        (400..500).contains(&while_down.1),
        "a temporary refusal while Sealpost is down: {while_down:?}"
    );
    assert_eq!(
        (once_back.0, once_back.1),
        ("END", 250),
        "asked again at once, not a cached refusal: {once_back:?}\n{}",
        postfix.log()
    );
    postfix.wait_until_empty().await;
    assert_eq!(staff_messages(&app).await, 1);
}

db_test!(behind_postfix_authentication_and_size_are_decided_without_a_bounce);
async fn behind_postfix_authentication_and_size_are_decided_without_a_bounce(backend: Backend) {
    let app = sealpost(
        backend,
        &[
            ("SEALPOST__MAIL__INBOUND__AUTHENTICATION", "verify"),
            ("SEALPOST__MAIL__INBOUND__NAMESERVER", "127.0.0.1:9"),
            ("SEALPOST__MAIL__INBOUND__MAX_MESSAGE_BYTES", "20000"),
            (
                "SEALPOST__MAIL__STAFF_ADDRESSES",
                "staff@shop.example,boss@other.example",
            ),
        ],
    )
    .await;
    let cache = &app.state.authenticator.cache;
    cache
        .add_txt("shop.example", &format!("v=spf1 ip4:{OUTSIDE} -all"))
        .expect("spf");
    cache
        .add_txt("_dmarc.shop.example", "v=DMARC1; p=reject")
        .expect("dmarc");
    cache.add_missing("other.example");
    cache.add_missing("_dmarc.other.example");
    cache.add_missing("_dmarc.example");
    let Some(postfix) = Postfix::start(
        app.smtp_addr.expect("listener"),
        app.policy_addr.expect("policy"),
        20_000,
    ) else {
        return;
    };
    let (staff_alias, _) = conversation(&app).await;
    let mut allowed = Dialogue::open(postfix.addr, Some((OUTSIDE, "mail.shop.example"))).await;
    let mut elsewhere = Dialogue::open(postfix.addr, Some(("203.0.113.66", "evil.example"))).await;

    let authentic = allowed
        .send(
            STAFF,
            &staff_alias,
            &reply_mail(STAFF, &staff_alias, "Checked and true."),
        )
        .await;
    let spf_refused = elsewhere
        .send(
            STAFF,
            &staff_alias,
            &reply_mail(STAFF, &staff_alias, "Forged."),
        )
        .await;
    // Envelope and SPF pass for shop.example, but the From: is another staff domain's that
    // nothing authenticates: only the mail itself shows it, after Postfix has accepted it.
    let misaligned = allowed
        .send(
            STAFF,
            &staff_alias,
            &reply_mail("boss@other.example", &staff_alias, "Not aligned."),
        )
        .await;
    let announced_too_big = allowed
        .cmd(&format!("MAIL FROM:<{STAFF}> SIZE=50000"))
        .await;
    let announced_rcpt = allowed.cmd(&format!("RCPT TO:<{staff_alias}>")).await;
    let _ = allowed.cmd("RSET").await;
    let too_big = allowed
        .send(
            STAFF,
            &staff_alias,
            &reply_mail(STAFF, &staff_alias, &"x".repeat(30_000)),
        )
        .await;

    assert_eq!((authentic.0, authentic.1), ("END", 250), "{authentic:?}");
    assert_eq!(
        (spf_refused.0, spf_refused.1),
        ("RCPT", 550),
        "{spf_refused:?}"
    );
    assert!(spf_refused.2.contains("5.7.1"), "{spf_refused:?}");
    assert_eq!(
        (misaligned.0, misaligned.1),
        ("END", 250),
        "accepted by Postfix, so never bounced: {misaligned:?}"
    );
    assert!(
        announced_too_big.0 == 552 || announced_rcpt.0 == 552,
        "{announced_too_big:?} {announced_rcpt:?}"
    );
    assert_eq!((too_big.0, too_big.1), ("END", 552), "{too_big:?}");
    postfix.wait_until_empty().await;
    assert_eq!(
        staff_messages(&app).await,
        1,
        "only the authenticated answer is stored"
    );
    let metrics = sealpost::http::metrics::exposition(&app.state)
        .await
        .expect("metrics");
    assert!(
        metrics.contains("outcome=\"dropped\""),
        "the misaligned mail is counted as dropped:\n{metrics}"
    );
    assert!(
        !postfix.log().contains("status=bounced"),
        "Postfix bounced something:\n{}",
        postfix.log()
    );
}
