//! Per-client-IP limit on submissions (GCRA through `governor`). IPv6 clients are limited per
//! /64, since one host usually holds a whole /64. The state is in memory, per instance.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitSettings;

pub struct SubmissionLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl SubmissionLimiter {
    pub fn from_settings(settings: &RateLimitSettings) -> Option<Self> {
        if !settings.enabled {
            return None;
        }
        let per_minute = NonZeroU32::new(settings.per_minute)?;
        let burst = NonZeroU32::new(settings.burst)?;
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        })
    }

    /// `Err(wait)` when the client must wait before its next submission.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        let key = ip.map(bucket).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose limit has fully recovered; run periodically to bound memory.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// A wait as whole seconds for `Retry-After`, rounded up so that a client never retries early.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The bucket a client counts in: its IPv4 address, or its IPv6 /64.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::from(segments)
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32) -> SubmissionLimiter {
        SubmissionLimiter::from_settings(&RateLimitSettings {
            enabled: true,
            per_minute,
            burst,
        })
        .expect("enabled")
    }

    #[test]
    fn a_burst_passes_then_the_client_waits() {
        let l = limiter(1, 2);
        let ip: IpAddr = "198.51.100.7".parse().expect("ip");
        assert!(l.check(Some(ip)).is_ok());
        assert!(l.check(Some(ip)).is_ok());
        let wait = l.check(Some(ip)).expect_err("limited");
        assert!(wait > Duration::from_secs(30) && wait <= Duration::from_secs(60));
        assert!(l.check(Some("198.51.100.8".parse().expect("ip"))).is_ok());
    }

    #[test]
    fn an_ipv6_64_is_one_client() {
        let l = limiter(1, 1);
        assert!(l.check(Some("2001:db8::1".parse().expect("ip"))).is_ok());
        assert!(
            l.check(Some("2001:db8::ffff:2".parse().expect("ip")))
                .is_err()
        );
        assert!(
            l.check(Some("2001:db8:0:1::1".parse().expect("ip")))
                .is_ok()
        );
    }
}
