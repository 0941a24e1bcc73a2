//! What every request handler and service shares: settings, the database, the sealer, and the
//! spam defences. Built once at start-up and passed around behind an `Arc`.

use sea_orm::DatabaseConnection;

use crate::captcha::CaptchaVerifier;
use crate::config::Settings;
use crate::domain::Locale;
use crate::rate_limit::SubmissionLimiter;
use crate::seal::Sealer;

/// How handlers and middleware hold the state.
pub type App = std::sync::Arc<AppState>;

pub struct AppState {
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub sealer: Sealer,
    pub captcha: Option<CaptchaVerifier>,
    /// The self-hosted proof of work (`spam.pow`), when it is on.
    pub pow: Option<crate::spam::pow::Pow>,
    pub limiter: Option<SubmissionLimiter>,
    /// The operator's Rspamd, when `spam.rspamd.url` is set: scores messages, learns from staff.
    pub rspamd: Option<crate::spam::rspamd::Rspamd>,
    pub mailer: crate::mail::Mailer,
    /// The empty form, rendered once per language (`Locale::ALL` order).
    pub empty_forms: [std::sync::OnceLock<bytes::Bytes>; 3],
    /// Writes new conversations by group commit.
    pub writer: crate::group_commit::GroupCommit,
    /// Wakes the outbox worker when a mail is enqueued.
    pub outbox_wakeup: tokio::sync::Notify,
    /// This instance's counters for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Checks who really sent inbound relay mail (DKIM, SPF, DMARC), with its DNS cache.
    pub authenticator: crate::mail::authentication::Authenticator,
    /// The privacy policy, rendered once per language.
    pub policy: crate::policy_text::PolicyText,
}

impl AppState {
    pub fn default_locale(&self) -> Locale {
        Locale::parse(&self.settings.site.default_locale).unwrap_or(Locale::En)
    }

    /// The visitor's private link to a thread.
    pub fn thread_url(&self, token: &crate::domain::ThreadToken) -> String {
        format!("{}/t/{}", self.settings.base_url(), token.as_str())
    }
}
