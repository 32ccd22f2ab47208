//! The driving loop: one worker per connection sending, waiting and counting, and the task
//! that ends the measured time and waits for every worker to leave.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::LoadReport;
use super::connection::exchange;
use super::plan::Plan;
use super::report::Failure;
use super::report::Tally;

/// A worker whose connection attempt failed waits this long before the next one, so that a
/// server that is down is not hammered by a busy loop.
const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(10);

/// What changes while a load runs.
pub(super) struct Shared {
    plan: Plan,
    /// One per worker, so that workers never wait for each other.
    tallies: Vec<Mutex<Tally>>,
    /// The sequence number of the next request: picks its URL and body, and with a rate its
    /// due time.
    next_request: AtomicU64,
    sent: AtomicU64,
    /// End of the measured time, once known.
    ended: Mutex<Option<Instant>>,
}

impl Shared {
    pub(super) fn new(plan: Plan) -> Self {
        Self {
            tallies: (0..plan.connections)
                .map(|_| Mutex::new(Tally::new(&plan.empty_histogram)))
                .collect(),
            next_request: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            ended: Mutex::new(None),
            plan,
        }
    }

    /// Every worker's counts added up, over the measured time until its end (or `now`).
    pub(super) fn report(&self, now: Instant) -> LoadReport {
        let ended = *self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        let end = ended.unwrap_or(now);
        let seconds = end
            .saturating_duration_since(self.plan.measured_from)
            .as_secs_f64();
        let mut total = Tally::new(&self.plan.empty_histogram);
        for tally in &self.tallies {
            total.add(&tally.lock().unwrap_or_else(PoisonError::into_inner));
        }
        total.report(
            self.plan.connections,
            self.plan.rate,
            seconds,
            self.sent.load(Ordering::Relaxed),
        )
    }

    fn tally(&self, worker: usize) -> MutexGuard<'_, Tally> {
        self.tallies[worker]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts the workers, ends the measured time at its deadline or on stop, and waits for
/// every worker to leave.
pub(super) async fn coordinate(
    shared: Arc<Shared>,
    stop: Arc<watch::Sender<bool>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut workers = JoinSet::new();
    for worker in 0..shared.plan.connections {
        workers.spawn(drive(shared.clone(), worker, stopped.clone()));
    }
    let end = match shared.plan.measured_until {
        Some(deadline) => tokio::select! {
            () = tokio::time::sleep_until(deadline) => deadline,
            _ = stopped.wait_for(|&s| s) => Instant::now(),
        },
        None => {
            let _ = stopped.wait_for(|&s| s).await;
            Instant::now()
        }
    };
    *shared.ended.lock().unwrap_or_else(PoisonError::into_inner) = Some(end);
    stop.send_replace(true);
    while workers.join_next().await.is_some() {}
}

/// One connection's loop: send, wait for the whole answer, count it, again.
async fn drive(shared: Arc<Shared>, worker: usize, mut stopped: watch::Receiver<bool>) {
    let plan = &shared.plan;
    let mut connections: Vec<Option<SendRequest<Full<Bytes>>>> =
        plan.endpoints.iter().map(|_| None).collect();
    loop {
        if *stopped.borrow() {
            return;
        }
        let sequence = shared.next_request.fetch_add(1, Ordering::Relaxed);
        let intended = match plan.due(sequence) {
            Some(due) => {
                if plan.is_after_end(due) {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep_until(due) => due,
                    _ = stopped.wait_for(|&s| s) => return,
                }
            }
            None => Instant::now(),
        };
        let (endpoint, request) = plan.request(sequence);
        shared.sent.fetch_add(1, Ordering::Relaxed);
        let exchanged = tokio::select! {
            exchanged = tokio::time::timeout(
                plan.timeout,
                exchange(&mut connections[endpoint], &plan.endpoints[endpoint], request),
            ) => exchanged,
            _ = stopped.wait_for(|&s| s) => return,
        };
        let finished = Instant::now();
        let outcome = exchanged.unwrap_or(Err(Failure::Timeout));
        if outcome.is_err() {
            // Whatever state that connection is in, the next request gets a new one.
            connections[endpoint] = None;
        }
        let connect_failed = matches!(outcome, Err(Failure::Connect(_)));
        if plan.is_after_end(finished) {
            return;
        }
        if finished >= plan.measured_from {
            let mut tally = shared.tally(worker);
            match outcome {
                Ok(answer) => tally.answered(finished - intended, &answer),
                Err(failure) => tally.failed(failure),
            }
        }
        if connect_failed && plan.interval.is_none() {
            tokio::select! {
                () = tokio::time::sleep(CONNECT_RETRY_DELAY) => {}
                _ = stopped.wait_for(|&s| s) => return,
            }
        }
    }
}
