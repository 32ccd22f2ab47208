//! The orchestrator: starts the system, seeds it, runs every fault row with load from the
//! driver process, heals the system, and checks consistency after each row.
//!
//! This file is the runner: the rows ([`ROWS`]), the [`Suite`] every row works on, and what
//! happens around each row. Each row is a file of its own (`redis_killed.rs`, ...);
//! `measure` drives a row's load and reads what it measured, `system` seeds, probes and
//! heals the system under test.

mod baseline;
mod customer_service_down;
mod deliverer_killed;
mod fault;
mod idempotent_retries;
mod load_balanced;
mod measure;
mod mongo_outage;
mod redis_cluster;
mod redis_killed;
mod redis_paused;
mod redis_stalled_for_one;
mod sigterm;
mod soak;
mod start_both_down;
mod system;
mod webhook_endpoint_down;
mod webhooks;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tokio::time::Instant;

use crate::drive::PatchTarget;
use crate::ledger::Ledger;
use crate::outcome::{Service, unix_ms};
use crate::procs::{Binaries, Cluster};
use crate::report::{RowResult, SuiteReport};

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
        "redis-stalled-for-one",
        "Redis stalled for one of two invoice-service instances for 10 s: writes through it, reads through the other",
    ),
    (
        "redis-cluster-master-killed",
        "invoice-service on a Redis Cluster of three masters; one master killed (SIGKILL) for 8 s under load, then started again",
    ),
    (
        "mongo-stopped",
        "MongoDB server killed for 15 s under load, then started again on its data",
    ),
    (
        "mongo-paused",
        "MongoDB server frozen (SIGSTOP) for 10 s under load, then continued",
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
    (
        "webhook-endpoint-down",
        "a webhook endpoint subscribed to every event answers 503 for 5 s, then listens no more for 5 s, under load",
    ),
    (
        "deliverer-killed",
        "invoice-service, then customer-service, killed (SIGKILL) with a webhook delivery in flight, under load",
    ),
    (
        "balancer-instance-killed",
        "two instances of each service behind HAProxy; one of each killed (SIGKILL) under load",
    ),
    (
        "balancer-rolling-restart",
        "two instances of each service behind HAProxy; each drained, stopped with SIGTERM and started again in turn, under load",
    ),
    ("soak", "a long run of mixed requests at a steady rate"),
];

/// Customers and invoices made before the first row.
const SEED_CUSTOMERS: usize = 20;
const SEED_INVOICES: usize = 200;
/// The bound every request that needs a dead dependency must be answered within.
const UNAVAILABLE_WITHIN_MS: f64 = 2500.0;

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

/// The system under test and what the run has learnt so far, shared by every row.
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
    let load_at_start = bench::process::load_average();
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
        if selected {
            rows.push(suite.run_row(name, fault).await);
        }
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
            "load_average_end": bench::process::load_average(),
        }),
        rows,
    })
}

impl Suite {
    /// One row: its fault and checks, then the system brought back and the consistency
    /// check, each criterion printed as it is settled.
    async fn run_row(&mut self, name: &str, fault: &str) -> RowResult {
        println!("reliability: row {name}: {fault}");
        let row_clock = Instant::now();
        let mut row = RowResult::new(name, fault);
        self.touched.clear();
        let result = match name {
            "baseline" => self.baseline(&mut row).await,
            "redis-killed" => self.redis_killed(&mut row).await,
            "redis-paused" => self.redis_paused(&mut row).await,
            "redis-stalled-for-one" => self.redis_stalled_for_one(&mut row).await,
            "redis-cluster-master-killed" => self.redis_cluster_master_killed(&mut row).await,
            "mongo-stopped" => self.mongo_stopped(&mut row).await,
            "mongo-paused" => self.mongo_paused(&mut row).await,
            "idempotent-retries" => self.idempotent_retries(&mut row).await,
            "customer-service-down" => self.customer_service_down(&mut row).await,
            "sigterm-invoice" => self.sigterm(&mut row, Service::Invoices).await,
            "sigterm-customer" => self.sigterm(&mut row, Service::Customers).await,
            "start-both-down" => self.start_both_down(&mut row).await,
            "webhook-endpoint-down" => self.webhook_endpoint_down(&mut row).await,
            "deliverer-killed" => self.deliverer_killed(&mut row).await,
            "balancer-instance-killed" => self.balancer_instance_killed(&mut row).await,
            "balancer-rolling-restart" => self.balancer_rolling_restart(&mut row).await,
            "soak" => self.soak(&mut row).await,
            other => Err(anyhow::anyhow!("no such row {other}")),
        };
        if let Err(error) = result {
            row.error = Some(format!("{error:#}"));
        }
        if let Err(error) = self.heal().await {
            row.error
                .get_or_insert_with(|| format!("could not bring the system back: {error:#}"));
        }
        match self.consistency().await {
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
        row
    }
}
