//! Rows `sigterm-invoice` and `sigterm-customer`: SIGTERM to one service under load, with
//! requests held in flight (MongoDB frozen around the signal). Every request it accepted
//! before the signal must complete 2xx, and it must exit cleanly within 10 s.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::measure::LANES;
use super::system::{log_len, panics_after};
use super::{RowResult, Suite};
use crate::drive::Mix;
use crate::outcome::{Failure, Outcome, Service, unix_ms};

/// A request sent at least this long before SIGTERM counts as accepted before it: by then
/// the service has read it off the socket (see docs/reliability.md).
const ACCEPTED_MARGIN_MS: u64 = 20;

impl Suite {
    pub(super) async fn sigterm(
        &mut self,
        row: &mut RowResult,
        service: Service,
    ) -> anyhow::Result<()> {
        let (name, mix) = match service {
            Service::Invoices => (
                "sigterm-invoice",
                Mix {
                    patch: 4,
                    create_invoice: 2,
                    read_invoice: 4,
                    ..Mix::default()
                },
            ),
            Service::Customers => (
                "sigterm-customer",
                Mix {
                    create_customer: 5,
                    read_customer: 5,
                    ..Mix::default()
                },
            ),
        };
        let mut spec = self.loaded_spec(name, &[("before", 3.0), ("after", 9.0)], mix);
        spec.reads = None;
        if let Some(tracked) = &mut spec.tracked {
            tracked.rate = self.settings.rate / 2.0;
            tracked.lanes = 2 * LANES;
        }
        let driver = self.spawn(name, &spec).await?;
        // MongoDB is frozen for 0.5 s around the signal, so that requests are held in
        // flight inside the service when SIGTERM arrives.
        driver.until(3.0).await;
        self.cluster.mongo.signal("STOP")?;
        driver.until(3.3).await;
        let signalled = unix_ms();
        let proc = self.cluster.proc(service.into());
        let log = proc.log_path().to_path_buf();
        let offset = log_len(&log);
        proc.signal("TERM")?;
        driver.until(3.5).await;
        self.cluster.mongo.signal("CONT")?;
        let proc = self.cluster.proc(service.into());
        let deadline = Instant::now() + Duration::from_secs(15);
        let exited = loop {
            if !proc.is_running() {
                break Some(unix_ms() - signalled);
            }
            if Instant::now() >= deadline {
                proc.kill();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let exit_status = proc.exit_status();
        let panics = panics_after(&log, offset);
        self.cluster.start(service.into()).await?;
        let restarted = unix_ms();
        let report = self.finish(driver, Duration::from_secs(60)).await?;

        let own: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.op.service() == service)
            .collect();
        let accepted: Vec<&&Outcome> = own
            .iter()
            .filter(|o| o.sent_ms + ACCEPTED_MARGIN_MS <= signalled)
            .collect();
        let in_flight = accepted
            .iter()
            .filter(|o| o.answered_ms() > signalled as f64)
            .count();
        let failed: Vec<&&&Outcome> = accepted.iter().filter(|o| !o.is_success()).collect();
        let resets = accepted
            .iter()
            .filter(|o| o.failure == Some(Failure::Io))
            .count();
        let late: Vec<&&Outcome> = own
            .iter()
            .filter(|o| o.sent_ms + ACCEPTED_MARGIN_MS > signalled && o.sent_ms <= signalled)
            .collect();
        let after_signal = own
            .iter()
            .filter(|o| o.sent_ms > signalled && o.sent_ms < restarted)
            .count();
        row.figure("exit_ms", exited);
        row.figure("exit_status", exit_status.map(|s| s.to_string()));
        row.figure("restart_ms", restarted - signalled);
        row.figure("accepted_before_signal", accepted.len());
        row.figure("in_flight_at_signal", in_flight);
        row.figure(
            "sent_within_margin_before_signal",
            json!({
                "margin_ms": ACCEPTED_MARGIN_MS,
                "sent": late.len(),
                "failed": late.iter().filter(|o| !o.is_success()).count(),
            }),
        );
        row.figure("sent_while_down", after_signal);
        row.first_example("first_failed_accepted", &failed);
        row.check(
            "requests accepted before the signal complete",
            format!(
                "{} of {} 2xx ({in_flight} in flight at the signal)",
                accepted.len() - failed.len(),
                accepted.len()
            ),
            "all 2xx, >= 1 in flight",
            failed.is_empty() && in_flight > 0,
        );
        row.check("connection resets among them", resets, "0", resets == 0);
        row.check(
            "exit after SIGTERM",
            exited.map_or_else(|| "not within 15 s".to_owned(), |ms| format!("{ms} ms")),
            "<= 10000 ms",
            exited.is_some_and(|ms| ms <= 10_000),
        );
        let clean = exit_status.is_some_and(|s| s.success()) && panics == 0;
        row.check(
            "clean exit",
            format!(
                "{}, {panics} panics",
                exit_status.map_or_else(|| "killed".to_owned(), |s| s.to_string())
            ),
            "exit status 0, 0 panics",
            clean,
        );
        Ok(())
    }
}
