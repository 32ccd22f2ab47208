//! The lanes: tracked requests sent one at a time per lane, each taking the next slot of one
//! steady-rate schedule shared by all lanes. A lane alone patches the invoices it owns, so
//! their writes are ordered and the last acknowledged one is known.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use super::mix::{pick, spread};
use super::request::{Sender, created_id, customer_body, invoice_body};
use super::{PatchTarget, TrackedLoad};
use crate::outcome::{Op, Outcome};

/// What every lane shares.
pub(super) struct Lanes {
    pub(super) sender: Sender,
    pub(super) load: TrackedLoad,
    pub(super) table: Vec<Op>,
    pub(super) end: Instant,
    pub(super) interval: Duration,
    pub(super) next: AtomicU64,
}

pub(super) async fn run_lane(
    shared: Arc<Lanes>,
    lane: usize,
    mut stopped: watch::Receiver<bool>,
) -> Vec<Outcome> {
    let lanes = shared.load.lanes.max(1);
    let owned: Vec<&PatchTarget> = shared
        .load
        .patch_targets
        .iter()
        .skip(lane)
        .step_by(lanes)
        .collect();
    let mut next_target = 0usize;
    let mut drafts: VecDeque<String> = VecDeque::new();
    let mut outcomes = Vec::new();
    loop {
        if *stopped.borrow() {
            break;
        }
        let seq = shared.next.fetch_add(1, Ordering::Relaxed);
        let offset = shared
            .interval
            .checked_mul(u32::try_from(seq).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX);
        let Some(due) = shared.sender.clock.start.checked_add(offset) else {
            break;
        };
        if due >= shared.end {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            _ = stopped.wait_for(|&s| s) => break,
        }
        let mut op =
            shared.table[usize::try_from(spread(seq) % shared.table.len() as u64).unwrap_or(0)];
        // A finalize with no draft to finalize yet creates one; a lane that owns no invoice
        // reads instead of patching.
        if op == Op::Finalize && drafts.is_empty() {
            op = Op::CreateInvoice;
        }
        if op == Op::Patch && owned.is_empty() {
            op = Op::ReadInvoice;
        }
        let outcome = match op {
            Op::Patch => {
                let target = owned[next_target % owned.len()];
                next_target += 1;
                shared.patch(seq, due, target).await
            }
            Op::Finalize => match drafts.pop_front() {
                Some(id) => shared.finalize(seq, due, &id).await,
                None => continue,
            },
            other => shared.simple(other, seq, due).await,
        };
        if outcome.op == Op::CreateInvoice
            && let Some(id) = &outcome.created_id
            && shared.load.mix.finalize > 0
        {
            drafts.push_back(id.clone());
        }
        shared.sender.counters.count(&outcome);
        outcomes.push(outcome);
    }
    outcomes
}

impl Lanes {
    async fn patch(&self, seq: u64, due: Instant, target: &PatchTarget) -> Outcome {
        let Sender { http, spec, .. } = &self.sender;
        let value = format!("{}-w{seq}", spec.tag);
        let request = http
            .patch(format!("{}/invoices/{}", spec.invoice_url, target.id))
            .json(&json!({"metadata": {"rk": target.rk, "rw": value}}));
        let target_id = Some(target.id.clone());
        let (mut outcome, _) = self
            .sender
            .send(request, Op::Patch, seq, due, target_id, Some(value))
            .await;
        outcome.target = Some(target.id.clone());
        outcome
    }

    async fn finalize(&self, seq: u64, due: Instant, id: &str) -> Outcome {
        let Sender { http, spec, .. } = &self.sender;
        let request = http.post(format!("{}/invoices/{id}/finalize", spec.invoice_url));
        let (mut outcome, body) = self
            .sender
            .send(request, Op::Finalize, seq, due, Some(id.to_owned()), None)
            .await;
        if outcome.is_success() {
            outcome.number = body
                .as_ref()
                .and_then(|b| b["invoice"]["number"].as_str())
                .map(str::to_owned);
        }
        outcome
    }

    /// Creates and reads: requests that need no state of the lane.
    async fn simple(&self, op: Op, seq: u64, due: Instant) -> Outcome {
        let load = &self.load;
        let Sender { http, spec, .. } = &self.sender;
        let customer = pick(&load.customer_ids, spread(seq) >> 8).cloned();
        let (request, target, value) = match op {
            Op::CreateInvoice => {
                let value = format!("{}-i{seq}", spec.tag);
                let body = invoice_body(customer.as_deref().unwrap_or_default(), "rk", &value);
                (
                    http.post(format!("{}/invoices", spec.invoice_url))
                        .json(&body),
                    None,
                    Some(value),
                )
            }
            Op::CreateCustomer => {
                let value = format!("{}-c{seq}", spec.tag);
                (
                    http.post(format!("{}/customers", spec.customer_url))
                        .json(&customer_body(&value, "rk")),
                    None,
                    Some(value),
                )
            }
            Op::ReadCustomer => {
                let id = customer.unwrap_or_default();
                (
                    http.get(format!("{}/customers/{id}", spec.customer_url)),
                    Some(id),
                    None,
                )
            }
            Op::ListInvoices => (
                http.get(format!(
                    "{}/invoices?limit=5&customer_id={}",
                    spec.invoice_url,
                    customer.unwrap_or_default()
                )),
                None,
                None,
            ),
            _ => {
                let id = pick(&load.read_ids, spread(seq) >> 8)
                    .or_else(|| pick(&load.patch_targets, seq).map(|t| &t.id))
                    .cloned()
                    .unwrap_or_default();
                (
                    http.get(format!("{}/invoices/{id}", spec.invoice_url)),
                    Some(id),
                    None,
                )
            }
        };
        let op = if matches!(
            op,
            Op::CreateInvoice | Op::CreateCustomer | Op::ReadCustomer | Op::ListInvoices
        ) {
            op
        } else {
            Op::ReadInvoice
        };
        let (mut outcome, body) = self.sender.send(request, op, seq, due, target, value).await;
        if outcome.is_success() && matches!(op, Op::CreateInvoice | Op::CreateCustomer) {
            outcome.created_id = created_id(body.as_ref());
        }
        outcome
    }
}
