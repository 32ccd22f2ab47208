//! The two loops every instance runs: the relay, which copies events from the outbox into
//! the log and owes each to the endpoints that want it, and the deliverer, which claims owed
//! deliveries with a lease and sends them. Any instance may do either for any write, so a
//! killed one loses nothing: its outbox is relayed and its leases run out.

use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use tokio::sync::{Notify, watch};

use super::delivery::{Outcome, Schedule, Sender};
use super::store::{AttemptRecord, Delivery, DeliveryState, Endpoint, EndpointStatus};
use super::{Event, EventSettings, EventStore, Outbox, Projection};
use crate::store::StoreError;
use crate::time::now_ms;

/// How long a claimed delivery is its deliverer's: longer than any attempt takes.
const LEASE: Duration = Duration::from_secs(60);
/// How often an idle loop looks for work other instances left.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Records relayed per pass.
const BATCH: usize = 100;
/// How long a woken relay waits for the writes that follow before it relays them together.
const GATHER: Duration = Duration::from_millis(50);
/// How often old events and attempts are forgotten.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What both loops share.
pub struct Worker {
    pub store: Arc<dyn EventStore>,
    pub outbox: Arc<dyn Outbox>,
    pub sender: Sender,
    pub settings: EventSettings,
    /// Fed every relayed event, when the service keeps a copy of its records elsewhere.
    pub projection: Option<Arc<dyn Projection>>,
    /// Woken by a write, so its events go out at once rather than at the next poll.
    pub written: Notify,
    /// Woken when the relay owes something new.
    pub owed: Notify,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The longest a loop waits after failures in a row.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// How long a loop waits before it looks again: `IDLE_POLL`, doubled for each failure in a
/// row up to `MAX_BACKOFF`, so that a store that stopped answering is not asked again and
/// again while it is away.
fn wait_after(failures: u32) -> Duration {
    IDLE_POLL
        .saturating_mul(2_u32.saturating_pow(failures))
        .min(MAX_BACKOFF)
}

/// Waits for `wake` or `wait`; `false` once `stop` says so.
async fn idle(wake: &Notify, wait: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = wake.notified() => {}
        () = tokio::time::sleep(wait) => {}
        _ = stop.changed() => {}
    }
    !*stop.borrow()
}

impl Worker {
    /// Relays until `stop`.
    pub async fn relay(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut purged_at = std::time::Instant::now() - PURGE_EVERY;
        let mut failures = 0;
        loop {
            match self.relay_once().await {
                // A full batch: more may be waiting.
                Ok(relayed) if relayed == BATCH => {
                    failures = 0;
                    if *stop.borrow() {
                        return;
                    }
                    continue;
                }
                Ok(_) => failures = 0,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, "events not relayed yet; retrying");
                }
            }
            if purged_at.elapsed() >= PURGE_EVERY {
                purged_at = std::time::Instant::now();
                let before = now_ms() - millis(self.settings.retention);
                if let Err(error) = self.store.purge(before).await {
                    tracing::warn!(%error, "old events not purged yet");
                }
            }
            if !idle(&self.written, wait_after(failures), &mut stop).await {
                return;
            }
            // The writes of the next moment join this pass: one pass per burst of writes
            // rather than one per write, which would multiply the store's work.
            tokio::time::sleep(GATHER).await;
        }
    }

    /// One pass: how many records' outboxes it emptied.
    pub async fn relay_once(&self) -> Result<usize, StoreError> {
        self.catch_up_projection().await?;
        let pending = self.outbox.pending(BATCH).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let endpoints: Vec<Endpoint> = self.store.endpoints(None, 10_000).await?;
        let now = now_ms();
        let mut owed = false;
        let mut unprojected = Vec::new();
        for record in &pending {
            for event in &record.events {
                self.store.append(event).await?;
                for endpoint in endpoints
                    .iter()
                    .filter(|e| event.wanted_by(&e.enabled_events))
                {
                    let mut delivery = Delivery::new(endpoint.id, event, now);
                    // Owed to a disabled endpoint as failed, so that recovering it catches up.
                    if endpoint.status == EndpointStatus::Disabled {
                        delivery.state = DeliveryState::Failed;
                    }
                    self.store.enqueue(&delivery).await?;
                    owed = true;
                }
            }
            if let Some(last) = record.events.last() {
                if !self.project(last).await {
                    unprojected.push(last.clone());
                }
            }
        }
        // What the projection could not take waits in the store before the outboxes empty.
        if !unprojected.is_empty() {
            metrics::counter!("projection_deferred_total").increment(unprojected.len() as u64);
            self.store.owe_projection(&unprojected).await?;
        }
        for record in &pending {
            self.outbox.settle(record).await?;
        }
        if owed {
            self.owed.notify_one();
        }
        Ok(pending.len())
    }

    /// Feeds the projection a record's newest state; `false` when it cannot take it now.
    async fn project(&self, event: &Event) -> bool {
        match &self.projection {
            Some(projection) => projection.apply(event).await,
            None => true,
        }
    }

    /// Applies what earlier passes, here or on another instance, could not.
    async fn catch_up_projection(&self) -> Result<(), StoreError> {
        let Some(projection) = &self.projection else {
            return Ok(());
        };
        let mut taken = Vec::new();
        for event in self.store.owed_projections(BATCH).await? {
            if !projection.apply(&event).await {
                break;
            }
            taken.push(event.id);
        }
        if taken.is_empty() {
            return Ok(());
        }
        self.store.projected(&taken).await
    }

    /// Delivers until `stop`.
    pub async fn deliver(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut failures = 0;
        loop {
            match self.store.claim(now_ms(), millis(LEASE)).await {
                Ok(Some(delivery)) => {
                    failures = 0;
                    if let Err(error) = self.attempt(delivery).await {
                        tracing::warn!(%error, "delivery not settled; its lease will run out");
                    }
                    if *stop.borrow() {
                        return;
                    }
                    continue;
                }
                Ok(None) => failures = 0,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, "deliveries not claimed yet; retrying");
                }
            }
            if !idle(&self.owed, wait_after(failures), &mut stop).await {
                return;
            }
        }
    }

    async fn attempt(&self, mut delivery: Delivery) -> Result<(), StoreError> {
        let now = now_ms();
        delivery.updated_ms = now;
        // In order per object: a later event waits while an earlier one is owed.
        if let Some(due) = self.store.earlier_pending(&delivery).await? {
            delivery.next_attempt_ms = due.max(now) + 100;
            self.store.settle(&delivery).await?;
            return Ok(());
        }
        let endpoint = match ObjectId::parse_str(&delivery.endpoint_id) {
            Ok(id) => self.store.endpoint(id).await?,
            Err(_) => None,
        };
        let event = match ObjectId::parse_str(&delivery.event_id) {
            Ok(id) => self.store.event(id).await?,
            Err(_) => None,
        };
        let (Some(endpoint), Some(event)) = (endpoint, event) else {
            delivery.state = DeliveryState::Failed;
            self.store.settle(&delivery).await?;
            return Ok(());
        };
        if endpoint.status != EndpointStatus::Enabled {
            delivery.state = DeliveryState::Failed;
            self.store.settle(&delivery).await?;
            return Ok(());
        }
        let outcome = self
            .sender
            .send(&endpoint, &event.id.to_hex(), &event.to_json()?)
            .await;
        self.store
            .record_attempt(&AttemptRecord {
                id: ObjectId::new(),
                endpoint_id: endpoint.id,
                event_id: event.id,
                attempted_at: chrono::Utc::now(),
                status_code: outcome.status,
                latency_ms: u64::try_from(outcome.latency.as_millis()).unwrap_or(u64::MAX),
                error: outcome.error.clone(),
            })
            .await?;
        metrics::counter!(
            "webhook_attempts_total",
            "result" => if outcome.delivered() { "delivered" } else { "failed" }
        )
        .increment(1);
        delivery.attempts += 1;
        let verdict = next_step(&outcome, delivery.attempts, &self.settings.retry_schedule);
        match verdict {
            Next::Done => delivery.state = DeliveryState::Delivered,
            Next::Retry(wait) => delivery.next_attempt_ms = now_ms() + millis(wait),
            Next::GiveUp | Next::Disable => delivery.state = DeliveryState::Failed,
        }
        self.store.settle(&delivery).await?;
        self.note_health(endpoint, &outcome, verdict == Next::Disable)
            .await
    }

    /// Keeps the endpoint's run of failures: cleared by a success, and disabling it when it
    /// answers `410 Gone` or has failed for too long.
    async fn note_health(
        &self,
        endpoint: Endpoint,
        outcome: &Outcome,
        gone: bool,
    ) -> Result<(), StoreError> {
        let now = chrono::Utc::now();
        let mut next = endpoint.clone();
        if outcome.delivered() {
            next.failing_since = None;
        } else {
            let since = *next.failing_since.get_or_insert(now);
            let too_long = chrono::Duration::from_std(self.settings.disable_after)
                .is_ok_and(|limit| now - since >= limit);
            if gone || too_long {
                next.status = EndpointStatus::Disabled;
                next.disabled_reason = Some(if gone {
                    "the endpoint answered 410 Gone".into()
                } else {
                    "every attempt failed for too long".into()
                });
            }
        }
        if next == endpoint {
            return Ok(());
        }
        next.version = endpoint.version + 1;
        next.updated_at = now;
        // Another writer's change wins; the next attempt notes health again.
        self.store.replace_endpoint(endpoint.version, &next).await?;
        if next.status == EndpointStatus::Disabled {
            tracing::warn!(endpoint = %next.id, "webhook endpoint disabled");
            self.store.fail_pending(next.id, now_ms()).await?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Done,
    Retry(Duration),
    GiveUp,
    Disable,
}

fn next_step(outcome: &Outcome, attempts: i64, schedule: &Schedule) -> Next {
    if outcome.delivered() {
        return Next::Done;
    }
    if outcome.gone() {
        return Next::Disable;
    }
    match schedule.delay_after(attempts) {
        Some(delay) => Next::Retry(outcome.retry_after.unwrap_or(delay)),
        None => Next::GiveUp,
    }
}

/// Starts both loops; the returned future stops them and waits for them to finish.
pub fn start(worker: Arc<Worker>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(worker.clone().relay(stopped.clone()));
    let deliver = tokio::spawn(worker.deliver(stopped));
    async move {
        let _ = stop.send(true);
        let both = async {
            let _ = relay.await;
            let _ = deliver.await;
        };
        if tokio::time::timeout(Duration::from_secs(5), both)
            .await
            .is_err()
        {
            tracing::warn!("event loops did not stop within 5 s");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: Option<u16>, retry_after: Option<u64>) -> Outcome {
        Outcome {
            status,
            latency: Duration::ZERO,
            error: None,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn loops_back_off_while_the_store_fails() {
        assert_eq!(wait_after(0), IDLE_POLL);
        assert_eq!(wait_after(1), IDLE_POLL * 2);
        assert_eq!(wait_after(3), IDLE_POLL * 8);
        assert_eq!(wait_after(5), MAX_BACKOFF);
        assert_eq!(wait_after(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn answers_decide_the_next_step() {
        let schedule: Schedule = "1s,2s".parse().unwrap();
        assert_eq!(
            next_step(&outcome(Some(204), None), 1, &schedule),
            Next::Done
        );
        assert_eq!(
            next_step(&outcome(Some(410), None), 1, &schedule),
            Next::Disable
        );
        assert_eq!(
            next_step(&outcome(Some(429), Some(7)), 1, &schedule),
            Next::Retry(Duration::from_secs(7))
        );
        assert!(
            matches!(next_step(&outcome(None, None), 2, &schedule), Next::Retry(d) if d >= Duration::from_secs(2))
        );
        assert_eq!(
            next_step(&outcome(Some(500), None), 3, &schedule),
            Next::GiveUp
        );
    }
}
