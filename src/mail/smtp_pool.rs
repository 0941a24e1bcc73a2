//! SMTP delivery over a small pool of connections that Sealpost opens itself, so that it can set
//! `TCP_NODELAY`: lettre 0.11.23 never does, and each message then stalls ~40 ms on Nagle's
//! algorithm and the server's delayed ACK (about 20 mails/s per connection on loopback).
//! The SMTP dialogue itself stays lettre's (`AsyncSmtpConnection`).

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use secrecy::ExposeSecret;
use tokio::sync::{Mutex, Semaphore};

use super::SendError;
use crate::config::{SmtpSecurity, SmtpServer};

pub struct SmtpPool {
    host: String,
    port: u16,
    security: SmtpSecurity,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    permits: Semaphore,
}

impl SmtpPool {
    /// A pool for the server `mail.smtp.url` names; it connects only when a mail is sent.
    pub fn new(server: &SmtpServer, max_connections: u32, timeout: Duration) -> Self {
        Self {
            host: server.host.clone(),
            port: server.port,
            security: server.security,
            credentials: server.credentials.as_ref().map(|(user, password)| {
                Credentials::new(user.clone(), password.expose_secret().to_owned())
            }),
            hello: ClientId::default(),
            timeout,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_connections.max(1) as usize),
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tls = || TlsParameters::new(self.host.clone()).map_err(classify);
        let mut conn = if self.security == SmtpSecurity::Wrapper {
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                Some(tls()?),
                None,
            )
            .await
            .map_err(classify)?
        } else {
            let tcp = tokio::time::timeout(
                self.timeout,
                tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
            )
            .await
            .map_err(|_| transient("SMTP connection timed out"))?
            .map_err(|e| transient(&format!("connecting to the SMTP server: {e}")))?;
            tcp.set_nodelay(true)
                .map_err(|e| transient(&format!("setting TCP_NODELAY: {e}")))?;
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                .await
                .map_err(classify)?
        };
        let wants_tls = match self.security {
            SmtpSecurity::StartTls => true,
            SmtpSecurity::Opportunistic => conn.can_starttls(),
            SmtpSecurity::Plain | SmtpSecurity::Wrapper => false,
        };
        if wants_tls {
            conn.starttls(tls()?, &self.hello).await.map_err(classify)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(classify)?;
        }
        Ok(conn)
    }

    /// Sends one message, reusing an idle connection when there is one.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| transient("the SMTP pool is closed"))?;
        let reused = self.idle.lock().await.pop();
        let mut conn = match reused {
            Some(conn) if !conn.has_broken() => conn,
            _ => tokio::time::timeout(self.timeout, self.connect())
                .await
                .map_err(|_| transient("SMTP connection timed out"))??,
        };
        match tokio::time::timeout(self.timeout, conn.send(envelope, message)).await {
            Ok(Ok(_)) => {
                self.idle.lock().await.push(conn);
                Ok(())
            }
            Ok(Err(e)) => {
                // A refused message leaves a usable connection; anything else does not.
                if e.is_permanent() || e.is_transient() {
                    let _ = conn.command(lettre::transport::smtp::commands::Rset).await;
                    if !conn.has_broken() {
                        self.idle.lock().await.push(conn);
                    }
                } else {
                    conn.abort().await;
                }
                Err(classify(e))
            }
            Err(_) => {
                conn.abort().await;
                Err(transient("SMTP server did not answer in time"))
            }
        }
    }
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    SendError {
        permanent: e.is_permanent(),
        message: e.to_string(),
    }
}

fn transient(message: &str) -> SendError {
    SendError {
        permanent: false,
        message: message.to_owned(),
    }
}
