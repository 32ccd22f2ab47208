//! Row `idempotent-retries`: 100 runs of POSTs, each retried with one `Idempotency-Key`
//! until acknowledged (and once more after), while MongoDB is killed twice and frozen once.
//! Each key must make one invoice and one customer, answered with the same id every time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;

use super::fault::Fault;
use super::{RowResult, Suite};
use crate::drive::{IdempotentRuns, Mix};
use crate::ledger::{self, Ledger};
use crate::outcome::{Op, Outcome};
use crate::procs::Member;

impl Suite {
    pub(super) async fn idempotent_retries(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let runs = 100;
        let mut spec = self.loaded_spec("idempotent", &[("runs", 14.0)], Mix::default());
        spec.tracked = None;
        spec.idempotent = Some(IdempotentRuns {
            runs,
            per_second: 8.0,
            customer_id: self.customers[0].clone(),
            retry_ms: 250,
            give_up_ms: 60_000,
        });
        let driver = self.spawn("idempotent-retries", &spec).await?;
        let (kill, pause) = (Fault::Kill(Member::Mongo), Fault::Pause(Member::Mongo));
        self.fault(&driver, kill, 1.5, 4.5).await?;
        self.fault(&driver, pause, 6.5, 9.5).await?;
        self.fault(&driver, kill, 11.0, 13.0).await?;
        let report = self.finish(driver, Duration::from_secs(120)).await?;

        // This row's own writes against the store, to report its figures apart.
        let mut own = Ledger::default();
        own.add(report.outcomes.iter().cloned());
        let store = self.read_store().await?;
        let check = ledger::check_store(&own, &store);
        for op in [Op::IdempotentInvoice, Op::IdempotentCustomer] {
            let name = if op == Op::IdempotentInvoice {
                "invoices"
            } else {
                "customers"
            };
            let attempts: Vec<&Outcome> = report.outcomes.iter().filter(|o| o.op == op).collect();
            check_runs(row, name, runs, &attempts);
        }
        for example in check.examples.iter().take(5) {
            println!("reliability:   idempotency: {example}");
        }
        row.check(
            "duplicates (per key, invoices and customers)",
            check.duplicates,
            "0",
            check.duplicates == 0,
        );
        row.check(
            "acknowledged writes missing",
            format!("{} of {}", check.missing, check.acknowledged_checked),
            "0",
            check.missing == 0,
        );
        row.check(
            "failed runs present",
            check.failed_but_present,
            "0",
            check.failed_but_present == 0,
        );
        Ok(())
    }
}

/// The figures and checks of the `runs` runs of one kind (`name`: invoices or customers),
/// from every attempt of them.
fn check_runs(row: &mut RowResult, name: &str, runs: usize, attempts: &[&Outcome]) {
    let keys: BTreeSet<&str> = attempts.iter().filter_map(|o| o.value.as_deref()).collect();
    let acknowledged: BTreeSet<&str> = attempts
        .iter()
        .filter(|o| o.is_success())
        .filter_map(|o| o.value.as_deref())
        .collect();
    row.figure(&format!("{name}_attempts"), attempts.len());
    row.figure(
        &format!("{name}_max_attempts"),
        attempts.iter().map(|o| o.attempt).max().unwrap_or(0),
    );
    row.figure(
        &format!("{name}_replayed"),
        attempts.iter().filter(|o| o.replayed).count(),
    );
    row.figure(
        &format!("{name}_503"),
        attempts.iter().filter(|o| o.status == Some(503)).count(),
    );
    row.figure(
        &format!("{name}_409_in_use"),
        attempts
            .iter()
            .filter(|o| o.code.as_deref() == Some("idempotency_key_in_use"))
            .count(),
    );
    row.figure(
        &format!("{name}_500"),
        attempts.iter().filter(|o| o.status == Some(500)).count(),
    );
    let finals: Vec<String> = attempts
        .iter()
        .filter(|o| !o.is_success() && !matches!(o.status, Some(503 | 409 | 429) | None))
        .map(|o| format!("{:?} {:?}", o.status, o.code))
        .collect();
    if !finals.is_empty() {
        row.figure(&format!("{name}_final_failures"), json!(finals));
    }
    let mut ids: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for attempt in attempts.iter().filter(|o| o.is_success()) {
        if let (Some(key), Some(id)) = (attempt.value.as_deref(), attempt.created_id.as_deref()) {
            ids.entry(key).or_default().push(id);
        }
    }
    let retried: Vec<&Vec<&str>> = ids.values().filter(|v| v.len() >= 2).collect();
    let same = retried
        .iter()
        .filter(|v| v.iter().all(|id| *id == v[0]))
        .count();
    row.check(
        &format!("retry after the acknowledgement: same id ({name})"),
        format!("{same} of {}", retried.len()),
        format!("{runs} of {runs}"),
        same == runs && retried.len() == runs,
    );
    row.check(
        &format!("runs acknowledged ({name})"),
        format!("{} of {}", acknowledged.len(), keys.len()),
        format!("{runs} of {runs}"),
        acknowledged.len() == runs && keys.len() == runs,
    );
}
