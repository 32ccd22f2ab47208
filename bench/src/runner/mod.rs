//! The benchmark run: checks that the services (with their sample data) and the reference
//! server answer, fills the invoice cache, then loads each case in turn for a fixed time
//! while sampling the services' memory, and reports requests/s, latency, the ratios to the
//! references, memory and binary sizes against the targets in `results`.
//!
//! It starts no server: `scripts/bench` does, and passes their URLs and pids.

pub mod cases;
pub mod results;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};
use tokio::sync::watch;

use self::cases::{Case, SAMPLE_COUNT, Server, Servers};
use self::results::{BenchResults, CaseResult, Machine, RunSettings, ServiceResult};
use crate::load::{self, LoadConfig};
use crate::{process, reference};

/// How often the services' memory is sampled while a case runs.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How long the services get to come up and load their sample data.
const READY_WITHIN: Duration = Duration::from_secs(90);
/// Unique customer bodies are generated for this many creates per second (and more
/// than this many seconds of load); a run faster than that reuses emails, which shows as
/// 409s and a warning.
const MAX_CREATES_PER_SECOND: f64 = 8000.0;
/// Fresh invoices are made for this many cold PDF renders per second; a faster run asks
/// some twice, which shows as a warning.
const MAX_COLD_RENDERS_PER_SECOND: f64 = 1500.0;

#[derive(Debug, Clone, Parser)]
#[command(about = "Benchmark both services against bare reference handlers (run by scripts/bench)")]
pub struct Args {
    /// Base URL of customer-service.
    #[arg(long, env = "BENCH_CUSTOMER_URL")]
    pub customer_url: String,
    /// Base URL of invoice-service.
    #[arg(long, env = "BENCH_INVOICE_URL")]
    pub invoice_url: String,
    /// Base URL of the reference server (the `reference` binary).
    #[arg(long, env = "BENCH_REFERENCE_URL")]
    pub reference_url: String,
    /// Pid of customer-service, for its memory and binary size.
    #[arg(long, env = "BENCH_CUSTOMER_PID")]
    pub customer_pid: Option<u32>,
    /// Pid of invoice-service, for its memory and binary size.
    #[arg(long, env = "BENCH_INVOICE_PID")]
    pub invoice_pid: Option<u32>,
    /// Measured seconds per case.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 10.0)]
    pub seconds: f64,
    /// Seconds of load before each case's measured time.
    #[arg(long, env = "BENCH_WARMUP_SECONDS", default_value_t = 2.0)]
    pub warmup_seconds: f64,
    /// Seconds of quiet between two cases.
    #[arg(long, env = "BENCH_PAUSE_SECONDS", default_value_t = 1.0)]
    pub pause_seconds: f64,
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 64)]
    pub connections: usize,
    /// Only these cases (comma-separated names; default: all).
    #[arg(long, env = "BENCH_CASES", value_delimiter = ',')]
    pub cases: Vec<String>,
    /// Where the results go as JSON.
    #[arg(
        long,
        env = "BENCH_OUTPUT",
        default_value = "bench/results/latest.json"
    )]
    pub output: PathBuf,
    /// Worker threads of the load generator.
    #[arg(long, env = "BENCH_LOADGEN_THREADS", default_value_t = 2)]
    pub loadgen_threads: usize,
    /// An API key the services accept, sent as `Authorization: Bearer` with every request.
    #[arg(long, env = "BENCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// A service whose memory the run follows.
struct Watched {
    name: &'static str,
    pid: u32,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let started_at = chrono::Utc::now().to_rfc3339();
    let machine = machine();
    let seconds = duration(args.seconds, "BENCH_SECONDS")?;
    let warmup = duration(args.warmup_seconds, "BENCH_WARMUP_SECONDS")?;
    let pause = duration(args.pause_seconds, "BENCH_PAUSE_SECONDS")?;
    let mut auth = HeaderMap::new();
    if let Some(key) = &args.api_key {
        let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
            .context("BENCH_API_KEY is not a valid header value")?;
        value.set_sensitive(true);
        auth.insert(AUTHORIZATION, value);
    }
    let servers = Servers {
        customer: args.customer_url.trim_end_matches('/').to_owned(),
        invoice: args.invoice_url.trim_end_matches('/').to_owned(),
        reference: args.reference_url.trim_end_matches('/').to_owned(),
        auth,
    };
    let watched: Vec<Watched> = [
        ("customer-service", args.customer_pid),
        ("invoice-service", args.invoice_pid),
    ]
    .into_iter()
    .filter_map(|(name, pid)| Some(Watched { name, pid: pid? }))
    .collect();

    let body_count = ((seconds + warmup).as_secs_f64() * MAX_CREATES_PER_SECOND).ceil() as usize;
    let bodies = cases::customer_bodies(&run_tag(), body_count.max(10_000));
    let mut selected = cases::all(&servers, &bodies, &[]);
    if !args.cases.is_empty() {
        let known: Vec<&str> = selected.iter().map(|c| c.name).collect();
        for name in &args.cases {
            if !known.contains(&name.as_str()) {
                bail!("no case named {name:?}; cases: {}", known.join(", "));
            }
        }
        selected.retain(|c| args.cases.iter().any(|n| n == c.name));
    }

    let mut warnings = Vec::new();
    eprintln!("bench: waiting for the services' sample data and the reference server");
    wait_until_ready(&servers).await?;
    warnings.extend(fill_invoice_cache(&servers).await?);
    tokio::time::sleep(pause).await;
    let idle: Vec<process::Memory> = watched
        .iter()
        .map(|w| process::memory(w.pid))
        .collect::<anyhow::Result<_>>()?;

    let mut case_results = Vec::new();
    for case in &mut selected {
        if case.name == "invoice_pdf_cold" {
            let count = ((seconds + warmup).as_secs_f64() * MAX_COLD_RENDERS_PER_SECOND).ceil();
            eprintln!("bench: {count} drafts for the cold PDF renders");
            case.urls = fresh_pdf_urls(&servers, count as usize).await?;
            tokio::time::sleep(pause).await;
        }
        let case = &*case;
        eprintln!(
            "bench: {} ({} s + {} s warm-up)",
            case.label,
            seconds.as_secs_f64(),
            warmup.as_secs_f64()
        );
        let (report, service_rss_kib) =
            measure(case, &servers, &args, seconds, warmup, &watched).await?;
        if case.unique_urls && report.sent > case.urls.len() as u64 {
            warnings.push(format!(
                "{}: {} requests for {} distinct URLs; repeats were answered from the cache",
                case.name,
                report.sent,
                case.urls.len()
            ));
        }
        if case.unique_bodies && report.sent > case.bodies.len() as u64 {
            warnings.push(format!(
                "{}: {} requests for {} distinct bodies; repeats may have been refused",
                case.name,
                report.sent,
                case.bodies.len()
            ));
        }
        eprintln!(
            "bench:   {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            report.requests_per_second,
            report.latency.p50_ms,
            report.latency.p99_ms,
            report.failures()
        );
        case_results.push(CaseResult {
            name: case.name.to_owned(),
            label: case.label.to_owned(),
            server: server_name(case.server).to_owned(),
            report,
            service_rss_kib,
        });
        if case.name == "invoice_cache_hit" {
            warnings.extend(check_cache_hit(&servers).await?);
        }
        tokio::time::sleep(pause).await;
    }

    tokio::time::sleep(pause * 2).await;
    let mut services = Vec::new();
    for (w, idle) in watched.iter().zip(idle) {
        let after = process::memory(w.pid)?;
        services.push(ServiceResult {
            name: w.name.to_owned(),
            pid: w.pid,
            binary_bytes: process::binary_size(w.pid)?,
            idle_rss_kib: idle.rss_kib,
            peak_rss_kib: after.peak_rss_kib,
            rss_after_load_kib: after.rss_kib,
        });
    }

    let mut results = BenchResults {
        started_at,
        finished_at: chrono::Utc::now().to_rfc3339(),
        machine,
        settings: RunSettings {
            seconds: seconds.as_secs_f64(),
            warmup_seconds: warmup.as_secs_f64(),
            connections: args.connections,
            loadgen_threads: args.loadgen_threads,
        },
        cases: case_results,
        ratios: Vec::new(),
        services,
        targets: Vec::new(),
        warnings,
    };
    results.compute_ratios();
    results.check_targets();
    write_json(&args.output, &results)?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", results.table())?;
    writeln!(stdout, "results: {}", args.output.display())?;
    Ok(())
}

/// Loads one case while sampling the services' memory.
async fn measure(
    case: &Case,
    servers: &Servers,
    args: &Args,
    seconds: Duration,
    warmup: Duration,
    watched: &[Watched],
) -> anyhow::Result<(load::LoadReport, BTreeMap<String, u64>)> {
    // The key goes to the references too, which ignore it: both sides parse the same bytes.
    let mut headers = servers.auth.clone();
    if !case.bodies.is_empty() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let config = LoadConfig {
        urls: case.urls.clone(),
        method: case.method.clone(),
        headers,
        bodies: case.bodies.clone(),
        connections: args.connections,
        duration: Some(seconds),
        warmup,
        rate: None,
        timeout: Duration::from_secs(10),
    };
    let pids: Vec<(String, u32)> = watched.iter().map(|w| (w.name.to_owned(), w.pid)).collect();
    let (stop_sampling, sampling_stopped) = watch::channel(false);
    let sampler = tokio::spawn(sample_peak_rss(pids, sampling_stopped));
    let report = load::run(config).await;
    stop_sampling.send_replace(true);
    let peaks = sampler.await.context("the memory sampler failed")?;
    Ok((report?, peaks))
}

/// The highest `VmRSS` of each process until `stopped`.
async fn sample_peak_rss(
    pids: Vec<(String, u32)>,
    mut stopped: watch::Receiver<bool>,
) -> BTreeMap<String, u64> {
    let mut peaks: BTreeMap<String, u64> = BTreeMap::new();
    let mut every = tokio::time::interval(RSS_SAMPLE_EVERY);
    loop {
        for (name, pid) in &pids {
            if let Ok(memory) = process::memory(*pid) {
                let peak = peaks.entry(name.clone()).or_default();
                *peak = (*peak).max(memory.rss_kib);
            }
        }
        tokio::select! {
            _ = every.tick() => {}
            _ = stopped.wait_for(|&s| s) => return peaks,
        }
    }
}

/// Waits until the last sample customer and invoice can be read (the services load their
/// sample data in the background) and every reference route answers.
async fn wait_until_ready(servers: &Servers) -> anyhow::Result<()> {
    let last = SAMPLE_COUNT - 1;
    let urls = [
        format!(
            "{}/customers/{}",
            servers.customer,
            cases::sample_customer_id(last)
        ),
        format!(
            "{}/invoices/{}",
            servers.invoice,
            cases::sample_invoice_id(last)
        ),
        format!("{}/static", servers.reference),
        format!(
            "{}/redis/{}",
            servers.reference,
            reference::redis_key(reference::REDIS_KEYS - 1)
        ),
        format!(
            "{}/mongo/{}",
            servers.reference,
            reference::mongo_id(reference::MONGO_IDS - 1)
        ),
    ];
    let deadline = tokio::time::Instant::now() + READY_WITHIN;
    for url in &urls {
        loop {
            let answer = get(servers, url).await;
            match &answer {
                Ok(fetched) if fetched.status == StatusCode::OK => break,
                _ if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Ok(fetched) => bail!(
                    "{url} answers {} after {READY_WITHIN:?}: {}",
                    fetched.status,
                    String::from_utf8_lossy(&fetched.body)
                ),
                Err(error) => bail!("{url} does not answer after {READY_WITHIN:?}: {error:#}"),
            }
        }
    }
    Ok(())
}

/// Makes `count` drafts (for the sample customers) and answers their PDF URLs.
async fn fresh_pdf_urls(servers: &Servers, count: usize) -> anyhow::Result<Vec<String>> {
    const AT_ONCE: usize = 32;
    let mut headers = servers.auth.clone();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let url = format!("{}/invoices", servers.invoice);
    let mut urls = Vec::with_capacity(count);
    while urls.len() < count {
        let mut batch = tokio::task::JoinSet::new();
        for n in urls.len()..count.min(urls.len() + AT_ONCE) {
            let body = cases::invoice_body(&cases::sample_customer_id(n % SAMPLE_COUNT));
            let (url, headers) = (url.clone(), headers.clone());
            batch.spawn(async move { load::fetch(Method::POST, &url, &headers, body).await });
        }
        while let Some(created) = batch.join_next().await {
            let created = created??;
            if created.status != StatusCode::CREATED {
                bail!(
                    "POST /invoices answered {} while making drafts",
                    created.status
                );
            }
            let answer: serde_json::Value = serde_json::from_slice(&created.body)?;
            let id = answer["id"]
                .as_str()
                .context("POST /invoices answered no id")?;
            urls.push(format!("{}/invoices/{id}/pdf", servers.invoice));
        }
    }
    Ok(urls)
}

/// Reads every sample invoice until it comes from the cache; warns about any that does not.
async fn fill_invoice_cache(servers: &Servers) -> anyhow::Result<Vec<String>> {
    let mut warnings = Vec::new();
    for n in 0..SAMPLE_COUNT {
        let url = format!(
            "{}/invoices/{}",
            servers.invoice,
            cases::sample_invoice_id(n)
        );
        let mut hit = false;
        for _ in 0..20 {
            if is_cache_hit(servers, &url).await? {
                hit = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !hit {
            warnings.push(format!("{url} never answered X-Cache: HIT before the load"));
        }
    }
    Ok(warnings)
}

/// After the cache-hit case: the sample invoices still come from the cache.
async fn check_cache_hit(servers: &Servers) -> anyhow::Result<Vec<String>> {
    let url = format!(
        "{}/invoices/{}",
        servers.invoice,
        cases::sample_invoice_id(0)
    );
    Ok(if is_cache_hit(servers, &url).await? {
        Vec::new()
    } else {
        vec![format!(
            "{url} did not answer X-Cache: HIT after the cache-hit case"
        )]
    })
}

async fn is_cache_hit(servers: &Servers, url: &str) -> anyhow::Result<bool> {
    let fetched = get(servers, url).await?;
    if fetched.status != StatusCode::OK {
        bail!("{url} answered {}", fetched.status);
    }
    Ok(fetched
        .headers
        .get("x-cache")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"HIT")))
}

async fn get(servers: &Servers, url: &str) -> anyhow::Result<load::Fetched> {
    load::fetch(Method::GET, url, &servers.auth, Bytes::new()).await
}

fn server_name(server: Server) -> &'static str {
    match server {
        Server::CustomerService => "customer-service",
        Server::InvoiceService => "invoice-service",
        Server::Reference => "reference",
    }
}

fn duration(seconds: f64, name: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(seconds)
        .with_context(|| format!("{name}={seconds} is not a number of seconds"))
}

/// Tags this run's customer emails, so a run against a database that already holds an
/// earlier run's customers creates no duplicates.
fn run_tag() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{millis:x}")
}

fn machine() -> Machine {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "model name").then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let memory_kib = read("/proc/meminfo")
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix("MemTotal:")?;
            value.trim().strip_suffix("kB")?.trim().parse().ok()
        })
        .unwrap_or(0);
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        cpu_model,
        memory_kib,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        load_average_at_start: process::load_average(),
    }
}

fn write_json(path: &PathBuf, results: &BenchResults) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(results)?;
    std::fs::write(path, json + "\n").with_context(|| format!("cannot write {}", path.display()))
}
