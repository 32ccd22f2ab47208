//! Row `customer-service-down`: customer-service killed for 5 s, then frozen (SIGSTOP) for
//! 5 s, under invoice load. Creating an invoice needs it, so those must get a quick 503;
//! reads of existing invoices must not notice.

use std::time::Duration;

use super::fault::Fault;
use super::measure::Tally;
use super::{RowResult, Suite, UNAVAILABLE_WITHIN_MS};
use crate::drive::Mix;
use crate::outcome::{Op, Outcome};
use crate::procs::Member;
use crate::report::ms;

impl Suite {
    pub(super) async fn customer_service_down(
        &mut self,
        row: &mut RowResult,
    ) -> anyhow::Result<()> {
        let mix = Mix {
            create_invoice: 5,
            patch: 3,
            read_invoice: 2,
            ..Mix::default()
        };
        let spec = self.loaded_spec(
            "customer-down",
            &[("before", 2.0), ("fault", 14.0), ("after", 5.0)],
            mix,
        );
        let driver = self.spawn("customer-service-down", &spec).await?;
        let customers = Member::Customers;
        let (killed, restarted) = self
            .fault(&driver, Fault::Kill(customers), 3.0, 8.0)
            .await?;
        let (paused, continued) = self
            .fault(&driver, Fault::Pause(customers), 10.0, 15.0)
            .await?;
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);

        let down = |o: &Outcome| {
            (o.sent_ms >= killed && o.sent_ms < restarted)
                || (o.sent_ms >= paused && o.sent_ms < continued)
        };
        let creates: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.op == Op::CreateInvoice)
            .collect();
        let while_down: Vec<&&Outcome> = creates.iter().filter(|o| down(o)).collect();
        let answered_503 = while_down.iter().filter(|o| o.status == Some(503)).count();
        let wrong = while_down
            .iter()
            .filter(|o| {
                o.latency_ms > UNAVAILABLE_WITHIN_MS || !(o.is_success() || o.status == Some(503))
            })
            .count();
        let slowest = while_down.iter().map(|o| o.latency_ms).fold(0.0, f64::max);
        row.figure("killed_ms", restarted - killed);
        row.figure("paused_ms", continued - paused);
        row.check(
            "invoice creation while customer-service is down",
            format!(
                "{answered_503} of {} got 503, slowest {}; {wrong} other",
                while_down.len(),
                ms(slowest)
            ),
            "503 within 2500 ms",
            wrong == 0 && answered_503 > 0,
        );
        let tracked_reads: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.op == Op::ReadInvoice)
            .collect();
        let read_failures =
            tally.read_failures + tracked_reads.iter().filter(|o| !o.is_success()).count() as u64;
        row.check(
            "reads of existing invoices",
            format!(
                "{read_failures} non-2xx of {}",
                tally.reads + tracked_reads.len() as u64
            ),
            "0 non-2xx",
            read_failures == 0,
        );
        let after: Vec<&&Outcome> = creates
            .iter()
            .filter(|o| o.sent_ms >= continued + 1000)
            .collect();
        let after_ok = after.iter().filter(|o| o.is_success()).count();
        row.check(
            "creation once customer-service is back",
            format!("{after_ok} of {} 2xx", after.len()),
            "all 2xx",
            after_ok == after.len() && !after.is_empty(),
        );
        let patches_failed = report
            .outcomes
            .iter()
            .filter(|o| o.op == Op::Patch && !o.is_success())
            .count();
        row.figure("patch_failures", patches_failed);
        Ok(())
    }
}
