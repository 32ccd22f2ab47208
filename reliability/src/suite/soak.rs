//! Row `soak`: a long run of mixed requests at a steady rate. Every request must be
//! answered 2xx, and neither service's memory may grow by more than 10% from the first
//! quarter of the run to the last.

use std::time::Duration;

use serde_json::json;

use super::measure::{Tally, reads_of, writes_mix};
use super::{RowResult, Suite};
use crate::outcome::quantile;

impl Suite {
    pub(super) async fn soak(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let requests = self.settings.soak_requests;
        let rate = self.settings.soak_rate;
        let seconds = requests as f64 / rate;
        let spec = self.mixed_spec("soak", &[("soak", seconds)], writes_mix(), rate);
        let mut driver = self.spawn("soak", &spec).await?;
        let mut samples: Vec<(u64, u64)> = Vec::new();
        // Every 10 s: RSS of both services and the machine's load, to tell a leak from a
        // high-water mark left by a stretch when others took the cores.
        let mut timeline = Vec::new();
        let pids = (self.cluster.customers.pid(), self.cluster.invoices.pid());
        let mut every = tokio::time::interval(Duration::from_secs(1));
        while !driver.has_exited() {
            every.tick().await;
            if let (Some(c), Some(i)) = pids
                && let (Ok(c), Ok(i)) = (bench::process::memory(c), bench::process::memory(i))
            {
                samples.push((c.rss_kib, i.rss_kib));
                if samples.len() % 10 == 1 {
                    timeline.push(json!({
                        "s": samples.len() - 1,
                        "customer_rss_kib": c.rss_kib,
                        "invoice_rss_kib": i.rss_kib,
                        "load_average": bench::process::load_average(),
                    }));
                }
            }
        }
        row.figure("timeline", json!(timeline));
        let report = self
            .finish(driver, Duration::from_secs_f64(seconds + 120.0))
            .await?;
        let tally = Tally::of(&report);
        let answered = tally.reads + tally.tracked;
        row.figure("requests_planned", requests);
        row.figure("requests_answered", answered);
        row.figure("rate_per_second", rate);
        if let Some(reads) = reads_of(&report, "soak") {
            row.figure("reads", json!(reads));
        }
        let mut writes: Vec<f64> = report.outcomes.iter().map(|o| o.corrected_ms).collect();
        row.figure("tracked_p99_ms", quantile(&mut writes, 0.99));
        row.check(
            "requests answered",
            answered,
            format!(">= {}", requests.saturating_sub(100)),
            answered + 100 >= requests,
        );
        row.check(
            "errors (non-2xx or no answer)",
            tally.failures_by_kind(),
            "0",
            tally.failures() == 0,
        );
        for (index, name) in [(0, "customer-service"), (1, "invoice-service")] {
            let series: Vec<f64> = samples
                .iter()
                .map(|s| if index == 0 { s.0 } else { s.1 } as f64)
                .collect();
            check_rss_growth(row, name, &series);
        }
        Ok(())
    }
}

/// Mean RSS of the last quarter of `series` (KiB, one sample a second) against the first.
fn check_rss_growth(row: &mut RowResult, name: &str, series: &[f64]) {
    let quarter = (series.len() / 4).max(1);
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
    let first = mean(&series[..quarter.min(series.len())]);
    let last = mean(&series[series.len().saturating_sub(quarter)..]);
    let growth = if first > 0.0 { last / first - 1.0 } else { 0.0 };
    row.figure(
        &format!("{name}_rss_kib"),
        json!({"first_quarter": first, "last_quarter": last, "samples": series.len()}),
    );
    row.check(
        &format!("RSS growth, {name}"),
        format!(
            "{:.1}% ({:.1} -> {:.1} MiB)",
            growth * 100.0,
            first / 1024.0,
            last / 1024.0
        ),
        "<= 10%",
        growth <= 0.10 && series.len() >= 4,
    );
}
