//! Postfix's access-policy delegation (`check_policy_service`, SMTPD_POLICY_README): Postfix
//! asks, while its client is still connected, whether mail from this sender to this recipient
//! may come in, and Sealpost answers from the same checks as its own listener. A forged or
//! unknown alias, a sender who is not on the thread, mail announced larger than
//! `mail.inbound.max_message_bytes` and (under `verify`) a staff sender whose domain's SPF
//! refuses the client are all refused in the sender's own SMTP dialogue, so Postfix never
//! accepts them and bounces them later. Recipients outside the relay domain get `DUNNO`.
//!
//! The answers are never cached: a check asked while Sealpost is down fails with a temporary
//! error (Postfix's `default_action`), and the next attempt asks again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::config::InboundAuthentication;
use crate::mail::authentication::Client;
use crate::mail::relay_token::Direction;
use crate::relay::{self, Envelope, ReceiveError, Refusal};
use crate::state::AppState;

/// The longest attribute line Postfix sends is far shorter; a longer one is not Postfix.
const MAX_LINE: usize = 8 * 1024;
/// A request has some thirty attributes.
const MAX_ATTRIBUTES: usize = 256;

/// What the service answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// No opinion: Postfix goes on with its other restrictions.
    Dunno,
    /// Refused: `CODE TEXT`, such as `550 5.1.1 No such recipient here`.
    Reject(String),
    /// Try again later.
    Defer(String),
}

impl Action {
    fn line(&self) -> String {
        match self {
            Action::Dunno => "action=DUNNO\n\n".to_owned(),
            Action::Reject(text) | Action::Defer(text) => format!("action={text}\n\n"),
        }
    }

    fn refusal(refusal: &Refusal) -> Self {
        let (code, text) = refusal.smtp_reply();
        Action::Reject(format!("{code} {text}"))
    }
}

/// The transactions (Postfix's `instance`) that had a relay recipient, so that their size is
/// checked again at the end of the message. Shared by all connections: Postfix may ask at RCPT
/// and at the end of the message over different ones.
#[derive(Default)]
struct Transactions(Mutex<HashMap<String, Instant>>);

/// How long a transaction is remembered; one lasts seconds.
const TRANSACTION_TTL: Duration = Duration::from_secs(600);

impl Transactions {
    fn remember(&self, instance: &str) {
        if instance.is_empty() {
            return;
        }
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > 10_000 {
            map.retain(|_, at| now.duration_since(*at) < TRANSACTION_TTL);
        }
        map.insert(instance.to_owned(), now);
    }

    fn had_relay_recipient(&self, instance: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(instance)
            .is_some_and(|at| at.elapsed() < TRANSACTION_TTL)
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Answers one policy request.
async fn decide(
    app: &AppState,
    transactions: &Transactions,
    request: &HashMap<String, String>,
) -> Action {
    let get = |name: &str| request.get(name).map(String::as_str).unwrap_or_default();
    let max = app.settings.mail.inbound.max_message_bytes;
    let size: usize = get("size").parse().unwrap_or(0);
    match get("protocol_state").to_ascii_uppercase().as_str() {
        "RCPT" => {}
        "END-OF-MESSAGE" => {
            let ours = transactions.had_relay_recipient(get("instance"));
            return if ours && size > max {
                app.metrics.inbound_mail("refused");
                app.metrics.inbound_refusal(Refusal::TooLarge.reason());
                Action::refusal(&Refusal::TooLarge)
            } else {
                Action::Dunno
            };
        }
        _ => return Action::Dunno,
    }
    let recipient = get("recipient");
    if !domain_of(recipient).eq_ignore_ascii_case(&app.settings.mail.relay_domain) {
        return Action::Dunno;
    }
    transactions.remember(get("instance"));
    let refuse = |refusal: Refusal| {
        app.metrics.inbound_mail("refused");
        app.metrics.inbound_refusal(refusal.reason());
        tracing::info!(
            reason = refusal.reason(),
            "policy service refused relay mail at RCPT"
        );
        Action::refusal(&refusal)
    };
    if size > max {
        return refuse(Refusal::TooLarge);
    }
    let sender = get("sender");
    let envelope = match relay::check_envelope(app, Some(sender), recipient).await {
        Ok(envelope) => envelope,
        Err(ReceiveError::Refused(refusal)) => return refuse(refusal),
        Err(e @ (ReceiveError::Db(_) | ReceiveError::Store(_))) => {
            tracing::error!(error = %e, "policy check failed; asked to try again");
            return Action::Defer("451 4.3.0 Temporary failure, try again later".into());
        }
    };
    let to_staff_side = match envelope {
        Envelope::Bare => true,
        Envelope::Alias(token) => token.direction == Direction::FromStaff,
    };
    if to_staff_side
        && !sender.is_empty()
        && app.authenticator.mode() == InboundAuthentication::Verify
        && let Ok(ip) = get("client_address").parse::<IpAddr>()
    {
        let client = Client {
            ip,
            helo: get("helo_name").to_owned(),
        };
        if app.authenticator.spf(&client, sender).await == Some(mail_auth::SpfResult::Fail) {
            return refuse(Refusal::Unauthenticated(format!(
                "spf=fail for {} from {ip}",
                domain_of(sender)
            )));
        }
    }
    Action::Dunno
}

/// Reads requests from one Postfix connection until it closes.
async fn serve(
    app: Arc<AppState>,
    transactions: Arc<Transactions>,
    stream: tokio::net::TcpStream,
    shutdown: CancellationToken,
) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut request = HashMap::new();
    let mut line = String::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_LINE as u64 + 1);
        let read = tokio::select! {
            _ = shutdown.cancelled() => return,
            read = limited.read_line(&mut line) => read,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) if line.len() > MAX_LINE || !line.ends_with('\n') => {
                tracing::warn!("policy client sent an overlong line; connection closed");
                return;
            }
            Ok(_) => {}
        }
        let attribute = line.trim_end_matches(['\n', '\r']);
        if !attribute.is_empty() {
            if request.len() >= MAX_ATTRIBUTES {
                return;
            }
            if let Some((name, value)) = attribute.split_once('=') {
                request.insert(name.to_owned(), value.to_owned());
            }
            continue;
        }
        let action = decide(&app, &transactions, &request).await;
        request.clear();
        if write.write_all(action.line().as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Accepts Postfix's policy connections until `shutdown`.
pub async fn run(
    app: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) {
    let transactions = Arc::new(Transactions::default());
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(serve(
                    app.clone(),
                    transactions.clone(),
                    stream,
                    shutdown.clone(),
                ));
            }
            Err(e) => tracing::warn!(error = %e, "policy service accept failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_written_as_postfix_reads_them() {
        assert_eq!(Action::Dunno.line(), "action=DUNNO\n\n");
        assert_eq!(
            Action::refusal(&Refusal::UnknownRecipient).line(),
            "action=550 5.1.1 No such recipient here\n\n"
        );
    }
}
