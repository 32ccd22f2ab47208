//! Row `webhook-endpoint-down`: a receiver subscribed to every event of both services is
//! down for 10 s under the 80/20 load: it answers 503 for 5 s, then listens no more for 5 s,
//! then comes back. Every event the services logged during the row must reach it (retried
//! on the services' short schedule), each object's in `sequence` order, every signature
//! good; duplicates are counted, which at-least-once allows. The load's answers must not
//! notice the endpoint at all.

use std::time::Duration;

use super::measure::{Tally, writes_mix};
use super::webhooks::{Subscription, path_of};
use super::{RowResult, Suite};
use crate::outcome::{Service, unix_ms};
use crate::receiver::Answer;

/// How long after the load every event must have been delivered.
const DELIVERED_WITHIN: Duration = Duration::from_secs(60);

impl Suite {
    pub(super) async fn webhook_endpoint_down(
        &mut self,
        row: &mut RowResult,
    ) -> anyhow::Result<()> {
        let mut subscription = self.subscribe().await?;
        let result = self.endpoint_down(row, &mut subscription).await;
        let unsubscribed = self.unsubscribe(&subscription).await;
        result.and(unsubscribed)
    }

    async fn endpoint_down(
        &mut self,
        row: &mut RowResult,
        subscription: &mut Subscription,
    ) -> anyhow::Result<()> {
        let phases = [("before", 3.0), ("fault", 10.0), ("after", 5.0)];
        let driver = self
            .drive_loaded("webhook-endpoint-down", &phases, writes_mix())
            .await?;
        let receiver = &mut subscription.receiver;
        driver.until(3.0).await;
        let down = unix_ms();
        receiver.answer(Answer::Unavailable);
        driver.until(8.0).await;
        receiver.close().await;
        let closed = unix_ms();
        driver.until(13.0).await;
        receiver.answer(Answer::Ok(Duration::ZERO));
        receiver.open().await?;
        let back = unix_ms();
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        let deliveries = self
            .await_deliveries(subscription, DELIVERED_WITHIN)
            .await?;

        let receipts = subscription.receiver.receipts();
        let answered_503 = receipts.iter().filter(|r| r.status == 503).count();
        let mut unanswered = 0;
        for service in [Service::Customers, Service::Invoices] {
            let attempts = self.attempts_since(subscription, service, down).await?;
            row.figure(
                &format!("attempts{}", path_of(service).replace('/', "_")),
                serde_json::json!(attempts),
            );
            unanswered += attempts.unanswered;
        }
        row.figure("down_ms", back - down);
        row.figure("answering_503_ms", closed - down);
        row.figure("answered_503", answered_503);
        row.figure("tracked_writes", tally.tracked);
        row.check(
            "deliveries tried while the receiver was down",
            format!("{answered_503} answered 503, {unanswered} found nothing listening"),
            ">= 1 of each",
            answered_503 > 0 && unanswered > 0,
        );
        deliveries.judge(row);
        row.check(
            "non-2xx answers to the load",
            tally.failures_by_kind(),
            "0",
            tally.failures() == 0,
        );
        Ok(())
    }
}
