//! An HTTP/1.1 load generator on hyper's client connection API.
//!
//! Each of `connections` workers owns one keep-alive connection (one per target host) and
//! has one request in flight on it at a time. Without a rate the load is a closed loop: a
//! worker sends its next request as soon as the previous one is answered. With a rate,
//! request `k` is due at `start + k / rate` whichever worker sends it, and its latency is
//! measured from that intended time rather than from when a free worker got round to it:
//! a stalled server then shows the latency its clients would really see (coordinated
//! omission correction, as `oha --latency-correction` and wrk2 do).
//!
//! [`run`] drives a load to its end. [`LoadHandle`] runs one in the background so that
//! another test can read its counters while it runs ([`LoadHandle::snapshot`]) and end it
//! early ([`LoadHandle::stop`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Latencies are recorded in microseconds, from 1 µs to this bound, to 3 significant digits.
const LATENCY_BOUND_US: u64 = 60_000_000;
/// A worker whose connection attempt failed waits this long before the next one, so that a
/// server that is down is not hammered by a busy loop.
const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(10);

/// What to send, how hard and for how long.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Absolute `http://` URLs, used in turn.
    pub urls: Vec<String>,
    pub method: Method,
    /// Sent with every request; `Host` is added from the URL when missing.
    pub headers: HeaderMap,
    /// Request bodies, used in turn, so each is sent once before any is sent again. Empty:
    /// no body.
    pub bodies: Vec<Bytes>,
    /// Concurrent keep-alive connections (and so requests in flight).
    pub connections: usize,
    /// The measured time, after the warm-up. `None`: until [`LoadHandle::stop`].
    pub duration: Option<Duration>,
    /// Load sent before the measured time; its answers are not counted.
    pub warmup: Duration,
    /// Requests per second across all connections. `None`: each connection sends as soon as
    /// its previous answer is in.
    pub rate: Option<f64>,
    /// A request not answered within this time counts as a timeout.
    pub timeout: Duration,
}

impl LoadConfig {
    /// 64 connections sending `GET url` for 10 s, without warm-up or rate.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            urls: vec![url.into()],
            method: Method::GET,
            headers: HeaderMap::new(),
            bodies: Vec::new(),
            connections: 64,
            duration: Some(Duration::from_secs(10)),
            warmup: Duration::ZERO,
            rate: None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// What a load measured over its measured time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub connections: usize,
    /// The configured rate, if any.
    pub rate: Option<f64>,
    /// Length of the measured time so far.
    pub seconds: f64,
    /// Answers (of any status) received in the measured time.
    pub requests: u64,
    pub requests_per_second: f64,
    /// Of the answers counted in `requests`.
    pub latency: Latency,
    pub status: StatusCounts,
    pub errors: ErrorCounts,
    pub bytes_received: u64,
    /// Requests sent since the start, warm-up included (answered or not).
    pub sent: u64,
    /// The first error seen, to tell what went wrong.
    pub first_error: Option<String>,
}

impl LoadReport {
    /// Answers outside 2xx, plus requests that got no answer.
    pub fn failures(&self) -> u64 {
        let status = &self.status;
        status.informational
            + status.redirection
            + status.client_error
            + status.server_error
            + self.errors.total()
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Answers by status class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    #[serde(rename = "1xx")]
    pub informational: u64,
    #[serde(rename = "2xx")]
    pub success: u64,
    #[serde(rename = "3xx")]
    pub redirection: u64,
    #[serde(rename = "4xx")]
    pub client_error: u64,
    #[serde(rename = "5xx")]
    pub server_error: u64,
}

impl StatusCounts {
    fn count(&mut self, status: StatusCode) {
        let class = match status.as_u16() / 100 {
            1 => &mut self.informational,
            2 => &mut self.success,
            3 => &mut self.redirection,
            4 => &mut self.client_error,
            _ => &mut self.server_error,
        };
        *class += 1;
    }

    fn add(&mut self, other: &Self) {
        self.informational += other.informational;
        self.success += other.success;
        self.redirection += other.redirection;
        self.client_error += other.client_error;
        self.server_error += other.server_error;
    }
}

/// Requests that got no answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// No connection could be opened.
    pub connect: u64,
    /// The connection failed while sending or receiving.
    pub io: u64,
    /// No complete answer within the timeout.
    pub timeout: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.connect + self.io + self.timeout
    }

    fn add(&mut self, other: &Self) {
        self.connect += other.connect;
        self.io += other.io;
        self.timeout += other.timeout;
    }
}

/// Runs a load to its end (`duration` must be set) and reports it.
pub async fn run(config: LoadConfig) -> anyhow::Result<LoadReport> {
    if config.duration.is_none() {
        bail!("a load without a duration runs until stopped: use LoadHandle");
    }
    LoadHandle::start(config).await?.finish().await
}

/// A load running in the background. Dropping it stops the load.
pub struct LoadHandle {
    shared: Arc<Shared>,
    stop: Arc<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl LoadHandle {
    /// Resolves the targets and starts the workers on the current tokio runtime.
    pub async fn start(config: LoadConfig) -> anyhow::Result<Self> {
        let plan = Plan::new(config).await?;
        let connections = plan.connections;
        let shared = Arc::new(Shared {
            tallies: (0..connections)
                .map(|_| Mutex::new(Tally::new(&plan.empty_histogram)))
                .collect(),
            next_request: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            ended: Mutex::new(None),
            plan,
        });
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        let task = tokio::spawn(coordinate(shared.clone(), stop.clone(), stopped));
        Ok(Self {
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The counters so far (of the measured time only; empty during the warm-up).
    pub fn snapshot(&self) -> LoadReport {
        self.shared.report(Instant::now())
    }

    /// Ends the load now: requests in flight are abandoned and not counted.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// True once every worker has ended.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the end of the load (its duration, or [`LoadHandle::stop`]) and reports it.
    pub async fn finish(mut self) -> anyhow::Result<LoadReport> {
        if let Some(task) = self.task.take() {
            task.await.context("the load generator's task failed")?;
        }
        Ok(self.shared.report(Instant::now()))
    }
}

impl Drop for LoadHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The fixed part of a load, resolved once.
struct Plan {
    method: Method,
    targets: Vec<Target>,
    endpoints: Vec<Endpoint>,
    bodies: Vec<Bytes>,
    connections: usize,
    timeout: Duration,
    rate: Option<f64>,
    /// Time between two intended send times, with a rate.
    interval: Option<Duration>,
    started: Instant,
    measured_from: Instant,
    measured_until: Option<Instant>,
    empty_histogram: Histogram<u64>,
}

/// One URL, ready to send to.
struct Target {
    endpoint: usize,
    /// Origin form (`/path?query`), as HTTP/1.1 sends it.
    path: Uri,
    headers: HeaderMap,
}

/// One `host:port`, the unit a connection is open to.
struct Endpoint {
    authority: String,
    addresses: Vec<SocketAddr>,
}

impl Plan {
    async fn new(config: LoadConfig) -> anyhow::Result<Self> {
        if config.urls.is_empty() {
            bail!("no URL to load");
        }
        if config.connections == 0 {
            bail!("at least one connection is needed");
        }
        let interval = match config.rate {
            Some(rate) if rate.is_finite() && rate > 0.0 => {
                Some(Duration::from_secs_f64(1.0 / rate))
            }
            Some(rate) => {
                bail!("the rate must be a positive number of requests per second, not {rate}")
            }
            None => None,
        };
        let mut endpoints: Vec<Endpoint> = Vec::new();
        let mut targets = Vec::with_capacity(config.urls.len());
        for url in &config.urls {
            let (authority, path) = split_url(url)?;
            let endpoint = match endpoints.iter().position(|e| e.authority == authority) {
                Some(index) => index,
                None => {
                    endpoints.push(Endpoint::resolve(&authority).await?);
                    endpoints.len() - 1
                }
            };
            let mut headers = config.headers.clone();
            if !headers.contains_key(HOST) {
                let host = HeaderValue::from_str(&authority)
                    .with_context(|| format!("{url}: the host is not a valid header value"))?;
                headers.insert(HOST, host);
            }
            targets.push(Target {
                endpoint,
                path,
                headers,
            });
        }
        let empty_histogram = Histogram::new_with_bounds(1, LATENCY_BOUND_US, 3)
            .context("latency histogram bounds")?;
        let started = Instant::now();
        let measured_from = started + config.warmup;
        Ok(Self {
            method: config.method,
            targets,
            endpoints,
            bodies: config.bodies,
            connections: config.connections,
            timeout: config.timeout,
            rate: config.rate,
            interval,
            started,
            measured_from,
            measured_until: config.duration.map(|d| measured_from + d),
            empty_histogram,
        })
    }

    /// When request `sequence` is due, with a rate.
    fn due(&self, sequence: u64) -> Option<Instant> {
        let interval = self.interval?;
        let nanos = interval.as_nanos().saturating_mul(u128::from(sequence));
        let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        Some(self.started + offset)
    }

    fn request(&self, sequence: u64) -> (usize, Request<Full<Bytes>>) {
        let target = &self.targets[pick(sequence, self.targets.len())];
        let body = if self.bodies.is_empty() {
            Bytes::new()
        } else {
            self.bodies[pick(sequence, self.bodies.len())].clone()
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = target.path.clone();
        *request.headers_mut() = target.headers.clone();
        (target.endpoint, request)
    }

    fn is_after_end(&self, at: Instant) -> bool {
        self.measured_until.is_some_and(|end| at >= end)
    }
}

fn pick(sequence: u64, len: usize) -> usize {
    // `len` is a non-zero length, so the remainder fits in usize.
    usize::try_from(sequence % len as u64).unwrap_or(0)
}

/// `http://host:port/path?query` → (`host:port`, `/path?query`).
fn split_url(url: &str) -> anyhow::Result<(String, Uri)> {
    let uri: Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => bail!("{url}: only http:// is supported, not {other}://"),
        None => bail!("{url}: an absolute http:// URL is needed"),
    }
    let authority = uri
        .authority()
        .with_context(|| format!("{url} names no host"))?;
    let authority = match authority.port_u16() {
        Some(_) => authority.as_str().to_owned(),
        None => format!("{}:80", authority.host()),
    };
    let path = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .with_context(|| format!("{url}: bad path"))?;
    Ok((authority, path))
}

impl Endpoint {
    async fn resolve(authority: &str) -> anyhow::Result<Self> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host(authority)
            .await
            .with_context(|| format!("cannot resolve {authority}"))?
            .collect();
        if addresses.is_empty() {
            bail!("{authority} resolves to no address");
        }
        Ok(Self {
            authority: authority.to_owned(),
            addresses,
        })
    }
}

/// What changes while a load runs.
struct Shared {
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
    fn report(&self, now: Instant) -> LoadReport {
        let ended = *self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        let end = ended.unwrap_or(now);
        let seconds = end
            .saturating_duration_since(self.plan.measured_from)
            .as_secs_f64();
        let mut total = Tally::new(&self.plan.empty_histogram);
        for tally in &self.tallies {
            total.add(&tally.lock().unwrap_or_else(PoisonError::into_inner));
        }
        let requests = total.latency_us.len();
        let ms = |us: u64| us as f64 / 1000.0;
        let latency = if requests == 0 {
            Latency::default()
        } else {
            Latency {
                mean_ms: total.latency_us.mean() / 1000.0,
                p50_ms: ms(total.latency_us.value_at_quantile(0.50)),
                p90_ms: ms(total.latency_us.value_at_quantile(0.90)),
                p99_ms: ms(total.latency_us.value_at_quantile(0.99)),
                max_ms: ms(total.latency_us.max()),
            }
        };
        LoadReport {
            connections: self.plan.connections,
            rate: self.plan.rate,
            seconds,
            requests,
            requests_per_second: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            latency,
            status: total.status,
            errors: total.errors,
            bytes_received: total.bytes,
            sent: self.sent.load(Ordering::Relaxed),
            first_error: total.first_error,
        }
    }

    fn tally(&self, worker: usize) -> std::sync::MutexGuard<'_, Tally> {
        self.tallies[worker]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One worker's counts.
struct Tally {
    latency_us: Histogram<u64>,
    status: StatusCounts,
    errors: ErrorCounts,
    bytes: u64,
    first_error: Option<String>,
}

impl Tally {
    /// `empty`: a histogram with the bounds every tally shares.
    fn new(empty: &Histogram<u64>) -> Self {
        Self {
            latency_us: empty.clone(),
            status: StatusCounts::default(),
            errors: ErrorCounts::default(),
            bytes: 0,
            first_error: None,
        }
    }

    fn answered(&mut self, latency: Duration, answer: &Answer) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latency_us.saturating_record(us);
        self.status.count(answer.status);
        self.bytes += answer.bytes;
    }

    fn failed(&mut self, failure: Failure) {
        let message = match failure {
            Failure::Connect(message) => {
                self.errors.connect += 1;
                message
            }
            Failure::Io(message) => {
                self.errors.io += 1;
                message
            }
            Failure::Timeout => {
                self.errors.timeout += 1;
                "no answer within the timeout".to_owned()
            }
        };
        self.first_error.get_or_insert(message);
    }

    fn add(&mut self, other: &Self) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.status.add(&other.status);
        self.errors.add(&other.errors);
        self.bytes += other.bytes;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }
}

/// Starts the workers, ends the measured time at its deadline or on stop, and waits for
/// every worker to leave.
async fn coordinate(
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

/// A complete answer.
struct Answer {
    status: StatusCode,
    bytes: u64,
}

enum Failure {
    Connect(String),
    Io(String),
    Timeout,
}

/// Sends one request on the worker's connection to `endpoint` (opening one when there is
/// none or the server closed it) and reads the whole answer.
async fn exchange(
    slot: &mut Option<SendRequest<Full<Bytes>>>,
    endpoint: &Endpoint,
    request: Request<Full<Bytes>>,
) -> Result<Answer, Failure> {
    let mut sender = match slot.take() {
        Some(mut sender) => match sender.ready().await {
            Ok(()) => sender,
            // Closed by the server since the last answer (keep-alive ended): not an error.
            Err(_) => connect(endpoint).await?,
        },
        None => connect(endpoint).await?,
    };
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| Failure::Io(format!("{}: {e}", endpoint.authority)))?;
    let status = response.status();
    let mut body = response.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::Io(format!("{}: {e}", endpoint.authority)))?;
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
        }
    }
    *slot = Some(sender);
    Ok(Answer { status, bytes })
}

async fn connect(endpoint: &Endpoint) -> Result<SendRequest<Full<Bytes>>, Failure> {
    let failed =
        |e: &dyn std::fmt::Display| Failure::Connect(format!("{}: {e}", endpoint.authority));
    let stream = TcpStream::connect(&endpoint.addresses[..])
        .await
        .map_err(|e| failed(&e))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed(&e))?;
    tokio::spawn(async move {
        // Ends when the server closes the connection or the sender is dropped.
        let _ = connection.await;
    });
    sender.ready().await.map_err(|e| failed(&e))?;
    Ok(sender)
}

/// One answer, read whole.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends one request on a fresh connection and reads the whole answer, within 10 s: for
/// checks before and after a load.
pub async fn fetch(
    method: Method,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> anyhow::Result<Fetched> {
    let (authority, path) = split_url(url)?;
    let endpoint = Endpoint::resolve(&authority).await?;
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = path;
    *request.headers_mut() = headers.clone();
    if !request.headers().contains_key(HOST) {
        request
            .headers_mut()
            .insert(HOST, HeaderValue::from_str(&authority)?);
    }
    let exchange = async {
        let mut sender = connect(&endpoint).await.map_err(Failure::into_error)?;
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        anyhow::Ok(Fetched {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .with_context(|| format!("{url}: no answer within 10 s"))?
        .with_context(|| format!("{url}: request failed"))
}

impl Failure {
    fn into_error(self) -> anyhow::Error {
        match self {
            Failure::Connect(message) | Failure::Io(message) => anyhow::anyhow!(message),
            Failure::Timeout => anyhow::anyhow!("timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_origin_form() {
        let (authority, path) = split_url("http://127.0.0.1:5001/invoices?customer_id=1").unwrap();
        assert_eq!(authority, "127.0.0.1:5001");
        assert_eq!(path, "/invoices?customer_id=1");
        let (authority, path) = split_url("http://localhost").unwrap();
        assert_eq!(authority, "localhost:80");
        assert_eq!(path, "/");
        assert!(split_url("https://example.com/").is_err());
        assert!(split_url("/relative").is_err());
    }

    #[test]
    fn failures_count_non_2xx_answers_and_errors() {
        let report = LoadReport {
            connections: 1,
            rate: None,
            seconds: 1.0,
            requests: 10,
            requests_per_second: 10.0,
            latency: Latency::default(),
            status: StatusCounts {
                success: 7,
                client_error: 2,
                server_error: 1,
                ..StatusCounts::default()
            },
            errors: ErrorCounts {
                connect: 1,
                io: 0,
                timeout: 2,
            },
            bytes_received: 0,
            sent: 13,
            first_error: None,
        };
        assert_eq!(report.failures(), 6);
    }
}
