//! A client of the operator's own Rspamd: it asks the controller worker for a score
//! (`POST /checkv2`) and teaches it staff's decisions (`POST /learnspam`, `/learnham`).
//!
//! What Rspamd receives is a MIME message built here from the subject and the text alone, with
//! fixed, neutral headers: no visitor's address, name or IP ever goes to it (Rspamd keeps a
//! history of what it scanned, and its log names senders). The headers are chosen so that a
//! plain, friendly message scores 0 with the shipped sample configuration
//! (`config/rspamd/local.d`, Rspamd 3.4): on such a message, in English, Russian or Kazakh,
//! only symbols worth 0 fire: `FROM_HAS_DN`, `MID_RHS_MATCH_FROM`, `RCPT_COUNT_ONE`,
//! `RCVD_COUNT_ZERO`, `TO_DN_ALL`, `TO_DOM_EQ_FROM_DOM`. (A missing Subject would cost 2.0,
//! base64 text 0.1: hence a neutral subject and 8bit text.)
//!
//! Nothing here follows a proxy from the environment or a redirect: the message goes to the
//! configured URL or nowhere.

use std::time::Duration;

use lettre::message::header::{
    ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, SinglePart};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::RspamdSettings;
use crate::metrics::{Metrics, RspamdLabels};

/// The sender every scanned message claims: a reserved domain (RFC 2606), nobody's address.
const FROM: &str = "Sealpost <form@sealpost.invalid>";
/// The recipient every scanned message names.
const TO: &str = "Staff <staff@sealpost.invalid>";
/// The domain of the Message-ID.
const MID_DOMAIN: &str = "sealpost.invalid";
/// The subject of a message sent without one: Rspamd scores a missing Subject (2.0) and an
/// empty one (1.0), which a visitor who leaves the optional field empty has not earned.
const NO_SUBJECT: &str = "Message from the feedback form";
/// How much of an error answer is kept in an [`RspamdError`].
const MAX_ERROR_CHARS: usize = 200;

/// Talks to one Rspamd controller. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Rspamd {
    client: reqwest::Client,
    /// The controller's base URL, ending in `/`, so that `checkv2` joins under its path.
    base: url::Url,
    password: Option<SecretString>,
    counts: Option<Family<RspamdLabels, Counter>>,
}

/// What is scanned or learned: the message as staff would read it, without its sender.
#[derive(Debug, Clone, Copy)]
pub struct Scan<'a> {
    pub subject: Option<&'a str>,
    pub text: &'a str,
    /// The form's language (`en`, `ru`, `kk`), sent as `Content-Language`.
    pub language: &'a str,
}

/// Rspamd's answer to a check.
#[derive(Debug, Clone)]
pub struct RspamdVerdict {
    /// Rspamd's own score: below 0 it trusts the message, at its `reject` action (15 by
    /// default) it would refuse it.
    pub score: f64,
    /// The action Rspamd would take: `no action`, `greylist`, `add header`, `rewrite subject`,
    /// `soft reject` or `reject`.
    pub action: String,
    /// The symbols that fired, the highest score first (ties by name).
    pub symbols: Vec<String>,
}

/// Which class a message is taught as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learn {
    Spam,
    Ham,
}

impl Learn {
    fn path(self) -> &'static str {
        match self {
            Learn::Spam => "learnspam",
            Learn::Ham => "learnham",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Learn::Spam => "learn_spam",
            Learn::Ham => "learn_ham",
        }
    }
}

/// Why Rspamd gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum RspamdError {
    /// No answer in time, no connection, a 5xx or an answer that cannot be read: worth
    /// trying again later (a message checked meanwhile is held for review).
    #[error("Rspamd is unavailable: {0}")]
    Unavailable(String),
    /// Rspamd answered and refused the request (4xx): a wrong password, a controller that
    /// does not allow learning. Trying again will not help until the configuration changes.
    #[error("Rspamd refused the request: {0}")]
    Refused(String),
}

impl RspamdError {
    fn outcome(&self) -> &'static str {
        match self {
            RspamdError::Unavailable(_) => "unavailable",
            RspamdError::Refused(_) => "refused",
        }
    }
}

/// The part of `checkv2`'s answer Sealpost reads.
#[derive(serde::Deserialize)]
struct CheckReply {
    score: f64,
    action: String,
    #[serde(default)]
    symbols: std::collections::HashMap<String, SymbolReply>,
}

#[derive(serde::Deserialize)]
struct SymbolReply {
    #[serde(default)]
    score: f64,
}

impl Rspamd {
    /// The client `spam.rspamd` describes; `None` when `spam.rspamd.url` is empty (Rspamd is
    /// not used). The URL was checked when the settings were loaded; should it still not
    /// parse, or should no HTTP client be buildable here, that is logged as an error and
    /// Rspamd is not used.
    pub fn from_settings(settings: &RspamdSettings) -> Option<Rspamd> {
        if !settings.is_enabled() {
            return None;
        }
        let mut base = match url::Url::parse(settings.url.trim()) {
            Ok(url) => url,
            Err(e) => {
                tracing::error!(error = %e, "spam.rspamd.url is not a URL; Rspamd is not used");
                return None;
            }
        };
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let timeout = Duration::from_secs(settings.timeout_secs.max(1));
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build();
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "no HTTP client for Rspamd; Rspamd is not used");
                return None;
            }
        };
        let password = Some(settings.password.clone()).filter(|p| !p.expose_secret().is_empty());
        Some(Rspamd {
            client,
            base,
            password,
            counts: None,
        })
    }

    /// Counts every request's outcome in `metrics` (`sealpost_rspamd_requests_total`).
    pub fn counted_in(mut self, metrics: &Metrics) -> Self {
        self.counts = Some(metrics.rspamd.clone());
        self
    }

    /// Whether the controller answers `GET /ping` with `pong` within the timeout.
    pub async fn ping(&self) -> Result<(), RspamdError> {
        let (status, body) = self.send(self.client.get(self.url("ping")?)).await?;
        if status.is_success() && body.trim_ascii().starts_with(b"pong") {
            Ok(())
        } else {
            Err(RspamdError::Unavailable(format!(
                "GET /ping answered {status}, not pong"
            )))
        }
    }

    /// Rspamd's score and action for the message.
    pub async fn check(&self, scan: &Scan<'_>) -> Result<RspamdVerdict, RspamdError> {
        let result = self.check_once(scan).await;
        self.count("check", result.as_ref().err());
        result
    }

    async fn check_once(&self, scan: &Scan<'_>) -> Result<RspamdVerdict, RspamdError> {
        let request = self.client.post(self.url("checkv2")?).body(message(scan)?);
        let (status, body) = self.send(request).await?;
        fail_on(status, &body)?;
        let reply: CheckReply = serde_json::from_slice(&body).map_err(|e| {
            RspamdError::Unavailable(format!("an answer to checkv2 that cannot be read ({e})"))
        })?;
        let mut symbols: Vec<(String, f64)> = reply
            .symbols
            .into_iter()
            .map(|(name, symbol)| (name, symbol.score))
            .collect();
        symbols.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(RspamdVerdict {
            score: reply.score,
            action: reply.action,
            symbols: symbols.into_iter().map(|(name, _)| name).collect(),
        })
    }

    /// Teaches Rspamd's Bayes classifier that the message is spam or ham. A message it has
    /// learned as that already (`208`), or one too short to learn from (`204`, fewer words
    /// than the classifier needs), is not an error: there is nothing more to teach. Learning
    /// a message as ham that was learned as spam moves it over.
    pub async fn learn(&self, learn: Learn, scan: &Scan<'_>) -> Result<(), RspamdError> {
        let result = self.learn_once(learn, scan).await;
        self.count(learn.label(), result.as_ref().err());
        result
    }

    async fn learn_once(&self, learn: Learn, scan: &Scan<'_>) -> Result<(), RspamdError> {
        let request = self
            .client
            .post(self.url(learn.path())?)
            .body(message(scan)?);
        let (status, body) = self.send(request).await?;
        fail_on(status, &body)?;
        if status != reqwest::StatusCode::OK {
            tracing::debug!(%status, "Rspamd learned nothing new from the message");
        }
        Ok(())
    }

    fn url(&self, path: &str) -> Result<url::Url, RspamdError> {
        self.base
            .join(path)
            .map_err(|e| RspamdError::Unavailable(format!("{path} under spam.rspamd.url: {e}")))
    }

    /// Sends with the password, and reads the whole answer within the timeout.
    async fn send(
        &self,
        mut request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), RspamdError> {
        if let Some(password) = &self.password {
            request = request.header("Password", password.expose_secret());
        }
        let unavailable = |e: reqwest::Error| RspamdError::Unavailable(describe(&e));
        let response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unavailable)?;
        Ok((status, body))
    }

    fn count(&self, request: &'static str, error: Option<&RspamdError>) {
        if let Some(counts) = &self.counts {
            let outcome = error.map_or("ok", RspamdError::outcome);
            counts
                .get_or_create(&RspamdLabels { request, outcome })
                .inc();
        }
    }
}

/// A 4xx is a refusal, a 5xx (or any other non-2xx) an outage; the answer's `error` (or its
/// start) says which.
fn fail_on(status: reqwest::StatusCode, body: &[u8]) -> Result<(), RspamdError> {
    if status.is_success() {
        return Ok(());
    }
    let said = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let said: String = said.trim().chars().take(MAX_ERROR_CHARS).collect();
    let what = if said.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {said}")
    };
    if status.is_client_error() {
        Err(RspamdError::Refused(what))
    } else {
        Err(RspamdError::Unavailable(what))
    }
}

/// A reqwest error with its causes (`error sending request` alone says little).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "no answer in time".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The MIME message Rspamd scans: fixed sender, recipient and domain, the subject (or a
/// neutral one), a Message-ID derived from the content (so that a check and a later learn of
/// the same message name the same one), the date, the language and the text as
/// `text/plain; charset=utf-8`. It holds nothing else.
pub fn message(scan: &Scan<'_>) -> Result<Vec<u8>, RspamdError> {
    let subject: String = scan
        .subject
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(NO_SUBJECT)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mailbox = |text: &str| {
        text.parse::<Mailbox>()
            .map_err(|e| RspamdError::Unavailable(format!("the fixed address {text}: {e}")))
    };
    let part = SinglePart::builder().header(ContentType::TEXT_PLAIN);
    let part = match ContentLanguage::parse(scan.language) {
        Ok(language) => part.header(language),
        Err(_) => part,
    };
    // 8bit where the lines allow it: lettre would pick base64 for Cyrillic text, which Rspamd
    // scores (`MIME_BASE64_TEXT`, 0.1); a line over 998 bytes still needs base64.
    let body = Body::new_with_encoding(
        scan.text.replace("\r\n", "\n"),
        ContentTransferEncoding::EightBit,
    )
    .unwrap_or_else(Body::new);
    lettre::Message::builder()
        .from(mailbox(FROM)?)
        .to(mailbox(TO)?)
        .subject(subject.clone())
        .message_id(Some(message_id(&subject, scan.text)))
        .date_now()
        .singlepart(part.body(body))
        .map(|m| m.formatted())
        .map_err(|e| RspamdError::Unavailable(format!("building the message to scan: {e}")))
}

/// `<first 16 bytes of SHA-256(subject NUL text), hex@sealpost.invalid>`.
fn message_id(subject: &str, text: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(subject.as_bytes());
    digest.update([0]);
    digest.update(text.as_bytes());
    let hex: String = digest
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<{hex}@{MID_DOMAIN}>")
}

/// `Content-Language`, for a simple language tag only (`en`, `pt-BR`).
#[derive(Debug, Clone)]
struct ContentLanguage(String);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let tag = s.trim();
        let simple = !tag.is_empty()
            && tag.len() <= 35
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if simple {
            Ok(Self(tag.to_owned()))
        } else {
            Err("not a simple language tag".into())
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan<'a>(subject: Option<&'a str>, text: &'a str) -> Scan<'a> {
        Scan {
            subject,
            text,
            language: "ru",
        }
    }

    #[test]
    fn the_message_holds_the_subject_and_text_with_fixed_headers_only() {
        let raw = message(&scan(
            Some("Вопрос о доставке"),
            "Когда придёт заказ?\r\nСпасибо",
        ))
        .expect("a message");
        let parsed = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("parses");
        assert_eq!(parsed.subject(), Some("Вопрос о доставке"));
        let body = parsed
            .body_text(0)
            .unwrap_or_default()
            .replace("\r\n", "\n");
        assert_eq!(body.trim_end(), "Когда придёт заказ?\nСпасибо");
        let addresses: Vec<String> = [parsed.from(), parsed.to()]
            .into_iter()
            .flatten()
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address().map(str::to_owned))
            .collect();
        assert_eq!(
            addresses,
            ["form@sealpost.invalid", "staff@sealpost.invalid"]
        );
        let names: Vec<String> = parsed
            .headers()
            .iter()
            .map(|h| h.name().to_ascii_lowercase())
            .collect();
        assert_eq!(
            names,
            [
                "from",
                "to",
                "subject",
                "message-id",
                "date",
                "mime-version",
                "content-type",
                "content-language",
                "content-transfer-encoding",
            ]
        );
        let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        assert!(text.contains("content-language: ru"), "{text}");
    }

    #[test]
    fn no_subject_is_a_neutral_one_and_control_characters_cannot_add_headers() {
        for subject in [None, Some(""), Some("  ")] {
            let raw = message(&scan(subject, "Hello")).expect("a message");
            let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
            assert_eq!(parsed.subject(), Some(NO_SUBJECT));
        }
        let raw = message(&scan(Some("Hi\r\nBcc: someone@example.org"), "Hello")).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert!(parsed.bcc().is_none());
        assert!(!String::from_utf8_lossy(&raw).contains("\nBcc:"));
    }

    #[test]
    fn the_message_id_follows_the_content_and_an_odd_language_is_left_out() {
        let one = |text| {
            let raw = message(&Scan {
                subject: Some("Same"),
                text,
                language: "en\r\nX-Evil: 1",
            })
            .unwrap();
            let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
            assert!(parsed.header("Content-Language").is_none());
            assert!(parsed.header("X-Evil").is_none());
            parsed.message_id().map(str::to_owned)
        };
        assert_eq!(one("a text"), one("a text"));
        assert_ne!(one("a text"), one("another text"));
        assert!(one("a text").unwrap().ends_with("@sealpost.invalid"));
    }

    #[test]
    fn a_4xx_is_refused_and_a_5xx_unavailable_with_rspamds_words() {
        use reqwest::StatusCode;
        assert!(fail_on(StatusCode::OK, b"").is_ok());
        assert!(fail_on(StatusCode::ALREADY_REPORTED, b"{\"error\":\"already\"}").is_ok());
        match fail_on(StatusCode::UNAUTHORIZED, b"{\"error\":\"Unauthorized\"}") {
            Err(RspamdError::Refused(said)) => {
                assert_eq!(said, "HTTP 401 Unauthorized: Unauthorized")
            }
            other => panic!("{other:?}"),
        }
        match fail_on(StatusCode::SERVICE_UNAVAILABLE, &[b'x'; 1000]) {
            Err(RspamdError::Unavailable(said)) => assert!(said.len() < 260, "{said}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_base_url_keeps_its_path() {
        let settings = |url: &str| RspamdSettings {
            url: url.into(),
            password: SecretString::from(""),
            timeout_secs: 5,
        };
        assert!(Rspamd::from_settings(&settings("")).is_none());
        assert!(Rspamd::from_settings(&settings("  ")).is_none());
        let plain = Rspamd::from_settings(&settings("http://127.0.0.1:11334")).unwrap();
        assert_eq!(
            plain.url("checkv2").unwrap().as_str(),
            "http://127.0.0.1:11334/checkv2"
        );
        assert!(plain.password.is_none());
        let proxied = Rspamd::from_settings(&settings("https://mail.example.org/rspamd")).unwrap();
        assert_eq!(
            proxied.url("learnham").unwrap().as_str(),
            "https://mail.example.org/rspamd/learnham"
        );
    }
}
