//! The orchestrator: starts the system, seeds it, runs every fault row with load from the
//! driver process, heals the system, and checks consistency after each row.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use bench::load::LoadReport;
use futures::StreamExt;
use serde_json::json;
use tokio::time::Instant;

use crate::drive::{
    self, DriveReport, DriveSpec, IdempotentRuns, Mix, PatchTarget, PhaseSpec, ReadLoad,
    TrackedLoad,
};
use crate::driver::Driver;
use crate::ledger::{self, Ledger};
use crate::outcome::{Failure, Op, Outcome, Service, Told, quantile, unix_ms};
use crate::procs::{Binaries, Cluster, Proc};
use crate::report::{RowResult, SuiteReport, ms};

/// The rows, in the order they run, with the fault each one injects.
pub const ROWS: &[(&str, &str)] = &[
    (
        "baseline",
        "none: the 80/20 load alone, the reference for latency",
    ),
    (
        "redis-killed",
        "redis-server killed (SIGKILL) for 10 s under 80% reads / 20% writes",
    ),
    (
        "redis-paused",
        "redis-server stopped with SIGSTOP for 10 s under the same load",
    ),
    (
        "mongo-stopped",
        "MongoDB server killed for 15 s under load, then started again on its data",
    ),
    (
        "idempotent-retries",
        "100 runs of POSTs retried with one Idempotency-Key each, while MongoDB is killed twice and frozen (SIGSTOP) once",
    ),
    (
        "customer-service-down",
        "customer-service killed for 5 s, then frozen (SIGSTOP) for 5 s, under invoice load",
    ),
    (
        "sigterm-invoice",
        "SIGTERM to invoice-service under load, with requests held in flight",
    ),
    (
        "sigterm-customer",
        "SIGTERM to customer-service under load, with requests held in flight",
    ),
    (
        "start-both-down",
        "both services started while MongoDB and Redis are down; then the servers start",
    ),
    ("soak", "a long run of mixed requests at a steady rate"),
];

/// Customers and invoices made before the first row.
const SEED_CUSTOMERS: usize = 20;
const SEED_INVOICES: usize = 200;
/// Read connections of `bench::load`, and tracked lanes.
const READ_CONNECTIONS: usize = 16;
const LANES: usize = 32;
/// The bound every request that needs a dead dependency must be answered within.
const UNAVAILABLE_WITHIN_MS: f64 = 2500.0;
/// A request sent at least this long before SIGTERM counts as accepted before it: by then
/// the service has read it off the socket (see docs/reliability.md).
const ACCEPTED_MARGIN_MS: u64 = 20;

/// How a run is configured.
#[derive(Debug, Clone)]
pub struct Settings {
    pub binaries: Binaries,
    /// This executable, started again as `drive`.
    pub driver: PathBuf,
    pub run_dir: PathBuf,
    pub logs: PathBuf,
    pub output: PathBuf,
    /// Requests per second of the loaded rows: 80% reads, 20% writes.
    pub rate: f64,
    pub soak_requests: u64,
    pub soak_rate: f64,
    /// Only these rows (the baseline always runs); empty: all.
    pub rows: Vec<String>,
    pub rust_log: String,
}

/// What the baseline measured, for the rows that compare with it.
#[derive(Debug, Clone, Copy, Default)]
struct Baseline {
    reads_p99: f64,
    writes_p99: f64,
}

struct Suite {
    settings: Settings,
    cluster: Cluster,
    mongo: mongodb::Client,
    http: reqwest::Client,
    ledger: Ledger,
    tag: String,
    customers: Vec<String>,
    targets: Vec<PatchTarget>,
    baseline: Baseline,
    /// Invoices the current row created or finalized, read back by its check.
    touched: BTreeSet<String>,
}

/// Runs every selected row and reports them.
pub async fn run(settings: Settings) -> anyhow::Result<SuiteReport> {
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let load_at_start = load_average();
    println!("reliability: load average at the start: {load_at_start}");
    for old in ["mongo", "redis", "data-customers", "data-invoices"] {
        let path = settings.run_dir.join(old);
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    std::fs::create_dir_all(&settings.logs)?;
    let mut cluster = Cluster::new(
        &settings.binaries,
        &settings.run_dir,
        &settings.logs,
        &settings.rust_log,
    )?;
    cluster.start_all().await?;
    println!(
        "reliability: {} on 127.0.0.1:{}, redis-server on :{}, customer-service on :{}, invoice-service on :{}",
        settings
            .binaries
            .mongo
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        cluster.mongo_port,
        cluster.redis_port,
        cluster.customers_port,
        cluster.invoices_port
    );
    let mongo = mongodb::Client::with_uri_str(format!(
        "{}/?serverSelectionTimeoutMS=5000",
        cluster.mongodb_uri()
    ))
    .await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()?;
    let mut suite = Suite {
        tag: format!("r{}", unix_ms() % 1_000_000_000),
        settings,
        cluster,
        mongo,
        http,
        ledger: Ledger::default(),
        customers: Vec::new(),
        targets: Vec::new(),
        baseline: Baseline::default(),
        touched: BTreeSet::new(),
    };
    suite.seed().await.context("seeding the services")?;

    let mut rows = Vec::new();
    for (name, fault) in ROWS {
        let selected = suite.settings.rows.is_empty()
            || *name == "baseline"
            || suite.settings.rows.iter().any(|r| r == name);
        if !selected {
            continue;
        }
        println!("reliability: row {name}: {fault}");
        let row_clock = Instant::now();
        let mut row = RowResult::new(name, fault);
        suite.touched.clear();
        let result = match *name {
            "baseline" => suite.baseline(&mut row).await,
            "redis-killed" => suite.redis_killed(&mut row).await,
            "redis-paused" => suite.redis_paused(&mut row).await,
            "mongo-stopped" => suite.mongo_stopped(&mut row).await,
            "idempotent-retries" => suite.idempotent_retries(&mut row).await,
            "customer-service-down" => suite.customer_service_down(&mut row).await,
            "sigterm-invoice" => suite.sigterm(&mut row, Service::Invoices).await,
            "sigterm-customer" => suite.sigterm(&mut row, Service::Customers).await,
            "start-both-down" => suite.start_both_down(&mut row).await,
            "soak" => suite.soak(&mut row).await,
            other => Err(anyhow::anyhow!("no such row {other}")),
        };
        if let Err(error) = result {
            row.error = Some(format!("{error:#}"));
        }
        if let Err(error) = suite.heal().await {
            row.error
                .get_or_insert_with(|| format!("could not bring the system back: {error:#}"));
        }
        match suite.consistency().await {
            Ok(consistency) => {
                row.check(
                    "consistency check",
                    consistency.summary(),
                    "all problems 0",
                    consistency.passed(),
                );
                for example in consistency.examples.iter().take(5) {
                    println!("reliability:   consistency: {example}");
                }
                row.consistency = Some(consistency);
            }
            Err(error) => {
                row.error
                    .get_or_insert_with(|| format!("consistency check failed to run: {error:#}"));
            }
        }
        row.seconds = row_clock.elapsed().as_secs_f64();
        row.settle();
        for criterion in &row.criteria {
            println!(
                "reliability:   {} {}: {} (limit {})",
                if criterion.pass { "pass" } else { "FAIL" },
                criterion.name,
                criterion.measured,
                criterion.limit
            );
        }
        if let Some(error) = &row.error {
            println!("reliability:   FAIL error: {error}");
        }
        println!(
            "reliability: row {name}: {} in {:.0} s",
            if row.pass { "PASS" } else { "FAIL" },
            row.seconds
        );
        rows.push(row);
    }
    suite.cluster.kill_all();
    let settings = &suite.settings;
    Ok(SuiteReport {
        started: started.to_rfc3339(),
        seconds: clock.elapsed().as_secs_f64(),
        pass: rows.iter().all(|r| r.pass),
        settings: json!({
            "build": "debug (target/debug, the build of scripts/test)",
            "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
            "mongo_server": settings.binaries.mongo.display().to_string(),
            "redis_server": settings.binaries.redis.display().to_string(),
            "rate_per_second": settings.rate,
            "read_share": 0.8,
            "soak_requests": settings.soak_requests,
            "soak_rate_per_second": settings.soak_rate,
            "seed_customers": SEED_CUSTOMERS,
            "seed_invoices": SEED_INVOICES,
            // Other work on the machine shows here: every figure is measured on 2 shared cores.
            "load_average_start": load_at_start,
            "load_average_end": load_average(),
        }),
        rows,
    })
}

/// Counts of what a drive's reads and tracked requests got.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    reads: u64,
    read_failures: u64,
    read_server_errors: u64,
    read_max_ms: f64,
    tracked: u64,
    tracked_failures: u64,
    tracked_server_errors: u64,
    tracked_500: u64,
    tracked_unanswered: u64,
    tracked_max_ms: f64,
}

impl Tally {
    fn of(report: &DriveReport) -> Self {
        let mut tally = Self::default();
        for reads in report.phases.iter().filter_map(|p| p.reads.as_ref()) {
            tally.reads += reads.requests + reads.errors.total();
            tally.read_failures += reads.failures();
            tally.read_server_errors += reads.status.server_error + reads.errors.total();
            tally.read_max_ms = tally.read_max_ms.max(reads.latency.max_ms);
        }
        for outcome in &report.outcomes {
            tally.tracked += 1;
            if !outcome.is_success() {
                tally.tracked_failures += 1;
            }
            match outcome.status {
                Some(500) => {
                    tally.tracked_500 += 1;
                    tally.tracked_server_errors += 1;
                }
                Some(status) if status >= 500 => tally.tracked_server_errors += 1,
                None => {
                    tally.tracked_unanswered += 1;
                    tally.tracked_server_errors += 1;
                }
                Some(_) => {}
            }
            tally.tracked_max_ms = tally.tracked_max_ms.max(outcome.corrected_ms);
        }
        tally
    }

    fn failures(&self) -> u64 {
        self.read_failures + self.tracked_failures
    }
}

/// The p99 of the writes due within a phase, corrected for coordinated omission.
fn writes_p99(report: &DriveReport, phase: &str) -> f64 {
    let Some(phase) = report.phases.iter().find(|p| p.name == phase) else {
        return 0.0;
    };
    let mut latencies: Vec<f64> = report
        .outcomes
        .iter()
        .filter(|o| o.op.is_write() && o.due_ms >= phase.started_ms && o.due_ms < phase.ended_ms)
        .map(|o| o.corrected_ms)
        .collect();
    quantile(&mut latencies, 0.99)
}

fn reads_of<'a>(report: &'a DriveReport, phase: &str) -> Option<&'a LoadReport> {
    report
        .phases
        .iter()
        .find(|p| p.name == phase)
        .and_then(|p| p.reads.as_ref())
}

fn phases(list: &[(&str, f64)]) -> Vec<PhaseSpec> {
    list.iter()
        .map(|(name, seconds)| PhaseSpec {
            name: (*name).to_owned(),
            seconds: *seconds,
        })
        .collect()
}

/// The writes of the 80/20 rows.
fn writes_mix() -> Mix {
    Mix {
        patch: 6,
        create_invoice: 2,
        finalize: 1,
        create_customer: 1,
        ..Mix::default()
    }
}

/// Cache lookups counted by invoice-service's `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
struct CacheCounts {
    hits: f64,
    misses: f64,
    bypassed: f64,
    deferred: f64,
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Samples the cache counters every 250 ms while it lives.
struct CacheSampler {
    samples: Arc<Mutex<Vec<(u64, CacheCounts)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CacheSampler {
    fn start(http: reqwest::Client, url: String) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let kept = samples.clone();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(250));
            loop {
                every.tick().await;
                let Ok(response) = http.get(&url).timeout(Duration::from_secs(1)).send().await
                else {
                    continue;
                };
                let Ok(text) = response.text().await else {
                    continue;
                };
                let counts = CacheCounts {
                    hits: metric(&text, "cache_hits_total"),
                    misses: metric(&text, "cache_misses_total"),
                    bypassed: metric(&text, "cache_bypassed_total"),
                    deferred: metric(&text, "cache_deferred_writes_total"),
                };
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((unix_ms(), counts));
            }
        });
        Self { samples, task }
    }

    fn samples(&self) -> Vec<(u64, CacheCounts)> {
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Hit ratio and lookups between the first sample at or after `from` and the last at
    /// or before `to`.
    fn ratio(&self, from: u64, to: u64) -> Option<(f64, f64)> {
        let samples = self.samples();
        let first = samples.iter().find(|(t, _)| *t >= from)?;
        let last = samples.iter().rev().find(|(t, _)| *t <= to)?;
        if last.0 <= first.0 {
            return None;
        }
        let hits = last.1.hits - first.1.hits;
        let lookups =
            hits + (last.1.misses - first.1.misses) + (last.1.bypassed - first.1.bypassed);
        (lookups > 0.0).then(|| (hits / lookups, lookups))
    }

    /// The first time after `from` when the hit ratio over the previous 500 ms was at
    /// least `at_least` (over at least 20 lookups).
    fn recovered_at(&self, from: u64, at_least: f64) -> Option<u64> {
        let samples = self.samples();
        samples
            .iter()
            .filter(|(t, _)| *t >= from + 500)
            .find(|(t, _)| {
                self.ratio(t - 500, *t)
                    .is_some_and(|(ratio, lookups)| ratio >= at_least && lookups >= 20.0)
            })
            .map(|(t, _)| *t)
    }

    fn deferred_between(&self, from: u64, to: u64) -> f64 {
        let samples = self.samples();
        let first = samples
            .iter()
            .find(|(t, _)| *t >= from)
            .map(|s| s.1.deferred);
        let last = samples
            .iter()
            .rev()
            .find(|(t, _)| *t <= to)
            .map(|s| s.1.deferred);
        match (first, last) {
            (Some(first), Some(last)) => last - first,
            _ => 0.0,
        }
    }
}

impl Drop for CacheSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn pct(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

impl Suite {
    fn invoice_url(&self) -> String {
        self.cluster.invoice_url()
    }

    fn customer_url(&self) -> String {
        self.cluster.customer_url()
    }

    fn target_ids(&self) -> Vec<String> {
        self.targets.iter().map(|t| t.id.clone()).collect()
    }

    /// 80% reads through `bench::load`, 20% tracked requests with `mix`, at `rate` in all.
    fn mixed_spec(&self, name: &str, phases: Vec<PhaseSpec>, mix: Mix, rate: f64) -> DriveSpec {
        DriveSpec {
            invoice_url: self.invoice_url(),
            customer_url: self.customer_url(),
            tag: format!("{}-{name}", self.tag),
            phases,
            reads: Some(ReadLoad {
                rate: 0.8 * rate,
                connections: READ_CONNECTIONS,
                invoice_ids: self.target_ids(),
            }),
            tracked: Some(TrackedLoad {
                rate: 0.2 * rate,
                lanes: LANES,
                mix,
                patch_targets: self.targets.clone(),
                customer_ids: self.customers.clone(),
                read_ids: self.target_ids(),
            }),
            idempotent: None,
            timeout_ms: 10_000,
        }
    }

    async fn spawn(&self, name: &str, spec: &DriveSpec) -> anyhow::Result<Driver> {
        Driver::spawn(&self.settings.driver, &self.settings.logs, name, spec).await
    }

    /// Waits for the drive and records what its clients were told.
    async fn finish(&mut self, driver: Driver, within: Duration) -> anyhow::Result<DriveReport> {
        let report = driver.finish(within).await?;
        for outcome in &report.outcomes {
            let invoice = matches!(
                outcome.op,
                Op::CreateInvoice | Op::IdempotentInvoice | Op::Finalize
            );
            if invoice && outcome.is_success() {
                if let Some(id) = outcome.created_id.as_ref().or(outcome.target.as_ref()) {
                    self.touched.insert(id.clone());
                }
            }
        }
        self.ledger.add(report.outcomes.iter().cloned());
        Ok(report)
    }

    /// Customers and draft invoices every row works on, each read once so the cache
    /// holds it.
    async fn seed(&mut self) -> anyhow::Result<()> {
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
    async fn heal(&mut self) -> anyhow::Result<()> {
        let cluster = &mut self.cluster;
        for proc in [
            &mut cluster.mongo,
            &mut cluster.redis,
            &mut cluster.customers,
            &mut cluster.invoices,
        ] {
            if proc.is_running() {
                let _ = proc.signal("CONT");
            }
        }
        if !cluster.mongo.is_running() {
            cluster.start_mongo().await?;
        }
        if !cluster.redis.is_running() {
            cluster.start_redis().await?;
        }
        if !cluster.customers.is_running() {
            cluster.start_customers().await?;
        }
        if !cluster.invoices.is_running() {
            cluster.start_invoices().await?;
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

    async fn consistency(&self) -> anyhow::Result<ledger::Consistency> {
        let store = ledger::read_store(
            &self.mongo,
            &self.cluster.invoice_db,
            &self.cluster.customer_db,
        )
        .await?;
        let mut report = ledger::check_store(&self.ledger, &store);
        let mut ids: BTreeSet<String> = self.target_ids().into_iter().collect();
        ids.extend(self.touched.iter().cloned());
        ledger::check_reads(&self.http, &self.invoice_url(), &ids, &store, &mut report).await?;
        Ok(report)
    }

    async fn status_of(&self, request: reqwest::RequestBuilder) -> (u16, f64) {
        let sent = Instant::now();
        let status = request
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        (status, sent.elapsed().as_secs_f64() * 1000.0)
    }

    // ---------------------------------------------------------------- rows

    async fn baseline(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let spec = self.mixed_spec(
            "baseline",
            phases(&[("baseline", 10.0)]),
            writes_mix(),
            self.settings.rate,
        );
        let driver = self.spawn("baseline", &spec).await?;
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        let reads = reads_of(&report, "baseline").context("no reads")?;
        self.baseline = Baseline {
            reads_p99: reads.latency.p99_ms,
            writes_p99: writes_p99(&report, "baseline"),
        };
        row.figure("reads", json!(reads));
        row.figure("reads_p99_ms", self.baseline.reads_p99);
        row.figure("writes_p99_ms", self.baseline.writes_p99);
        row.figure("tracked_writes", tally.tracked);
        row.check("reads p99", ms(reads.latency.p99_ms), "reference", true);
        row.check(
            "writes p99",
            ms(self.baseline.writes_p99),
            "reference",
            true,
        );
        row.check(
            "non-2xx answers",
            tally.failures(),
            "0",
            tally.failures() == 0,
        );
        Ok(())
    }

    /// p99 of the fault phase against max(3× baseline, 250 ms), for reads and writes.
    fn check_p99(&self, row: &mut RowResult, report: &DriveReport, phase: &str) {
        let reads = reads_of(report, phase).map_or(0.0, |r| r.latency.p99_ms);
        let writes = writes_p99(report, phase);
        let read_limit = (3.0 * self.baseline.reads_p99).max(250.0);
        let write_limit = (3.0 * self.baseline.writes_p99).max(250.0);
        row.figure("fault_reads_p99_ms", reads);
        row.figure("fault_writes_p99_ms", writes);
        row.check(
            "reads p99 during the fault",
            format!("{} (baseline {})", ms(reads), ms(self.baseline.reads_p99)),
            format!("<= {}", ms(read_limit)),
            reads <= read_limit,
        );
        row.check(
            "writes p99 during the fault",
            format!("{} (baseline {})", ms(writes), ms(self.baseline.writes_p99)),
            format!("<= {}", ms(write_limit)),
            writes <= write_limit,
        );
    }

    async fn redis_killed(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let spec = self.mixed_spec(
            "redis-killed",
            phases(&[("before", 2.0), ("fault", 12.0), ("after", 32.0)]),
            writes_mix(),
            self.settings.rate,
        );
        let sampler =
            CacheSampler::start(self.http.clone(), format!("{}/metrics", self.invoice_url()));
        let mut driver = self.spawn("redis-killed", &spec).await?;
        driver.until(3.0).await;
        let killed = unix_ms();
        self.cluster.redis.kill();
        driver.until(13.0).await;
        self.cluster.start_redis().await?;
        let back = unix_ms();
        let recovered = loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if let Some(at) = sampler.recovered_at(back, 0.9) {
                break Some(at);
            }
            if unix_ms() > back + 30_000 || driver.has_exited() {
                break None;
            }
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        driver.stop();
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        row.figure("down_ms", back - killed);
        row.figure(
            "hit_ratio_before",
            sampler
                .ratio(killed.saturating_sub(2000), killed)
                .map(|r| r.0),
        );
        row.figure(
            "hit_ratio_while_down",
            sampler.ratio(killed + 1000, back).map(|r| r.0),
        );
        row.figure(
            "deferred_cache_writes",
            sampler.deferred_between(killed, back + 5000),
        );
        row.figure("reads", tally.reads);
        row.figure("tracked_writes", tally.tracked);
        row.figure("max_read_ms", tally.read_max_ms);
        row.figure("max_write_ms", tally.tracked_max_ms);
        row.check(
            "non-2xx answers",
            format!(
                "{} ({} reads, {} writes)",
                tally.failures(),
                tally.read_failures,
                tally.tracked_failures
            ),
            "0",
            tally.failures() == 0,
        );
        self.check_p99(row, &report, "fault");
        let recovery = recovered.map(|at| (at - back) as f64 / 1000.0);
        row.figure("hit_ratio_recovery_s", recovery);
        row.check(
            "hit ratio back >= 90% after Redis returns",
            recovery.map_or_else(|| "not within 30 s".to_owned(), |s| format!("{s:.1} s")),
            "<= 30 s",
            recovery.is_some_and(|s| s <= 30.0),
        );
        Ok(())
    }

    async fn redis_paused(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let spec = self.mixed_spec(
            "redis-paused",
            phases(&[("before", 2.0), ("fault", 12.0), ("after", 4.0)]),
            writes_mix(),
            self.settings.rate,
        );
        let driver = self.spawn("redis-paused", &spec).await?;
        driver.until(3.0).await;
        self.cluster.redis.signal("STOP")?;
        driver.until(13.0).await;
        self.cluster.redis.signal("CONT")?;
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        row.figure("reads", tally.reads);
        row.figure("tracked_writes", tally.tracked);
        row.figure("non_2xx", tally.failures());
        let reads_p99 = reads_of(&report, "fault").map_or(0.0, |r| r.latency.p99_ms);
        row.figure("fault_reads_p99_ms", reads_p99);
        row.figure("fault_writes_p99_ms", writes_p99(&report, "fault"));
        let server_errors = tally.read_server_errors + tally.tracked_server_errors;
        row.check(
            "5xx answers (or no answer)",
            format!(
                "{server_errors} ({} reads, {} writes)",
                tally.read_server_errors, tally.tracked_server_errors
            ),
            "0",
            server_errors == 0,
        );
        let slowest = tally.read_max_ms.max(tally.tracked_max_ms);
        row.check(
            "slowest request (from its due time)",
            format!(
                "{} (reads {}, writes {})",
                ms(slowest),
                ms(tally.read_max_ms),
                ms(tally.tracked_max_ms)
            ),
            "<= 1000.0 ms",
            slowest <= 1000.0,
        );
        Ok(())
    }

    async fn ready_statuses(&self) -> (u16, u16) {
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

    async fn mongo_stopped(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let mix = Mix {
            patch: 4,
            create_invoice: 2,
            finalize: 1,
            create_customer: 1,
            read_customer: 1,
            list_invoices: 1,
            ..Mix::default()
        };
        let spec = self.mixed_spec(
            "mongo-stopped",
            phases(&[("before", 2.0), ("fault", 17.0), ("after", 30.0)]),
            mix,
            self.settings.rate,
        );
        let pids = (self.cluster.customers.pid(), self.cluster.invoices.pid());
        let mut driver = self.spawn("mongo-stopped", &spec).await?;
        driver.until(3.0).await;
        let stopped = unix_ms();
        self.cluster.mongo.kill();
        driver.until(5.0).await;
        let mut ready = vec![self.ready_statuses().await];
        driver.until(12.0).await;
        ready.push(self.ready_statuses().await);
        driver.until(18.0).await;
        self.cluster.start_mongo().await?;
        let back = unix_ms();
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let ticks: Vec<_> = driver
                .ticks()
                .into_iter()
                .filter(|t| t.t_ms > back + 1000)
                .collect();
            let calm = ticks.len() >= 5
                && ticks[ticks.len() - 5..]
                    .iter()
                    .all(|t| t.failed == 0 && t.reads_failed == 0 && t.ok > 0);
            if calm || unix_ms() > back + 25_000 || driver.has_exited() {
                break;
            }
        }
        driver.stop();
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        row.figure("down_ms", back - stopped);

        let outage: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.sent_ms >= stopped && o.sent_ms < back)
            .collect();
        let answered_503 = outage.iter().filter(|o| o.status == Some(503)).count();
        let wrong: Vec<&&Outcome> = outage
            .iter()
            .filter(|o| {
                !(o.is_success()
                    || (o.status == Some(503) && o.latency_ms <= UNAVAILABLE_WITHIN_MS))
            })
            .collect();
        let slowest_503 = outage
            .iter()
            .filter(|o| o.status == Some(503))
            .map(|o| o.latency_ms)
            .fold(0.0, f64::max);
        row.figure("outage_requests", outage.len());
        row.figure("outage_503", answered_503);
        row.figure("outage_slowest_503_ms", slowest_503);
        if let Some(example) = wrong.first() {
            row.figure("outage_first_wrong", json!(example));
        }
        row.check(
            "requests needing MongoDB: 503 within 2.5 s",
            format!(
                "{answered_503} of {} got 503 (slowest {}); {} other",
                outage.len(),
                ms(slowest_503),
                wrong.len()
            ),
            "every non-2xx a 503 within 2500 ms",
            wrong.is_empty() && answered_503 > 0,
        );
        row.check(
            "500 answers",
            tally.tracked_500,
            "0",
            tally.tracked_500 == 0,
        );
        let fault_reads = reads_of(&report, "fault");
        row.check(
            "cached invoice reads while MongoDB is down",
            format!(
                "{} non-2xx of {} (whole run: {} of {})",
                fault_reads.map_or(0, LoadReport::failures),
                fault_reads.map_or(0, |r| r.requests),
                tally.read_failures,
                tally.reads
            ),
            "0 non-2xx",
            tally.read_failures == 0,
        );
        row.check(
            "/ready while MongoDB is down (customer, invoice)",
            format!("{ready:?}"),
            "503 each time",
            ready.iter().all(|r| *r == (503, 503)),
        );
        let recovery = recovery_after(&report.outcomes, back);
        let observed = report.ended_ms.saturating_sub(back) as f64 / 1000.0;
        row.figure("observed_after_return_s", observed);
        row.check(
            ">= 99% 2xx after MongoDB returns",
            format!("after {recovery:.0} s (observed {observed:.0} s)"),
            "<= 15 s",
            recovery <= 15.0 && observed >= recovery + 3.0,
        );
        let now = (self.cluster.customers.pid(), self.cluster.invoices.pid());
        let alive = self.cluster.customers.is_running() && self.cluster.invoices.is_running();
        row.check(
            "services not restarted",
            if now == pids && alive {
                "same processes"
            } else {
                "restarted"
            },
            "same processes",
            now == pids && alive,
        );
        Ok(())
    }

    async fn idempotent_retries(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let runs = 100;
        let mut spec = self.mixed_spec(
            "idempotent",
            phases(&[("runs", 14.0)]),
            Mix::default(),
            self.settings.rate,
        );
        spec.tracked = None;
        spec.idempotent = Some(IdempotentRuns {
            runs,
            per_second: 8.0,
            customer_id: self.customers[0].clone(),
            retry_ms: 250,
            give_up_ms: 60_000,
        });
        let driver = self.spawn("idempotent-retries", &spec).await?;
        driver.until(1.5).await;
        self.cluster.mongo.kill();
        driver.until(4.5).await;
        self.cluster.start_mongo().await?;
        driver.until(6.5).await;
        self.cluster.mongo.signal("STOP")?;
        driver.until(9.5).await;
        self.cluster.mongo.signal("CONT")?;
        driver.until(11.0).await;
        self.cluster.mongo.kill();
        driver.until(13.0).await;
        self.cluster.start_mongo().await?;
        let report = self.finish(driver, Duration::from_secs(120)).await?;

        let mut own = Ledger::default();
        own.add(report.outcomes.iter().cloned());
        let store = ledger::read_store(
            &self.mongo,
            &self.cluster.invoice_db,
            &self.cluster.customer_db,
        )
        .await?;
        let check = ledger::check_store(&own, &store);
        for op in [Op::IdempotentInvoice, Op::IdempotentCustomer] {
            let attempts: Vec<&Outcome> = report.outcomes.iter().filter(|o| o.op == op).collect();
            let keys: BTreeSet<&str> = attempts.iter().filter_map(|o| o.value.as_deref()).collect();
            let acknowledged: BTreeSet<&str> = attempts
                .iter()
                .filter(|o| o.is_success())
                .filter_map(|o| o.value.as_deref())
                .collect();
            let name = if op == Op::IdempotentInvoice {
                "invoices"
            } else {
                "customers"
            };
            row.figure(&format!("{name}_attempts"), attempts.len());
            row.figure(
                &format!("{name}_max_attempts"),
                attempts.iter().map(|o| o.attempt).max().unwrap_or(0),
            );
            row.figure(
                &format!("{name}_replayed"),
                attempts.iter().filter(|o| o.replayed).count(),
            );
            row.figure(
                &format!("{name}_503"),
                attempts.iter().filter(|o| o.status == Some(503)).count(),
            );
            row.figure(
                &format!("{name}_409_in_use"),
                attempts
                    .iter()
                    .filter(|o| o.code.as_deref() == Some("idempotency_key_in_use"))
                    .count(),
            );
            row.figure(
                &format!("{name}_500"),
                attempts.iter().filter(|o| o.status == Some(500)).count(),
            );
            let finals: Vec<String> = attempts
                .iter()
                .filter(|o| !o.is_success() && !matches!(o.status, Some(503 | 409 | 429) | None))
                .map(|o| format!("{:?} {:?}", o.status, o.code))
                .collect();
            if !finals.is_empty() {
                row.figure(&format!("{name}_final_failures"), json!(finals));
            }
            let mut ids: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            for attempt in attempts.iter().filter(|o| o.is_success()) {
                if let (Some(key), Some(id)) =
                    (attempt.value.as_deref(), attempt.created_id.as_deref())
                {
                    ids.entry(key).or_default().push(id);
                }
            }
            let retried: Vec<&Vec<&str>> = ids.values().filter(|v| v.len() >= 2).collect();
            let same = retried
                .iter()
                .filter(|v| v.iter().all(|id| *id == v[0]))
                .count();
            row.check(
                &format!("retry after the acknowledgement: same id ({name})"),
                format!("{same} of {}", retried.len()),
                format!("{runs} of {runs}"),
                same == runs && retried.len() == runs,
            );
            row.check(
                &format!("runs acknowledged ({name})"),
                format!("{} of {}", acknowledged.len(), keys.len()),
                format!("{runs} of {runs}"),
                acknowledged.len() == runs && keys.len() == runs,
            );
        }
        for example in check.examples.iter().take(5) {
            println!("reliability:   idempotency: {example}");
        }
        row.check(
            "duplicates (per key, invoices and customers)",
            check.duplicates,
            "0",
            check.duplicates == 0,
        );
        row.check(
            "acknowledged writes missing",
            format!("{} of {}", check.missing, check.acknowledged_checked),
            "0",
            check.missing == 0,
        );
        row.check(
            "failed runs present",
            check.failed_but_present,
            "0",
            check.failed_but_present == 0,
        );
        Ok(())
    }

    async fn customer_service_down(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let mix = Mix {
            create_invoice: 5,
            patch: 3,
            read_invoice: 2,
            ..Mix::default()
        };
        let spec = self.mixed_spec(
            "customer-down",
            phases(&[("before", 2.0), ("fault", 14.0), ("after", 5.0)]),
            mix,
            self.settings.rate,
        );
        let driver = self.spawn("customer-service-down", &spec).await?;
        driver.until(3.0).await;
        let killed = unix_ms();
        self.cluster.customers.kill();
        driver.until(8.0).await;
        self.cluster.start_customers().await?;
        let restarted = unix_ms();
        driver.until(10.0).await;
        let paused = unix_ms();
        self.cluster.customers.signal("STOP")?;
        driver.until(15.0).await;
        self.cluster.customers.signal("CONT")?;
        let continued = unix_ms();
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);

        let down = |o: &Outcome| {
            (o.sent_ms >= killed && o.sent_ms < restarted)
                || (o.sent_ms >= paused && o.sent_ms < continued)
        };
        let creates: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.op == Op::CreateInvoice)
            .collect();
        let while_down: Vec<&&Outcome> = creates.iter().filter(|o| down(o)).collect();
        let answered_503 = while_down.iter().filter(|o| o.status == Some(503)).count();
        let wrong = while_down
            .iter()
            .filter(|o| {
                o.latency_ms > UNAVAILABLE_WITHIN_MS || !(o.is_success() || o.status == Some(503))
            })
            .count();
        let slowest = while_down.iter().map(|o| o.latency_ms).fold(0.0, f64::max);
        row.figure("killed_ms", restarted - killed);
        row.figure("paused_ms", continued - paused);
        row.check(
            "invoice creation while customer-service is down",
            format!(
                "{answered_503} of {} got 503, slowest {}; {wrong} other",
                while_down.len(),
                ms(slowest)
            ),
            "503 within 2500 ms",
            wrong == 0 && answered_503 > 0,
        );
        let tracked_reads: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.op == Op::ReadInvoice)
            .collect();
        let read_failures =
            tally.read_failures + tracked_reads.iter().filter(|o| !o.is_success()).count() as u64;
        row.check(
            "reads of existing invoices",
            format!(
                "{read_failures} non-2xx of {}",
                tally.reads + tracked_reads.len() as u64
            ),
            "0 non-2xx",
            read_failures == 0,
        );
        let after: Vec<&&Outcome> = creates
            .iter()
            .filter(|o| o.sent_ms >= continued + 1000)
            .collect();
        let after_ok = after.iter().filter(|o| o.is_success()).count();
        row.check(
            "creation once customer-service is back",
            format!("{after_ok} of {} 2xx", after.len()),
            "all 2xx",
            after_ok == after.len() && !after.is_empty(),
        );
        let patches_failed = report
            .outcomes
            .iter()
            .filter(|o| o.op == Op::Patch && !o.is_success())
            .count();
        row.figure("patch_failures", patches_failed);
        Ok(())
    }

    async fn sigterm(&mut self, row: &mut RowResult, service: Service) -> anyhow::Result<()> {
        let (name, mix) = match service {
            Service::Invoices => (
                "sigterm-invoice",
                Mix {
                    patch: 4,
                    create_invoice: 2,
                    read_invoice: 4,
                    ..Mix::default()
                },
            ),
            Service::Customers => (
                "sigterm-customer",
                Mix {
                    create_customer: 5,
                    read_customer: 5,
                    ..Mix::default()
                },
            ),
        };
        let mut spec = self.mixed_spec(
            name,
            phases(&[("before", 3.0), ("after", 9.0)]),
            mix,
            self.settings.rate,
        );
        spec.reads = None;
        if let Some(tracked) = &mut spec.tracked {
            tracked.rate = self.settings.rate / 2.0;
            tracked.lanes = 2 * LANES;
        }
        let driver = self.spawn(name, &spec).await?;
        // MongoDB is frozen for 0.5 s around the signal, so that requests are held in
        // flight inside the service when SIGTERM arrives.
        driver.until(3.0).await;
        self.cluster.mongo.signal("STOP")?;
        driver.until(3.3).await;
        let signalled = unix_ms();
        let proc: &mut Proc = match service {
            Service::Invoices => &mut self.cluster.invoices,
            Service::Customers => &mut self.cluster.customers,
        };
        let log = proc.log_path().to_path_buf();
        let offset = log_len(&log);
        proc.signal("TERM")?;
        driver.until(3.5).await;
        self.cluster.mongo.signal("CONT")?;
        let proc: &mut Proc = match service {
            Service::Invoices => &mut self.cluster.invoices,
            Service::Customers => &mut self.cluster.customers,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        let exited = loop {
            if !proc.is_running() {
                break Some(unix_ms() - signalled);
            }
            if Instant::now() >= deadline {
                proc.kill();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let exit_status = proc.exit_status();
        let panics = count_after(&log, offset, "panicked");
        match service {
            Service::Invoices => self.cluster.start_invoices().await?,
            Service::Customers => self.cluster.start_customers().await?,
        }
        let restarted = unix_ms();
        let report = self.finish(driver, Duration::from_secs(60)).await?;

        let own: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.op.service() == service)
            .collect();
        let accepted: Vec<&&Outcome> = own
            .iter()
            .filter(|o| o.sent_ms + ACCEPTED_MARGIN_MS <= signalled)
            .collect();
        let in_flight = accepted
            .iter()
            .filter(|o| o.answered_ms() > signalled as f64)
            .count();
        let failed: Vec<&&&Outcome> = accepted.iter().filter(|o| !o.is_success()).collect();
        let resets = accepted
            .iter()
            .filter(|o| o.failure == Some(Failure::Io))
            .count();
        let late: Vec<&&Outcome> = own
            .iter()
            .filter(|o| o.sent_ms + ACCEPTED_MARGIN_MS > signalled && o.sent_ms <= signalled)
            .collect();
        let after_signal = own
            .iter()
            .filter(|o| o.sent_ms > signalled && o.sent_ms < restarted)
            .count();
        row.figure("exit_ms", exited);
        row.figure("exit_status", exit_status.map(|s| s.to_string()));
        row.figure("restart_ms", restarted - signalled);
        row.figure("accepted_before_signal", accepted.len());
        row.figure("in_flight_at_signal", in_flight);
        row.figure(
            "sent_within_margin_before_signal",
            json!({
                "margin_ms": ACCEPTED_MARGIN_MS,
                "sent": late.len(),
                "failed": late.iter().filter(|o| !o.is_success()).count(),
            }),
        );
        row.figure("sent_while_down", after_signal);
        if let Some(example) = failed.first() {
            row.figure("first_failed_accepted", json!(example));
        }
        row.check(
            "requests accepted before the signal complete",
            format!(
                "{} of {} 2xx ({in_flight} in flight at the signal)",
                accepted.len() - failed.len(),
                accepted.len()
            ),
            "all 2xx, >= 1 in flight",
            failed.is_empty() && in_flight > 0,
        );
        row.check("connection resets among them", resets, "0", resets == 0);
        row.check(
            "exit after SIGTERM",
            exited.map_or_else(|| "not within 15 s".to_owned(), |ms| format!("{ms} ms")),
            "<= 10000 ms",
            exited.is_some_and(|ms| ms <= 10_000),
        );
        let clean = exit_status.is_some_and(|s| s.success()) && panics == 0;
        row.check(
            "clean exit",
            format!(
                "{}, {panics} panics",
                exit_status.map_or_else(|| "killed".to_owned(), |s| s.to_string())
            ),
            "exit status 0, 0 panics",
            clean,
        );
        Ok(())
    }

    async fn start_both_down(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let logs = [
            self.cluster.customers.log_path().to_path_buf(),
            self.cluster.invoices.log_path().to_path_buf(),
        ];
        let before: Vec<u64> = logs.iter().map(|l| log_len(l)).collect();
        self.cluster
            .invoices
            .terminate(Duration::from_secs(15))
            .await?;
        self.cluster
            .customers
            .terminate(Duration::from_secs(15))
            .await?;
        self.cluster.mongo.kill();
        self.cluster.redis.kill();
        // Only the instances started with both servers down are judged here; the exit of
        // the previous ones is reported beside it.
        let offsets: Vec<u64> = logs.iter().map(|l| log_len(l)).collect();
        let stopping: usize = logs
            .iter()
            .zip(&before)
            .map(|(log, offset)| count_after(log, *offset, "panicked"))
            .sum();
        row.figure("panics_while_the_previous_instances_stopped", stopping);
        self.cluster.start_customers().await?;
        self.cluster.start_invoices().await?;
        row.check("/health while both are down", "200, 200", "200", true);

        let customer = self.customers[0].clone();
        let invoice = self.targets[0].id.clone();
        let mut ready = Vec::new();
        let mut business = Vec::new();
        for _ in 0..3 {
            ready.push(self.ready_statuses().await);
            let (c, _) = self
                .status_of(
                    self.http
                        .get(format!("{}/customers/{customer}", self.customer_url())),
                )
                .await;
            let (i, _) = self
                .status_of(
                    self.http
                        .get(format!("{}/invoices/{invoice}", self.invoice_url())),
                )
                .await;
            let (p, took) = self
                .status_of(
                    self.http
                        .post(format!("{}/invoices", self.invoice_url()))
                        .json(&drive::invoice_body(&customer, "rk", "never")),
                )
                .await;
            business.push((c, i, p, took));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        row.check(
            "/ready while both are down (customer, invoice)",
            format!("{ready:?}"),
            "503 each time",
            ready.iter().all(|r| *r == (503, 503)),
        );
        row.check(
            "business requests while both are down",
            format!(
                "{:?}",
                business.iter().map(|b| (b.0, b.1, b.2)).collect::<Vec<_>>()
            ),
            "503 each (none 500)",
            business
                .iter()
                .all(|b| b.0 == 503 && b.1 == 503 && b.2 == 503),
        );
        let healthy = self.cluster.customers.is_running() && self.cluster.invoices.is_running();

        let started = Instant::now();
        self.cluster.start_mongo().await?;
        self.cluster.start_redis().await?;
        let ready_within = loop {
            if self.ready_statuses().await == (200, 200) {
                break Some(started.elapsed().as_secs_f64());
            }
            if started.elapsed() > Duration::from_secs(30) {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        row.check(
            "/ready 200 after MongoDB and Redis start",
            ready_within.map_or_else(|| "not within 30 s".to_owned(), |s| format!("{s:.1} s")),
            "<= 15 s",
            ready_within.is_some_and(|s| s <= 15.0),
        );
        let spec = self.mixed_spec(
            "after-start",
            phases(&[("serving", 5.0)]),
            writes_mix(),
            self.settings.rate,
        );
        let driver = self.spawn("start-both-down", &spec).await?;
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        row.check(
            "serving normally once they start",
            format!(
                "{} non-2xx of {}",
                tally.failures(),
                tally.reads + tally.tracked
            ),
            "0 non-2xx",
            tally.failures() == 0,
        );
        let path = format!("{}/invoices/{invoice}", self.invoice_url());
        let _ = self.http.get(&path).send().await;
        let cache = self
            .http
            .get(&path)
            .send()
            .await
            .ok()
            .and_then(|r| r.headers().get("x-cache").map(|v| v.as_bytes().to_vec()))
            .map(|c| String::from_utf8_lossy(&c).into_owned());
        row.check(
            "cache serving again (second read)",
            format!("X-Cache: {}", cache.as_deref().unwrap_or("none")),
            "HIT",
            cache.as_deref() == Some("HIT"),
        );
        let panics: usize = logs
            .iter()
            .zip(&offsets)
            .map(|(log, offset)| count_after(log, *offset, "panicked"))
            .sum();
        row.check(
            "panics, and processes alive",
            format!(
                "{panics} panics; {}",
                if healthy { "alive" } else { "exited" }
            ),
            "0; alive",
            panics == 0 && healthy,
        );
        Ok(())
    }

    async fn soak(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let requests = self.settings.soak_requests;
        let rate = self.settings.soak_rate;
        let seconds = requests as f64 / rate;
        let spec = self.mixed_spec("soak", phases(&[("soak", seconds)]), writes_mix(), rate);
        let mut driver = self.spawn("soak", &spec).await?;
        let mut samples: Vec<(u64, u64)> = Vec::new();
        // Every 10 s: RSS of both services and the machine's load, to tell a leak from a
        // high-water mark left by a stretch when others took the cores.
        let mut timeline = Vec::new();
        let pids = (self.cluster.customers.pid(), self.cluster.invoices.pid());
        let mut every = tokio::time::interval(Duration::from_secs(1));
        while !driver.has_exited() {
            every.tick().await;
            if let (Some(c), Some(i)) = pids
                && let (Ok(c), Ok(i)) = (bench::process::memory(c), bench::process::memory(i))
            {
                samples.push((c.rss_kib, i.rss_kib));
                if samples.len() % 10 == 1 {
                    timeline.push(json!({
                        "s": samples.len() - 1,
                        "customer_rss_kib": c.rss_kib,
                        "invoice_rss_kib": i.rss_kib,
                        "load_average": load_average(),
                    }));
                }
            }
        }
        row.figure("timeline", json!(timeline));
        let report = self
            .finish(driver, Duration::from_secs_f64(seconds + 120.0))
            .await?;
        let tally = Tally::of(&report);
        let answered = tally.reads + tally.tracked;
        row.figure("requests_planned", requests);
        row.figure("requests_answered", answered);
        row.figure("rate_per_second", rate);
        if let Some(reads) = reads_of(&report, "soak") {
            row.figure("reads", json!(reads));
        }
        let mut writes: Vec<f64> = report.outcomes.iter().map(|o| o.corrected_ms).collect();
        row.figure("tracked_p99_ms", quantile(&mut writes, 0.99));
        row.check(
            "requests answered",
            answered,
            format!(">= {}", requests.saturating_sub(100)),
            answered + 100 >= requests,
        );
        row.check(
            "errors (non-2xx or no answer)",
            format!(
                "{} ({} reads, {} writes)",
                tally.failures(),
                tally.read_failures,
                tally.tracked_failures
            ),
            "0",
            tally.failures() == 0,
        );
        for (index, name) in [(0, "customer-service"), (1, "invoice-service")] {
            let series: Vec<f64> = samples
                .iter()
                .map(|s| if index == 0 { s.0 } else { s.1 } as f64)
                .collect();
            let quarter = (series.len() / 4).max(1);
            let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
            let first = mean(&series[..quarter.min(series.len())]);
            let last = mean(&series[series.len().saturating_sub(quarter)..]);
            let growth = if first > 0.0 { last / first - 1.0 } else { 0.0 };
            row.figure(
                &format!("{name}_rss_kib"),
                json!({"first_quarter": first, "last_quarter": last, "samples": series.len()}),
            );
            row.check(
                &format!("RSS growth, {name}"),
                format!(
                    "{} ({:.1} -> {:.1} MiB)",
                    pct(growth),
                    first / 1024.0,
                    last / 1024.0
                ),
                "<= 10%",
                growth <= 0.10 && series.len() >= 4,
            );
        }
        Ok(())
    }
}

/// Seconds after `back` until every later 1-second window of tracked requests was at least
/// 99% 2xx.
fn recovery_after(outcomes: &[Outcome], back: u64) -> f64 {
    let mut windows: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    for outcome in outcomes.iter().filter(|o| o.sent_ms >= back) {
        let window = windows.entry((outcome.sent_ms - back) / 1000).or_default();
        window.0 += 1;
        if outcome.is_success() {
            window.1 += 1;
        }
    }
    windows
        .iter()
        .filter(|(_, (all, ok))| (*ok as f64) < 0.99 * *all as f64)
        .map(|(second, _)| (second + 1) as f64)
        .fold(0.0, f64::max)
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn log_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Occurrences of `needle` in the file after byte `offset`.
fn count_after(path: &Path, offset: u64, needle: &str) -> usize {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..])
        .matches(needle)
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
        op,
        seq: u64::try_from(index).unwrap_or(0),
        target: None,
        value: Some(value),
        due_ms: sent_ms,
        sent_ms,
        latency_ms,
        corrected_ms: latency_ms,
        status: Some(status),
        code: body["code"].as_str().map(str::to_owned),
        failure: None,
        created_id: body["id"].as_str().map(str::to_owned),
        number: None,
        replayed: false,
        attempt: 1,
    };
    if outcome.told() != Told::Acknowledged {
        bail!("{op:?} answered {status}: {body}");
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_counters_are_summed_over_their_labels() {
        let text = "# TYPE cache_hits_total counter\ncache_hits_total 12\ncache_hits_total_x 5\ncache_misses_total{a=\"b\"} 3\ncache_misses_total{a=\"c\"} 4\n";
        assert_eq!(metric(text, "cache_hits_total"), 12.0);
        assert_eq!(metric(text, "cache_misses_total"), 7.0);
        assert_eq!(metric(text, "cache_bypassed_total"), 0.0);
    }

    fn at(sent_ms: u64, status: u16) -> Outcome {
        Outcome {
            op: Op::Patch,
            seq: 0,
            target: None,
            value: None,
            due_ms: sent_ms,
            sent_ms,
            latency_ms: 1.0,
            corrected_ms: 1.0,
            status: Some(status),
            code: None,
            failure: None,
            created_id: None,
            number: None,
            replayed: false,
            attempt: 1,
        }
    }

    #[test]
    fn recovery_ends_with_the_last_window_under_99_percent() {
        let outcomes = vec![at(1000, 503), at(1500, 200), at(3200, 503), at(4100, 200)];
        assert_eq!(recovery_after(&outcomes, 1000), 3.0);
        assert_eq!(recovery_after(&outcomes[3..], 1000), 0.0);
    }
}
