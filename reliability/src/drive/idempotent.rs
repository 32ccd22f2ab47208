//! Idempotent runs: a create retried with one `Idempotency-Key` until acknowledged, then
//! sent once more, as a client whose answer was lost would.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::IdempotentRuns;
use super::request::{Sender, created_id, customer_body, invoice_body};
use crate::outcome::{Op, Outcome};

/// What every idempotent run shares.
pub(super) struct Runs {
    pub(super) sender: Sender,
    pub(super) runs: IdempotentRuns,
}

/// Run `run`: an invoice and a customer, each with a key of its own.
pub(super) async fn run_idempotent(
    shared: Arc<Runs>,
    run: usize,
    stopped: watch::Receiver<bool>,
) -> Vec<Outcome> {
    let offset = Duration::from_secs_f64(run as f64 / shared.runs.per_second.max(0.001));
    let due = shared.sender.clock.start + offset;
    tokio::time::sleep_until(due).await;
    let key = format!("{}-k{run}", shared.sender.spec.tag);
    let (mut invoices, customers) = tokio::join!(
        retry(
            &shared,
            Op::IdempotentInvoice,
            run,
            format!("{key}-inv"),
            &stopped
        ),
        retry(
            &shared,
            Op::IdempotentCustomer,
            run,
            format!("{key}-cus"),
            &stopped
        ),
    );
    invoices.extend(customers);
    invoices
}

/// Whether a retry with the same key is the right move after this answer.
fn retryable(outcome: &Outcome) -> bool {
    match outcome.status {
        None => true,
        Some(503 | 429) => true,
        Some(409) => outcome.code.as_deref() == Some("idempotency_key_in_use"),
        Some(_) => false,
    }
}

async fn retry(
    shared: &Runs,
    op: Op,
    run: usize,
    key: String,
    stopped: &watch::Receiver<bool>,
) -> Vec<Outcome> {
    let spec = &shared.sender.spec;
    let body = if op == Op::IdempotentInvoice {
        invoice_body(&shared.runs.customer_id, "ik", &key)
    } else {
        customer_body(&key, "ik")
    };
    let url = if op == Op::IdempotentInvoice {
        format!("{}/invoices", spec.invoice_url)
    } else {
        format!("{}/customers", spec.customer_url)
    };
    let began = Instant::now();
    let mut outcomes = Vec::new();
    let mut acknowledged = false;
    for attempt in 1.. {
        let due = Instant::now();
        let request = shared
            .sender
            .http
            .post(&url)
            .header("idempotency-key", &key)
            .json(&body);
        let seq = u64::try_from(run).unwrap_or(u64::MAX);
        let (mut outcome, answer) = shared
            .sender
            .send(request, op, seq, due, None, Some(key.clone()))
            .await;
        outcome.attempt = attempt;
        if outcome.is_success() {
            outcome.created_id = created_id(answer.as_ref());
        }
        shared.sender.counters.count(&outcome);
        let again = retryable(&outcome);
        let success = outcome.is_success();
        outcomes.push(outcome);
        if success && acknowledged {
            break;
        }
        if success {
            // Once more, as a client whose answer was lost would: it must get the same one.
            acknowledged = true;
            continue;
        }
        if !again
            || *stopped.borrow()
            || began.elapsed() >= Duration::from_millis(shared.runs.give_up_ms)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(shared.runs.retry_ms)).await;
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;

    #[test]
    fn only_unavailable_busy_or_unanswered_requests_are_retried() {
        let mut outcome = Outcome {
            status: Some(503),
            ..Outcome::sent(Op::IdempotentCustomer, 0, 0, 0)
        };
        assert!(retryable(&outcome));
        outcome.status = Some(409);
        outcome.code = Some("email_taken".into());
        assert!(!retryable(&outcome));
        outcome.code = Some("idempotency_key_in_use".into());
        assert!(retryable(&outcome));
        outcome.status = None;
        outcome.failure = Some(Failure::Io);
        assert!(retryable(&outcome));
        outcome.status = Some(201);
        assert!(!retryable(&outcome));
    }
}
