//! Row `baseline`: the 80/20 load alone, the reference for the latency of the fault rows.

use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use super::measure::{Tally, reads_of, writes_mix, writes_p99};
use super::{Baseline, RowResult, Suite};
use crate::report::ms;

impl Suite {
    pub(super) async fn baseline(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let driver = self
            .drive_loaded("baseline", &[("baseline", 10.0)], writes_mix())
            .await?;
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        let reads = reads_of(&report, "baseline").context("no reads")?;
        self.baseline = Baseline {
            reads_p99: reads.latency.p99_ms,
            writes_p99: writes_p99(&report, "baseline"),
        };
        row.figure("reads", json!(reads));
        row.figure("reads_p99_ms", self.baseline.reads_p99);
        row.figure("writes_p99_ms", self.baseline.writes_p99);
        row.figure("tracked_writes", tally.tracked);
        row.check("reads p99", ms(reads.latency.p99_ms), "reference", true);
        row.check(
            "writes p99",
            ms(self.baseline.writes_p99),
            "reference",
            true,
        );
        row.check(
            "non-2xx answers",
            tally.failures(),
            "0",
            tally.failures() == 0,
        );
        Ok(())
    }
}
