//! Mail: the transport that delivers outbox rows (SMTP with a pool, or `.eml` files in
//! development), the relay aliases, and inbound mail (parsing, the reply cut, the identity
//! scrub, authentication). What each kind of outgoing mail says is in `mailers/`.

pub mod authentication;
pub mod inbound;
pub mod relay_token;
pub mod reply;
pub mod scrub;
pub mod smtp_pool;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailSettings, MailTransport, SmtpUrlError};
use smtp_pool::SmtpPool;

/// Replaces every address in a text (an SMTP server's error, say) with `<address>`, so that
/// what is logged or stored about a delivery never names the recipient.
pub fn redact_addresses(text: &str) -> String {
    scrub::replace_every_address(text, "<address>")
}

/// `Auto-Submitted` (RFC 3834), so that responders and our own loop guard can tell.
#[derive(Debug, Clone)]
pub struct AutoSubmitted(pub String);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Why a delivery failed, and whether trying again could help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

/// Why the transport could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("mail.smtp.url: {0}")]
    SmtpUrl(#[from] SmtpUrlError),
    #[error("creating {}: {source}", path.display())]
    MailDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The ways mail leaves Sealpost.
pub enum Mailer {
    Smtp(SmtpPool),
    File(AsyncFileTransport<Tokio1Executor>),
}

impl Mailer {
    pub fn from_settings(settings: &MailSettings, data_dir: &Path) -> Result<Self, MailerError> {
        match settings.transport {
            MailTransport::Smtp => Ok(Mailer::Smtp(SmtpPool::new(
                &settings.smtp.server()?,
                settings.smtp.max_connections,
                Duration::from_secs(settings.smtp.timeout_secs),
            ))),
            MailTransport::File => {
                let dir = data_dir.join("mail");
                std::fs::create_dir_all(&dir).map_err(|source| MailerError::MailDir {
                    path: dir.clone(),
                    source,
                })?;
                Ok(Mailer::File(AsyncFileTransport::new(dir)))
            }
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(pool) => pool.send(message.envelope(), &message.formatted()).await,
            Mailer::File(file) => file.send(message).await.map(|_| ()).map_err(|e| SendError {
                permanent: false,
                message: e.to_string(),
            }),
        }
    }
}

/// A mail ready to be built: everything but the recipients, which the outbox resolves when it
/// sends (a visitor's address is opened only then).
#[derive(Debug, Clone)]
pub struct Composed {
    pub message_id: String,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    pub auto_submitted: Option<String>,
}

impl Composed {
    pub fn build(&self, to: &[Mailbox]) -> Result<Message, lettre::error::Error> {
        let mut builder = Message::builder()
            .message_id(Some(self.message_id.clone()))
            .from(self.from.clone())
            .subject(self.subject.clone());
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        for mailbox in to {
            builder = builder.to(mailbox.clone());
        }
        if let Some(id) = &self.in_reply_to {
            builder = builder.in_reply_to(id.clone());
        }
        if let Some(refs) = &self.references {
            builder = builder.references(refs.clone());
        }
        if let Some(auto) = &self.auto_submitted {
            builder = builder.header(AutoSubmitted(auto.clone()));
        }
        builder.multipart(MultiPart::alternative_plain_html(
            self.text.clone(),
            self.html.clone(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_errors_lose_their_addresses() {
        assert_eq!(
            redact_addresses(
                "permanent error (550): 5.1.1 <anna@example.org>: Recipient address rejected"
            ),
            "permanent error (550): 5.1.1 <<address>>: Recipient address rejected"
        );
    }
}
