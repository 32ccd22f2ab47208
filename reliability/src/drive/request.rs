//! One tracked request: its body, sending it, and recording what the client was told.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Clock, Counters, DriveSpec};
use crate::outcome::{Failure, Op, Outcome, unix_ms};

/// An invoice create for `customer_id`, tagged `metadata[tag_key] = tag`.
pub fn invoice_body(customer_id: &str, tag_key: &str, tag: &str) -> Value {
    json!({
        "customer_id": customer_id,
        "currency": "usd",
        "items": [{"description": "Reliability run", "quantity": 2, "unit_amount": 1250}],
        "tax_rate_bps": 800,
        "metadata": {tag_key: tag},
    })
}

/// A customer create whose email is made from `tag`, tagged `metadata[tag_key] = tag`.
pub fn customer_body(tag: &str, tag_key: &str) -> Value {
    json!({
        "name": format!("Reliability {tag}"),
        "email": format!("{}@example.com", tag.to_lowercase()),
        "metadata": {tag_key: tag},
    })
}

/// The `id` of what a create made, from the body of its answer.
pub(super) fn created_id(body: Option<&Value>) -> Option<String> {
    body.and_then(|b| b["id"].as_str()).map(str::to_owned)
}

/// What the lanes and the idempotent runs send with: the drive's HTTP client, its spec
/// (URLs and tag), its clock, and the counters of its ticks.
#[derive(Clone)]
pub(super) struct Sender {
    pub(super) http: reqwest::Client,
    pub(super) spec: DriveSpec,
    pub(super) clock: Clock,
    pub(super) counters: Arc<Counters>,
}

impl Sender {
    /// Sends one request due at `due` and reads the whole answer; the JSON body of the
    /// answer when it has one.
    pub(super) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        op: Op,
        seq: u64,
        due: Instant,
        target: Option<String>,
        value: Option<String>,
    ) -> (Outcome, Option<Value>) {
        let due_ms = self.clock.ms(due);
        let sent_ms = unix_ms();
        let sent = Instant::now();
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let replayed = response
                    .headers()
                    .get("idempotent-replayed")
                    .is_some_and(|v| v.as_bytes() == b"true");
                match response.bytes().await {
                    Ok(body) => Ok((status, replayed, body)),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        };
        let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
        let corrected_ms = due.elapsed().as_secs_f64() * 1000.0;
        let mut outcome = Outcome {
            target,
            value,
            latency_ms,
            corrected_ms,
            ..Outcome::sent(op, seq, due_ms, sent_ms)
        };
        let body = match answer {
            Ok((status, replayed, body)) => {
                outcome.status = Some(status);
                outcome.replayed = replayed;
                let body: Option<Value> = serde_json::from_slice(&body).ok();
                if !(200..300).contains(&status) {
                    outcome.code = body
                        .as_ref()
                        .and_then(|b| b["code"].as_str())
                        .map(str::to_owned);
                }
                body
            }
            Err(error) => {
                outcome.failure = Some(if error.is_timeout() {
                    Failure::Timeout
                } else if error.is_connect() {
                    Failure::Connect
                } else {
                    Failure::Io
                });
                None
            }
        };
        (outcome, body)
    }
}
