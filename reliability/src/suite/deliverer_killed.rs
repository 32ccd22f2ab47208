//! Row `deliverer-killed`: invoice-service, then customer-service, killed (SIGKILL) with a
//! delivery to the receiver in flight, and started again, under the 80/20 load. The
//! receiver answers after 200 ms meanwhile, so that a delivery is always in flight. The
//! killed attempt's 60 s lease must run out and its event be sent again; every event the
//! services logged during the row must arrive, each object's in `sequence` order.

use std::time::Duration;

use anyhow::bail;
use serde::Serialize;
use tokio::time::Instant;

use super::measure::writes_mix;
use super::webhooks::{Subscription, path_of};
use super::{RowResult, Suite};
use crate::outcome::{Service, unix_ms};
use crate::receiver::{Answer, Arrival};

/// How long the receiver takes to answer while the services are killed.
const SLOW: Duration = Duration::from_millis(200);
/// An attempt that has been in flight for less than this is killed before its answer.
const FRESH_MS: u64 = 100;
/// How long after the load every event must have been delivered: the killed attempts'
/// 60 s lease, and the backlog behind them.
const DELIVERED_WITHIN: Duration = Duration::from_secs(90);

/// One service killed mid-delivery.
#[derive(Debug, Clone, Serialize)]
struct Kill {
    service: Service,
    killed_ms: u64,
    /// Requests the receiver had got before the kill.
    arrived_before: u64,
    /// The deliveries in flight at the kill.
    in_flight: Vec<String>,
    restart_ms: u64,
}

impl Suite {
    pub(super) async fn deliverer_killed(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let mut subscription = self.subscribe().await?;
        let result = self.kill_deliverers(row, &mut subscription).await;
        let unsubscribed = self.unsubscribe(&subscription).await;
        result.and(unsubscribed)
    }

    async fn kill_deliverers(
        &mut self,
        row: &mut RowResult,
        subscription: &mut Subscription,
    ) -> anyhow::Result<()> {
        let phases = [("before", 3.0), ("fault", 10.0), ("after", 4.0)];
        let driver = self
            .drive_loaded("deliverer-killed", &phases, writes_mix())
            .await?;
        driver.until(3.0).await;
        subscription.receiver.answer(Answer::Ok(SLOW));
        let mut kills = Vec::new();
        for (service, at) in [(Service::Invoices, 4.0), (Service::Customers, 8.0)] {
            driver.until(at).await;
            kills.push(self.kill_mid_delivery(subscription, service).await?);
        }
        driver.until(12.0).await;
        subscription.receiver.answer(Answer::Ok(Duration::ZERO));
        self.finish(driver, Duration::from_secs(60)).await?;
        let deliveries = self
            .await_deliveries(subscription, DELIVERED_WITHIN)
            .await?;

        let receipts = subscription.receiver.receipts();
        let mut again = Vec::new();
        for kill in &kills {
            for id in &kill.in_flight {
                let redelivered = receipts.iter().find(|r| {
                    r.number >= kill.arrived_before
                        && r.path == path_of(kill.service)
                        && r.event_id == *id
                        && r.delivered()
                });
                again.push(redelivered.map(|r| r.arrived_ms.saturating_sub(kill.killed_ms)));
            }
        }
        row.figure("kills", serde_json::json!(kills));
        row.figure("in_flight_sent_again_after_ms", serde_json::json!(again));
        let in_flight: Vec<String> = kills
            .iter()
            .map(|k| {
                format!(
                    "{:?}: {} in flight, serving again after {} ms",
                    k.service,
                    k.in_flight.len(),
                    k.restart_ms
                )
            })
            .collect();
        row.check(
            "SIGKILL with a delivery in flight",
            in_flight.join("; "),
            ">= 1 in flight at each kill",
            kills.iter().all(|k| !k.in_flight.is_empty()),
        );
        let sent_again = again.iter().flatten().count();
        let after: Vec<String> = again
            .iter()
            .map(|a| {
                a.map_or_else(
                    || "never".to_owned(),
                    |ms| format!("{:.1} s", ms as f64 / 1000.0),
                )
            })
            .collect();
        row.check(
            "deliveries in flight at the kill sent again",
            format!(
                "{sent_again} of {} (after {})",
                again.len(),
                after.join(", ")
            ),
            "all, once the 60 s lease runs out",
            sent_again == again.len() && !again.is_empty(),
        );
        deliveries.judge(row);
        Ok(())
    }

    /// Waits (up to 5 s) for a delivery from `service` that has just arrived, kills the
    /// service before the receiver answers it, and starts it again.
    async fn kill_mid_delivery(
        &mut self,
        subscription: &Subscription,
        service: Service,
    ) -> anyhow::Result<Kill> {
        let receiver = &subscription.receiver;
        let path = path_of(service);
        let deadline = Instant::now() + Duration::from_secs(5);
        let fresh = |arrivals: Vec<Arrival>| -> Vec<String> {
            let now = unix_ms();
            arrivals
                .into_iter()
                .filter(|a| a.arrived_ms + FRESH_MS > now)
                .map(|a| a.event_id)
                .collect()
        };
        let in_flight = loop {
            let in_flight = fresh(receiver.in_flight(path));
            if !in_flight.is_empty() {
                break in_flight;
            }
            if Instant::now() >= deadline {
                bail!("no delivery from {path} in flight within 5 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let arrived_before = receiver.arrived();
        let killed_ms = unix_ms();
        self.cluster.proc(service.into()).kill();
        self.cluster.start(service.into()).await?;
        Ok(Kill {
            service,
            killed_ms,
            arrived_before,
            in_flight,
            restart_ms: unix_ms() - killed_ms,
        })
    }
}
