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
//!
//! - `plan`: the targets of a load, resolved once, and which request is sent when;
//! - `worker`: the loop of each connection, and the task that ends the measured time;
//! - `connection`: one request on a keep-alive connection, and [`fetch`] for one-off checks;
//! - `report`: the counts of each worker and the [`LoadReport`] made of them.

mod connection;
mod plan;
mod report;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use hyper::Method;
use hyper::header::HeaderMap;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use self::connection::{Fetched, fetch};
use self::plan::Plan;
pub use self::report::{ErrorCounts, Latency, LoadReport, StatusCounts};
use self::worker::{Shared, coordinate};

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
        let shared = Arc::new(Shared::new(plan));
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
