//! What a client was told about one request: the record the consistency check compares
//! with what the stores hold.

use serde::{Deserialize, Serialize};

/// The kinds of request the load driver sends and follows one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `PATCH /invoices/{id}` with `metadata.rw` set to a value never used before.
    Patch,
    /// `POST /invoices` tagged with `metadata.rk`.
    CreateInvoice,
    /// `POST /invoices/{id}/finalize` of a draft this driver created.
    Finalize,
    /// `POST /customers` tagged with `metadata.rk`.
    CreateCustomer,
    /// `GET /invoices/{id}`.
    ReadInvoice,
    /// `GET /customers/{id}`.
    ReadCustomer,
    /// `GET /invoices?customer_id=...`.
    ListInvoices,
    /// `POST /invoices` with an `Idempotency-Key`, tagged with `metadata.ik`.
    IdempotentInvoice,
    /// `POST /customers` with an `Idempotency-Key`, tagged with `metadata.ik`.
    IdempotentCustomer,
}

impl Op {
    pub fn is_write(self) -> bool {
        !matches!(self, Op::ReadInvoice | Op::ReadCustomer | Op::ListInvoices)
    }

    /// The service the request goes to.
    pub fn service(self) -> Service {
        match self {
            Op::CreateCustomer | Op::ReadCustomer | Op::IdempotentCustomer => Service::Customers,
            _ => Service::Invoices,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Customers,
    Invoices,
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// No connection: the request never reached the service.
    Connect,
    /// The connection failed (reset or closed) after the request was sent.
    Io,
    /// No complete answer in time.
    Timeout,
}

/// What the client was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// 2xx.
    Acknowledged,
    /// An answer outside 2xx other than 503, or no connection at all: the request did not
    /// happen.
    Failed,
    /// No answer after sending, or a `503`: it may or may not have happened. The contract says
    /// a write answered `503` may still land (a frozen MongoDB applies it when it continues,
    /// whether the service gave up at its 2 s bound or when the driver dropped the
    /// connection), and the answer does not say which.
    Unknown,
}

/// One request and its outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub op: Op,
    /// The sequence number that scheduled it (unique within one drive).
    pub seq: u64,
    /// The invoice (or customer) it addressed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The tag it wrote: `metadata.rw` of a patch, `metadata.rk` of a create, the
    /// `Idempotency-Key` of an idempotent create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Unix milliseconds when it was due (its steady-rate slot) and when it was sent.
    pub due_ms: u64,
    pub sent_ms: u64,
    /// From sending to the whole answer.
    pub latency_ms: f64,
    /// From its due time to the whole answer (corrected for coordinated omission).
    pub corrected_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The `code` of an error answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The id of what a 2xx create made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_id: Option<String>,
    /// The number a 2xx finalize gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// `Idempotent-Replayed: true` on the answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
    /// 1 for a first attempt, more for retries with the same key.
    #[serde(default = "one")]
    pub attempt: u32,
}

fn one() -> u32 {
    1
}

impl Outcome {
    /// Request `seq` of `op`, due at `due_ms` and sent at `sent_ms`, before anything is
    /// known of its answer: the fields a request fills in start from here.
    pub fn sent(op: Op, seq: u64, due_ms: u64, sent_ms: u64) -> Self {
        Self {
            op,
            seq,
            target: None,
            value: None,
            due_ms,
            sent_ms,
            latency_ms: 0.0,
            corrected_ms: 0.0,
            status: None,
            code: None,
            failure: None,
            created_id: None,
            number: None,
            replayed: false,
            attempt: 1,
        }
    }

    pub fn told(&self) -> Told {
        match (self.status, self.failure) {
            (Some(status), _) if (200..300).contains(&status) => Told::Acknowledged,
            (Some(503), _) => Told::Unknown,
            (Some(_), _) | (None, Some(Failure::Connect)) => Told::Failed,
            (None, _) => Told::Unknown,
        }
    }

    pub fn is_success(&self) -> bool {
        self.told() == Told::Acknowledged
    }

    /// When the whole answer was in (unix ms).
    pub fn answered_ms(&self) -> f64 {
        self.sent_ms as f64 + self.latency_ms
    }
}

/// The `q`-quantile (0..=1) of `values`, by the nearest-rank method; 0 when empty.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: Option<u16>, failure: Option<Failure>) -> Outcome {
        Outcome {
            status,
            failure,
            ..Outcome::sent(Op::Patch, 0, 0, 0)
        }
    }

    #[test]
    fn what_the_client_was_told_follows_the_status_or_the_failure() {
        assert_eq!(outcome(Some(201), None).told(), Told::Acknowledged);
        assert_eq!(outcome(Some(503), None).told(), Told::Unknown);
        assert_eq!(outcome(Some(409), None).told(), Told::Failed);
        assert_eq!(outcome(None, Some(Failure::Connect)).told(), Told::Failed);
        assert_eq!(outcome(None, Some(Failure::Io)).told(), Told::Unknown);
        assert_eq!(outcome(None, Some(Failure::Timeout)).told(), Told::Unknown);
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut values, 0.99), 99.0);
        assert_eq!(quantile(&mut values, 0.5), 50.0);
        assert_eq!(quantile(&mut values, 1.0), 100.0);
        assert_eq!(quantile(&mut [], 0.99), 0.0);
    }
}
