//! The technical facts of a request that the statistics count (browser and system family,
//! referring site, network), taken from its headers.

use std::net::IpAddr;

use poem::Request;
use poem::http::header;

use crate::state::AppState;
use crate::tally::TechEvent;

/// The statistics event of a request to `page`.
pub fn tech_event(
    req: &Request,
    app: &AppState,
    page: &str,
    language: &str,
    ip: Option<IpAddr>,
) -> TechEvent {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let own_host = url::Url::parse(app.settings.base_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    TechEvent::new(
        header(header::USER_AGENT),
        header(header::REFERER),
        own_host.as_deref(),
        page,
        language,
        ip,
    )
}
