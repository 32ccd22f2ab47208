//! The load driver: the second process of every row (`reliability drive`).
//!
//! Reads go through `bench::load` (keep-alive connections at a steady rate, latency measured
//! from each request's due time), one load per phase so that every phase has percentiles of
//! its own. Writes, and the reads a row must follow one by one, go through *lanes*: each
//! lane sends one request at a time, taking the next slot of one steady-rate schedule
//! shared by all lanes, and records what it was told ([`Outcome`]). An invoice is patched
//! by one lane only, so its writes are ordered and the last acknowledged one is known.
//!
//! The orchestrator talks to it through pipes: the spec is a JSON file, the first line on
//! stdout is `{"started_ms": ...}`, then one tick per second; a `stop` line on stdin (or
//! stdin closing) ends the last phase early. The report is written to a JSON file.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use bench::load::{LoadConfig, LoadHandle, LoadReport};
use hyper::{HeaderMap, Method};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::outcome::{Failure, Op, Outcome, unix_ms};

/// What one drive sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveSpec {
    pub invoice_url: String,
    pub customer_url: String,
    /// Makes every tag this drive writes unique in the run.
    pub tag: String,
    /// Consecutive; the last one ends early on `stop`.
    pub phases: Vec<PhaseSpec>,
    pub reads: Option<ReadLoad>,
    pub tracked: Option<TrackedLoad>,
    pub idempotent: Option<IdempotentRuns>,
    /// A request not answered within this time counts as timed out.
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseSpec {
    pub name: String,
    pub seconds: f64,
}

/// `GET /invoices/{id}` over these ids, through `bench::load`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadLoad {
    pub rate: f64,
    pub connections: usize,
    pub invoice_ids: Vec<String>,
}

/// Requests sent and recorded one by one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackedLoad {
    pub rate: f64,
    pub lanes: usize,
    pub mix: Mix,
    /// Drafts the lanes patch; lane `i` owns those at positions `i`, `i + lanes`, ...
    pub patch_targets: Vec<PatchTarget>,
    /// Customers new invoices are made for, and `ReadCustomer` reads.
    pub customer_ids: Vec<String>,
    /// Invoices `ReadInvoice` reads.
    pub read_ids: Vec<String>,
}

/// Relative weights of each kind of tracked request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Mix {
    #[serde(default)]
    pub patch: u32,
    #[serde(default)]
    pub create_invoice: u32,
    #[serde(default)]
    pub finalize: u32,
    #[serde(default)]
    pub create_customer: u32,
    #[serde(default)]
    pub read_invoice: u32,
    #[serde(default)]
    pub read_customer: u32,
    #[serde(default)]
    pub list_invoices: u32,
}

impl Mix {
    /// One entry per unit of weight.
    fn table(&self) -> Vec<Op> {
        let mut table = Vec::new();
        for (op, weight) in [
            (Op::Patch, self.patch),
            (Op::CreateInvoice, self.create_invoice),
            (Op::Finalize, self.finalize),
            (Op::CreateCustomer, self.create_customer),
            (Op::ReadInvoice, self.read_invoice),
            (Op::ReadCustomer, self.read_customer),
            (Op::ListInvoices, self.list_invoices),
        ] {
            table.extend(std::iter::repeat_n(op, weight as usize));
        }
        table
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatchTarget {
    pub id: String,
    /// Its creation tag, kept in `metadata.rk` by every patch.
    pub rk: String,
}

/// Creates retried with one `Idempotency-Key` each until acknowledged, then sent once more
/// (a client whose answer was lost).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotentRuns {
    pub runs: usize,
    /// Runs started per second.
    pub per_second: f64,
    /// The customer the invoices are for.
    pub customer_id: String,
    pub retry_ms: u64,
    /// A run that is not acknowledged after this long gives up.
    pub give_up_ms: u64,
}

/// What a drive measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveReport {
    pub started_ms: u64,
    pub ended_ms: u64,
    pub phases: Vec<PhaseReport>,
    pub outcomes: Vec<Outcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseReport {
    pub name: String,
    pub started_ms: u64,
    pub ended_ms: u64,
    /// The `bench::load` report of the reads in this phase.
    pub reads: Option<LoadReport>,
}

/// One line per second on stdout while the drive runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tick {
    pub t_ms: u64,
    pub phase: String,
    /// Tracked requests answered in the last second: 2xx, and the rest (errors included).
    pub ok: u64,
    pub failed: u64,
    pub reads_ok: u64,
    pub reads_failed: u64,
}

/// `reliability drive`: runs the spec in `spec_path`, writes the report to `out_path`.
pub fn main(spec_path: &Path, out_path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(spec_path)
        .with_context(|| format!("cannot read {}", spec_path.display()))?;
    let spec: DriveSpec = serde_json::from_str(&text).context("bad drive spec")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(drive(spec))?;
    let file = std::fs::File::create(out_path)
        .with_context(|| format!("cannot create {}", out_path.display()))?;
    serde_json::to_writer(std::io::BufWriter::new(file), &report)?;
    Ok(())
}

/// A `stop` line on stdin, or stdin closing, ends the drive.
fn watch_stdin() -> watch::Receiver<bool> {
    let (stop, stopped) = watch::channel(false);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(line) if line.trim() == "stop" => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        stop.send_replace(true);
    });
    stopped
}

fn emit(value: &impl Serialize) {
    if let Ok(line) = serde_json::to_string(value) {
        println!("{line}");
    }
}

async fn drive(spec: DriveSpec) -> anyhow::Result<DriveReport> {
    let stdin_stop = watch_stdin();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(spec.timeout_ms))
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .build()?;
    let total: f64 = spec.phases.iter().map(|p| p.seconds).sum();
    let start = Instant::now();
    let started_ms = unix_ms();
    let end = start + Duration::from_secs_f64(total.max(0.0));
    let (lanes_stop, lanes_stopped) = watch::channel(false);
    let counters = Arc::new(Counters::default());

    let mut lanes = Vec::new();
    if let Some(tracked) = &spec.tracked {
        let shared = Arc::new(Lanes {
            http: http.clone(),
            spec: spec.clone(),
            load: tracked.clone(),
            table: tracked.mix.table(),
            start,
            started_ms,
            end,
            interval: Duration::from_secs_f64(1.0 / tracked.rate.max(0.001)),
            next: AtomicU64::new(0),
            counters: counters.clone(),
        });
        anyhow::ensure!(!shared.table.is_empty(), "the tracked mix is empty");
        for lane in 0..tracked.lanes.max(1) {
            lanes.push(tokio::spawn(run_lane(
                shared.clone(),
                lane,
                lanes_stopped.clone(),
            )));
        }
    }
    let mut runs = Vec::new();
    if let Some(idempotent) = &spec.idempotent {
        let shared = Arc::new(Runs {
            http: http.clone(),
            spec: spec.clone(),
            runs: idempotent.clone(),
            start,
            started_ms,
            counters: counters.clone(),
        });
        for run in 0..idempotent.runs {
            runs.push(tokio::spawn(run_idempotent(
                shared.clone(),
                run,
                // Only an explicit stop ends a run early: the end of the phases does not.
                stdin_stop.clone(),
            )));
        }
    }

    emit(&json!({ "started_ms": started_ms }));
    let mut phases = Vec::new();
    let mut stopped = stdin_stop;
    for (index, phase) in spec.phases.iter().enumerate() {
        let last = index + 1 == spec.phases.len();
        let report = run_phase(&spec, phase, &counters, &mut stopped, last).await?;
        phases.push(report);
        if *stopped.borrow() {
            break;
        }
    }
    lanes_stop.send_replace(true);
    let mut outcomes = Vec::new();
    for lane in lanes {
        outcomes.extend(lane.await.context("a lane failed")?);
    }
    // Idempotent runs go on after the phases, until acknowledged or given up (or a stop):
    // a run cut short half-way would leave the check nothing to compare.
    for run in runs {
        outcomes.extend(run.await.context("an idempotent run failed")?);
    }
    outcomes.sort_by_key(|o| (o.sent_ms, o.seq));
    Ok(DriveReport {
        started_ms,
        ended_ms: unix_ms(),
        phases,
        outcomes,
    })
}

/// Tracked answers since the last tick.
#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    fn count(&self, outcome: &Outcome) {
        let counter = if outcome.is_success() {
            &self.ok
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

async fn run_phase(
    spec: &DriveSpec,
    phase: &PhaseSpec,
    counters: &Counters,
    stopped: &mut watch::Receiver<bool>,
    last: bool,
) -> anyhow::Result<PhaseReport> {
    let started_ms = unix_ms();
    let duration = Duration::from_secs_f64(phase.seconds.max(0.0));
    let ends = Instant::now() + duration;
    let handle = match &spec.reads {
        Some(reads) if reads.rate > 0.0 && !reads.invoice_ids.is_empty() => {
            let config = LoadConfig {
                urls: reads
                    .invoice_ids
                    .iter()
                    .map(|id| format!("{}/invoices/{id}", spec.invoice_url))
                    .collect(),
                method: Method::GET,
                headers: HeaderMap::new(),
                bodies: Vec::new(),
                connections: reads.connections.max(1),
                duration: Some(duration),
                warmup: Duration::ZERO,
                rate: Some(reads.rate),
                timeout: Duration::from_millis(spec.timeout_ms),
            };
            Some(LoadHandle::start(config).await?)
        }
        _ => None,
    };
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let (mut reads_ok, mut reads_failed) = (0, 0);
    loop {
        let finished = handle.as_ref().map_or(Instant::now() >= ends, |h| {
            h.is_finished() || Instant::now() >= ends + Duration::from_secs(2)
        });
        if finished {
            break;
        }
        tokio::select! {
            _ = ticker.tick() => {
                let mut tick = Tick {
                    t_ms: unix_ms(),
                    phase: phase.name.clone(),
                    ok: counters.ok.swap(0, Ordering::Relaxed),
                    failed: counters.failed.swap(0, Ordering::Relaxed),
                    ..Tick::default()
                };
                if let Some(handle) = &handle {
                    let snapshot = handle.snapshot();
                    let failed = snapshot.failures();
                    tick.reads_ok = snapshot.status.success.saturating_sub(reads_ok);
                    tick.reads_failed = failed.saturating_sub(reads_failed);
                    (reads_ok, reads_failed) = (snapshot.status.success, failed);
                }
                emit(&tick);
            }
            _ = stopped.wait_for(|&s| s), if last => {
                if let Some(handle) = &handle {
                    handle.stop();
                }
                break;
            }
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    let reads = match handle {
        Some(handle) => Some(handle.finish().await?),
        None => None,
    };
    Ok(PhaseReport {
        name: phase.name.clone(),
        started_ms,
        ended_ms: unix_ms(),
        reads,
    })
}

/// What every lane shares.
struct Lanes {
    http: reqwest::Client,
    spec: DriveSpec,
    load: TrackedLoad,
    table: Vec<Op>,
    start: Instant,
    started_ms: u64,
    end: Instant,
    interval: Duration,
    next: AtomicU64,
    counters: Arc<Counters>,
}

/// A well-spread, repeatable choice for slot `seq` (splitmix64).
fn spread(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T>(items: &[T], seq: u64) -> Option<&T> {
    if items.is_empty() {
        return None;
    }
    let index = usize::try_from(seq % items.len() as u64).unwrap_or(0);
    items.get(index)
}

async fn run_lane(
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
        let Some(due) = shared.start.checked_add(offset) else {
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
        shared.counters.count(&outcome);
        outcomes.push(outcome);
    }
    outcomes
}

impl Lanes {
    fn due_ms(&self, due: Instant) -> u64 {
        self.started_ms + u64::try_from((due - self.start).as_millis()).unwrap_or(0)
    }

    async fn patch(&self, seq: u64, due: Instant, target: &PatchTarget) -> Outcome {
        let value = format!("{}-w{seq}", self.spec.tag);
        let request = self
            .http
            .patch(format!("{}/invoices/{}", self.spec.invoice_url, target.id))
            .json(&json!({"metadata": {"rk": target.rk, "rw": value}}));
        let (mut outcome, _) = send(
            request,
            Op::Patch,
            seq,
            self.due_ms(due),
            due,
            Some(target.id.clone()),
            Some(value),
        )
        .await;
        outcome.target = Some(target.id.clone());
        outcome
    }

    async fn finalize(&self, seq: u64, due: Instant, id: &str) -> Outcome {
        let request = self
            .http
            .post(format!("{}/invoices/{id}/finalize", self.spec.invoice_url));
        let (mut outcome, body) = send(
            request,
            Op::Finalize,
            seq,
            self.due_ms(due),
            due,
            Some(id.to_owned()),
            None,
        )
        .await;
        if outcome.is_success() {
            outcome.number = body
                .as_ref()
                .and_then(|b| b["invoice"]["number"].as_str())
                .map(str::to_owned);
        }
        outcome
    }

    async fn simple(&self, op: Op, seq: u64, due: Instant) -> Outcome {
        let load = &self.load;
        let spec = &self.spec;
        let customer = pick(&load.customer_ids, spread(seq) >> 8).cloned();
        let (request, target, value) = match op {
            Op::CreateInvoice => {
                let value = format!("{}-i{seq}", spec.tag);
                let body = invoice_body(customer.as_deref().unwrap_or_default(), "rk", &value);
                (
                    self.http
                        .post(format!("{}/invoices", spec.invoice_url))
                        .json(&body),
                    None,
                    Some(value),
                )
            }
            Op::CreateCustomer => {
                let value = format!("{}-c{seq}", spec.tag);
                (
                    self.http
                        .post(format!("{}/customers", spec.customer_url))
                        .json(&customer_body(&value, "rk")),
                    None,
                    Some(value),
                )
            }
            Op::ReadCustomer => {
                let id = customer.unwrap_or_default();
                (
                    self.http
                        .get(format!("{}/customers/{id}", spec.customer_url)),
                    Some(id),
                    None,
                )
            }
            Op::ListInvoices => (
                self.http.get(format!(
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
                    self.http.get(format!("{}/invoices/{id}", spec.invoice_url)),
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
        let (mut outcome, body) =
            send(request, op, seq, self.due_ms(due), due, target, value).await;
        if outcome.is_success() && matches!(op, Op::CreateInvoice | Op::CreateCustomer) {
            outcome.created_id = body
                .as_ref()
                .and_then(|b| b["id"].as_str())
                .map(str::to_owned);
        }
        outcome
    }
}

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

/// Sends one request and reads the whole answer; the JSON body of the answer when it has one.
async fn send(
    request: reqwest::RequestBuilder,
    op: Op,
    seq: u64,
    due_ms: u64,
    due: Instant,
    target: Option<String>,
    value: Option<String>,
) -> (Outcome, Option<Value>) {
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
        op,
        seq,
        target,
        value,
        due_ms,
        sent_ms,
        latency_ms,
        corrected_ms,
        status: None,
        code: None,
        failure: None,
        created_id: None,
        number: None,
        replayed: false,
        attempt: 1,
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

/// What every idempotent run shares.
struct Runs {
    http: reqwest::Client,
    spec: DriveSpec,
    runs: IdempotentRuns,
    start: Instant,
    started_ms: u64,
    counters: Arc<Counters>,
}

async fn run_idempotent(
    shared: Arc<Runs>,
    run: usize,
    stopped: watch::Receiver<bool>,
) -> Vec<Outcome> {
    let offset = Duration::from_secs_f64(run as f64 / shared.runs.per_second.max(0.001));
    let due = shared.start + offset;
    tokio::time::sleep_until(due).await;
    let key = format!("{}-k{run}", shared.spec.tag);
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
    let spec = &shared.spec;
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
        let due_ms =
            shared.started_ms + u64::try_from((due - shared.start).as_millis()).unwrap_or(0);
        let request = shared
            .http
            .post(&url)
            .header("idempotency-key", &key)
            .json(&body);
        let seq = u64::try_from(run).unwrap_or(u64::MAX);
        let (mut outcome, answer) =
            send(request, op, seq, due_ms, due, None, Some(key.clone())).await;
        outcome.attempt = attempt;
        if outcome.is_success() {
            outcome.created_id = answer
                .as_ref()
                .and_then(|b| b["id"].as_str())
                .map(str::to_owned);
        }
        shared.counters.count(&outcome);
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

    #[test]
    fn the_mix_table_has_one_entry_per_unit_of_weight() {
        let mix = Mix {
            patch: 3,
            create_invoice: 1,
            ..Mix::default()
        };
        let table = mix.table();
        assert_eq!(table.len(), 4);
        assert_eq!(table.iter().filter(|&&op| op == Op::Patch).count(), 3);
    }

    #[test]
    fn spread_slots_cover_the_mix_evenly() {
        let mut counts = [0u32; 10];
        for seq in 0..10_000 {
            counts[usize::try_from(spread(seq) % 10).unwrap()] += 1;
        }
        assert!(
            counts.iter().all(|&c| (900..1100).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn only_unavailable_busy_or_unanswered_requests_are_retried() {
        let mut outcome = Outcome {
            op: Op::IdempotentCustomer,
            seq: 0,
            target: None,
            value: None,
            due_ms: 0,
            sent_ms: 0,
            latency_ms: 0.0,
            corrected_ms: 0.0,
            status: Some(503),
            code: None,
            failure: None,
            created_id: None,
            number: None,
            replayed: false,
            attempt: 1,
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
