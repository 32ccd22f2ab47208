//! The load driver: the second process of every row (`reliability drive`).
//!
//! Reads go through `bench::load` (keep-alive connections at a steady rate, latency measured
//! from each request's due time), one load per phase so that every phase has percentiles of
//! its own (`phase`). Writes, and the reads a row must follow one by one, go through
//! *lanes* (`lanes`): each lane sends one request at a time, taking the next slot of one
//! steady-rate schedule shared by all lanes, and records what it was told ([`Outcome`]). An
//! invoice is patched by one lane only, so its writes are ordered and the last acknowledged
//! one is known. Idempotent runs (`idempotent`) retry creates with one key each.
//!
//! The orchestrator talks to it through pipes: the spec ([`DriveSpec`]) is a JSON file, the
//! first line on stdout is `{"started_ms": ...}`, then one [`Tick`] per second; a `stop` line
//! on stdin (or stdin closing) ends the last phase early. The report ([`DriveReport`]) is
//! written to a JSON file.

mod idempotent;
mod lanes;
mod mix;
mod phase;
mod request;
mod spec;

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use self::idempotent::{Runs, run_idempotent};
use self::lanes::{Lanes, run_lane};
pub use self::mix::Mix;
use self::phase::run_phase;
use self::request::Sender;
pub use self::request::{customer_body, invoice_body};
pub use self::spec::{
    DriveReport, DriveSpec, IdempotentRuns, PatchTarget, PhaseReport, PhaseSpec, ReadLoad, Tick,
    TrackedLoad,
};
use crate::outcome::{Outcome, unix_ms};

/// `reliability drive`: runs the spec in `spec_path`, writes the report to `out_path`.
pub fn main(spec_path: &Path, out_path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(spec_path)
        .with_context(|| format!("cannot read {}", spec_path.display()))?;
    let spec: DriveSpec = serde_json::from_str(&text).context("bad drive spec")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(drive(spec))?;
    // Written aside and renamed, so that a reader never sees half a report.
    let partial = out_path.with_extension("partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, &report)?;
    std::io::Write::flush(&mut writer)?;
    std::fs::rename(&partial, out_path)
        .with_context(|| format!("cannot write {}", out_path.display()))?;
    Ok(())
}

/// A `stop` line on stdin, or stdin closing, ends the drive.
fn watch_stdin() -> watch::Receiver<bool> {
    let (stop, stopped) = watch::channel(false);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(line) if line.trim() == "stop" => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        stop.send_replace(true);
    });
    stopped
}

/// One line of JSON on stdout, for the orchestrator.
fn emit(value: &impl Serialize) {
    if let Ok(line) = serde_json::to_string(value) {
        println!("{line}");
    }
}

/// When the drive started, on both clocks: due times are scheduled on the monotonic one
/// and recorded in unix milliseconds.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    started_ms: u64,
}

impl Clock {
    /// `at` in unix milliseconds.
    fn ms(&self, at: Instant) -> u64 {
        self.started_ms + u64::try_from((at - self.start).as_millis()).unwrap_or(0)
    }
}

async fn drive(spec: DriveSpec) -> anyhow::Result<DriveReport> {
    let stdin_stop = watch_stdin();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(spec.timeout_ms))
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .build()?;
    let total: f64 = spec.phases.iter().map(|p| p.seconds).sum();
    let start = Instant::now();
    let started_ms = unix_ms();
    let clock = Clock { start, started_ms };
    let end = start + Duration::from_secs_f64(total.max(0.0));
    let (lanes_stop, lanes_stopped) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let sender = Sender {
        http,
        spec: spec.clone(),
        clock,
        counters: counters.clone(),
    };

    let mut lanes = Vec::new();
    if let Some(tracked) = &spec.tracked {
        let shared = Arc::new(Lanes {
            sender: sender.clone(),
            load: tracked.clone(),
            table: tracked.mix.table(),
            end,
            interval: Duration::from_secs_f64(1.0 / tracked.rate.max(0.001)),
            next: AtomicU64::new(0),
        });
        anyhow::ensure!(!shared.table.is_empty(), "the tracked mix is empty");
        for lane in 0..tracked.lanes.max(1) {
            lanes.push(tokio::spawn(run_lane(
                shared.clone(),
                lane,
                lanes_stopped.clone(),
            )));
        }
    }
    let mut runs = Vec::new();
    if let Some(idempotent) = &spec.idempotent {
        let shared = Arc::new(Runs {
            sender: sender.clone(),
            runs: idempotent.clone(),
        });
        for run in 0..idempotent.runs {
            runs.push(tokio::spawn(run_idempotent(
                shared.clone(),
                run,
                // Only an explicit stop ends a run early: the end of the phases does not.
                stdin_stop.clone(),
            )));
        }
    }

    emit(&json!({ "started_ms": started_ms }));
    let mut phases = Vec::new();
    let mut stopped = stdin_stop;
    for (index, phase) in spec.phases.iter().enumerate() {
        let last = index + 1 == spec.phases.len();
        let report = run_phase(&spec, phase, &counters, &mut stopped, last).await?;
        phases.push(report);
        if *stopped.borrow() {
            break;
        }
    }
    lanes_stop.send_replace(true);
    let mut outcomes = Vec::new();
    for lane in lanes {
        outcomes.extend(lane.await.context("a lane failed")?);
    }
    // Idempotent runs go on after the phases, until acknowledged or given up (or a stop):
    // a run cut short half-way would leave the check nothing to compare.
    for run in runs {
        outcomes.extend(run.await.context("an idempotent run failed")?);
    }
    outcomes.sort_by_key(|o| (o.sent_ms, o.seq));
    Ok(DriveReport {
        started_ms,
        ended_ms: unix_ms(),
        phases,
        outcomes,
    })
}

/// Tracked answers since the last tick.
#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    fn count(&self, outcome: &Outcome) {
        let counter = if outcome.is_success() {
            &self.ok
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
