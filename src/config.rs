//! Configuration: the embedded `config/default.toml`, the profile file picked by `SEALPOST_ENV`,
//! and `SEALPOST__SECTION__KEY` environment overrides, deserialized into typed settings and
//! checked once at start-up so that a bad value stops the process with the key's name.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::domain::{Locale, parse_address, parse_mailbox};

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const PRODUCTION_TOML: &str = include_str!("../config/production.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error("SEALPOST_ENV: unknown profile `{0}` (expected `development` or `production`)")]
    UnknownProfile(String),
}

fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.into(),
    }
}

/// Which profile the process runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Development,
    Production,
}

impl Profile {
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("SEALPOST_ENV").as_deref() {
            Err(_) | Ok("") | Ok("development") | Ok("dev") => Ok(Profile::Development),
            Ok("production") | Ok("prod") => Ok(Profile::Production),
            Ok(other) => Err(ConfigError::UnknownProfile(other.to_owned())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub site: SiteSettings,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub seal: SealSettings,
    pub captcha: CaptchaSettings,
    pub spam: SpamSettings,
    pub rate_limit: RateLimitSettings,
    pub mail: MailSettings,
    pub staff: StaffSettings,
    pub audit: AuditSettings,
    pub stats: StatsSettings,
    pub legal: LegalSettings,
    pub retention: RetentionSettings,
    pub metrics: MetricsSettings,
    pub log: LogSettings,
    #[serde(skip, default = "default_profile")]
    pub profile: Profile,
}

fn default_profile() -> Profile {
    Profile::Development
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    pub name: String,
    pub base_url: String,
    pub policy_version: String,
    pub default_locale: String,
    /// A folder with the policy's text, `en.md`, `ru.md`, `kk.md`; empty: the shipped text.
    pub policy_dir: String,
    /// Who runs the site, as the policy names them; empty: the site's name.
    pub operator_name: String,
    pub operator_address: String,
    /// An e-mail address, a web address or a phone number for questions about data.
    pub operator_contact: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    #[serde(deserialize_with = "ip_nets")]
    pub trusted_proxies: Vec<IpNet>,
    pub hsts: bool,
    pub max_request_bytes: usize,
    pub shutdown_timeout_secs: u64,
    pub header_timeout_secs: u64,
    pub body_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub schema: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// Group-commit writer tasks; 0: 1 for SQLite, 4 for PostgreSQL.
    pub writers: usize,
    /// The most submissions in one group-commit transaction.
    pub max_batch: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealSettings {
    pub key_id: String,
    pub key: SecretString,
    pub index_key: SecretString,
    #[serde(deserialize_with = "secret_list")]
    pub retired_keys: Vec<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptchaSettings {
    pub enabled: bool,
    pub site_key: String,
    pub secret: SecretString,
    pub verify_url: String,
}

impl SpamSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(self.hold_score.is_finite() && self.hold_score > 0.0) {
            return Err(invalid("spam.hold_score", "must be a number above 0"));
        }
        if !(self.reject_score.is_finite() && self.reject_score > self.hold_score) {
            return Err(invalid(
                "spam.reject_score",
                "must be a number above spam.hold_score",
            ));
        }
        if self.min_fill_secs > 3600 {
            return Err(invalid("spam.min_fill_secs", "must be at most 3600"));
        }
        if !(1..=10_000_000).contains(&self.pow.cost) {
            return Err(invalid("spam.pow.cost", "must be from 1 to 10000000"));
        }
        if !(30..=86_400).contains(&self.pow.expires_secs) {
            return Err(invalid(
                "spam.pow.expires_secs",
                "must be from 30 to 86400 (a day)",
            ));
        }
        if self.rspamd.is_enabled() {
            let url = Url::parse(self.rspamd.url.trim())
                .map_err(|e| invalid("spam.rspamd.url", format!("not a URL ({e})")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(
                    "spam.rspamd.url",
                    "must be an http:// or https:// URL",
                ));
            }
        }
        if !(1..=60).contains(&self.rspamd.timeout_secs) {
            return Err(invalid("spam.rspamd.timeout_secs", "must be from 1 to 60"));
        }
        Ok(())
    }
}

/// The spam defences of `[spam]`: the proof of work, the content score and its thresholds, and
/// an optional Rspamd.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpamSettings {
    /// A message scoring this much or more is held for staff review.
    pub hold_score: f64,
    /// A message scoring this much or more is refused.
    pub reject_score: f64,
    /// A form sent back sooner than this many seconds after it was shown counts as a signal.
    pub min_fill_secs: u64,
    pub pow: PowSettings,
    pub rspamd: RspamdSettings,
}

/// `[spam.pow]`: ALTCHA's proof of work.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowSettings {
    pub enabled: bool,
    /// Refuse a submission without a solution, instead of holding it for review.
    pub require: bool,
    /// The work a challenge asks for (PBKDF2 iterations per attempt).
    pub cost: u32,
    /// How long a challenge may be solved and sent.
    pub expires_secs: u64,
}

/// `[spam.rspamd]`: a self-hosted Rspamd asked for a score and taught by staff decisions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RspamdSettings {
    /// Base URL of Rspamd's controller worker (it answers `checkv2` and learns); empty: off.
    pub url: String,
    /// The controller's password, sent as its `Password` header; empty: none.
    pub password: SecretString,
    pub timeout_secs: u64,
}

impl RspamdSettings {
    pub fn is_enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    pub sealed_ip_days: i64,
    pub closed_thread_days: i64,
    pub spam_days: i64,
    pub interval_minutes: u64,
    pub max_per_run: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsSettings {
    pub min_group_size: i64,
    pub record_form_views: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    pub signing_key: SecretString,
    /// 0: off; fractions allowed.
    pub checkpoint_every_minutes: f64,
}

impl AuditSettings {
    /// How often `sealpost serve` signs a checkpoint; `None` when that is off.
    pub fn checkpoint_every(&self) -> Option<std::time::Duration> {
        (self.checkpoint_every_minutes > 0.0)
            .then(|| std::time::Duration::from_secs_f64(self.checkpoint_every_minutes * 60.0))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalSettings {
    /// Counts of the public transparency report below this are shown as "fewer than N".
    pub transparency_threshold: i64,
    /// How many hours before an open request's deadline the legal users are reminded of it.
    pub reminder_hours: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSettings {
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    /// How long a session opened with "Keep me signed in" lasts, idle or not.
    pub remember_days: i64,
    pub require_second_factor: bool,
    pub signin_max_failures: i64,
    pub signin_max_failures_per_ip: i64,
    pub signin_window_minutes: i64,
    pub reset_link_hours: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    File,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransport,
    pub support_from: String,
    #[serde(deserialize_with = "string_list_de")]
    pub staff_addresses: Vec<String>,
    /// The staff's own mail domains: every address on them is the staff side's. Empty: the
    /// domains of `staff_addresses` (see [`MailSettings::staff_domains`]).
    #[serde(rename = "staff_domains", deserialize_with = "string_list_de")]
    pub staff_domains_configured: Vec<String>,
    pub relay_domain: String,
    pub acknowledge_visitor: bool,
    /// Whether this instance's outbox worker delivers mail; `false` leaves delivery to others.
    pub deliver: bool,
    pub max_bounces: i64,
    pub max_attempts: i64,
    pub max_age_hours: i64,
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
    pub poll_interval_ms: u64,
    pub batch_size: u32,
    pub smtp: SmtpSettings,
    pub inbound: InboundSettings,
}

impl MailSettings {
    /// `mail.staff_domains`, or the domains of `mail.staff_addresses` when it is empty,
    /// lower-cased and without duplicates.
    pub fn staff_domains(&self) -> Vec<String> {
        let source: Vec<String> = if self.staff_domains_configured.is_empty() {
            self.staff_addresses
                .iter()
                .filter_map(|a| a.trim().rsplit_once('@').map(|(_, d)| d.to_owned()))
                .collect()
        } else {
            self.staff_domains_configured.clone()
        };
        let mut domains: Vec<String> = source
            .iter()
            .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        domains.sort();
        domains.dedup();
        domains
    }

    /// Whether an address is one of `mail.staff_addresses`.
    pub fn is_staff_address(&self, address: &str) -> bool {
        let address = address.trim().trim_matches(['<', '>']);
        self.staff_addresses
            .iter()
            .any(|s| s.trim().eq_ignore_ascii_case(address))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub url: SecretString,
    pub max_connections: u32,
    pub timeout_secs: u64,
}

impl SmtpSettings {
    /// The server `mail.smtp.url` names, read the way the transport connects to it.
    pub fn server(&self) -> Result<SmtpServer, SmtpUrlError> {
        SmtpServer::from_url(self.url.expose_secret())
    }
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain, or STARTTLS when the server offers it and `?tls=opportunistic`.
    Plain,
    Opportunistic,
    /// `smtp://...?tls=required`: STARTTLS or fail.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Wrapper,
}

/// `mail.smtp.url`, read.
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// User and password, percent-decoded.
    pub credentials: Option<(String, SecretString)>,
}

/// What is wrong with `mail.smtp.url`.
#[derive(Debug, thiserror::Error)]
pub enum SmtpUrlError {
    #[error("not a URL ({0})")]
    NotAUrl(#[from] url::ParseError),
    #[error("tls={0} is not one of none, opportunistic, required")]
    UnknownTls(String),
    #[error("scheme {0}:// is not smtp:// or smtps://")]
    UnknownScheme(String),
    #[error("the URL names no host")]
    NoHost,
}

impl SmtpServer {
    /// Reads `smtp://[user:password@]host[:port][?tls=required|opportunistic]` or `smtps://...`.
    pub fn from_url(url: &str) -> Result<Self, SmtpUrlError> {
        let parsed = Url::parse(url)?;
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let security = match (parsed.scheme(), tls.as_deref()) {
            ("smtps", _) => SmtpSecurity::Wrapper,
            ("smtp", None | Some("none")) => SmtpSecurity::Plain,
            ("smtp", Some("opportunistic")) => SmtpSecurity::Opportunistic,
            ("smtp", Some("required")) => SmtpSecurity::StartTls,
            ("smtp", Some(other)) => return Err(SmtpUrlError::UnknownTls(other.to_owned())),
            (scheme, _) => return Err(SmtpUrlError::UnknownScheme(scheme.to_owned())),
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(SmtpUrlError::NoHost)?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = parsed.port().unwrap_or(match security {
            SmtpSecurity::Wrapper => 465,
            SmtpSecurity::StartTls => 587,
            _ => 25,
        });
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = (!parsed.username().is_empty()).then(|| {
            (
                decode(parsed.username()),
                SecretString::from(decode(parsed.password().unwrap_or_default())),
            )
        });
        Ok(Self {
            host,
            port,
            security,
            credentials,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSettings {
    pub listen: String,
    pub token: SecretString,
    pub max_message_bytes: usize,
    /// How the sender of inbound relay mail is authenticated.
    pub authentication: InboundAuthentication,
    /// The authserv-id whose `Authentication-Results` are believed under `trust-mta`.
    pub trusted_authserv_id: String,
    /// Postfix's access-policy service (`check_policy_service`), e.g. 127.0.0.1:10040. Empty: off.
    pub policy_listen: String,
    /// Peers of the SMTP listener that are the site's own MTA: they may tell the original
    /// client with XFORWARD, and refusals after DATA would become their bounces.
    #[serde(deserialize_with = "ip_nets")]
    pub trusted_mtas: Vec<IpNet>,
    /// The DNS server `verify` asks (IP:PORT). Empty: the system's resolver configuration.
    pub nameserver: String,
}

/// `mail.inbound.authentication`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InboundAuthentication {
    /// Nothing is checked (development).
    Off,
    /// The `Authentication-Results` of the MTA in front (`trusted_authserv_id`) are believed.
    TrustMta,
    /// Sealpost checks DKIM, SPF and DMARC itself.
    Verify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

/// A list in a file is a TOML array; in the environment it is one comma-separated string.
#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrCommas {
    List(Vec<String>),
    Commas(String),
}

fn string_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items = match ListOrCommas::deserialize(d)? {
        ListOrCommas::List(items) => items,
        ListOrCommas::Commas(s) => s.split(',').map(str::to_owned).collect(),
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

fn string_list_de<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    string_list(d)
}

fn ip_nets<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    string_list(d)?
        .into_iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!("`{s}` is not an IP address or CIDR network"))
                })
        })
        .collect()
}

fn secret_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SecretString>, D::Error> {
    Ok(string_list(d)?
        .into_iter()
        .map(SecretString::from)
        .collect())
}

/// hCaptcha's public test secret: fine for trying the widget, never for production.
const HCAPTCHA_TEST_SECRET: &str = "0x0000000000000000000000000000000000000000";

impl Settings {
    /// Loads the configuration for the profile named by `SEALPOST_ENV`, reading profile files
    /// from `config_dir` when present there (the embedded copies otherwise).
    pub fn load(config_dir: &Path) -> Result<Self, ConfigError> {
        let profile = Profile::from_env()?;
        Self::load_from(config_dir, profile, Environment::with_prefix("SEALPOST"))
    }

    /// The loader behind [`Settings::load`]; tests pass their own environment source.
    pub fn load_from(
        config_dir: &Path,
        profile: Profile,
        environment: Environment,
    ) -> Result<Self, ConfigError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        let on_disk_default = config_dir.join("default.toml");
        if on_disk_default.is_file() {
            builder = builder.add_source(File::from(on_disk_default).format(FileFormat::Toml));
        }
        if profile == Profile::Production {
            builder = builder.add_source(File::from_str(PRODUCTION_TOML, FileFormat::Toml));
        }
        let on_disk_profile = config_dir.join(format!("{}.toml", profile.name()));
        if profile != Profile::Development || on_disk_profile.is_file() {
            builder = builder.add_source(
                File::from(on_disk_profile)
                    .format(FileFormat::Toml)
                    .required(false),
            );
        }
        let environment = environment.prefix_separator("__").separator("__");
        let mut settings: Settings = builder.add_source(environment).build()?.try_deserialize()?;
        settings.profile = profile;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let base = Url::parse(&self.site.base_url)
            .map_err(|e| invalid("site.base_url", format!("not a URL ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(
                "site.base_url",
                "must be an http:// or https:// URL",
            ));
        }
        if Locale::parse(&self.site.default_locale).is_none() {
            return Err(invalid("site.default_locale", "must be one of en, ru, kk"));
        }
        if self.site.policy_version.trim().is_empty() || self.site.policy_version.len() > 32 {
            return Err(invalid("site.policy_version", "must be 1 to 32 characters"));
        }
        for (key, value) in [
            ("site.operator_name", &self.site.operator_name),
            ("site.operator_address", &self.site.operator_address),
            ("site.operator_contact", &self.site.operator_contact),
        ] {
            if value.chars().count() > 300 || value.chars().any(char::is_control) {
                return Err(invalid(key, "must be one line of at most 300 characters"));
            }
        }
        if self.server.max_request_bytes < 1024 {
            return Err(invalid("server.max_request_bytes", "must be at least 1024"));
        }
        for (key, value) in [
            (
                "staff.session_idle_minutes",
                self.staff.session_idle_minutes,
            ),
            (
                "staff.session_absolute_hours",
                self.staff.session_absolute_hours,
            ),
            ("staff.remember_days", self.staff.remember_days),
            ("staff.signin_max_failures", self.staff.signin_max_failures),
            (
                "staff.signin_max_failures_per_ip",
                self.staff.signin_max_failures_per_ip,
            ),
            (
                "staff.signin_window_minutes",
                self.staff.signin_window_minutes,
            ),
            ("staff.reset_link_hours", self.staff.reset_link_hours),
            ("stats.min_group_size", self.stats.min_group_size),
            ("retention.sealed_ip_days", self.retention.sealed_ip_days),
            (
                "retention.closed_thread_days",
                self.retention.closed_thread_days,
            ),
            ("retention.spam_days", self.retention.spam_days),
        ] {
            if value < 1 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if self.staff.remember_days > 365 {
            return Err(invalid("staff.remember_days", "must be at most 365"));
        }
        if self.legal.transparency_threshold < 1 {
            return Err(invalid(
                "legal.transparency_threshold",
                "must be at least 1",
            ));
        }
        // Up to a year ahead; 0 would remind only of requests already past their deadline.
        if !(1..=8760).contains(&self.legal.reminder_hours) {
            return Err(invalid(
                "legal.reminder_hours",
                "must be from 1 to 8760 hours (a year)",
            ));
        }
        let every = self.audit.checkpoint_every_minutes;
        if every != 0.0 && !(0.01..=1440.0).contains(&every) {
            return Err(invalid(
                "audit.checkpoint_every_minutes",
                "must be 0 (off) or from 0.01 to 1440 minutes",
            ));
        }
        if self.database.max_batch == 0 {
            return Err(invalid("database.max_batch", "must be at least 1"));
        }
        for (key, value) in [
            (
                "server.header_timeout_secs",
                self.server.header_timeout_secs,
            ),
            ("server.body_timeout_secs", self.server.body_timeout_secs),
            (
                "database.acquire_timeout_secs",
                self.database.acquire_timeout_secs,
            ),
        ] {
            if value < 1 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if self.rate_limit.enabled
            && (self.rate_limit.per_minute == 0 || self.rate_limit.burst == 0)
        {
            return Err(invalid(
                "rate_limit.per_minute",
                "per_minute and burst must be at least 1 when the limit is enabled",
            ));
        }
        if self.seal.key_id.is_empty()
            || self.seal.key_id.len() > 32
            || self.seal.key_id.contains(':')
        {
            return Err(invalid(
                "seal.key_id",
                "must be 1 to 32 characters without ':'",
            ));
        }
        self.validate_mail()?;
        self.spam.validate()?;
        if self.captcha.enabled {
            if self.captcha.site_key.trim().is_empty() {
                return Err(invalid(
                    "captcha.site_key",
                    "is required when captcha.enabled",
                ));
            }
            if self.captcha.secret.expose_secret().trim().is_empty() {
                return Err(invalid(
                    "captcha.secret",
                    "is required when captcha.enabled",
                ));
            }
            Url::parse(&self.captcha.verify_url)
                .map_err(|e| invalid("captcha.verify_url", format!("not a URL ({e})")))?;
        }
        if self.profile == Profile::Production {
            self.validate_production(&base)?;
        }
        Ok(())
    }

    fn validate_mail(&self) -> Result<(), ConfigError> {
        let mail = &self.mail;
        parse_mailbox(&mail.support_from)
            .map_err(|e| invalid("mail.support_from", e.to_string()))?;
        if mail.staff_addresses.is_empty() {
            return Err(invalid(
                "mail.staff_addresses",
                "needs at least one address: notifications go there",
            ));
        }
        for address in &mail.staff_addresses {
            parse_address(address).map_err(|e| invalid("mail.staff_addresses", e.to_string()))?;
        }
        let domain = mail.relay_domain.trim();
        if domain.is_empty()
            || !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(invalid("mail.relay_domain", "must be a domain name"));
        }
        if mail.max_attempts < 1 || mail.batch_size == 0 || mail.poll_interval_ms == 0 {
            return Err(invalid(
                "mail.max_attempts",
                "max_attempts, batch_size and poll_interval_ms must be at least 1",
            ));
        }
        if mail.transport == MailTransport::Smtp {
            mail.smtp
                .server()
                .map_err(|e| invalid("mail.smtp.url", e.to_string()))?;
        }
        for domain in &mail.staff_domains_configured {
            let d = domain.trim().trim_start_matches('@');
            if d.is_empty() || !d.contains('.') || d.contains(char::is_whitespace) {
                return Err(invalid(
                    "mail.staff_domains",
                    format!("`{domain}` is not a domain"),
                ));
            }
        }
        if mail.inbound.authentication == InboundAuthentication::TrustMta
            && mail.inbound.trusted_authserv_id.trim().is_empty()
        {
            return Err(invalid(
                "mail.inbound.trusted_authserv_id",
                "is required with mail.inbound.authentication = \"trust-mta\": the authserv-id \
                 your MTA writes into Authentication-Results",
            ));
        }
        if !mail.inbound.policy_listen.trim().is_empty() {
            mail.inbound
                .policy_listen
                .trim()
                .parse::<SocketAddr>()
                .map_err(|e| {
                    invalid(
                        "mail.inbound.policy_listen",
                        format!("not an address ({e})"),
                    )
                })?;
        }
        if !mail.inbound.nameserver.trim().is_empty() {
            mail.inbound
                .nameserver
                .trim()
                .parse::<SocketAddr>()
                .map_err(|e| invalid("mail.inbound.nameserver", format!("not IP:PORT ({e})")))?;
        }
        if !mail.inbound.listen.trim().is_empty() {
            mail.inbound
                .listen
                .trim()
                .parse::<SocketAddr>()
                .map_err(|e| invalid("mail.inbound.listen", format!("not an address ({e})")))?;
        }
        Ok(())
    }

    /// Production refuses development defaults and development secrets.
    fn validate_production(&self, base: &Url) -> Result<(), ConfigError> {
        if base.scheme() != "https" {
            return Err(invalid(
                "site.base_url",
                "must be the public https:// address in production",
            ));
        }
        if self.seal.key_id.starts_with("dev") {
            return Err(invalid(
                "seal.key_id",
                "must be set to a key id of your own in production (not a development id)",
            ));
        }
        for (key, value) in [
            ("seal.key", &self.seal.key),
            ("seal.index_key", &self.seal.index_key),
            ("audit.signing_key", &self.audit.signing_key),
        ] {
            if value.expose_secret().trim().is_empty() {
                return Err(invalid(key, "is required in production"));
            }
        }
        if let Some(dev) = DevKeys::read(&self.data_dir)
            && (dev.key == self.seal.key.expose_secret()
                || dev.index_key == self.seal.index_key.expose_secret())
        {
            return Err(invalid(
                "seal.key",
                "is the generated development key; production needs a key of its own",
            ));
        }
        if !self.spam.pow.enabled && !self.captcha.enabled {
            return Err(invalid(
                "spam.pow.enabled",
                "production needs a defence against bots: the proof of work (spam.pow.enabled, \
                 the default) or hCaptcha (captcha.enabled)",
            ));
        }
        if self.captcha.enabled && self.captcha.secret.expose_secret() == HCAPTCHA_TEST_SECRET {
            return Err(invalid(
                "captcha.secret",
                "is hCaptcha's public test secret; production needs the site's own",
            ));
        }
        if self.mail.transport != MailTransport::Smtp {
            return Err(invalid("mail.transport", "must be `smtp` in production"));
        }
        if self.mail.relay_domain.ends_with(".localhost") {
            return Err(invalid(
                "mail.relay_domain",
                "must be your own relay domain in production",
            ));
        }
        for (key, value) in [
            ("site.operator_name", &self.site.operator_name),
            ("site.operator_contact", &self.site.operator_contact),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(
                    key,
                    "must be set in production: the privacy policy names who runs the site \
                     and how to reach them",
                ));
            }
        }
        Ok(())
    }

    /// The database URL, defaulting to the SQLite file in `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database.url.trim().is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("sealpost.db").display()
            )
        } else {
            self.database.url.clone()
        }
    }

    /// The public base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.site.base_url.trim_end_matches('/')
    }
}

/// The sealing keys generated for development into `<data_dir>/dev-keys.toml`: the sealer
/// creates them on the first run without configured keys, and production refuses to start with
/// them.
pub struct DevKeys {
    pub key: String,
    pub index_key: String,
}

impl DevKeys {
    const FILE: &'static str = "dev-keys.toml";

    /// Where the development keys of a data directory are kept.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(Self::FILE)
    }

    /// The keys generated into `data_dir` before, if any.
    pub fn read(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(Self::path(data_dir)).ok()?;
        Self::from_file_text(&text)
    }

    /// The file holds two `name = "value"` lines; no TOML parser needed for that.
    fn from_file_text(text: &str) -> Option<Self> {
        let mut key = None;
        let mut index_key = None;
        for line in text.lines() {
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"').to_owned();
            match name.trim() {
                "key" => key = Some(value),
                "index_key" => index_key = Some(value),
                _ => {}
            }
        }
        Some(Self {
            key: key?,
            index_key: index_key?,
        })
    }

    /// The file's text, which [`DevKeys::read`] reads back.
    pub fn file_text(&self) -> String {
        format!(
            "# Development sealing keys, generated on first run. Never use them in production.\n\
             # Losing this file makes the sealed contact data in this data_dir unreadable.\n\
             key = \"{}\"\nindex_key = \"{}\"\n",
            self.key, self.index_key
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(profile: Profile, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        Settings::load_from(
            dir.path(),
            profile,
            Environment::with_prefix("SEALPOST").source(Some(map)),
        )
    }

    fn server(url: &str) -> Result<SmtpServer, String> {
        SmtpServer::from_url(url).map_err(|e| e.to_string())
    }

    #[test]
    fn urls_pick_security_port_and_credentials() {
        let plain = server("smtp://127.0.0.1:2525").expect("ok");
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.security),
            ("127.0.0.1", 2525, SmtpSecurity::Plain)
        );
        let starttls = server("smtp://mail.example.org?tls=required").expect("ok");
        assert_eq!(
            (starttls.port, starttls.security),
            (587, SmtpSecurity::StartTls)
        );
        let wrapper = server("smtps://user%40example.org:p%3Ass@mail.example.org").expect("ok");
        assert_eq!(
            (wrapper.port, wrapper.security),
            (465, SmtpSecurity::Wrapper)
        );
        assert_eq!(
            wrapper
                .credentials
                .as_ref()
                .map(|(user, password)| (user.as_str(), password.expose_secret())),
            Some(("user@example.org", "p:ss"))
        );
        assert_eq!(server("smtp://[::1]:25").expect("ok").host, "::1");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(
            server("http://mail.example.org")
                .err()
                .unwrap_or_default()
                .contains("scheme")
        );
        assert!(
            server("smtp://mail.example.org?tls=sometimes")
                .err()
                .unwrap_or_default()
                .contains("tls=sometimes")
        );
        assert!(
            server("not a url")
                .err()
                .unwrap_or_default()
                .contains("not a URL")
        );
    }

    #[test]
    fn dev_keys_read_back_what_their_file_holds() {
        let keys = DevKeys {
            key: "a2V5".into(),
            index_key: "aW5kZXg=".into(),
        };
        let read = DevKeys::from_file_text(&keys.file_text()).expect("reads back");
        assert_eq!(
            (read.key.as_str(), read.index_key.as_str()),
            ("a2V5", "aW5kZXg=")
        );
    }

    #[test]
    fn defaults_load_and_are_the_documented_ones() {
        let s = load(Profile::Development, &[]).expect("defaults load");
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("var"));
        assert_eq!(s.database_url(), "sqlite://var/sealpost.db?mode=rwc");
        assert!(!s.captcha.enabled);
        assert!(s.rate_limit.enabled);
    }

    #[test]
    fn environment_overrides_any_key_and_splits_lists() {
        let s = load(
            Profile::Development,
            &[
                ("SEALPOST__SERVER__LISTEN", "0.0.0.0:9000"),
                ("SEALPOST__DATA_DIR", "/tmp/sp"),
                ("SEALPOST__RATE_LIMIT__ENABLED", "false"),
                (
                    "SEALPOST__SERVER__TRUSTED_PROXIES",
                    "10.0.0.1, 192.168.0.0/16",
                ),
            ],
        )
        .expect("overrides load");
        assert_eq!(s.server.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(s.data_dir, PathBuf::from("/tmp/sp"));
        assert!(!s.rate_limit.enabled);
        assert_eq!(s.server.trusted_proxies.len(), 2);
    }

    #[test]
    fn a_malformed_value_names_its_key() {
        let err = load(
            Profile::Development,
            &[("SEALPOST__SERVER__LISTEN", "not-an-address")],
        )
        .expect_err("must fail");
        assert!(err.to_string().contains("server.listen"), "{err}");
    }

    #[test]
    fn a_bad_list_entry_names_its_key() {
        let err = load(
            Profile::Development,
            &[("SEALPOST__SERVER__TRUSTED_PROXIES", "10.0.0.1,proxy.local")],
        )
        .expect_err("must fail");
        assert!(err.to_string().contains("server.trusted_proxies"), "{err}");
        assert!(err.to_string().contains("proxy.local"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let err =
            load(Profile::Development, &[("SEALPOST__SERVER__LISTN", "x")]).expect_err("must fail");
        assert!(err.to_string().contains("listn"), "{err}");
    }

    #[test]
    fn the_legal_reminder_lead_time_defaults_to_two_days_and_is_bounded() {
        let s = load(Profile::Development, &[]).expect("defaults load");
        assert_eq!(s.legal.reminder_hours, 48);
        for bad in ["0", "-5", "8761"] {
            let err = load(
                Profile::Development,
                &[("SEALPOST__LEGAL__REMINDER_HOURS", bad)],
            )
            .expect_err("must fail");
            assert!(
                err.to_string().contains("legal.reminder_hours"),
                "{bad}: {err}"
            );
        }
        let week = load(
            Profile::Development,
            &[("SEALPOST__LEGAL__REMINDER_HOURS", "168")],
        )
        .expect("a week loads");
        assert_eq!(week.legal.reminder_hours, 168);
    }

    #[test]
    fn the_audit_checkpoint_interval_is_checked() {
        let s = load(Profile::Development, &[]).expect("defaults load");
        assert_eq!(
            s.audit.checkpoint_every(),
            Some(std::time::Duration::from_secs(3600))
        );
        let off = load(
            Profile::Development,
            &[("SEALPOST__AUDIT__CHECKPOINT_EVERY_MINUTES", "0")],
        )
        .expect("0 loads");
        assert_eq!(off.audit.checkpoint_every(), None);
        let short = load(
            Profile::Development,
            &[("SEALPOST__AUDIT__CHECKPOINT_EVERY_MINUTES", "0.5")],
        )
        .expect("a fraction loads");
        assert_eq!(
            short.audit.checkpoint_every(),
            Some(std::time::Duration::from_secs(30))
        );
        for bad in ["-1", "0.001", "1441", "NaN", "often"] {
            let err = load(
                Profile::Development,
                &[("SEALPOST__AUDIT__CHECKPOINT_EVERY_MINUTES", bad)],
            )
            .expect_err(bad);
            assert!(
                err.to_string().contains("audit.checkpoint_every_minutes"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn captcha_without_a_secret_names_the_key() {
        let err = load(
            Profile::Development,
            &[
                ("SEALPOST__CAPTCHA__ENABLED", "true"),
                ("SEALPOST__CAPTCHA__SITE_KEY", "site"),
            ],
        )
        .expect_err("must fail");
        assert!(err.to_string().contains("captcha.secret"), "{err}");
    }

    #[test]
    fn production_refuses_to_start_without_real_secrets() {
        let err = load(Profile::Production, &[]).expect_err("must fail");
        assert!(err.to_string().contains("site.base_url"), "{err}");
        let err = load(
            Profile::Production,
            &[
                ("SEALPOST__SITE__BASE_URL", "https://feedback.example.org"),
                ("SEALPOST__SEAL__KEY_ID", "2026-11"),
                ("SEALPOST__CAPTCHA__SITE_KEY", "site"),
                ("SEALPOST__CAPTCHA__SECRET", HCAPTCHA_TEST_SECRET),
            ],
        )
        .expect_err("must fail");
        assert!(err.to_string().contains("seal.key"), "{err}");
    }

    #[test]
    fn production_requires_an_audit_signing_key() {
        let err = load(
            Profile::Production,
            &[
                ("SEALPOST__SITE__BASE_URL", "https://feedback.example.org"),
                ("SEALPOST__SEAL__KEY_ID", "2026-11"),
                (
                    "SEALPOST__SEAL__KEY",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                ),
                (
                    "SEALPOST__SEAL__INDEX_KEY",
                    "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
                ),
                ("SEALPOST__CAPTCHA__SITE_KEY", "site"),
                ("SEALPOST__CAPTCHA__SECRET", "0xrealsecret"),
            ],
        )
        .expect_err("must fail");
        assert!(err.to_string().contains("audit.signing_key"), "{err}");
    }

    /// An https address and real keys: what production needs before anything else.
    const PRODUCTION_KEYS: [(&str, &str); 5] = [
        ("SEALPOST__SITE__BASE_URL", "https://feedback.example.org"),
        ("SEALPOST__SEAL__KEY_ID", "2026-11"),
        (
            "SEALPOST__SEAL__KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        (
            "SEALPOST__SEAL__INDEX_KEY",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        ),
        (
            "SEALPOST__AUDIT__SIGNING_KEY",
            "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
        ),
    ];

    #[test]
    fn production_needs_the_operator_the_policy_names() {
        let complete = [
            PRODUCTION_KEYS.as_slice(),
            &[
                ("SEALPOST__CAPTCHA__SITE_KEY", "site"),
                ("SEALPOST__CAPTCHA__SECRET", "0xrealsecret"),
                (
                    "SEALPOST__MAIL__SUPPORT_FROM",
                    "Support <support@example.org>",
                ),
                ("SEALPOST__MAIL__STAFF_ADDRESSES", "alice@example.org"),
                ("SEALPOST__MAIL__RELAY_DOMAIN", "relay.example.org"),
                ("SEALPOST__MAIL__SMTP__URL", "smtp://127.0.0.1:25"),
            ],
        ]
        .concat();
        let err = load(Profile::Production, &complete).expect_err("must fail");
        assert!(err.to_string().contains("site.operator_name"), "{err}");
        let mut with_name = complete.to_vec();
        with_name.push(("SEALPOST__SITE__OPERATOR_NAME", "Example Ltd"));
        let err = load(Profile::Production, &with_name).expect_err("must fail");
        assert!(err.to_string().contains("site.operator_contact"), "{err}");
        with_name.push(("SEALPOST__SITE__OPERATOR_CONTACT", "privacy@example.org"));
        load(Profile::Production, &with_name).expect("a complete production configuration");
        let mut two_lines = with_name.clone();
        two_lines.push(("SEALPOST__SITE__OPERATOR_ADDRESS", "1 Main St\nAlmaty"));
        let err = load(Profile::Production, &two_lines).expect_err("must fail");
        assert!(err.to_string().contains("site.operator_address"), "{err}");
    }

    #[test]
    fn production_refuses_the_hcaptcha_test_secret() {
        let vars = [
            PRODUCTION_KEYS.as_slice(),
            &[
                ("SEALPOST__CAPTCHA__ENABLED", "true"),
                ("SEALPOST__CAPTCHA__SITE_KEY", "site"),
                ("SEALPOST__CAPTCHA__SECRET", HCAPTCHA_TEST_SECRET),
            ],
        ]
        .concat();
        let err = load(Profile::Production, &vars).expect_err("must fail");
        assert!(err.to_string().contains("captcha.secret"), "{err}");
    }

    #[test]
    fn production_defends_with_the_proof_of_work_and_needs_some_defence() {
        let complete = [
            PRODUCTION_KEYS.as_slice(),
            &[
                (
                    "SEALPOST__MAIL__SUPPORT_FROM",
                    "Support <support@example.org>",
                ),
                ("SEALPOST__MAIL__STAFF_ADDRESSES", "alice@example.org"),
                ("SEALPOST__MAIL__RELAY_DOMAIN", "relay.example.org"),
                ("SEALPOST__MAIL__SMTP__URL", "smtp://127.0.0.1:25"),
                ("SEALPOST__SITE__OPERATOR_NAME", "Example Ltd"),
                ("SEALPOST__SITE__OPERATOR_CONTACT", "privacy@example.org"),
            ],
        ]
        .concat();
        let s = load(Profile::Production, &complete).expect("no captcha needed");
        assert!(s.spam.pow.enabled);
        assert!(!s.captcha.enabled);
        let mut none = complete.clone();
        none.push(("SEALPOST__SPAM__POW__ENABLED", "false"));
        let err = load(Profile::Production, &none).expect_err("must fail");
        assert!(err.to_string().contains("spam.pow.enabled"), "{err}");
    }

    #[test]
    fn spam_thresholds_and_rspamd_are_checked_by_key() {
        let dev = load(Profile::Development, &[]).expect("defaults");
        assert!(!dev.spam.pow.enabled);
        assert!(!dev.spam.rspamd.is_enabled());
        for (key, value, named) in [
            ("SEALPOST__SPAM__HOLD_SCORE", "0", "spam.hold_score"),
            ("SEALPOST__SPAM__REJECT_SCORE", "4", "spam.reject_score"),
            ("SEALPOST__SPAM__POW__COST", "0", "spam.pow.cost"),
            (
                "SEALPOST__SPAM__POW__EXPIRES_SECS",
                "5",
                "spam.pow.expires_secs",
            ),
            (
                "SEALPOST__SPAM__RSPAMD__URL",
                "ftp://127.0.0.1",
                "spam.rspamd.url",
            ),
            (
                "SEALPOST__SPAM__RSPAMD__URL",
                "not a url",
                "spam.rspamd.url",
            ),
            (
                "SEALPOST__SPAM__RSPAMD__TIMEOUT_SECS",
                "0",
                "spam.rspamd.timeout_secs",
            ),
        ] {
            let err = load(Profile::Development, &[(key, value)]).expect_err(key);
            assert!(err.to_string().contains(named), "{key}={value}: {err}");
        }
        let on = load(
            Profile::Development,
            &[("SEALPOST__SPAM__RSPAMD__URL", "http://127.0.0.1:11334")],
        )
        .expect("an Rspamd URL");
        assert!(on.spam.rspamd.is_enabled());
    }
}
