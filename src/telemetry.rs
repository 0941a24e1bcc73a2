//! Logging: tracing to stderr, human-readable in development and JSON lines in production. Every
//! line written inside a request carries its `request_id` (see `http::RequestContext`).
//! Records of crates that use the `log` crate are bridged in, except those of crates that log
//! personal data ([`SILENCED_LOG_CRATES`]).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, LogSettings};

/// `log`-crate users whose records never reach our log: `mailin` traces every SMTP command
/// line, addresses included.
pub const SILENCED_LOG_CRATES: &[&str] = &["mailin"];

/// Forwards `log`-crate records into tracing, without [`SILENCED_LOG_CRATES`].
pub fn bridge_log_records() {
    let _ = tracing_log::LogTracer::builder()
        .ignore_all(SILENCED_LOG_CRATES.iter().copied())
        .init();
}

pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let result = match settings.format {
        LogFormat::Json => tracing::subscriber::set_global_default(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
        LogFormat::Pretty => tracing::subscriber::set_global_default(builder.finish()),
    };
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
    }
    bridge_log_records();
}
