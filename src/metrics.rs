//! The counters behind `GET /metrics`: what an operator graphs and alerts on, in the
//! Prometheus (OpenMetrics) text format. They cover requests by route and status with latency
//! histograms, the outbox by state with the age of the oldest undelivered mail, deliveries and
//! failures, inbound mail accepted and refused, failed sign-ins, and the requests to Rspamd
//! by outcome. Routes are labelled by their
//! authorization rule, never by the raw path, so private links and ids never become label
//! values. Counters are per instance. The outbox figures are read from the database at each
//! scrape (`http::metrics`), so they are the same on every instance.

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: Cow<'static, str>,
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: Cow<'static, str>,
    pub route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// One request to Rspamd: which (`check`, `learn_spam`, `learn_ham`) and how it ended (`ok`,
/// `unavailable`, `refused`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RspamdLabels {
    pub request: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub deliveries: Family<OutcomeLabels, Counter>,
    pub inbound: Family<OutcomeLabels, Counter>,
    pub inbound_refusals: Family<ReasonLabels, Counter>,
    pub signin_failures: Counter,
    /// Shared with the Rspamd client, which counts its own requests (`Rspamd::counted_in`).
    pub rspamd: Family<RspamdLabels, Counter>,
    outbox: Family<StateLabels, Gauge>,
    oldest_pending: Gauge,
    pub batch_phases: Family<PhaseLabels, Histogram>,
    pub build: Histogram,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub phase: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sealpost");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        let inbound = Family::<OutcomeLabels, Counter>::default();
        let inbound_refusals = Family::<ReasonLabels, Counter>::default();
        let signin_failures = Counter::default();
        let rspamd = Family::<RspamdLabels, Counter>::default();
        let outbox = Family::<StateLabels, Gauge>::default();
        let oldest_pending = Gauge::default();
        let batch_phases =
            Family::<PhaseLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let build = Histogram::new(exponential_buckets(0.000_005, 2.0, 16));
        registry.register(
            "http_requests",
            "HTTP requests by method, route (its authorization rule) and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route",
            latency.clone(),
        );
        registry.register(
            "outbox_deliveries",
            "Delivery attempts by outcome: sent, retry (a temporary failure), dead",
            deliveries.clone(),
        );
        registry.register(
            "inbound_mail",
            "Relay mail received over SMTP or HTTP, by outcome: accepted, held (for staff \
             review), refused, dropped (refused after a trusted MTA had accepted it) or failed",
            inbound.clone(),
        );
        registry.register(
            "inbound_mail_refusals",
            "Relay mail refused, at RCPT, after DATA or by the policy service, by reason",
            inbound_refusals.clone(),
        );
        registry.register(
            "signin_failures",
            "Failed sign-ins and second factors",
            signin_failures.clone(),
        );
        registry.register(
            "rspamd_requests",
            "Requests to Rspamd by request (check, learn_spam, learn_ham) and outcome: ok, \
             unavailable (no answer in time, or a 5xx), refused (a 4xx, such as a wrong password)",
            rspamd.clone(),
        );
        registry.register(
            "outbox_mails",
            "Mails in the outbox by state (read from the database at each scrape)",
            outbox.clone(),
        );
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered mail, 0 when there is none",
            oldest_pending.clone(),
        );
        registry.register(
            "db_write_wait",
            "Seconds a write transaction waited to begin (on SQLite: for the write lock), by \
             writer: submissions, outbox_claim, outbox_record, other (counted for the process)",
            crate::db::WRITE_WAIT.clone(),
        );
        registry.register(
            "db_write_hold",
            "Seconds a write transaction took from BEGIN to the end of its COMMIT, by writer",
            crate::db::WRITE_HOLD.clone(),
        );
        registry.register(
            "outbox_batch_phase",
            "Seconds the outbox worker spent per batch, by phase: claim (with its contacts), \
             deliver (every mail of the batch built and sent)",
            batch_phases.clone(),
        );
        registry.register(
            "outbox_build",
            "Seconds spent building one mail (opening the sealed parts, MIME) before it is sent",
            build.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            batch_phases,
            build,
            requests,
            latency,
            deliveries,
            inbound,
            inbound_refusals,
            signin_failures,
            rspamd,
            outbox,
            oldest_pending,
        }
    }
}

/// The outbox as one scrape reads it from the database.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxFigures {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub dead: u64,
    /// Seconds since the oldest undelivered mail was queued; 0 when none waits.
    pub oldest_pending_secs: i64,
}

/// Why the exposition could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("a thread panicked while holding the metrics registry")]
    Poisoned,
    #[error("encoding the metrics failed: {0}")]
    Encode(#[from] std::fmt::Error),
}

impl Metrics {
    /// Counts one answered request with its route and status, and its latency in seconds.
    pub fn request(
        &self,
        method: Cow<'static, str>,
        route: &'static str,
        status: u16,
        seconds: f64,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.clone(),
                route,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method, route })
            .observe(seconds);
    }

    /// Counts a delivery attempt's outcome (`sent`, `retry`, `dead`).
    pub fn delivery(&self, outcome: &str) {
        self.deliveries
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Times one phase of an outbox batch (`claim`, `deliver`).
    pub fn batch_phase(&self, phase: &'static str, since: Instant) {
        self.batch_phases
            .get_or_create(&PhaseLabels { phase })
            .observe(since.elapsed().as_secs_f64());
    }

    /// Counts why relay mail was refused (`stranger_sender`, `unauthenticated`, ...).
    pub fn inbound_refusal(&self, reason: &str) {
        self.inbound_refusals
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts an inbound mail (`accepted`, `held`, `refused`, `dropped`, `failed`).
    pub fn inbound_mail(&self, outcome: &str) {
        self.inbound
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The text exposition, with the outbox figures as read for this scrape.
    pub fn render(&self, outbox: &OutboxFigures) -> Result<String, RenderError> {
        for (state, n) in [
            ("pending", outbox.pending),
            ("sending", outbox.sending),
            ("sent", outbox.sent),
            ("dead", outbox.dead),
        ] {
            self.outbox
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.oldest_pending.set(outbox.oldest_pending_secs.max(0));
        let mut out = String::new();
        let registry = self.registry.lock().map_err(|_| RenderError::Poisoned)?;
        encode(&mut out, &registry)?;
        Ok(out)
    }
}
