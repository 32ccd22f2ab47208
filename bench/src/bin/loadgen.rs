//! `loadgen`: the benchmark's HTTP/1.1 load generator on the command line (see
//! `bench::load`). Prints its report as JSON on stdout.
//!
//! ```text
//! loadgen -c 64 -z 10 -w 2 http://127.0.0.1:5001/invoices/66f000000000000000000001
//! loadgen -m POST -H 'content-type: application/json' --bodies-file bodies.jsonl \
//!     -q 2000 http://127.0.0.1:5000/customers
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bench::load::{LoadConfig, LoadHandle};
use bytes::Bytes;
use clap::Parser;
use hyper::Method;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

#[derive(Debug, Parser)]
#[command(about = "HTTP/1.1 load generator: keep-alive connections, fixed duration, optional rate")]
struct Args {
    /// URLs to load, used in turn (http:// only).
    urls: Vec<String>,
    /// More URLs, one per line.
    #[arg(long)]
    urls_file: Option<PathBuf>,
    /// Concurrent connections.
    #[arg(short = 'c', long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds; 0 runs until Ctrl-C.
    #[arg(short = 'z', long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before the measured time, not counted.
    #[arg(short = 'w', long, default_value_t = 0.0)]
    warmup: f64,
    /// Requests per second across all connections, with latency measured from each
    /// request's intended send time. Default: as fast as answers come.
    #[arg(short = 'q', long)]
    rate: Option<f64>,
    #[arg(short = 'm', long, default_value = "GET")]
    method: String,
    /// `name: value`, repeatable.
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// The request body.
    #[arg(short = 'd', long, conflicts_with = "bodies_file")]
    body: Option<String>,
    /// Request bodies, one per line, used in turn.
    #[arg(long)]
    bodies_file: Option<PathBuf>,
    /// Seconds after which a request counts as timed out.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// Worker threads of the load generator (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = config_from(&args)?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime.enable_all().build()?;
    let report = runtime.block_on(async {
        let load = LoadHandle::start(config).await?;
        if args.duration > 0.0 {
            load.finish().await
        } else {
            tokio::signal::ctrl_c().await?;
            load.stop();
            load.finish().await
        }
    })?;
    // Not println!: a closed pipe (`loadgen ... | head`) is an error, not a panic.
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &report)?;
    writeln!(stdout)?;
    Ok(())
}

fn config_from(args: &Args) -> anyhow::Result<LoadConfig> {
    let mut urls = args.urls.clone();
    if let Some(path) = &args.urls_file {
        urls.extend(lines_of(path)?);
    }
    let mut headers = HeaderMap::new();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .with_context(|| format!("header {header:?} is not `name: value`"))?;
        headers.append(
            HeaderName::try_from(name.trim()).with_context(|| format!("header name {name:?}"))?,
            HeaderValue::try_from(value.trim())
                .with_context(|| format!("header value {value:?}"))?,
        );
    }
    let bodies = match (&args.body, &args.bodies_file) {
        (Some(body), _) => vec![Bytes::from(body.clone())],
        (None, Some(path)) => lines_of(path)?.into_iter().map(Bytes::from).collect(),
        (None, None) => Vec::new(),
    };
    Ok(LoadConfig {
        urls,
        method: Method::from_bytes(args.method.to_uppercase().as_bytes())
            .with_context(|| format!("method {:?}", args.method))?,
        headers,
        bodies,
        connections: args.connections,
        duration: (args.duration > 0.0)
            .then(|| seconds(args.duration))
            .transpose()?,
        warmup: seconds(args.warmup)?,
        rate: args.rate,
        timeout: seconds(args.timeout)?,
    })
}

fn seconds(value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{value} is not a number of seconds"))
}

/// The non-empty lines of a file.
fn lines_of(path: &PathBuf) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect())
}
