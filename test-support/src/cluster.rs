//! A private Redis Cluster: three masters without replicas on free ports, for the tests of the
//! cache on a cluster and of one master failing under it.
//!
//! Each node keeps its `nodes.conf` in the cluster's temp dir, so a master that was killed
//! comes back on its ports as the same node, with its slots (and without its data: nothing is
//! persisted). `REDIS_SERVER_BIN` names redis-server (7 or later, for `--cluster-port`);
//! `REDIS_CLI_BIN`, else the `redis-cli` beside it, else the one on PATH, forms the cluster.

#![allow(clippy::expect_used)] // a cluster that cannot be read fails the test that uses it

use std::collections::HashSet;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::{Process, free_port, signal_process};

/// The number of masters.
pub const CLUSTER_NODES: usize = 3;

struct Node {
    port: u16,
    /// The cluster bus port (`--cluster-port`), picked free rather than `port + 10000`,
    /// which may be taken or past 65535.
    bus_port: u16,
    process: Process,
    /// The slots this master serves, as the cluster assigned them at creation.
    slots: Vec<RangeInclusive<u16>>,
}

pub struct RedisCluster {
    dir: tempfile::TempDir,
    nodes: Vec<Node>,
}

impl RedisCluster {
    /// Starts the masters, forms the cluster and waits until every node says
    /// `cluster_state:ok`.
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut taken = HashSet::new();
        let mut port = || loop {
            let port = free_port();
            if taken.insert(port) {
                return port;
            }
        };
        let nodes = (0..CLUSTER_NODES)
            .map(|_| Node {
                port: port(),
                bus_port: port(),
                process: Process { child: None },
                slots: Vec::new(),
            })
            .collect();
        let mut cluster = Self { dir, nodes };
        for node in 0..CLUSTER_NODES {
            cluster.restart(node)?;
        }
        let mut create = Command::new(redis_cli());
        create.args(["--cluster", "create"]);
        create.args(
            cluster
                .nodes
                .iter()
                .map(|n| format!("127.0.0.1:{}", n.port)),
        );
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        let output = create
            .output()
            .context("cannot run redis-cli --cluster create")?;
        if !output.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        cluster.wait_until_ok(Duration::from_secs(10))?;
        cluster.read_slots()?;
        Ok(cluster)
    }

    /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, as `REDIS_URL` takes it.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The client port of master `node` (0, 1 or 2).
    pub fn port(&self, node: usize) -> u16 {
        self.nodes[node].port
    }

    /// The slots master `node` serves.
    pub fn slots(&self, node: usize) -> &[RangeInclusive<u16>] {
        &self.nodes[node].slots
    }

    /// The master that serves `slot`.
    pub fn node_of_slot(&self, slot: u16) -> usize {
        self.nodes
            .iter()
            .position(|n| n.slots.iter().any(|range| range.contains(&slot)))
            .expect("a formed cluster serves every slot")
    }

    /// The hash slot of `key`, as a running node computes it (`CLUSTER KEYSLOT`).
    pub fn slot_of(&self, key: &str) -> anyhow::Result<u16> {
        let node = self
            .nodes
            .iter()
            .position(|n| n.process.child.is_some())
            .context("no node of the cluster runs")?;
        let answer = self.cli(node, &["CLUSTER", "KEYSLOT", key])?;
        answer
            .trim()
            .parse()
            .with_context(|| format!("CLUSTER KEYSLOT answered {answer:?}"))
    }

    /// The master that serves `key`.
    pub fn node_of_key(&self, key: &str) -> anyhow::Result<usize> {
        Ok(self.node_of_slot(self.slot_of(key)?))
    }

    /// SIGKILL master `node`: a crash; its slots have no replica to take them over.
    pub fn kill(&mut self, node: usize) {
        self.nodes[node].process.kill();
    }

    /// SIGSTOP master `node`: it holds its connections but answers nothing.
    pub fn pause(&self, node: usize) {
        signal_process(&self.nodes[node].process, "STOP");
    }

    /// SIGCONT after [`RedisCluster::pause`].
    pub fn unpause(&self, node: usize) {
        signal_process(&self.nodes[node].process, "CONT");
    }

    /// Starts master `node` (again) on its ports with its `nodes.conf`, and waits until it
    /// listens; it rejoins the cluster with its slots (see [`RedisCluster::wait_until_ok`]).
    pub fn restart(&mut self, node: usize) -> anyhow::Result<()> {
        let dir = self.dir.path().to_path_buf();
        let Node {
            port,
            bus_port,
            process,
            ..
        } = &mut self.nodes[node];
        process.kill();
        let mut command = Command::new(redis_server());
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-port", &bus_port.to_string()])
            .arg("--cluster-config-file")
            .arg(dir.join(format!("nodes-{port}.conf")))
            // The masters that answer keep serving their slots while another is down, as a
            // cache wants; the default stops the whole cluster once the others mark it failed.
            .args(["--cluster-require-full-coverage", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(dir.join(format!("redis-{port}.log")));
        process.spawn(command, *port, Duration::from_secs(10))
    }

    /// Waits until every running node says `cluster_state:ok`.
    pub fn wait_until_ok(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut waiting = None;
            for (node, n) in self.nodes.iter().enumerate() {
                if n.process.child.is_none() {
                    continue;
                }
                let info = self.cli(node, &["CLUSTER", "INFO"]).unwrap_or_default();
                if !info.lines().any(|line| line.trim() == "cluster_state:ok") {
                    waiting = Some((n.port, info));
                    break;
                }
            }
            let Some((port, info)) = waiting else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                bail!("the cluster node on {port} is not ok after {timeout:?}: {info}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `redis-cli -p <node's port> args...`: its output.
    pub fn cli(&self, node: usize, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new(redis_cli())
            .args(["-h", "127.0.0.1", "-p", &self.nodes[node].port.to_string()])
            .args(args)
            .output()
            .context("cannot run redis-cli")?;
        if !output.status.success() {
            bail!(
                "redis-cli {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Reads which slots each master serves from `CLUSTER NODES`.
    fn read_slots(&mut self) -> anyhow::Result<()> {
        let nodes = self.cli(0, &["CLUSTER", "NODES"])?;
        for line in nodes.lines() {
            // <id> <ip:port@bus[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(address) = fields.get(1) else {
                continue;
            };
            let port: u16 = address
                .split(['@', ','])
                .next()
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, port)| port.parse().ok())
                .with_context(|| format!("CLUSTER NODES line {line:?}"))?;
            let node = self
                .nodes
                .iter_mut()
                .find(|n| n.port == port)
                .with_context(|| format!("CLUSTER NODES names a node not ours: {line:?}"))?;
            node.slots = fields
                .iter()
                .skip(8)
                .filter(|slot| !slot.starts_with('['))
                .map(|slot| {
                    let (first, last) = slot.split_once('-').unwrap_or((slot, slot));
                    Ok(first.parse()?..=last.parse()?)
                })
                .collect::<anyhow::Result<_>>()
                .with_context(|| format!("CLUSTER NODES line {line:?}"))?;
        }
        if self.nodes.iter().any(|n| n.slots.is_empty()) {
            bail!("a master serves no slot: {nodes}");
        }
        Ok(())
    }
}

fn redis_server() -> String {
    std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into())
}

fn redis_cli() -> PathBuf {
    if let Ok(bin) = std::env::var("REDIS_CLI_BIN") {
        return bin.into();
    }
    let server = PathBuf::from(redis_server());
    match server.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && dir.join("redis-cli").exists() => {
            dir.join("redis-cli")
        }
        _ => "redis-cli".into(),
    }
}
