//! What the orchestrator asks of a drive (the spec, written as JSON) and what the drive
//! reports back (its ticks on stdout, and its report file).

use bench::load::LoadReport;
use serde::{Deserialize, Serialize};

use super::Mix;
use crate::outcome::Outcome;

/// What one drive sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveSpec {
    pub invoice_url: String,
    pub customer_url: String,
    /// Makes every tag this drive writes unique in the run.
    pub tag: String,
    /// Consecutive; the last one ends early on `stop`.
    pub phases: Vec<PhaseSpec>,
    pub reads: Option<ReadLoad>,
    pub tracked: Option<TrackedLoad>,
    pub idempotent: Option<IdempotentRuns>,
    /// A request not answered within this time counts as timed out.
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseSpec {
    pub name: String,
    pub seconds: f64,
}

/// `GET /invoices/{id}` over these ids, through `bench::load`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadLoad {
    pub rate: f64,
    pub connections: usize,
    pub invoice_ids: Vec<String>,
}

/// Requests sent and recorded one by one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackedLoad {
    pub rate: f64,
    pub lanes: usize,
    pub mix: Mix,
    /// Drafts the lanes patch; lane `i` owns those at positions `i`, `i + lanes`, ...
    pub patch_targets: Vec<PatchTarget>,
    /// Customers new invoices are made for, and `ReadCustomer` reads.
    pub customer_ids: Vec<String>,
    /// Invoices `ReadInvoice` reads.
    pub read_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatchTarget {
    pub id: String,
    /// Its creation tag, kept in `metadata.rk` by every patch.
    pub rk: String,
}

/// Creates retried with one `Idempotency-Key` each until acknowledged, then sent once more
/// (a client whose answer was lost).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotentRuns {
    pub runs: usize,
    /// Runs started per second.
    pub per_second: f64,
    /// The customer the invoices are for.
    pub customer_id: String,
    pub retry_ms: u64,
    /// A run that is not acknowledged after this long gives up.
    pub give_up_ms: u64,
}

/// What a drive measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveReport {
    pub started_ms: u64,
    pub ended_ms: u64,
    pub phases: Vec<PhaseReport>,
    pub outcomes: Vec<Outcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseReport {
    pub name: String,
    pub started_ms: u64,
    pub ended_ms: u64,
    /// The `bench::load` report of the reads in this phase.
    pub reads: Option<LoadReport>,
}

/// One line per second on stdout while the drive runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tick {
    pub t_ms: u64,
    pub phase: String,
    /// Tracked requests answered in the last second: 2xx, and the rest (errors included).
    pub ok: u64,
    pub failed: u64,
    pub reads_ok: u64,
    pub reads_failed: u64,
}
