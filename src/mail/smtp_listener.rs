//! The SMTP listener for the relay domain, meant to sit behind the site's MTA. The dialogue is
//! parsed by the `mailin` state machine; this module only moves lines. Unknown recipients,
//! forged tokens, strangers and oversize mail are refused with a 5xx during the dialogue, so
//! nothing is accepted and bounced later (no backscatter).
//!
//! `mailin`'s handler is synchronous, so each connection runs on a blocking thread and calls
//! the async relay through the runtime handle.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use mailin::{Action, Handler, Response, SessionBuilder};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

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
        ReceiveError::Refused(Refusal::UnknownRecipient) => {
            Response::custom(550, "5.1.1 No such recipient here".into())
        }
        ReceiveError::Refused(Refusal::ForgedToken) => {
            Response::custom(550, "5.7.1 This reply address is not valid".into())
        }
        ReceiveError::Refused(Refusal::StrangerSender) => {
            Response::custom(550, "5.7.1 Sender may not write to this address".into())
        }
        ReceiveError::Refused(Refusal::Empty) => {
            Response::custom(554, "5.6.0 The message has no readable text".into())
        }
        ReceiveError::Refused(Refusal::Malformed) => {
            Response::custom(554, "5.6.0 The message cannot be parsed".into())
        }
        ReceiveError::Db(e) => {
            tracing::error!(error = %e, "inbound mail could not be stored; asked to retry");
            Response::custom(451, "4.3.0 Temporary failure, try again later".into())
        }
    }
}

struct RelayHandler {
    app: Arc<AppState>,
    runtime: Handle,
    from: String,
    recipients: Vec<String>,
    data: Vec<u8>,
    too_big: bool,
}

impl Handler for RelayHandler {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = if from == NULL_SENDER {
            String::new()
        } else {
            from.to_owned()
        };
        self.recipients.clear();
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        match self.runtime.block_on(relay::check_recipient(&self.app, to)) {
            Ok(_) => mailin::response::OK,
            Err(e) => refusal_response(e),
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
        if self.too_big {
            self.data.clear();
            return Response::custom(552, "5.3.4 Message too big".into());
        }
        let inbound = Inbound {
            envelope_from: Some(self.from.as_str()),
            recipients: std::mem::take(&mut self.recipients),
            raw: &self.data,
        };
        let result = self.runtime.block_on(relay::receive(&self.app, inbound));
        self.data.clear();
        match result {
            Ok(_) => mailin::response::OK,
            Err(e) => refusal_response(e),
        }
    }
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
    let new_session = || {
        let handler = RelayHandler {
            app: app.clone(),
            runtime: runtime.clone(),
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
        let response = if in_data {
            session.process(&line)
        } else {
            session.process(&with_null_sender_marked(&line))
        };
        line.clear();
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
