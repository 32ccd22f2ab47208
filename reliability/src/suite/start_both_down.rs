//! Row `start-both-down`: both services started while MongoDB and Redis are down, then the
//! servers start. The services must come up (`/health` 200), refuse work with 503 (never a
//! 500, never a panic) while their stores are missing, and serve normally once they start.

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use super::measure::{Tally, writes_mix};
use super::system::{log_len, panics_after};
use super::{RowResult, Suite};
use crate::drive;

impl Suite {
    pub(super) async fn start_both_down(&mut self, row: &mut RowResult) -> anyhow::Result<()> {
        let logs = [
            self.cluster.customers.log_path().to_path_buf(),
            self.cluster.invoices.log_path().to_path_buf(),
        ];
        let panics_since = |offsets: &[u64]| -> usize {
            logs.iter()
                .zip(offsets)
                .map(|(log, offset)| panics_after(log, *offset))
                .sum()
        };
        let before = log_lens(&logs);
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
        let offsets = log_lens(&logs);
        row.figure(
            "panics_while_the_previous_instances_stopped",
            panics_since(&before),
        );
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
        let spec = self.loaded_spec("after-start", &[("serving", 5.0)], writes_mix());
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
        // The first read fills the cache again; the second must come from it.
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
        let panics = panics_since(&offsets);
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
}

/// The length of each log now, to count only what is written after.
fn log_lens(logs: &[PathBuf]) -> Vec<u64> {
    logs.iter().map(|l| log_len(l)).collect()
}
