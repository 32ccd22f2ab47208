//! Timestamps as both stores keep them: UTC, to the millisecond.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Now as milliseconds since the Unix epoch: how leases and delivery times are stored.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Now, truncated to milliseconds so every backend stores and returns the same instant.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(now)
}
