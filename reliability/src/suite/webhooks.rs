//! What the webhook rows share: the [`Receiver`] subscribed to every event of both services,
//! and what it got judged against the services' event logs (`GET /events`): every event
//! delivered, each object's first deliveries in `sequence` order, every signature good, and
//! the duplicates that at-least-once allows counted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, bail};
use bson::oid::ObjectId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{RowResult, Suite};
use crate::outcome::{Service, unix_ms};
use crate::procs::free_port;
use crate::receiver::{Receipt, Receiver};

const SERVICES: [Service; 2] = [Service::Customers, Service::Invoices];
/// How long the relays get to copy the row's last events into the logs.
const RELAYED_WITHIN: Duration = Duration::from_secs(30);

/// The path of each service's endpoint on the receiver.
pub(super) fn path_of(service: Service) -> &'static str {
    match service {
        Service::Customers => "/customer-service",
        Service::Invoices => "/invoice-service",
    }
}

/// The receiver and the endpoint of each service that sends to it.
pub(super) struct Subscription {
    pub(super) receiver: Receiver,
    endpoints: Vec<(Service, String)>,
    /// Unix ms once both endpoints existed: every event made from then on is owed to them.
    since_ms: u64,
}

/// One event of a service's log.
#[derive(Debug, Clone, Serialize)]
pub(super) struct LoggedEvent {
    service: Service,
    id: String,
    object_id: String,
    sequence: i64,
    #[serde(rename = "type")]
    kind: String,
    created_at: String,
}

/// The services' own record of the attempts at one endpoint, by what each found.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(super) struct Attempts {
    pub(super) delivered: u64,
    pub(super) answered_503: u64,
    /// No answer: nothing listening, or the connection dropped.
    pub(super) unanswered: u64,
    pub(super) other: u64,
}

/// What the receiver got of the events the services logged during the row.
#[derive(Debug, Default)]
pub(super) struct Deliveries {
    logged: usize,
    lost: Vec<LoggedEvent>,
    /// Requests the receiver answered, 2xx or not, and how many it answered 2xx again for
    /// an event it had already answered 2xx for.
    requests: usize,
    duplicates: usize,
    /// Requests that arrived but were cut off before their answer (the sender killed, or
    /// the receiver closed): a consumer that acts on arrival saw these too.
    cut_off: u64,
    bad_signatures: usize,
    /// Objects with a delivery, and the first deliveries that came after a later sequence.
    objects: usize,
    out_of_order: Vec<String>,
    waited_s: f64,
    within_s: f64,
}

impl Suite {
    fn url_of(&self, service: Service) -> String {
        match service {
            Service::Customers => self.customer_url(),
            Service::Invoices => self.invoice_url(),
        }
    }

    /// A receiver on a free port, subscribed to `*` on both services.
    pub(super) async fn subscribe(&self) -> anyhow::Result<Subscription> {
        let receiver = Receiver::start(free_port()?).await?;
        let mut endpoints = Vec::new();
        for service in SERVICES {
            let path = path_of(service);
            let response = self
                .http
                .post(format!("{}/webhook_endpoints", self.url_of(service)))
                .json(&json!({
                    "url": receiver.url(path),
                    "enabled_events": ["*"],
                    "description": "reliability suite receiver",
                }))
                .send()
                .await?;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            if status != 201 {
                bail!("POST /webhook_endpoints on {path} answered {status}: {body}");
            }
            let (Some(id), Some(secret)) = (body["id"].as_str(), body["secret"].as_str()) else {
                bail!("POST /webhook_endpoints answered no id or secret: {body}");
            };
            receiver.trust(path, secret);
            endpoints.push((service, id.to_owned()));
        }
        Ok(Subscription {
            receiver,
            endpoints,
            since_ms: unix_ms(),
        })
    }

    /// Deletes both endpoints, so that later rows' events are owed to nobody.
    pub(super) async fn unsubscribe(&self, subscription: &Subscription) -> anyhow::Result<()> {
        for (service, id) in &subscription.endpoints {
            let url = format!("{}/webhook_endpoints/{id}", self.url_of(*service));
            let status = self.http.delete(&url).send().await?.status();
            if !status.is_success() {
                bail!("DELETE {url} answered {status}");
            }
        }
        Ok(())
    }

    /// The events of `service`'s log made at or after `since_ms`, oldest first.
    async fn logged_since(
        &self,
        service: Service,
        since_ms: u64,
    ) -> anyhow::Result<Vec<LoggedEvent>> {
        // Event ids are ObjectIds, whose first four bytes are the second they were made in:
        // the pages start just before the row rather than at the first event of the run.
        let second = u32::try_from(since_ms / 1000).unwrap_or(u32::MAX) - 1;
        let mut start = [0_u8; 12];
        start[..4].copy_from_slice(&second.to_be_bytes());
        let mut cursor = ObjectId::from_bytes(start).to_hex();
        let mut events = Vec::new();
        loop {
            let url = format!("{}/events?limit=100&after={cursor}", self.url_of(service));
            let response = self.http.get(&url).send().await?;
            let status = response.status();
            let page: Value = response.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("GET {url} answered {status}: {page}");
            }
            for event in page["data"].as_array().context("a page without data")? {
                let created_at = event["created_at"].as_str().unwrap_or_default();
                let created = DateTime::parse_from_rfc3339(created_at)
                    .with_context(|| format!("event created_at {created_at:?}"))?
                    .with_timezone(&Utc);
                if created.timestamp_millis() < i64::try_from(since_ms)? {
                    continue;
                }
                let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
                events.push(LoggedEvent {
                    service,
                    id: text("id"),
                    object_id: text("object_id"),
                    sequence: event["sequence"].as_i64().unwrap_or(0),
                    kind: text("type"),
                    created_at: created_at.to_owned(),
                });
            }
            match page["next_cursor"].as_str() {
                Some(next) if page["has_more"].as_bool() == Some(true) => cursor = next.to_owned(),
                _ => return Ok(events),
            }
        }
    }

    /// The attempts at `service`'s endpoint made at or after `since_ms`, as the service
    /// recorded them (`GET /webhook_endpoints/{id}/attempts`, newest first).
    pub(super) async fn attempts_since(
        &self,
        subscription: &Subscription,
        service: Service,
        since_ms: u64,
    ) -> anyhow::Result<Attempts> {
        let (_, id) = subscription
            .endpoints
            .iter()
            .find(|(s, _)| *s == service)
            .context("no endpoint on that service")?;
        let mut attempts = Attempts::default();
        let mut after = String::new();
        loop {
            let mut url = format!(
                "{}/webhook_endpoints/{id}/attempts?limit=100",
                self.url_of(service)
            );
            if !after.is_empty() {
                url.push_str(&format!("&after={after}"));
            }
            let response = self.http.get(&url).send().await?;
            let status = response.status();
            let page: Value = response.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("GET {url} answered {status}: {page}");
            }
            for attempt in page["data"].as_array().context("a page without data")? {
                let at = attempt["attempted_at"].as_str().unwrap_or_default();
                let at = DateTime::parse_from_rfc3339(at).map_or(0, |t| t.timestamp_millis());
                if at < i64::try_from(since_ms)? {
                    return Ok(attempts);
                }
                match attempt["status_code"].as_u64() {
                    Some(200..=299) => attempts.delivered += 1,
                    Some(503) => attempts.answered_503 += 1,
                    None => attempts.unanswered += 1,
                    Some(_) => attempts.other += 1,
                }
            }
            match page["next_cursor"].as_str() {
                Some(next) if page["has_more"].as_bool() == Some(true) => after = next.to_owned(),
                _ => return Ok(attempts),
            }
        }
    }

    /// Waits until the receiver has answered 2xx for every event both logs made since the
    /// subscription, up to `within` from now (the relays' last copies included), and judges
    /// what it got.
    pub(super) async fn await_deliveries(
        &self,
        subscription: &Subscription,
        within: Duration,
    ) -> anyhow::Result<Deliveries> {
        let started = Instant::now();
        for (database, records) in self.record_collections() {
            self.drained(database, records, RELAYED_WITHIN).await?;
        }
        let mut logged = Vec::new();
        for service in SERVICES {
            logged.extend(self.logged_since(service, subscription.since_ms).await?);
        }
        loop {
            let receipts = subscription.receiver.receipts();
            let delivered: BTreeSet<(&str, &str)> = receipts
                .iter()
                .filter(|r| r.delivered())
                .map(|r| (r.path.as_str(), r.event_id.as_str()))
                .collect();
            let all = logged
                .iter()
                .all(|e| delivered.contains(&(path_of(e.service), e.id.as_str())));
            if all || started.elapsed() >= within {
                let mut deliveries = Deliveries::of(&logged, &receipts);
                deliveries.cut_off = subscription
                    .receiver
                    .arrived()
                    .saturating_sub(receipts.len() as u64);
                deliveries.waited_s = started.elapsed().as_secs_f64();
                deliveries.within_s = within.as_secs_f64();
                return Ok(deliveries);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Deliveries {
    fn of(logged: &[LoggedEvent], receipts: &[Receipt]) -> Self {
        let mut first: BTreeSet<(&str, &str)> = BTreeSet::new();
        let mut last_sequence: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        let mut report = Self {
            logged: logged.len(),
            requests: receipts.len(),
            bad_signatures: receipts.iter().filter(|r| !r.verified).count(),
            ..Self::default()
        };
        for receipt in receipts.iter().filter(|r| r.delivered()) {
            if !first.insert((&receipt.path, &receipt.event_id)) {
                report.duplicates += 1;
                continue;
            }
            let object = (receipt.path.as_str(), receipt.object_id.as_str());
            match last_sequence.get(&object) {
                Some(&last) if last >= receipt.sequence => report.out_of_order.push(format!(
                    "{} {}: sequence {} first delivered after sequence {last}",
                    receipt.path, receipt.object_id, receipt.sequence
                )),
                _ => {
                    last_sequence.insert(object, receipt.sequence);
                }
            }
        }
        report.objects = last_sequence.len();
        report.lost = logged
            .iter()
            .filter(|e| !first.contains(&(path_of(e.service), e.id.as_str())))
            .cloned()
            .collect();
        report
    }

    /// The criteria every webhook row has, and their figures.
    pub(super) fn judge(&self, row: &mut RowResult) {
        let delivered = self.logged - self.lost.len();
        row.figure("events_logged", self.logged);
        row.figure("events_delivered", delivered);
        row.figure("events_lost", self.lost.len());
        row.figure("receiver_requests", self.requests);
        row.figure("duplicate_deliveries", self.duplicates);
        row.figure("requests_cut_off", self.cut_off);
        row.figure("objects_delivered", self.objects);
        row.figure("out_of_order", self.out_of_order.len());
        row.figure("bad_signatures", self.bad_signatures);
        row.figure("delivered_after_s", self.waited_s);
        row.first_example("first_lost", &self.lost);
        row.first_example("first_out_of_order", &self.out_of_order);
        for lost in self.lost.iter().take(5) {
            println!(
                "reliability:   lost: {:?} {} {} sequence {} ({})",
                lost.service, lost.kind, lost.object_id, lost.sequence, lost.id
            );
        }
        for example in self.out_of_order.iter().take(5) {
            println!("reliability:   out of order: {example}");
        }
        row.check(
            "events delivered",
            format!(
                "{delivered} of {} logged during the row, {} lost; all in {:.1} s",
                self.logged,
                self.lost.len(),
                self.waited_s
            ),
            format!("all, within {:.0} s of the load's end", self.within_s),
            self.lost.is_empty() && self.logged > 0,
        );
        row.check(
            "first deliveries in sequence order per object",
            format!(
                "{} out of order, over {} objects",
                self.out_of_order.len(),
                self.objects
            ),
            "0 out of order",
            self.out_of_order.is_empty() && self.objects > 0,
        );
        row.check(
            "duplicate deliveries",
            format!(
                "{} of {} answered requests; {} more cut off before their answer",
                self.duplicates, self.requests, self.cut_off
            ),
            "counted (at least once allows them)",
            true,
        );
        row.check(
            "webhook signatures",
            format!("{} bad of {}", self.bad_signatures, self.requests),
            "0 bad",
            self.bad_signatures == 0 && self.requests > 0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(number: u64, event: &str, sequence: i64, status: u16) -> Receipt {
        Receipt {
            number,
            path: path_of(Service::Invoices).to_owned(),
            arrived_ms: number,
            event_id: event.to_owned(),
            object_id: "o".to_owned(),
            sequence,
            kind: "invoice.updated".to_owned(),
            status,
            verified: true,
        }
    }

    fn logged(event: &str, sequence: i64) -> LoggedEvent {
        LoggedEvent {
            service: Service::Invoices,
            id: event.to_owned(),
            object_id: "o".to_owned(),
            sequence,
            kind: "invoice.updated".to_owned(),
            created_at: String::new(),
        }
    }

    #[test]
    fn retries_and_duplicates_keep_the_order_of_first_deliveries() {
        let receipts = [
            receipt(0, "e1", 1, 503),
            receipt(1, "e1", 1, 200),
            receipt(2, "e2", 2, 200),
            receipt(3, "e1", 1, 200),
            receipt(4, "e3", 3, 200),
        ];
        let report = Deliveries::of(&[logged("e1", 1), logged("e2", 2)], &receipts);
        assert!(report.lost.is_empty());
        assert!(report.out_of_order.is_empty());
        assert_eq!(report.duplicates, 1);
        assert_eq!(report.objects, 1);
    }

    #[test]
    fn a_later_sequence_first_and_a_refused_only_event_are_caught() {
        let receipts = [
            receipt(0, "e2", 2, 200),
            receipt(1, "e1", 1, 200),
            receipt(2, "e3", 3, 503),
        ];
        let report = Deliveries::of(
            &[logged("e1", 1), logged("e2", 2), logged("e3", 3)],
            &receipts,
        );
        assert_eq!(report.out_of_order.len(), 1);
        assert_eq!(report.lost.len(), 1);
        assert_eq!(report.lost[0].id, "e3");
    }
}
