//! Row `redis-stalled-for-one`: two more invoice-service instances on the suite's MongoDB
//! and Redis, A through a [`StallProxy`] and B directly. While the proxy is stalled, drafts
//! are patched through A at a steady rate and read through B continuously. A read through B
//! is stale when it was sent after A acknowledged a write of that invoice and shows an older
//! one; the longest time a read stays stale must be bounded.

mod proxy;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use self::proxy::StallProxy;
use super::{RowResult, Suite};
use crate::drive::PatchTarget;
use crate::outcome::{Failure, Op, Outcome, quantile, unix_ms};
use crate::procs::{Proc, free_port, wait_for_health};
use crate::report::ms;

/// Drafts written through A and read through B.
const INVOICES: usize = 8;
/// Each draft is patched this often (staggered): 20 writes/s in all.
const WRITE_EVERY: Duration = Duration::from_millis(400);
/// One read through B this often, round robin over the drafts.
const READ_EVERY: Duration = Duration::from_millis(5);
const STALL: Duration = Duration::from_secs(10);
/// How long B is given, after the resume, to show every draft's last acknowledged write.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(5);
/// The longest a read through B may show a write older than one A acknowledged before the
/// read was sent: a few polls of the event relay.
const MAX_STALE_MS: f64 = 1500.0;

/// One patch through A: draft `invoice` set to its `n`-th value.
#[derive(Debug, Clone, Copy)]
struct Write {
    invoice: usize,
    n: u64,
    /// Milliseconds since the row's clock when the 2xx answer was in; `None` otherwise.
    acked: Option<f64>,
}

/// One read through B, sent `sent` ms after the row's clock; which write of the draft it
/// showed (0: one from before this row), `None` without a 200.
#[derive(Debug, Clone, Copy)]
struct Read {
    invoice: usize,
    sent: f64,
    shows: Option<u64>,
    from_cache: bool,
}

/// The two instances, the proxy in front of A's Redis, and what identifies this row's
/// writes. The instances are killed when it is dropped, on error too.
struct Pair {
    a: Proc,
    a_url: String,
    b: Proc,
    b_url: String,
    proxy: StallProxy,
    drafts: Vec<PatchTarget>,
    /// `metadata.rw` of the `n`-th write of draft `i` is `{prefix}-i{i}-w{n}`.
    prefix: String,
    clock: Instant,
}

impl Suite {
    pub(super) async fn redis_stalled_for_one(
        &mut self,
        row: &mut RowResult,
    ) -> anyhow::Result<()> {
        let drafts: Vec<PatchTarget> = self.targets.iter().take(INVOICES).cloned().collect();
        if drafts.len() < INVOICES {
            bail!("only {} seeded drafts", drafts.len());
        }
        let proxy = StallProxy::start(self.cluster.redis_port).await?;
        let (a_port, b_port) = (free_port()?, free_port()?);
        let mut pair = Pair {
            a: self.cluster.invoice_instance(
                "invoice-service-a",
                a_port,
                &format!("redis://127.0.0.1:{}", proxy.port),
            ),
            a_url: format!("http://127.0.0.1:{a_port}"),
            b: self.cluster.invoice_instance(
                "invoice-service-b",
                b_port,
                &format!("redis://127.0.0.1:{}", self.cluster.redis_port),
            ),
            b_url: format!("http://127.0.0.1:{b_port}"),
            proxy,
            drafts,
            prefix: format!("{}-stalled", self.tag),
            clock: Instant::now(),
        };
        pair.a.start()?;
        pair.b.start()?;
        wait_for_health(&mut pair.a, &format!("{}/health", pair.a_url)).await?;
        wait_for_health(&mut pair.b, &format!("{}/health", pair.b_url)).await?;
        let result = self.stall_one(row, &pair).await;
        pair.a.kill();
        pair.b.kill();
        result
    }

    async fn stall_one(&mut self, row: &mut RowResult, pair: &Pair) -> anyhow::Result<()> {
        // Twice through B: the first read fills Redis if it does not hold the draft yet.
        // Once through A, so that A's connection to Redis is up when it stalls.
        for url in [&pair.b_url, &pair.b_url, &pair.a_url] {
            for i in 0..INVOICES {
                pair.read(&self.http, url, i).await?;
            }
        }
        let (a_ready, _) = self
            .status_of(self.http.get(format!("{}/ready", pair.a_url)))
            .await;
        if a_ready != 200 {
            bail!("invoice-service A: /ready answered {a_ready} before the stall");
        }
        let (stop, stopped) = watch::channel(false);
        let reads = Arc::new(Mutex::new(Vec::new()));
        let reader = tokio::spawn(read_through_b(
            self.http.clone(),
            pair.b_url.clone(),
            pair.drafts.iter().map(|d| d.id.clone()).collect(),
            pair.prefix.clone(),
            pair.clock,
            reads.clone(),
            stopped,
        ));

        pair.proxy.stall();
        let stalled = pair.ms();
        let until = Instant::now() + STALL;
        let patches =
            futures::future::join_all((0..INVOICES).map(|i| pair.write(&self.http, i, until)))
                .await;
        let a_counters = counters_of(&self.http, &pair.a_url).await;
        pair.proxy.resume();
        let resumed = pair.ms();

        let (writes, outcomes): (Vec<Vec<Write>>, Vec<Vec<Outcome>>) = patches.into_iter().unzip();
        let writes: Vec<Write> = writes.into_iter().flatten().collect();
        self.ledger.add(outcomes.into_iter().flatten());
        self.touched
            .extend(pair.drafts.iter().map(|d| d.id.clone()));
        let mut latest = [0u64; INVOICES];
        for w in writes.iter().filter(|w| w.acked.is_some()) {
            latest[w.invoice] = latest[w.invoice].max(w.n);
        }

        let deadline = Instant::now() + CATCH_UP_WITHIN;
        let caught_up = loop {
            let all_shown = {
                let reads = reads.lock().unwrap_or_else(PoisonError::into_inner);
                (0..INVOICES).all(|i| {
                    reads.iter().any(|r| {
                        r.invoice == i
                            && r.sent >= resumed
                            && r.shows.is_some_and(|s| s >= latest[i])
                    })
                })
            };
            if all_shown {
                break Some(pair.ms() - resumed);
            }
            if Instant::now() >= deadline || reader.is_finished() {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        stop.send_replace(true);
        reader.await.context("the reader through B")?;
        let reads = std::mem::take(&mut *reads.lock().unwrap_or_else(PoisonError::into_inner));

        let mut behind = Vec::new();
        for (name, url) in [("A", &pair.a_url), ("B", &pair.b_url)] {
            for (i, latest) in latest.iter().enumerate() {
                let shows = pair.read(&self.http, url, i).await?.0;
                if shows < *latest {
                    behind.push(format!(
                        "{} through {name} shows w{shows}, not w{latest}",
                        pair.drafts[i].id
                    ));
                }
            }
        }

        let stale = staleness(&writes, &reads);
        let mut visible = visible_after(&writes, &reads);
        let acked = writes.iter().filter(|w| w.acked.is_some()).count();
        let answered = reads.iter().filter(|r| r.shows.is_some()).count();
        let worst = stale.iter().copied().max_by(|x, y| x.1.total_cmp(&y.1));
        let max_stale = worst.map_or(0.0, |(_, ms)| ms);
        row.figure("writes", writes.len());
        row.figure("writes_acknowledged", acked);
        row.figure("reads", reads.len());
        row.figure(
            "reads_from_cache",
            reads.iter().filter(|r| r.from_cache).count(),
        );
        row.figure("stale_reads", stale.len());
        row.figure("max_stale_ms", round(max_stale));
        if let Some((r, stale_ms)) = worst {
            let read = reads[r];
            row.figure(
                "worst_stale_read",
                json!({
                    "invoice": pair.drafts[read.invoice].id,
                    "sent_after_stall_ms": round(read.sent - stalled),
                    "shows": read.shows.map(|n| format!("w{n}")),
                    "from_cache": read.from_cache,
                    "stale_ms": round(stale_ms),
                }),
            );
        }
        row.figure("never_visible", acked - visible.len());
        row.figure("visible_p50_ms", round(quantile(&mut visible, 0.5)));
        row.figure("visible_p99_ms", round(quantile(&mut visible, 0.99)));
        row.figure("stall_ms", round(resumed - stalled));
        row.figure("a_counters_at_resume", a_counters);
        row.figure(
            "b_counters_at_end",
            counters_of(&self.http, &pair.b_url).await,
        );
        row.figure("caught_up_after_resume_ms", caught_up.map(round));
        row.check(
            "writes through A acknowledged while its Redis is stalled",
            format!("{acked} of {} 2xx", writes.len()),
            "all 2xx",
            acked == writes.len() && acked > 0,
        );
        row.check(
            "reads through B answered",
            format!("{answered} of {} 200", reads.len()),
            "all 200",
            answered == reads.len() && answered > 0,
        );
        row.check(
            "longest stale read through B",
            format!(
                "{} ({} stale of {} reads)",
                ms(max_stale),
                stale.len(),
                reads.len()
            ),
            format!("<= {}", ms(MAX_STALE_MS)),
            max_stale <= MAX_STALE_MS,
        );
        row.first_example("first_behind_after_resume", &behind);
        row.check(
            "every draft reads its last acknowledged write through A and B after the resume",
            format!(
                "{} of {} behind; B caught up {}",
                behind.len(),
                2 * INVOICES,
                caught_up.map_or_else(
                    || format!("not within {} s", CATCH_UP_WITHIN.as_secs()),
                    |t| format!("{} after the resume", ms(t))
                )
            ),
            "0 behind",
            behind.is_empty(),
        );
        Ok(())
    }
}

impl Pair {
    fn ms(&self) -> f64 {
        self.clock.elapsed().as_secs_f64() * 1000.0
    }

    /// Patches draft `i` through A every [`WRITE_EVERY`] until `until`, each write with the
    /// next value; what each write got, and the outcomes for the ledger.
    async fn write(
        &self,
        http: &reqwest::Client,
        i: usize,
        until: Instant,
    ) -> (Vec<Write>, Vec<Outcome>) {
        let draft = &self.drafts[i];
        let stagger = WRITE_EVERY.mul_f64(i as f64 / INVOICES as f64);
        let mut due = Instant::now() + stagger;
        let (mut writes, mut outcomes) = (Vec::new(), Vec::new());
        for n in 1u64.. {
            if due >= until {
                break;
            }
            tokio::time::sleep_until(due).await;
            let value = format!("{}-i{i}-w{n}", self.prefix);
            let request = http
                .patch(format!("{}/invoices/{}", self.a_url, draft.id))
                .json(&json!({"metadata": {"rk": draft.rk, "rw": value}}))
                .timeout(Duration::from_secs(10));
            let seq = n * INVOICES as u64 + i as u64;
            let sent_ms = unix_ms();
            let sent = Instant::now();
            let mut outcome = Outcome {
                target: Some(draft.id.clone()),
                value: Some(value),
                ..Outcome::sent(Op::Patch, seq, sent_ms, sent_ms)
            };
            match request.send().await {
                Ok(response) => {
                    outcome.status = Some(response.status().as_u16());
                    let body: Option<Value> = response.json().await.ok();
                    outcome.code = body
                        .as_ref()
                        .and_then(|b| b["code"].as_str())
                        .map(str::to_owned);
                }
                Err(error) => outcome.failure = Some(failure_of(&error)),
            }
            outcome.latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
            outcome.corrected_ms = outcome.latency_ms;
            writes.push(Write {
                invoice: i,
                n,
                acked: outcome.is_success().then(|| self.ms()),
            });
            outcomes.push(outcome);
            due += WRITE_EVERY;
        }
        (writes, outcomes)
    }

    /// Draft `i` read once through `url`: which write it shows, and whether from the cache.
    async fn read(
        &self,
        http: &reqwest::Client,
        url: &str,
        i: usize,
    ) -> anyhow::Result<(u64, bool)> {
        let id = &self.drafts[i].id;
        let answer = get_invoice(http, url, id, &format!("{}-i{i}-w", self.prefix)).await;
        answer.with_context(|| format!("GET {url}/invoices/{id} did not answer 200"))
    }
}

/// Reads the drafts `ids` through B round robin, one every [`READ_EVERY`], until `stop`.
async fn read_through_b(
    http: reqwest::Client,
    b_url: String,
    ids: Vec<String>,
    prefix: String,
    clock: Instant,
    reads: Arc<Mutex<Vec<Read>>>,
    mut stop: watch::Receiver<bool>,
) {
    let prefixes: Vec<String> = (0..ids.len()).map(|i| format!("{prefix}-i{i}-w")).collect();
    let mut every = tokio::time::interval(READ_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    for invoice in (0..ids.len()).cycle() {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.changed() => return,
        }
        let sent = clock.elapsed().as_secs_f64() * 1000.0;
        let answer = get_invoice(&http, &b_url, &ids[invoice], &prefixes[invoice]).await;
        reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Read {
                invoice,
                sent,
                shows: answer.map(|a| a.0),
                from_cache: answer.is_some_and(|a| a.1),
            });
    }
}

/// `GET /invoices/{id}`: the `n` of `metadata.rw` = `{prefix}{n}` (0 for any other value)
/// and whether it came from the cache; `None` without a 200.
async fn get_invoice(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    prefix: &str,
) -> Option<(u64, bool)> {
    let response = http
        .get(format!("{url}/invoices/{id}"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    if response.status() != reqwest::StatusCode::OK {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    let shows = body["invoice"]["metadata"]["rw"]
        .as_str()
        .and_then(|v| v.strip_prefix(prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Some((shows, body["source"] == "cache"))
}

/// Every stale read (sent after A acknowledged a write newer than what it shows), by its
/// index, and how long it was stale: from the acknowledgement of the oldest such write to the
/// read's send.
fn staleness(writes: &[Write], reads: &[Read]) -> Vec<(usize, f64)> {
    reads
        .iter()
        .enumerate()
        .filter_map(|(index, r)| {
            let shows = r.shows?;
            writes
                .iter()
                .filter(|w| w.invoice == r.invoice && w.n > shows)
                .filter_map(|w| w.acked)
                .filter(|&acked| acked <= r.sent)
                .reduce(f64::min)
                .map(|acked| (index, r.sent - acked))
        })
        .collect()
}

/// For every acknowledged write, the time from its acknowledgement to the send of the first
/// read through B sent after it that shows it (or a later write); writes never shown are left
/// out.
fn visible_after(writes: &[Write], reads: &[Read]) -> Vec<f64> {
    writes
        .iter()
        .filter_map(|w| {
            let acked = w.acked?;
            reads
                .iter()
                .find(|r| {
                    r.invoice == w.invoice && r.sent >= acked && r.shows.is_some_and(|s| s >= w.n)
                })
                .map(|r| r.sent - acked)
        })
        .collect()
}

/// The counters of an instance's `/metrics` that tell why a write reached Redis late (a
/// counter never incremented is absent there, and `null` here).
async fn counters_of(http: &reqwest::Client, url: &str) -> Value {
    const COUNTERS: [&str; 4] = [
        "cache_deferred_writes_total",
        "cache_bypassed_total",
        "redis_errors_total",
        "projection_deferred_total",
    ];
    let text = match http
        .get(format!("{url}/metrics"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
    {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let counter = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    COUNTERS
        .iter()
        .map(|name| {
            (
                name.trim_end_matches("_total").to_owned(),
                json!(counter(name)),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn failure_of(error: &reqwest::Error) -> Failure {
    if error.is_timeout() {
        Failure::Timeout
    } else if error.is_connect() {
        Failure::Connect
    } else {
        Failure::Io
    }
}

/// Milliseconds with one decimal, for the figures.
fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(n: u64, acked: f64) -> Write {
        Write {
            invoice: 0,
            n,
            acked: Some(acked),
        }
    }

    fn read(sent: f64, shows: u64) -> Read {
        Read {
            invoice: 0,
            sent,
            shows: Some(shows),
            from_cache: true,
        }
    }

    #[test]
    fn a_read_is_stale_from_the_oldest_acknowledged_write_it_misses() {
        let writes = [write(1, 100.0), write(2, 500.0), write(3, 900.0)];
        let reads = [
            read(50.0, 0),
            read(150.0, 0),
            read(600.0, 0),
            read(700.0, 2),
            read(950.0, 2),
        ];
        assert_eq!(
            staleness(&writes, &reads),
            vec![(1, 50.0), (2, 500.0), (4, 50.0)]
        );
    }

    #[test]
    fn a_write_is_visible_at_the_first_read_after_it_that_shows_it_or_later() {
        let writes = [write(1, 100.0), write(2, 500.0), write(3, 900.0)];
        let reads = [
            read(90.0, 1),
            read(150.0, 0),
            read(600.0, 2),
            read(700.0, 2),
        ];
        assert_eq!(visible_after(&writes, &reads), vec![500.0, 100.0]);
    }
}
