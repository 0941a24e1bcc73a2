//! Logging: tracing to stderr, human-readable in development and JSON lines in production. Every
//! line written inside a request carries its `request_id` (see `http::RequestContext`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, LogSettings};

pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(&settings.filter))
            .unwrap_or_else(|_| EnvFilter::new("info"))
            // mailin traces every SMTP command line, addresses included: never below warn.
            .add_directive("mailin=warn".parse().unwrap_or_else(|_| {
                tracing_subscriber::filter::Directive::from(tracing::Level::WARN)
            }));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let result = match settings.format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
    }
}
