//! What a load measured: each worker's counts (a latency histogram, statuses, errors) and
//! the [`LoadReport`] they add up to.

use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use hyper::StatusCode;
use serde::{Deserialize, Serialize};

/// A complete answer.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) bytes: u64,
}

/// Why a request got no answer.
pub(super) enum Failure {
    Connect(String),
    Io(String),
    Timeout,
}

impl Failure {
    pub(super) fn into_error(self) -> anyhow::Error {
        match self {
            Failure::Connect(message) | Failure::Io(message) => anyhow::anyhow!(message),
            Failure::Timeout => anyhow::anyhow!("timed out"),
        }
    }
}

/// Latencies are recorded in microseconds, from 1 µs to this bound, to 3 significant digits.
const LATENCY_BOUND_US: u64 = 60_000_000;

/// What a load measured over its measured time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub connections: usize,
    /// The configured rate, if any.
    pub rate: Option<f64>,
    /// Length of the measured time so far.
    pub seconds: f64,
    /// Answers (of any status) received in the measured time.
    pub requests: u64,
    pub requests_per_second: f64,
    /// Of the answers counted in `requests`.
    pub latency: Latency,
    pub status: StatusCounts,
    pub errors: ErrorCounts,
    pub bytes_received: u64,
    /// Requests sent since the start, warm-up included (answered or not).
    pub sent: u64,
    /// The first error seen, to tell what went wrong.
    pub first_error: Option<String>,
}

impl LoadReport {
    /// Answers outside 2xx, plus requests that got no answer.
    pub fn failures(&self) -> u64 {
        let status = &self.status;
        status.informational
            + status.redirection
            + status.client_error
            + status.server_error
            + self.errors.total()
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Answers by status class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    #[serde(rename = "1xx")]
    pub informational: u64,
    #[serde(rename = "2xx")]
    pub success: u64,
    #[serde(rename = "3xx")]
    pub redirection: u64,
    #[serde(rename = "4xx")]
    pub client_error: u64,
    #[serde(rename = "5xx")]
    pub server_error: u64,
}

impl StatusCounts {
    fn count(&mut self, status: StatusCode) {
        let class = match status.as_u16() / 100 {
            1 => &mut self.informational,
            2 => &mut self.success,
            3 => &mut self.redirection,
            4 => &mut self.client_error,
            _ => &mut self.server_error,
        };
        *class += 1;
    }

    fn add(&mut self, other: &Self) {
        self.informational += other.informational;
        self.success += other.success;
        self.redirection += other.redirection;
        self.client_error += other.client_error;
        self.server_error += other.server_error;
    }
}

/// Requests that got no answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// No connection could be opened.
    pub connect: u64,
    /// The connection failed while sending or receiving.
    pub io: u64,
    /// No complete answer within the timeout.
    pub timeout: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.connect + self.io + self.timeout
    }

    fn add(&mut self, other: &Self) {
        self.connect += other.connect;
        self.io += other.io;
        self.timeout += other.timeout;
    }
}

/// The histogram every tally starts from, so that all share its bounds.
pub(super) fn empty_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_BOUND_US, 3).context("latency histogram bounds")
}

/// One worker's counts.
pub(super) struct Tally {
    latency_us: Histogram<u64>,
    status: StatusCounts,
    errors: ErrorCounts,
    bytes: u64,
    first_error: Option<String>,
}

impl Tally {
    /// `empty`: a histogram with the bounds every tally shares.
    pub(super) fn new(empty: &Histogram<u64>) -> Self {
        Self {
            latency_us: empty.clone(),
            status: StatusCounts::default(),
            errors: ErrorCounts::default(),
            bytes: 0,
            first_error: None,
        }
    }

    pub(super) fn answered(&mut self, latency: Duration, answer: &Answer) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latency_us.saturating_record(us);
        self.status.count(answer.status);
        self.bytes += answer.bytes;
    }

    pub(super) fn failed(&mut self, failure: Failure) {
        let message = match failure {
            Failure::Connect(message) => {
                self.errors.connect += 1;
                message
            }
            Failure::Io(message) => {
                self.errors.io += 1;
                message
            }
            Failure::Timeout => {
                self.errors.timeout += 1;
                "no answer within the timeout".to_owned()
            }
        };
        self.first_error.get_or_insert(message);
    }

    pub(super) fn add(&mut self, other: &Self) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.status.add(&other.status);
        self.errors.add(&other.errors);
        self.bytes += other.bytes;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    /// The report of these counts over `seconds` of measured time.
    pub(super) fn report(
        self,
        connections: usize,
        rate: Option<f64>,
        seconds: f64,
        sent: u64,
    ) -> LoadReport {
        let requests = self.latency_us.len();
        let ms = |us: u64| us as f64 / 1000.0;
        let latency = if requests == 0 {
            Latency::default()
        } else {
            Latency {
                mean_ms: self.latency_us.mean() / 1000.0,
                p50_ms: ms(self.latency_us.value_at_quantile(0.50)),
                p90_ms: ms(self.latency_us.value_at_quantile(0.90)),
                p99_ms: ms(self.latency_us.value_at_quantile(0.99)),
                max_ms: ms(self.latency_us.max()),
            }
        };
        LoadReport {
            connections,
            rate,
            seconds,
            requests,
            requests_per_second: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            latency,
            status: self.status,
            errors: self.errors,
            bytes_received: self.bytes,
            sent,
            first_error: self.first_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_non_2xx_answers_and_errors() {
        let report = LoadReport {
            connections: 1,
            rate: None,
            seconds: 1.0,
            requests: 10,
            requests_per_second: 10.0,
            latency: Latency::default(),
            status: StatusCounts {
                success: 7,
                client_error: 2,
                server_error: 1,
                ..StatusCounts::default()
            },
            errors: ErrorCounts {
                connect: 1,
                io: 0,
                timeout: 2,
            },
            bytes_received: 0,
            sent: 13,
            first_error: None,
        };
        assert_eq!(report.failures(), 6);
    }
}
