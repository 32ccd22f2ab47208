//! Rows `mongo-stopped` and `mongo-paused`: the MongoDB server killed for 15 s under load
//! and started again on its data, or frozen (SIGSTOP) for 10 s and continued. Requests that
//! need it must get a quick 503 (never a 500), cached reads must keep answering, and the
//! services must recover without a restart: within 15 s of a restart, and within 2 s of a
//! freeze's end, whose calls the services have shed rather than queued. A server killed
//! during writes must leave no event without its change and no change without its event.

use std::collections::BTreeMap;
use std::time::Duration;

use bench::load::LoadReport;

use super::fault::Fault;
use super::measure::{Tally, reads_of};
use super::{RowResult, Suite, UNAVAILABLE_WITHIN_MS};
use crate::drive::Mix;
use crate::ledger::Consistency;
use crate::outcome::{Outcome, unix_ms};
use crate::procs::Member;
use crate::report::ms;

/// How long the fault lasts, and how soon after it every second must be 99 % 2xx again.
struct Outage {
    fault: Fault,
    seconds: f64,
    recovery_within_s: f64,
    /// Whether the row judges the event logs against the records itself, beside the
    /// consistency check's count.
    events_criterion: bool,
}

impl Suite {
    pub(super) async fn mongo_stopped(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let outage = Outage {
            fault: Fault::Kill(Member::Mongo),
            seconds: 15.0,
            recovery_within_s: 15.0,
            events_criterion: true,
        };
        self.mongo_outage(row, outage).await
    }

    pub(super) async fn mongo_paused(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let outage = Outage {
            fault: Fault::Pause(Member::Mongo),
            seconds: 10.0,
            recovery_within_s: 2.0,
            events_criterion: false,
        };
        self.mongo_outage(row, outage).await
    }

    async fn mongo_outage(&mut self, row: &mut RowResult, plan: Outage) -> anyhow::Result<()> {
        let mix = Mix {
            patch: 4,
            create_invoice: 2,
            finalize: 1,
            create_customer: 1,
            read_customer: 1,
            list_invoices: 1,
            ..Mix::default()
        };
        let pids = (self.cluster.customers.pid(), self.cluster.invoices.pid());
        let (from, to) = (3.0, 3.0 + plan.seconds);
        let phases = [("before", 2.0), ("fault", to - 1.0), ("after", 30.0)];
        let name = row.row.clone();
        let mut driver = self.drive_loaded(&name, &phases, mix).await?;
        driver.until(from).await;
        let stopped = unix_ms();
        self.begin(plan.fault)?;
        driver.until(from + 2.0).await;
        let mut ready = vec![self.ready_statuses().await];
        driver.until(to - 3.0).await;
        ready.push(self.ready_statuses().await);
        driver.until(to).await;
        self.end(plan.fault).await?;
        let back = unix_ms();
        // Watch until five calm seconds in a row (or 25 s), to see the whole recovery.
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let ticks: Vec<_> = driver
                .ticks()
                .into_iter()
                .filter(|t| t.t_ms > back + 1000)
                .collect();
            let calm = ticks.len() >= 5
                && ticks[ticks.len() - 5..]
                    .iter()
                    .all(|t| t.failed == 0 && t.reads_failed == 0 && t.ok > 0);
            if calm || unix_ms() > back + 25_000 || driver.has_exited() {
                break;
            }
        }
        driver.stop();
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        row.figure("down_ms", back - stopped);

        let outage: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.sent_ms >= stopped && o.sent_ms < back)
            .collect();
        let answered_503 = outage.iter().filter(|o| o.status == Some(503)).count();
        let wrong: Vec<&&Outcome> = outage
            .iter()
            .filter(|o| {
                !(o.is_success()
                    || (o.status == Some(503) && o.latency_ms <= UNAVAILABLE_WITHIN_MS))
            })
            .collect();
        let slowest_503 = outage
            .iter()
            .filter(|o| o.status == Some(503))
            .map(|o| o.latency_ms)
            .fold(0.0, f64::max);
        row.figure("outage_requests", outage.len());
        row.figure("outage_503", answered_503);
        row.figure("outage_slowest_503_ms", slowest_503);
        row.first_example("outage_first_wrong", &wrong);
        row.check(
            "requests needing MongoDB: 503 within 2.5 s",
            format!(
                "{answered_503} of {} got 503 (slowest {}); {} other",
                outage.len(),
                ms(slowest_503),
                wrong.len()
            ),
            "every non-2xx a 503 within 2500 ms",
            wrong.is_empty() && answered_503 > 0,
        );
        row.check(
            "500 answers",
            tally.tracked_500,
            "0",
            tally.tracked_500 == 0,
        );
        let fault_reads = reads_of(&report, "fault");
        row.check(
            "cached invoice reads while MongoDB is down",
            format!(
                "{} non-2xx of {} (whole run: {} of {})",
                fault_reads.map_or(0, LoadReport::failures),
                fault_reads.map_or(0, |r| r.requests),
                tally.read_failures,
                tally.reads
            ),
            "0 non-2xx",
            tally.read_failures == 0,
        );
        row.check(
            "/ready while MongoDB is down (customer, invoice)",
            format!("{ready:?}"),
            "503 each time",
            ready.iter().all(|r| *r == (503, 503)),
        );
        let recovery = recovery_after(&report.outcomes, back);
        let observed = report.ended_ms.saturating_sub(back) as f64 / 1000.0;
        row.figure("observed_after_return_s", observed);
        row.check(
            ">= 99% 2xx after MongoDB returns",
            format!("after {recovery:.0} s (observed {observed:.0} s)"),
            format!("<= {:.0} s", plan.recovery_within_s),
            recovery <= plan.recovery_within_s && observed >= recovery + 3.0,
        );
        let now = (self.cluster.customers.pid(), self.cluster.invoices.pid());
        let alive = self.cluster.customers.is_running() && self.cluster.invoices.is_running();
        row.check(
            "services not restarted",
            if now == pids && alive {
                "same processes"
            } else {
                "restarted"
            },
            "same processes",
            now == pids && alive,
        );
        if plan.events_criterion {
            let mut events = Consistency::default();
            self.check_event_logs(&mut events).await?;
            for example in events.examples.iter().take(5) {
                println!("reliability:   events: {example}");
            }
            row.figure("event_objects_checked", events.event_objects_checked);
            row.figure("events_checked", events.events_checked);
            row.check(
                "events match changes",
                events.events_summary(),
                "every record's events 1..=version, each once; deleted ones end deleted",
                events.event_problems == 0 && events.event_objects_checked > 0,
            );
        }
        Ok(())
    }
}

/// Seconds after `back` until every later 1-second window of tracked requests was at least
/// 99% 2xx.
fn recovery_after(outcomes: &[Outcome], back: u64) -> f64 {
    let mut windows: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for outcome in outcomes.iter().filter(|o| o.sent_ms >= back) {
        let window = windows.entry((outcome.sent_ms - back) / 1000).or_default();
        window.0 += 1;
        if outcome.is_success() {
            window.1 += 1;
        }
    }
    windows
        .iter()
        .filter(|(_, (all, ok))| (*ok as f64) < 0.99 * *all as f64)
        .map(|(second, _)| (second + 1) as f64)
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Op;

    fn at(sent_ms: u64, status: u16) -> Outcome {
        Outcome {
            latency_ms: 1.0,
            corrected_ms: 1.0,
            status: Some(status),
            ..Outcome::sent(Op::Patch, 0, sent_ms, sent_ms)
        }
    }

    #[test]
    fn recovery_ends_with_the_last_window_under_99_percent() {
        let outcomes = vec![at(1000, 503), at(1500, 200), at(3200, 503), at(4100, 200)];
        assert_eq!(recovery_after(&outcomes, 1000), 3.0);
        assert_eq!(recovery_after(&outcomes[3..], 1000), 0.0);
    }
}
