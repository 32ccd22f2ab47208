//! Row `redis-cluster-master-killed`: invoice-service on a Redis Cluster of three masters
//! (local `redis-server` processes, no replicas, `cluster-require-full-coverage no`), one
//! master killed (SIGKILL) for 8 s under the 80/20 load and started again on its
//! `nodes.conf`. No request may fail; the invoices of the other masters' slots keep hitting
//! the cache, those of the dead one's are read from MongoDB, and once it is back the hit
//! ratio returns without a restart of the service.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::time::Instant;

use super::measure::{Tally, reads_p99, writes_mix, writes_p99};
use super::redis_killed::CacheSampler;
use super::{RowResult, Suite};
use crate::outcome::unix_ms;
use crate::procs::{Launch, Member, Proc, free_port, redis_args, wait_for_health, wait_for_port};
use crate::report::ms;

/// One master of the cluster.
struct Node {
    proc: Proc,
    port: u16,
}

/// Three masters on free ports of 127.0.0.1, their state under the run directory.
struct RedisCluster {
    nodes: Vec<Node>,
    cli: PathBuf,
}

impl RedisCluster {
    async fn start(server: &Path, dir: &Path, logs: &Path) -> anyhow::Result<Self> {
        let cli = std::env::var_os("REDIS_CLI_BIN").map_or_else(
            || {
                server
                    .parent()
                    .map(|d| d.join("redis-cli"))
                    .filter(|p| p.is_file())
                    .unwrap_or_else(|| "redis-cli".into())
            },
            PathBuf::from,
        );
        let mut nodes = Vec::new();
        for i in 1..=3 {
            let (port, bus) = (free_port()?, free_port()?);
            let node_dir = dir.join(format!("node-{i}"));
            if node_dir.exists() {
                std::fs::remove_dir_all(&node_dir)?;
            }
            std::fs::create_dir_all(&node_dir)?;
            let mut args = redis_args(port, &node_dir);
            args.extend(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    &bus.to_string(),
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-require-full-coverage",
                    "no",
                ]
                .map(OsString::from),
            );
            let mut proc = Proc::new(Launch {
                name: format!("redis-cluster-{i}"),
                program: server.to_path_buf(),
                args,
                env: Vec::new(),
                log: logs.join(format!("redis-cluster-{i}.log")),
            });
            proc.start()?;
            wait_for_port(&mut proc, port, Duration::from_secs(10)).await?;
            nodes.push(Node { proc, port });
        }
        let cluster = Self { nodes, cli };
        let mut create = Command::new(&cluster.cli);
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let created = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .with_context(|| format!("cannot run {}", cluster.cli.display()))?;
        if !created.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&created.stdout)
            );
        }
        cluster.wait_ok(Duration::from_secs(20)).await?;
        Ok(cluster)
    }

    fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// `redis-cli -p PORT ARGS...`, its output.
    fn cli(&self, port: u16, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new(&self.cli)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .with_context(|| format!("cannot run {}", self.cli.display()))?;
        Ok(String::from_utf8_lossy(&output.stdout).replace('\r', ""))
    }

    /// Waits until every running node says `cluster_state:ok` and knows all three masters.
    async fn wait_ok(&self, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let ok = self.nodes.iter().all(|n| {
                self.cli(n.port, &["cluster", "info"]).is_ok_and(|info| {
                    info.lines().any(|l| l == "cluster_state:ok")
                        && info.lines().any(|l| l == "cluster_known_nodes:3")
                })
            });
            if ok {
                return Ok(());
            }
            if started.elapsed() > within {
                bail!("the Redis Cluster is not ok after {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The slots `node` serves, as `first-last` ranges.
    fn slots_of(&self, node: usize) -> String {
        let port = self.nodes[node].port;
        let nodes = self.cli(port, &["cluster", "nodes"]).unwrap_or_default();
        nodes
            .lines()
            .find(|l| l.contains("myself"))
            .map(|l| l.split(' ').skip(8).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    }

    fn stop(&mut self) {
        for node in &mut self.nodes {
            node.proc.kill();
        }
    }
}

impl Suite {
    pub(super) async fn redis_cluster_master_killed(
        &mut self,
        row: &mut RowResult,
    ) -> anyhow::Result<()> {
        let dir = self.settings.run_dir.join("redis-cluster");
        let mut cluster =
            RedisCluster::start(&self.settings.binaries.redis, &dir, &self.settings.logs).await?;
        // The suite's invoice-service gives way to one on the cluster, on the same port: two
        // caches over one database would each keep what the other's writes replaced.
        self.cluster
            .proc(Member::Invoices)
            .terminate(Duration::from_secs(10))
            .await?;
        let mut on_cluster = self.cluster.instance(
            Member::Invoices,
            "invoice-service-on-cluster",
            &[("REDIS_URL", cluster.url())],
        );
        let result = async {
            on_cluster.start()?;
            wait_for_health(&mut on_cluster, &format!("{}/health", self.invoice_url())).await?;
            self.kill_a_master(row, &mut cluster).await
        }
        .await;
        let _ = on_cluster.terminate(Duration::from_secs(10)).await;
        cluster.stop();
        // What the suite's Redis held is older than what the row wrote through the cluster.
        let port = self.cluster.redis_port;
        let flushed = Command::new(&cluster.cli)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "flushall"])
            .status();
        if !flushed.is_ok_and(|s| s.success()) {
            row.error
                .get_or_insert_with(|| "could not flush the suite's Redis".into());
        }
        self.cluster.start(Member::Invoices).await?;
        result
    }

    async fn kill_a_master(
        &mut self,
        row: &mut RowResult,
        cluster: &mut RedisCluster,
    ) -> anyhow::Result<()> {
        // Every seeded invoice read twice: the first read fills its master.
        for _ in 0..2 {
            for id in self.target_ids() {
                let url = format!("{}/invoices/{id}", self.invoice_url());
                self.http.get(url).send().await?.error_for_status()?;
            }
        }
        let sampler =
            CacheSampler::start(self.http.clone(), format!("{}/metrics", self.invoice_url()));
        let name = row.row.clone();
        let phases = [("before", 3.0), ("fault", 9.0), ("after", 30.0)];
        let mut driver = self.drive_loaded(&name, &phases, writes_mix()).await?;
        driver.until(3.0).await;
        let victim = 0;
        row.figure("killed_master_slots", cluster.slots_of(victim));
        let killed = unix_ms();
        cluster.nodes[victim].proc.kill();
        driver.until(11.0).await;
        let node = &mut cluster.nodes[victim];
        node.proc.start()?;
        wait_for_port(&mut node.proc, node.port, Duration::from_secs(10)).await?;
        let back = unix_ms();
        cluster.wait_ok(Duration::from_secs(20)).await?;
        let recovered = sampler.wait_recovered(back, &mut driver).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        driver.stop();
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let tally = Tally::of(&report);
        let before = sampler.ratio(killed.saturating_sub(2000), killed);
        let while_down = sampler.ratio(killed + 1000, back);
        row.figure("down_ms", back - killed);
        row.figure("hit_ratio_before", before.map(|r| r.0));
        row.figure("hit_ratio_while_down", while_down.map(|r| r.0));
        row.figure("reads", tally.reads);
        row.figure("tracked_writes", tally.tracked);
        row.figure("reads_p99_fault_ms", reads_p99(&report, "fault"));
        row.figure("writes_p99_fault_ms", writes_p99(&report, "fault"));
        row.check(
            "non-2xx answers",
            tally.failures_by_kind(),
            "0",
            tally.failures() == 0,
        );
        let percent = |r: Option<(f64, f64)>| {
            r.map_or_else(
                || "none".to_owned(),
                |(ratio, _)| format!("{:.0}%", ratio * 100.0),
            )
        };
        row.check(
            "cache hits while one master is down",
            format!(
                "{} (before {}); reads p99 {}, writes p99 {}",
                percent(while_down),
                percent(before),
                ms(reads_p99(&report, "fault")),
                ms(writes_p99(&report, "fault"))
            ),
            ">= 50%: the other two masters keep serving their slots",
            while_down.is_some_and(|(ratio, _)| ratio >= 0.5),
        );
        let recovery = recovered.map(|at| (at - back) as f64 / 1000.0);
        row.figure("hit_ratio_recovery_s", recovery);
        row.check(
            "hit ratio back >= 90% after the master returns",
            recovery.map_or_else(|| "not within 30 s".to_owned(), |s| format!("{s:.1} s")),
            "<= 30 s, no restart of the service",
            recovery.is_some_and(|s| s <= 30.0),
        );
        Ok(())
    }
}
