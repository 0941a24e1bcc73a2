//! Builds the application from settings — database, migrations, sealer, spam defences, routes —
//! and runs it until the shutdown token fires.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::{Endpoint, EndpointExt, Route, get};
use tokio_util::sync::CancellationToken;

use crate::captcha::CaptchaVerifier;
use crate::config::{Profile, Settings};
use crate::group_commit::{GroupCommit, WriterSettings};
use crate::http::authz::Authorize;
use crate::http::{BodyDeadline, RequestContext, RetryAfter, SecurityHeaders};
use crate::mail::Mailer;
use crate::rate_limit::SubmissionLimiter;
use crate::seal::Sealer;
use crate::spam::rspamd::Rspamd;
use crate::state::AppState;
use crate::{api, db, outbox, web};

/// Why the application could not be built; each says which setting or step failed.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("setting up the sealing keys")]
    Sealer(#[source] crate::seal::SealError),
    #[error("configuration key `captcha.verify_url`")]
    CaptchaUrl(#[source] url::ParseError),
    #[error("setting up mail: {0}")]
    Mail(crate::mail::MailerError),
    #[error("setting up mail authentication: {0}")]
    MailAuthentication(crate::mail::authentication::ResolverError),
    #[error(transparent)]
    Database(#[from] db::DbSetupError),
    #[error(transparent)]
    Writers(#[from] crate::group_commit::WriterError),
    #[error(transparent)]
    Policy(#[from] crate::policy_text::PolicyError),
    #[error("sealing disclosure documents stored in clear")]
    SealDocuments(#[source] sea_orm::DbErr),
    #[error("listening on {addr} (configuration key `server.listen`)")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("listening for SMTP on {addr} (configuration key `mail.inbound.listen`)")]
    ListenSmtp {
        addr: String,
        source: std::io::Error,
    },
    #[error(
        "listening for Postfix policy requests on {addr} \
         (configuration key `mail.inbound.policy_listen`)"
    )]
    ListenPolicy {
        addr: String,
        source: std::io::Error,
    },
    #[error("configuration key `audit.signing_key`: {0}")]
    SigningKey(crate::audit::SigningKeyError),
}

/// Connects to the database, applies pending migrations and assembles the shared state.
pub async fn build_state(settings: Settings) -> Result<Arc<AppState>, StartupError> {
    let sealer =
        Sealer::from_settings(&settings.seal, &settings.data_dir).map_err(StartupError::Sealer)?;
    let captcha =
        CaptchaVerifier::from_settings(&settings.captcha).map_err(StartupError::CaptchaUrl)?;
    if captcha.is_none() {
        if settings.profile == Profile::Development {
            tracing::warn!(
                "CAPTCHA IS OFF: anyone can post without solving one. Fine for development; \
                 set captcha.enabled = true with your hCaptcha keys before going live"
            );
        } else {
            tracing::warn!("captcha is off");
        }
    }
    // Signed with a key derived from the seal's: every instance that shares the keys agrees,
    // and there is no secret of its own to manage.
    let pow = crate::spam::pow::Pow::from_settings(
        &settings.spam.pow,
        &sealer.keyed_digest("altcha-challenge", b""),
    );
    let policy = crate::policy_text::PolicyText::load(&settings)?;
    let limiter = SubmissionLimiter::from_settings(&settings.rate_limit);
    let metrics = crate::metrics::Metrics::default();
    let rspamd = Rspamd::from_settings(&settings.spam.rspamd).map(|r| r.counted_in(&metrics));
    let mailer =
        Mailer::from_settings(&settings.mail, &settings.data_dir).map_err(StartupError::Mail)?;
    if matches!(mailer, Mailer::File(_)) {
        tracing::warn!(
            dir = %settings.data_dir.join("mail").display(),
            "mail is written to files, not sent (mail.transport = \"file\")"
        );
    }
    let authenticator = crate::mail::authentication::Authenticator::new(
        &settings.mail.inbound,
        &settings.mail.relay_domain,
    )
    .map_err(StartupError::MailAuthentication)?;
    if authenticator.mode() == crate::config::InboundAuthentication::Off {
        tracing::warn!(
            "INBOUND MAIL IS NOT AUTHENTICATED (mail.inbound.authentication = \"off\"): anyone who \
             knows a staff address can answer as staff by mail. Fine for development; use \
             \"verify\" or \"trust-mta\" before going live"
        );
    }
    let db = db::connect(&settings).await?;
    let applied = db::migrate(&db).await?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    let writers = match (settings.database.writers, db.get_database_backend()) {
        (0, sea_orm::DbBackend::Sqlite) => 1,
        (0, _) => 4,
        (n, _) => n,
    };
    let writer_settings = settings.clone();
    let writer = GroupCommit::start(
        move |connections| async move {
            db::connect_pool(&writer_settings, db::Pool::Writers(connections)).await
        },
        WriterSettings {
            writers,
            max_batch: settings.database.max_batch,
            max_bounces: settings.mail.max_bounces,
        },
    )
    .await?;
    let state = Arc::new(AppState {
        settings,
        writer,
        empty_forms: Default::default(),
        db,
        sealer,
        captcha,
        pow,
        limiter,
        rspamd,
        mailer,
        outbox_wakeup: tokio::sync::Notify::new(),
        metrics,
        authenticator,
        policy,
    });
    let sealed = crate::legal::execute::seal_stored_documents(&state)
        .await
        .map_err(StartupError::SealDocuments)?;
    if sealed > 0 {
        tracing::info!(sealed, "disclosure documents stored in clear were sealed");
    }
    Ok(state)
}

/// Every route of the service with its middleware, ready to serve.
pub fn app(state: Arc<AppState>) -> impl Endpoint {
    let settings = &state.settings;
    Route::new()
        .nest(
            "/api",
            api::routes(
                settings.server.max_request_bytes,
                settings.mail.inbound.max_message_bytes,
            ),
        )
        .at("/healthz", get(api::healthz))
        .at("/readyz", get(api::readyz))
        .at("/metrics", get(crate::http::metrics::scrape))
        .nest("/", web::routes(settings.server.max_request_bytes))
        .with(crate::http::Idempotency::default())
        .with(Authorize)
        .with(BodyDeadline::new(Duration::from_secs(
            settings.server.body_timeout_secs,
        )))
        .with(crate::http::metrics::RecordMetrics)
        .with(RetryAfter)
        .with(RequestContext)
        .with(SecurityHeaders::new(
            settings.captcha.enabled,
            settings.spam.pow.enabled,
            settings.server.hsts,
        ))
        .data(state)
}

/// A bound, not yet running, application.
pub struct Application {
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    smtp: Option<tokio::net::TcpListener>,
    policy: Option<tokio::net::TcpListener>,
    /// The key that signs audit checkpoints, when `audit.checkpoint_every_minutes` is not 0.
    checkpoint_key: Option<ed25519_dalek::SigningKey>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listen = settings.server.listen;
        let state = build_state(settings).await?;
        if let Some(rspamd) = &state.rspamd
            && let Err(e) = rspamd.ping().await
        {
            tracing::warn!(
                url = %state.settings.spam.rspamd.url,
                error = %e,
                "Rspamd does not answer (spam.rspamd.url); until it does, every message it \
                 should score is held for review"
            );
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| StartupError::Listen {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().unwrap_or(listen);
        let smtp_listen = state.settings.mail.inbound.listen.trim().to_owned();
        let smtp = if smtp_listen.is_empty() {
            None
        } else {
            Some(
                tokio::net::TcpListener::bind(&smtp_listen)
                    .await
                    .map_err(|source| StartupError::ListenSmtp {
                        addr: smtp_listen.clone(),
                        source,
                    })?,
            )
        };
        let policy_listen = state.settings.mail.inbound.policy_listen.trim().to_owned();
        let policy = if policy_listen.is_empty() {
            None
        } else {
            Some(
                tokio::net::TcpListener::bind(&policy_listen)
                    .await
                    .map_err(|source| StartupError::ListenPolicy {
                        addr: policy_listen.clone(),
                        source,
                    })?,
            )
        };
        let checkpoint_key = match state.settings.audit.checkpoint_every() {
            Some(_) => Some(
                crate::audit::signing_key(&state.settings, &state.sealer)
                    .map_err(StartupError::SigningKey)?,
            ),
            None => None,
        };
        Ok(Self {
            state,
            listener,
            addr,
            smtp,
            policy,
            checkpoint_key,
        })
    }

    /// Where the SMTP listener for the relay domain listens, when it is on.
    pub fn smtp_addr(&self) -> Option<SocketAddr> {
        self.smtp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Where the Postfix policy service listens, when it is on.
    pub fn policy_addr(&self) -> Option<SocketAddr> {
        self.policy.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, lets in-flight requests and
    /// the batch of mail being sent finish, and returns within `server.shutdown_timeout_secs`.
    /// Mail still being sent at the deadline keeps its claim until the lease runs out and is
    /// then delivered by any instance (at least once). The HTTP server, the outbox worker, the
    /// SMTP listener, the housekeeping and the audit checkpoints run side by side and stop
    /// together.
    pub async fn run_until(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let deadline = Duration::from_secs(self.state.settings.server.shutdown_timeout_secs);
        let server = crate::http::server::serve(
            self.listener,
            app(self.state.clone()),
            Duration::from_secs(self.state.settings.server.header_timeout_secs),
            shutdown.clone(),
            deadline,
        );
        let worker = async {
            if self.state.settings.mail.deliver {
                outbox::run_worker(self.state.clone(), shutdown.clone()).await;
            }
        };
        let housekeeping = housekeeping(self.state.clone(), shutdown.clone());
        let smtp = async {
            if let Some(listener) = self.smtp {
                crate::smtp::listener::run(self.state.clone(), listener, shutdown.clone()).await;
            }
        };
        let policy = async {
            if let Some(listener) = self.policy {
                crate::smtp::policy::run(self.state.clone(), listener, shutdown.clone()).await;
            }
        };
        let checkpoints = async {
            if let (Some(key), Some(every)) = (
                self.checkpoint_key,
                self.state.settings.audit.checkpoint_every(),
            ) {
                let path = crate::audit::checkpoints::file_path(&self.state.settings.data_dir);
                crate::audit::checkpoints::run(&self.state.db, key, path, every, shutdown.clone())
                    .await;
            }
        };
        let all = async { tokio::join!(server, worker, housekeeping, smtp, policy, checkpoints).0 };
        tokio::pin!(all);
        tokio::select! {
            served = &mut all => served,
            _ = async {
                shutdown.cancelled().await;
                tokio::time::sleep(deadline).await;
            } => {
                tracing::warn!(
                    deadline_secs = deadline.as_secs(),
                    "shutdown deadline reached; stopping with work in flight"
                );
                Ok(())
            }
        }
    }
}

/// Once a minute: keeps the rate limiter's memory bounded by the number of recently active
/// clients, deletes staff sessions and sign-in failure counts that have expired, and queues
/// the disclosure requests' deadline reminders that are due; every
/// `retention.interval_minutes` (the first time a minute after start-up) runs the retention
/// sweeper.
async fn housekeeping(state: Arc<AppState>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let every = state.settings.retention.interval_minutes.max(1);
    let mut minutes = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                // A minute after start-up, then every `every` minutes.
                if (minutes + every - 1).is_multiple_of(every)
                    && minutes > 0
                    && let Err(e) = crate::privacy::sweep(&state).await
                {
                    tracing::warn!(error = %e, "the retention run failed; it runs again later");
                }
                minutes += 1;
                if let Some(limiter) = &state.limiter {
                    limiter.forget_idle();
                }
                let staff = &state.settings.staff;
                if let Err(e) = crate::auth::session::purge_expired(&state.db, staff).await {
                    tracing::warn!(error = %e, "purging expired sessions failed");
                }
                if let Err(e) = crate::auth::throttle::purge_expired(&state.db, staff).await {
                    tracing::warn!(error = %e, "purging sign-in failure counts failed");
                }
                if let Err(e) = crate::http::idempotency::purge_expired(&state.db).await {
                    tracing::warn!(error = %e, "purging idempotency keys failed");
                }
                // Cheap when nothing is due; each reminder goes out once even with several
                // instances on one database.
                if let Err(e) = crate::legal::deadline::remind(&state).await {
                    tracing::warn!(error = %e, "queueing deadline reminders failed; tried again in a minute");
                }
            }
        }
    }
}
