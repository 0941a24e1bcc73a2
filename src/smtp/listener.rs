//! The SMTP listener for the relay domain, meant to sit behind the site's MTA. The dialogue is
//! parsed by the `mailin` state machine; this module only moves lines. Unknown recipients,
//! forged tokens and senders not on the thread are refused at `RCPT TO`; what only the mail
//! itself shows (authentication, no text, size) after DATA. Nothing is accepted and bounced
//! later: a session from one of `mail.inbound.trusted_mtas` that passed on its client with
//! XFORWARD was accepted by that MTA already, so what Sealpost would refuse after DATA is
//! dropped and counted instead of turning into a bounce (the MTA's own dialogue refuses it
//! earlier through the policy service, [`crate::smtp::policy`]).
//!
//! `mailin`'s handler is synchronous, so each connection runs on a blocking thread and calls
//! the async relay through the runtime handle.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin::{Action, Handler, Response, SessionBuilder};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::mail::authentication::Client;
use crate::relay::{self, Inbound, ReceiveError, Refusal};
use crate::state::AppState;

/// Longest command line we read; DATA lines are bounded by the message size instead.
const MAX_LINE: usize = 64 * 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(250);
/// mailin's parser has no null reverse path (`MAIL FROM:<>`, which every bounce uses), so the
/// loop hands it this stand-in, which no real address can be.
const NULL_SENDER: &str = "@null-reverse-path";

/// `MAIL FROM:<>` becomes `MAIL FROM:<@null-reverse-path>` for the parser.
fn with_null_sender_marked(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const NULL_MAIL: &[u8] = b"mail from:<>";
    if line.len() >= NULL_MAIL.len() && line[..NULL_MAIL.len()].eq_ignore_ascii_case(NULL_MAIL) {
        let mut fixed = b"MAIL FROM:<".to_vec();
        fixed.extend_from_slice(NULL_SENDER.as_bytes());
        fixed.extend_from_slice(&line[NULL_MAIL.len() - 1..]);
        std::borrow::Cow::Owned(fixed)
    } else {
        std::borrow::Cow::Borrowed(line)
    }
}

fn refusal_response(error: ReceiveError) -> Response {
    match error {
        ReceiveError::Refused(refusal) => {
            let (code, text) = refusal.smtp_reply();
            Response::custom(code, text.into())
        }
        e @ (ReceiveError::Db(_) | ReceiveError::Store(_)) => {
            tracing::error!(error = %e, "inbound mail could not be stored; asked to retry");
            Response::custom(451, "4.3.0 Temporary failure, try again later".into())
        }
    }
}

/// What a trusted MTA told with XFORWARD about the client it received the mail from.
#[derive(Debug, Default, Clone)]
struct Forwarded {
    addr: Option<IpAddr>,
    helo: Option<String>,
}

impl Forwarded {
    /// Reads `XFORWARD NAME=… ADDR=… HELO=…` (Postfix's XFORWARD_README); attributes may come
    /// over several commands.
    fn read(&mut self, line: &str) {
        for attribute in line.split_whitespace().skip(1) {
            let Some((name, value)) = attribute.split_once('=') else {
                continue;
            };
            let value = xtext_decode(value);
            if value.starts_with('[') && value.ends_with(']') {
                // [UNAVAILABLE], [TEMPUNAVAIL]
                continue;
            }
            match name.to_ascii_uppercase().as_str() {
                "ADDR" => {
                    let ip = value
                        .strip_prefix("IPV6:")
                        .or_else(|| value.strip_prefix("ipv6:"))
                        .unwrap_or(&value);
                    self.addr = ip.parse().ok();
                }
                "HELO" => self.helo = Some(value),
                _ => {}
            }
        }
    }
}

/// RFC 3461 xtext: `+HH` stands for one byte.
fn xtext_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+'
            && let Some(byte) = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct RelayHandler {
    app: Arc<AppState>,
    runtime: Handle,
    peer: Arc<Mutex<Session>>,
    from: String,
    recipients: Vec<String>,
    data: Vec<u8>,
    too_big: bool,
}

/// What the line loop and the handler share about the session.
#[derive(Default)]
struct Session {
    helo: String,
    forwarded: Option<Forwarded>,
    peer_ip: Option<IpAddr>,
    trusted: bool,
}

impl Session {
    /// A session from a trusted MTA that passed on its client is a relayed one: the mail was
    /// accepted there already, and a refusal after DATA would become a bounce.
    fn relayed(&self) -> bool {
        self.trusted && self.forwarded.is_some()
    }

    fn client(&self) -> Option<Client> {
        match (&self.forwarded, self.peer_ip) {
            (Some(f), _) if self.trusted => f.addr.map(|ip| Client {
                ip,
                helo: f.helo.clone().unwrap_or_default(),
            }),
            (_, Some(ip)) => Some(Client {
                ip,
                helo: self.helo.clone(),
            }),
            _ => None,
        }
    }
}

impl Handler for RelayHandler {
    fn helo(&mut self, _ip: IpAddr, domain: &str) -> Response {
        lock(&self.peer).helo = domain.to_owned();
        mailin::response::OK
    }

    fn mail(&mut self, _ip: IpAddr, domain: &str, from: &str) -> Response {
        self.from = if from == NULL_SENDER {
            String::new()
        } else {
            from.to_owned()
        };
        lock(&self.peer).helo = domain.to_owned();
        self.recipients.clear();
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let from = (!self.from.is_empty()).then_some(self.from.as_str());
        match self
            .runtime
            .block_on(relay::check_envelope(&self.app, from, to))
        {
            Ok(_) => mailin::response::OK,
            Err(e) => {
                if let ReceiveError::Refused(refusal) = &e {
                    self.app.metrics.inbound_mail("refused");
                    self.app.metrics.inbound_refusal(refusal.reason());
                }
                refusal_response(e)
            }
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.recipients = to.to_vec();
        self.data.clear();
        self.too_big = false;
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.data.len() + buf.len() > self.app.settings.mail.inbound.max_message_bytes {
            self.too_big = true;
        } else if !self.too_big {
            self.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let (client, relayed) = {
            let session = lock(&self.peer);
            (session.client(), session.relayed())
        };
        let result = if self.too_big {
            self.app.metrics.inbound_mail("refused");
            self.app.metrics.inbound_refusal(Refusal::TooLarge.reason());
            Err(ReceiveError::Refused(Refusal::TooLarge))
        } else {
            let inbound = Inbound {
                envelope_from: Some(self.from.as_str()),
                recipients: std::mem::take(&mut self.recipients),
                raw: &self.data,
                client,
                relayed,
            };
            self.runtime.block_on(relay::receive(&self.app, inbound))
        };
        self.data.clear();
        self.too_big = false;
        match result {
            Ok(_) => mailin::response::OK,
            // The MTA in front accepted this mail already: refusing it now would make the MTA
            // bounce it to a sender who may be forged. It is dropped instead, and counted.
            Err(ReceiveError::Refused(refusal)) if relayed => {
                self.app.metrics.inbound_mail("dropped");
                tracing::warn!(
                    reason = refusal.reason(),
                    detail = %refusal,
                    "relay mail refused after the trusted MTA accepted it; dropped, not bounced"
                );
                mailin::response::OK
            }
            Err(e) => refusal_response(e),
        }
    }
}

fn lock(session: &Mutex<Session>) -> std::sync::MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(|p| p.into_inner())
}

/// The EHLO answer with XFORWARD offered, for a trusted MTA.
fn with_xforward(ehlo: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(ehlo);
    let mut out = String::with_capacity(text.len() + 40);
    let mut lines = text.split_inclusive("\r\n");
    if let Some(first) = lines.next() {
        // The last line of a reply has a space after the code; every other a dash.
        out.push_str(&first.replacen("250 ", "250-", 1));
        out.push_str("250-XFORWARD NAME ADDR PROTO HELO\r\n");
    }
    let rest: Vec<&str> = lines.collect();
    if rest.is_empty() {
        out.push_str("250 8BITMIME\r\n");
    }
    for line in rest {
        out.push_str(line);
    }
    out.into_bytes()
}

fn serve_connection(
    app: Arc<AppState>,
    runtime: Handle,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: CancellationToken,
) {
    // Short read timeouts let the thread notice a shutdown; idleness is counted across them.
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = std::io::BufWriter::new(write_half);
    let mut reader = BufReader::new(stream);
    let name = app.settings.mail.relay_domain.clone();
    let trusted = app
        .settings
        .mail
        .inbound
        .trusted_mtas
        .iter()
        .any(|net| net.contains(&peer.ip()));
    let state = Arc::new(Mutex::new(Session {
        peer_ip: Some(peer.ip()),
        trusted,
        ..Session::default()
    }));
    let new_session = || {
        let handler = RelayHandler {
            app: app.clone(),
            runtime: runtime.clone(),
            peer: state.clone(),
            from: String::new(),
            recipients: Vec::new(),
            data: Vec::new(),
            too_big: false,
        };
        SessionBuilder::new(name.clone()).build(peer.ip(), handler)
    };

    let mut session = new_session();
    let mut in_data = false;
    if session.greeting().write_to(&mut writer).is_err() || writer.flush().is_err() {
        return;
    }
    let mut line = Vec::with_capacity(1024);
    let mut idle = Duration::ZERO;
    loop {
        match (&mut reader)
            .take((MAX_LINE - line.len().min(MAX_LINE)) as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => return,
            Ok(_) if !line.ends_with(b"\n") && line.len() < MAX_LINE => continue,
            Ok(_) => idle = Duration::ZERO,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                idle += POLL;
                if shutdown.is_cancelled() {
                    let _ = writer.write_all(b"421 4.3.2 Shutting down\r\n");
                    let _ = writer.flush();
                    return;
                }
                if idle >= IDLE_TIMEOUT {
                    return;
                }
                continue;
            }
            Err(_) => return,
        }
        let ends_data = in_data && line == b".\r\n";
        if !in_data && line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"XFORWARD ") {
            let reply: &[u8] = if trusted {
                lock(&state)
                    .forwarded
                    .get_or_insert_with(Forwarded::default)
                    .read(&String::from_utf8_lossy(&line));
                b"250 2.0.0 Ok\r\n"
            } else {
                b"550 5.7.0 XFORWARD is for the site's own MTA only\r\n"
            };
            line.clear();
            if writer.write_all(reply).is_err() || writer.flush().is_err() {
                return;
            }
            continue;
        }
        let is_ehlo = !in_data && line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"EHLO ");
        let response = if in_data {
            session.process(&line)
        } else {
            session.process(&with_null_sender_marked(&line))
        };
        line.clear();
        if is_ehlo && trusted && response.code == 250 {
            let bytes = response.buffer().unwrap_or_default();
            if writer.write_all(&with_xforward(&bytes)).is_err() || writer.flush().is_err() {
                return;
            }
            continue;
        }
        if response.code == 354 {
            in_data = true;
        }
        if ends_data {
            in_data = false;
            if response.is_error {
                // mailin stays in its DATA state after a refused message; start a fresh
                // session at the point after EHLO so that RSET, MAIL or QUIT work as usual.
                session = new_session();
                session.process(b"EHLO relay\r\n");
            }
        }
        match response.action {
            Action::NoReply => continue,
            Action::Close => {
                let _ = response.write_to(&mut writer);
                let _ = writer.flush();
                return;
            }
            Action::Reply | Action::UpgradeTls => {
                if response.write_to(&mut writer).is_err() || writer.flush().is_err() {
                    return;
                }
            }
        }
    }
}

/// Accepts connections until `shutdown`; each is served on a blocking thread.
pub async fn run(
    app: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "SMTP accept failed");
                continue;
            }
        };
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        let app = app.clone();
        let runtime = Handle::current();
        let shutdown = shutdown.clone();
        tokio::task::spawn_blocking(move || serve_connection(app, runtime, stream, peer, shutdown));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xforward_attributes_are_read_over_several_commands() {
        let mut f = Forwarded::default();
        f.read("XFORWARD NAME=mail.shop.example ADDR=IPV6:2001:db8::7");
        f.read("XFORWARD HELO=mail+2Eshop.example PROTO=ESMTP NAME=[UNAVAILABLE]");
        assert_eq!(f.addr, "2001:db8::7".parse().ok());
        assert_eq!(f.helo.as_deref(), Some("mail.shop.example"));
    }

    #[test]
    fn xforward_is_offered_in_the_ehlo_answer() {
        let ehlo = b"250-relay.example offers extensions:\r\n250-8BITMIME\r\n250 STARTTLS\r\n";
        assert_eq!(
            String::from_utf8_lossy(&with_xforward(ehlo)),
            "250-relay.example offers extensions:\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n\
             250-8BITMIME\r\n250 STARTTLS\r\n"
        );
    }

    #[test]
    fn the_null_sender_is_marked_and_others_pass() {
        assert_eq!(
            with_null_sender_marked(b"MAIL FROM:<> BODY=8BITMIME\r\n").as_ref(),
            b"MAIL FROM:<@null-reverse-path> BODY=8BITMIME\r\n"
        );
        assert_eq!(
            with_null_sender_marked(b"mail from:<a@b.c>\r\n").as_ref(),
            b"mail from:<a@b.c>\r\n"
        );
    }
}
