//! A per-key rate limit (GCRA, from `governor`): over it, `429 rate_limited` with
//! `Retry-After`. It applies when API keys are configured; an open service has no keys to
//! count by.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::Principal;
use crate::config::parse_or;
use crate::error::{ApiError, codes};

/// Requests per second and burst allowed to one key.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: Self::DEFAULT_PER_SECOND,
            burst: 2 * Self::DEFAULT_PER_SECOND,
        }
    }
}

impl RateLimit {
    pub const DEFAULT_PER_SECOND: u32 = 500;

    /// `RATE_LIMIT_PER_SECOND` (default 500; 0 turns it off) and `RATE_LIMIT_BURST`
    /// (default twice the rate).
    pub fn from_env() -> anyhow::Result<Self> {
        let per_second: u32 = parse_or("RATE_LIMIT_PER_SECOND", Self::DEFAULT_PER_SECOND)?;
        let burst = parse_or("RATE_LIMIT_BURST", per_second.saturating_mul(2))?;
        Ok(Self { per_second, burst })
    }
}

/// The limiter of one service; cheap to clone.
#[derive(Clone)]
pub struct KeyedLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<Principal>>,
    clock: DefaultClock,
}

impl KeyedLimiter {
    /// `None` when the limit is 0 (off).
    pub fn new(limit: RateLimit) -> Option<Self> {
        let per_second = NonZeroU32::new(limit.per_second)?;
        let burst = NonZeroU32::new(limit.burst.max(limit.per_second)).unwrap_or(per_second);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Some(Self {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            clock: DefaultClock::default(),
        })
    }
}

/// Counts a request against its principal's quota (after authentication); the 429 to answer
/// when it is over. An anonymous caller (no keys configured) is not limited.
pub fn admit(limiter: Option<&KeyedLimiter>, principal: &Principal) -> Result<(), ApiError> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    if principal.is_anonymous() {
        return Ok(());
    }
    limiter.limiter.check_key(principal).map_err(|not_until| {
        let wait = not_until.wait_time_from(limiter.clock.now());
        let mut error = ApiError::from(codes::RATE_LIMITED);
        error.retry_after_seconds = Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        metrics::counter!("http_rate_limited_total").increment(1);
        error
    })
}
