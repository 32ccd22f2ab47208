//! One phase of a drive: its reads through `bench::load` (one load per phase, so that each
//! phase has percentiles of its own) and a tick per second on stdout.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bench::load::{LoadConfig, LoadHandle};
use hyper::{HeaderMap, Method};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Counters, DriveSpec, PhaseReport, PhaseSpec, Tick, emit};
use crate::outcome::unix_ms;

/// Runs `phase` to its end, or (the `last` one) until `stopped`.
pub(super) async fn run_phase(
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
