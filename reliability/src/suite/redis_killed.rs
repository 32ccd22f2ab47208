//! Row `redis-killed`: redis-server killed (SIGKILL) for 10 s under the 80/20 load. Every
//! request must still be answered 2xx within the p99 limits, and the cache hit ratio must
//! come back once Redis does; [`CacheSampler`] follows it on invoice-service's `/metrics`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::fault::Fault;
use super::measure::{Tally, writes_mix};
use super::{RowResult, Suite};
use crate::driver::Driver;
use crate::outcome::unix_ms;
use crate::procs::Member;

impl Suite {
    pub(super) async fn redis_killed(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let sampler =
            CacheSampler::start(self.http.clone(), format!("{}/metrics", self.invoice_url()));
        let phases = [("before", 2.0), ("fault", 12.0), ("after", 32.0)];
        let mut driver = self
            .drive_loaded("redis-killed", &phases, writes_mix())
            .await?;
        let redis = Fault::Kill(Member::Redis);
        let (killed, back) = self.fault(&driver, redis, 3.0, 13.0).await?;
        let recovered = sampler.wait_recovered(back, &mut driver).await;
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
            tally.failures_by_kind(),
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
}

/// Cache lookups counted by invoice-service's `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
struct CacheCounts {
    hits: f64,
    misses: f64,
    bypassed: f64,
    deferred: f64,
}

/// A Prometheus counter of a `/metrics` text, summed over its labels.
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
pub(super) struct CacheSampler {
    samples: Arc<Mutex<Vec<(u64, CacheCounts)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CacheSampler {
    pub(super) fn start(http: reqwest::Client, url: String) -> Self {
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
    pub(super) fn ratio(&self, from: u64, to: u64) -> Option<(f64, f64)> {
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
    pub(super) fn recovered_at(&self, from: u64, at_least: f64) -> Option<u64> {
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

    /// Waits up to 30 s after `back` (while the drive runs) for a 500 ms window with a hit
    /// ratio of at least 90 %; when it came.
    pub(super) async fn wait_recovered(&self, back: u64, driver: &mut Driver) -> Option<u64> {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if let Some(at) = self.recovered_at(back, 0.9) {
                return Some(at);
            }
            if unix_ms() > back + 30_000 || driver.has_exited() {
                return None;
            }
        }
    }

    /// Cache writes deferred (Redis unreachable) between the samples at `from` and `to`.
    pub(super) fn deferred_between(&self, from: u64, to: u64) -> f64 {
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
}
