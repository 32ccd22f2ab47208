//! A row's load and what it measured: the drive spec of the loaded rows, starting and
//! finishing the driver, and reading its report (counts, p99s against the baseline).

use std::time::Duration;

use bench::load::LoadReport;

use super::{RowResult, Suite};
use crate::drive::{DriveReport, DriveSpec, Mix, PhaseSpec, ReadLoad, TrackedLoad};
use crate::driver::Driver;
use crate::outcome::{Op, quantile};
use crate::report::ms;

/// Read connections of `bench::load`, and tracked lanes.
pub(super) const READ_CONNECTIONS: usize = 16;
pub(super) const LANES: usize = 32;

/// Counts of what a drive's reads and tracked requests got.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Tally {
    pub(super) reads: u64,
    pub(super) read_failures: u64,
    pub(super) read_server_errors: u64,
    pub(super) read_max_ms: f64,
    pub(super) tracked: u64,
    pub(super) tracked_failures: u64,
    pub(super) tracked_server_errors: u64,
    pub(super) tracked_500: u64,
    pub(super) tracked_unanswered: u64,
    pub(super) tracked_max_ms: f64,
}

impl Tally {
    pub(super) fn of(report: &DriveReport) -> Self {
        let mut tally = Self::default();
        for reads in report.phases.iter().filter_map(|p| p.reads.as_ref()) {
            tally.reads += reads.requests + reads.errors.total();
            tally.read_failures += reads.failures();
            tally.read_server_errors += reads.status.server_error + reads.errors.total();
            tally.read_max_ms = tally.read_max_ms.max(reads.latency.max_ms);
        }
        for outcome in &report.outcomes {
            tally.tracked += 1;
            if !outcome.is_success() {
                tally.tracked_failures += 1;
            }
            match outcome.status {
                Some(500) => {
                    tally.tracked_500 += 1;
                    tally.tracked_server_errors += 1;
                }
                Some(status) if status >= 500 => tally.tracked_server_errors += 1,
                None => {
                    tally.tracked_unanswered += 1;
                    tally.tracked_server_errors += 1;
                }
                Some(_) => {}
            }
            tally.tracked_max_ms = tally.tracked_max_ms.max(outcome.corrected_ms);
        }
        tally
    }

    /// Non-2xx answers and requests without one, reads and tracked.
    pub(super) fn failures(&self) -> u64 {
        self.read_failures + self.tracked_failures
    }

    /// [`Tally::failures`], and how many of them were reads and writes.
    pub(super) fn failures_by_kind(&self) -> String {
        format!(
            "{} ({} reads, {} writes)",
            self.failures(),
            self.read_failures,
            self.tracked_failures
        )
    }
}

/// The p99 of the writes due within a phase, corrected for coordinated omission.
pub(super) fn writes_p99(report: &DriveReport, phase: &str) -> f64 {
    let Some(phase) = report.phases.iter().find(|p| p.name == phase) else {
        return 0.0;
    };
    let mut latencies: Vec<f64> = report
        .outcomes
        .iter()
        .filter(|o| o.op.is_write() && o.due_ms >= phase.started_ms && o.due_ms < phase.ended_ms)
        .map(|o| o.corrected_ms)
        .collect();
    quantile(&mut latencies, 0.99)
}

/// The `bench::load` report of a phase's reads.
pub(super) fn reads_of<'a>(report: &'a DriveReport, phase: &str) -> Option<&'a LoadReport> {
    report
        .phases
        .iter()
        .find(|p| p.name == phase)
        .and_then(|p| p.reads.as_ref())
}

/// The p99 of a phase's reads (0 without reads).
pub(super) fn reads_p99(report: &DriveReport, phase: &str) -> f64 {
    reads_of(report, phase).map_or(0.0, |r| r.latency.p99_ms)
}

/// The writes of the 80/20 rows.
pub(super) fn writes_mix() -> Mix {
    Mix {
        patch: 6,
        create_invoice: 2,
        finalize: 1,
        create_customer: 1,
        ..Mix::default()
    }
}

impl Suite {
    /// 80% reads through `bench::load`, 20% tracked requests with `mix`, at `rate` in all,
    /// over `phases` (name, seconds).
    pub(super) fn mixed_spec(
        &self,
        name: &str,
        phases: &[(&str, f64)],
        mix: Mix,
        rate: f64,
    ) -> DriveSpec {
        DriveSpec {
            invoice_url: self.invoice_url(),
            customer_url: self.customer_url(),
            tag: format!("{}-{name}", self.tag),
            phases: phases
                .iter()
                .map(|(name, seconds)| PhaseSpec {
                    name: (*name).to_owned(),
                    seconds: *seconds,
                })
                .collect(),
            reads: Some(ReadLoad {
                rate: 0.8 * rate,
                connections: READ_CONNECTIONS,
                invoice_ids: self.target_ids(),
            }),
            tracked: Some(TrackedLoad {
                rate: 0.2 * rate,
                lanes: LANES,
                mix,
                patch_targets: self.targets.clone(),
                customer_ids: self.customers.clone(),
                read_ids: self.target_ids(),
            }),
            idempotent: None,
            timeout_ms: 10_000,
        }
    }

    /// [`Suite::mixed_spec`] at the rate of the loaded rows.
    pub(super) fn loaded_spec(&self, name: &str, phases: &[(&str, f64)], mix: Mix) -> DriveSpec {
        self.mixed_spec(name, phases, mix, self.settings.rate)
    }

    pub(super) async fn spawn(&self, name: &str, spec: &DriveSpec) -> anyhow::Result<Driver> {
        Driver::spawn(&self.settings.driver, &self.settings.logs, name, spec).await
    }

    /// Drive `name` on the [`Suite::loaded_spec`] tagged `name`, started.
    pub(super) async fn drive_loaded(
        &self,
        name: &str,
        phases: &[(&str, f64)],
        mix: Mix,
    ) -> anyhow::Result<Driver> {
        self.spawn(name, &self.loaded_spec(name, phases, mix)).await
    }

    /// Waits for the drive and records what its clients were told.
    pub(super) async fn finish(
        &mut self,
        driver: Driver,
        within: Duration,
    ) -> anyhow::Result<DriveReport> {
        let report = driver.finish(within).await?;
        for outcome in &report.outcomes {
            let invoice = matches!(
                outcome.op,
                Op::CreateInvoice | Op::IdempotentInvoice | Op::Finalize
            );
            if invoice && outcome.is_success() {
                if let Some(id) = outcome.created_id.as_ref().or(outcome.target.as_ref()) {
                    self.touched.insert(id.clone());
                }
            }
        }
        self.ledger.add(report.outcomes.iter().cloned());
        Ok(report)
    }

    /// p99 of the fault phase against max(3× baseline, 250 ms), for reads and writes.
    pub(super) fn check_p99(&self, row: &mut RowResult, report: &DriveReport, phase: &str) {
        let reads = reads_p99(report, phase);
        let writes = writes_p99(report, phase);
        let read_limit = (3.0 * self.baseline.reads_p99).max(250.0);
        let write_limit = (3.0 * self.baseline.writes_p99).max(250.0);
        row.figure("fault_reads_p99_ms", reads);
        row.figure("fault_writes_p99_ms", writes);
        row.check(
            "reads p99 during the fault",
            format!("{} (baseline {})", ms(reads), ms(self.baseline.reads_p99)),
            format!("<= {}", ms(read_limit)),
            reads <= read_limit,
        );
        row.check(
            "writes p99 during the fault",
            format!("{} (baseline {})", ms(writes), ms(self.baseline.writes_p99)),
            format!("<= {}", ms(write_limit)),
            writes <= write_limit,
        );
    }
}
