//! Row `redis-paused`: redis-server frozen (SIGSTOP) for 10 s under the 80/20 load. A
//! Redis that holds connections open without answering must cost no 5xx and no request
//! over 1 s.

use std::time::Duration;

use super::fault::Fault;
use super::measure::{Tally, reads_p99, writes_mix, writes_p99};
use super::{RowResult, Suite};
use crate::procs::Member;
use crate::report::ms;

impl Suite {
    pub(super) async fn redis_paused(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let phases = [("before", 2.0), ("fault", 12.0), ("after", 4.0)];
        let driver = self
            .drive_loaded("redis-paused", &phases, writes_mix())
            .await?;
        let redis = Fault::Pause(Member::Redis);
        self.fault(&driver, redis, 3.0, 13.0).await?;
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        row.figure("reads", tally.reads);
        row.figure("tracked_writes", tally.tracked);
        row.figure("non_2xx", tally.failures());
        row.figure("fault_reads_p99_ms", reads_p99(&report, "fault"));
        row.figure("fault_writes_p99_ms", writes_p99(&report, "fault"));
        let server_errors = tally.read_server_errors + tally.tracked_server_errors;
        row.check(
            "5xx answers (or no answer)",
            format!(
                "{server_errors} ({} reads, {} writes)",
                tally.read_server_errors, tally.tracked_server_errors
            ),
            "0",
            server_errors == 0,
        );
        let slowest = tally.read_max_ms.max(tally.tracked_max_ms);
        row.check(
            "slowest request (from its due time)",
            format!(
                "{} (reads {}, writes {})",
                ms(slowest),
                ms(tally.read_max_ms),
                ms(tally.tracked_max_ms)
            ),
            "<= 1000.0 ms",
            slowest <= 1000.0,
        );
        Ok(())
    }
}
