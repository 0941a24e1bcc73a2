//! SMTP delivery over a small pool of connections that Sealpost opens itself, so that it can set
//! `TCP_NODELAY`: lettre 0.11.23 never does, and each message then stalls ~40 ms on Nagle's
//! algorithm and the server's delayed ACK (about 20 mails/s per connection on loopback).
//! The SMTP dialogue itself stays lettre's (`AsyncSmtpConnection`).

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::sync::{Mutex, Semaphore};

use super::SendError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://`: plain, or STARTTLS when the server offers it and `?tls=opportunistic`.
    Plain,
    Opportunistic,
    /// `smtp://...?tls=required`: STARTTLS or fail.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Wrapper,
}

pub struct SmtpPool {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    permits: Semaphore,
}

impl SmtpPool {
    /// Reads `smtp://[user:password@]host[:port][?tls=required|opportunistic]` or `smtps://...`.
    pub fn from_url(url: &str, max_connections: u32, timeout: Duration) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let security = match (parsed.scheme(), tls.as_deref()) {
            ("smtps", _) => Security::Wrapper,
            ("smtp", None | Some("none")) => Security::Plain,
            ("smtp", Some("opportunistic")) => Security::Opportunistic,
            ("smtp", Some("required")) => Security::StartTls,
            ("smtp", Some(other)) => {
                return Err(format!(
                    "tls={other} is not one of none, opportunistic, required"
                ));
            }
            (scheme, _) => return Err(format!("scheme {scheme}:// is not smtp:// or smtps://")),
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL names no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = parsed.port().unwrap_or(match security {
            Security::Wrapper => 465,
            Security::StartTls => 587,
            _ => 25,
        });
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = (!parsed.username().is_empty()).then(|| {
            Credentials::new(
                decode(parsed.username()),
                decode(parsed.password().unwrap_or_default()),
            )
        });
        Ok(Self {
            host,
            port,
            security,
            credentials,
            hello: ClientId::default(),
            timeout,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_connections.max(1) as usize),
        })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tls = || TlsParameters::new(self.host.clone()).map_err(classify);
        let mut conn = if self.security == Security::Wrapper {
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
            Security::StartTls => true,
            Security::Opportunistic => conn.can_starttls(),
            Security::Plain | Security::Wrapper => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(url: &str) -> Result<SmtpPool, String> {
        SmtpPool::from_url(url, 2, Duration::from_secs(5))
    }

    #[test]
    fn urls_pick_security_port_and_credentials() {
        let plain = pool("smtp://127.0.0.1:2525").expect("ok");
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.security),
            ("127.0.0.1", 2525, Security::Plain)
        );
        let starttls = pool("smtp://mail.example.org?tls=required").expect("ok");
        assert_eq!(
            (starttls.port, starttls.security),
            (587, Security::StartTls)
        );
        let wrapper = pool("smtps://user%40example.org:p%3Ass@mail.example.org").expect("ok");
        assert_eq!((wrapper.port, wrapper.security), (465, Security::Wrapper));
        assert_eq!(
            wrapper.credentials,
            Some(Credentials::new("user@example.org".into(), "p:ss".into()))
        );
        assert_eq!(pool("smtp://[::1]:25").expect("ok").host, "::1");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(
            pool("http://mail.example.org")
                .err()
                .unwrap_or_default()
                .contains("scheme")
        );
        assert!(
            pool("smtp://mail.example.org?tls=sometimes")
                .err()
                .unwrap_or_default()
                .contains("tls=sometimes")
        );
        assert!(
            pool("not a url")
                .err()
                .unwrap_or_default()
                .contains("not a URL")
        );
    }
}
