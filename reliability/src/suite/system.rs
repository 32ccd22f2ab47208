//! The system under test as the rows see it: its URLs, the seed data every row works on,
//! probes of its status, bringing it back after a row, its logs, and the consistency check.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use tokio::time::Instant;

use super::{SEED_CUSTOMERS, SEED_INVOICES, Suite};
use crate::drive::{self, PatchTarget};
use crate::ledger;
use crate::outcome::{Op, Outcome, Told, unix_ms};
use crate::procs::Member;

/// How long the relays get to empty every outbox before the event logs are compared.
const DRAIN_WITHIN: Duration = Duration::from_secs(30);

impl Suite {
    pub(super) fn invoice_url(&self) -> String {
        self.cluster.invoice_url()
    }

    pub(super) fn customer_url(&self) -> String {
        self.cluster.customer_url()
    }

    pub(super) fn target_ids(&self) -> Vec<String> {
        self.targets.iter().map(|t| t.id.clone()).collect()
    }

    /// Customers and draft invoices every row works on, each read once so the cache
    /// holds it.
    pub(super) async fn seed(&mut self) -> anyhow::Result<()> {
        let tag = format!("{}-seed", self.tag);
        let customer_url = self.customer_url();
        let invoice_url = self.invoice_url();
        let http = &self.http;
        let customers: Vec<anyhow::Result<(String, Outcome)>> =
            futures::stream::iter(0..SEED_CUSTOMERS)
                .map(|i| {
                    let value = format!("{tag}-c{i}");
                    let request = http
                        .post(format!("{customer_url}/customers"))
                        .json(&drive::customer_body(&value, "rk"));
                    async move {
                        let outcome = record(request, Op::CreateCustomer, i, value).await?;
                        let id = outcome.created_id.clone().context("no id")?;
                        Ok((id, outcome))
                    }
                })
                .buffered(8)
                .collect()
                .await;
        let mut outcomes = Vec::new();
        for customer in customers {
            let (id, outcome) = customer.context("creating a seed customer")?;
            self.customers.push(id);
            outcomes.push(outcome);
        }
        let customer_ids = self.customers.clone();
        let invoices: Vec<anyhow::Result<(PatchTarget, Outcome)>> =
            futures::stream::iter(0..SEED_INVOICES)
                .map(|i| {
                    let value = format!("{tag}-i{i}");
                    let customer = &customer_ids[i % customer_ids.len()];
                    let request = http
                        .post(format!("{invoice_url}/invoices"))
                        .json(&drive::invoice_body(customer, "rk", &value));
                    async move {
                        let outcome = record(request, Op::CreateInvoice, i, value.clone()).await?;
                        let id = outcome.created_id.clone().context("no id")?;
                        Ok((PatchTarget { id, rk: value }, outcome))
                    }
                })
                .buffered(8)
                .collect()
                .await;
        for invoice in invoices {
            let (target, outcome) = invoice.context("creating a seed invoice")?;
            self.targets.push(target);
            outcomes.push(outcome);
        }
        self.ledger.add(outcomes);
        self.warm_cache().await
    }

    /// Reads every seeded invoice once, so that the cache holds it.
    async fn warm_cache(&self) -> anyhow::Result<()> {
        let invoice_url = self.invoice_url();
        let http = &self.http;
        let statuses: Vec<Result<reqwest::StatusCode, reqwest::Error>> =
            futures::stream::iter(self.targets.iter())
                .map(|t| {
                    let url = format!("{invoice_url}/invoices/{}", t.id);
                    async move { http.get(url).send().await.map(|r| r.status()) }
                })
                .buffered(8)
                .collect()
                .await;
        for status in statuses {
            let status = status?;
            if !status.is_success() {
                bail!("warming the cache: GET /invoices/{{id}} answered {status}");
            }
        }
        Ok(())
    }

    /// Continues, restarts and waits for whatever a row left stopped, down or paused.
    pub(super) async fn heal(&mut self) -> anyhow::Result<()> {
        let cluster = &mut self.cluster;
        for member in Member::ALL {
            let proc = cluster.proc(member);
            if proc.is_running() {
                let _ = proc.signal("CONT");
            }
        }
        for member in Member::ALL {
            if !cluster.proc(member).is_running() {
                cluster.start(member).await?;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for url in [self.customer_url(), self.invoice_url()] {
            loop {
                let ready = self
                    .http
                    .get(format!("{url}/ready"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    break;
                }
                if Instant::now() >= deadline {
                    bail!("{url}/ready is not 200 30 s after the row");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// The whole ledger against the stores, every seeded or touched invoice read back, and
    /// both event logs against the records.
    pub(super) async fn consistency(&self) -> anyhow::Result<ledger::Consistency> {
        let store = self.read_store().await?;
        let mut report = ledger::check_store(&self.ledger, &store);
        let mut ids: BTreeSet<String> = self.target_ids().into_iter().collect();
        ids.extend(self.touched.iter().cloned());
        ledger::check_reads(&self.http, &self.invoice_url(), &ids, &store, &mut report).await?;
        self.check_event_logs(&mut report).await?;
        Ok(report)
    }

    /// Each service's records and the collection holding them.
    pub(super) fn record_collections(&self) -> [(&str, &'static str); 2] {
        [
            (self.cluster.invoice_db.as_str(), "invoices"),
            (self.cluster.customer_db.as_str(), "customers"),
        ]
    }

    /// Both event logs against their records ([`ledger::check_event_log`]), once the relays
    /// have emptied every outbox, or [`DRAIN_WITHIN`] has passed: whatever is still in an
    /// outbox then counts as a problem.
    pub(super) async fn check_event_logs(
        &self,
        report: &mut ledger::Consistency,
    ) -> anyhow::Result<()> {
        for (database, records) in self.record_collections() {
            self.drained(database, records, DRAIN_WITHIN).await?;
            let log = ledger::read_event_log(&self.mongo, database, records).await?;
            ledger::check_event_log(&log, report);
        }
        Ok(())
    }

    /// Waits up to `within` until no record of `database.records` has events in its outbox;
    /// whether that happened. The relay copies events asynchronously, and backs off for up to
    /// 8 s while MongoDB fails.
    pub(super) async fn drained(
        &self,
        database: &str,
        records: &str,
        within: Duration,
    ) -> anyhow::Result<bool> {
        let deadline = Instant::now() + within;
        loop {
            let read = ledger::read_records(&self.mongo, database, records).await?;
            if read.iter().all(|r| !r.pending) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub(super) async fn read_store(&self) -> anyhow::Result<ledger::StoreView> {
        ledger::read_store(
            &self.mongo,
            &self.cluster.invoice_db,
            &self.cluster.customer_db,
        )
        .await
    }

    /// The status of one request (0 without an answer within 10 s), and how long it took.
    pub(super) async fn status_of(&self, request: reqwest::RequestBuilder) -> (u16, f64) {
        let sent = Instant::now();
        let status = request
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        (status, sent.elapsed().as_secs_f64() * 1000.0)
    }

    /// `/ready` of customer-service and invoice-service.
    pub(super) async fn ready_statuses(&self) -> (u16, u16) {
        let customers = self
            .status_of(self.http.get(format!("{}/ready", self.customer_url())))
            .await
            .0;
        let invoices = self
            .status_of(self.http.get(format!("{}/ready", self.invoice_url())))
            .await
            .0;
        (customers, invoices)
    }
}

pub(super) fn log_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Panics a service logged after byte `offset` of its log.
pub(super) fn panics_after(path: &Path, offset: u64) -> usize {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..])
        .matches("panicked")
        .count()
}

/// Sends one setup request and records it like the driver would.
async fn record(
    request: reqwest::RequestBuilder,
    op: Op,
    index: usize,
    value: String,
) -> anyhow::Result<Outcome> {
    let sent_ms = unix_ms();
    let sent = Instant::now();
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let outcome = Outcome {
        value: Some(value),
        latency_ms,
        corrected_ms: latency_ms,
        status: Some(status),
        code: body["code"].as_str().map(str::to_owned),
        created_id: body["id"].as_str().map(str::to_owned),
        ..Outcome::sent(op, u64::try_from(index).unwrap_or(0), sent_ms, sent_ms)
    };
    if outcome.told() != Told::Acknowledged {
        bail!("{op:?} answered {status}: {body}");
    }
    Ok(outcome)
}
