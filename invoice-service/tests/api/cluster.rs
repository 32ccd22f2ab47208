//! The cache on a Redis Cluster of the test's own (three masters, no replicas): the cache
//! promise on every master's slots, and one master killed and restarted under the service.
//! They run in the cluster run (`TEST_REDIS_URL=redis+cluster://...`, the rust-cluster
//! stage of scripts/test), not in every run of the suite.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::oid::ObjectId;
use reqwest::StatusCode;
use test_support::RedisCluster;
use test_support::cluster::CLUSTER_NODES;
use tokio::sync::oneshot;

use crate::cache::{Gate, StaleReads, set_tax_rate, x_cache};
use crate::helpers::{Options, TestApp, invoice_path, spawn_app_with, status_and_json};

/// Whether this run is the cluster run.
fn cluster_run() -> bool {
    std::env::var("TEST_REDIS_URL").is_ok_and(|url| url.starts_with("redis+cluster://"))
}

/// Invoices of one app, grouped by the master their cache key hashes to.
struct Spread {
    by_node: Vec<Vec<String>>,
}

impl Spread {
    /// Creates invoices until each master serves at least `per_node` of their keys.
    async fn make(app: &TestApp, cluster: &RedisCluster, per_node: usize) -> Self {
        let customer_id = app.create_customer("Spread", "spread@example.com").await;
        let mut by_node = vec![Vec::new(); CLUSTER_NODES];
        while by_node.iter().any(|paths| paths.len() < per_node) {
            let path = invoice_path(&app.create_invoice(&customer_id).await);
            let node = cluster.node_of_key(&key_of(app, &path)).unwrap();
            by_node[node].push(path);
        }
        Self { by_node }
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        self.by_node.iter().flatten()
    }
}

/// The cache key of the invoice at `path` (`/invoices/<id>`).
fn key_of(app: &TestApp, path: &str) -> String {
    let id = path.trim_start_matches("/invoices/");
    format!("{}invoice:{id}", app.settings.cache_key_prefix)
}

async fn app_on(cluster: &RedisCluster, before_fill: Option<&Arc<Gate>>) -> TestApp {
    spawn_app_with(Options {
        redis_url: Some(cluster.url()),
        before_fill: before_fill.map(|gate| gate.hook()),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn the_cache_promise_holds_on_every_master() {
    if !cluster_run() {
        return;
    }
    let cluster = RedisCluster::start().expect("the cluster forms");
    let app = app_on(&cluster, None).await;
    let spread = Spread::make(&app, &cluster, 2).await;
    for (node, paths) in spread.by_node.iter().enumerate() {
        for (round, path) in paths.iter().enumerate() {
            app.get(path).await;
            assert_eq!(x_cache(&app, path).await, "HIT", "second read of {path}");
            // The fill landed on the master that serves the key's slot: asked directly (no
            // redirect), it holds `<version>|<json>`.
            let held = cluster.cli(node, &["GET", &key_of(&app, path)]).unwrap();
            assert!(held.contains("|{\""), "{path} on master {node}: {held}");

            let bps = 100 + i64::try_from(round).unwrap();
            set_tax_rate(&app, path, bps).await;
            let response = app.get(path).await;
            assert_eq!(response.headers()["x-cache"], "HIT", "read after write");
            let (status, read) = status_and_json(response).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                read["invoice"]["tax_rate_bps"], bps,
                "{path} reads its write"
            );
        }
    }
}

#[tokio::test]
async fn a_paused_reader_never_puts_back_an_older_state_on_any_master() {
    if !cluster_run() {
        return;
    }
    let cluster = RedisCluster::start().expect("the cluster forms");
    let gate = Arc::new(Gate::default());
    let app = app_on(&cluster, Some(&gate)).await;
    let spread = Spread::make(&app, &cluster, 5).await;
    let mut stale = StaleReads::default();
    for (run, path) in spread.all().enumerate() {
        let id = ObjectId::parse_str(path.trim_start_matches("/invoices/")).unwrap();
        let (paused_tx, paused_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *gate.armed.lock().unwrap() = Some((id, paused_tx, release_rx));

        let reader = {
            let (http, url) = (app.http.clone(), app.url(path));
            tokio::spawn(async move { http.get(url).send().await.unwrap().status() })
        };
        paused_rx.await.expect("the reader reached its fill");
        let bps = 1 + i64::try_from(run).unwrap();
        set_tax_rate(&app, path, bps).await;
        release_tx.send(()).unwrap();
        assert_eq!(reader.await.unwrap(), StatusCode::OK);

        stale.read(&app, path, bps).await;
        assert_eq!(x_cache(&app, path).await, "HIT", "{path} is cached");
    }
    stale.assert_none("stale reads after a paused fill");
}

/// Reads every path once: `(path, status, X-Cache, milliseconds)`.
async fn read_all<'a>(
    app: &TestApp,
    paths: impl Iterator<Item = &'a String>,
) -> Vec<(&'a String, StatusCode, String, u128)> {
    let mut reads = Vec::new();
    for path in paths {
        let started = Instant::now();
        let response = app.get(path).await;
        let status = response.status();
        let cache = response.headers()["x-cache"].to_str().unwrap().to_owned();
        reads.push((path, status, cache, started.elapsed().as_millis()));
    }
    reads
}

#[tokio::test]
async fn a_killed_master_costs_only_its_slots_the_cache_until_it_is_back() {
    if !cluster_run() {
        return;
    }
    const VICTIM: usize = 1;
    let mut cluster = RedisCluster::start().expect("the cluster forms");
    let app = app_on(&cluster, None).await;
    let spread = Spread::make(&app, &cluster, 4).await;
    for path in spread.all() {
        app.get(path).await;
    }
    let victims = &spread.by_node[VICTIM];
    let others = || {
        spread
            .by_node
            .iter()
            .enumerate()
            .filter(|(node, _)| *node != VICTIM)
            .flat_map(|(_, paths)| paths)
    };

    cluster.kill(VICTIM);
    // A write its master cannot take waits in the retry queue: that invoice is read from the
    // store, and the other masters' invoices keep hitting.
    set_tax_rate(&app, &victims[0], 1234).await;
    let mut stale = StaleReads::default();
    let killed = Instant::now();
    let mut slowest_victim_ms = 0;
    while killed.elapsed() < Duration::from_millis(2000) {
        for (path, status, cache, ms) in read_all(&app, victims.iter()).await {
            assert_eq!(status, StatusCode::OK, "{path} while its master is down");
            assert_eq!(cache, "MISS", "{path} is read from the store");
            slowest_victim_ms = slowest_victim_ms.max(ms);
        }
        for (path, status, cache, _) in read_all(&app, others()).await {
            assert_eq!(status, StatusCode::OK, "{path} on a master that answers");
            assert_eq!(cache, "HIT", "{path} is still served by its master");
        }
    }
    stale.read(&app, &victims[0], 1234).await;
    stale.assert_none("the deferred write of a killed master's invoice");
    // One Redis call bounded to 200 ms, then the store: a dead master never holds a read up.
    assert!(
        slowest_victim_ms < 1000,
        "a read of a killed master's invoice took {slowest_victim_ms} ms"
    );

    cluster.restart(VICTIM).expect("the master restarts");
    let restarted = Instant::now();
    loop {
        let reads = read_all(&app, victims.iter()).await;
        let failed = reads
            .iter()
            .find(|(_, status, ..)| *status != StatusCode::OK);
        assert!(failed.is_none(), "while the master rejoins: {failed:?}");
        if reads.iter().all(|(_, _, cache, _)| cache == "HIT") {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(8),
            "no hits for the restarted master's slots after 8 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (path, status, cache, _) in read_all(&app, others()).await {
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cache, "HIT", "{path} after the restart");
    }
}

#[tokio::test]
async fn the_service_starts_while_the_cluster_is_down_and_uses_it_once_up() {
    if !cluster_run() {
        return;
    }
    let mut cluster = RedisCluster::start().expect("the cluster forms");
    for node in 0..CLUSTER_NODES {
        cluster.kill(node);
    }
    let app = app_on(&cluster, None).await;
    let customer_id = app.create_customer("Early", "early@example.com").await;
    let path = invoice_path(&app.create_invoice(&customer_id).await);
    set_tax_rate(&app, &path, 4321).await;
    let (status, read) = status_and_json(app.get(&path).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["source"], "database");

    for node in 0..CLUSTER_NODES {
        cluster.restart(node).expect("the master restarts");
    }
    let restarted = Instant::now();
    loop {
        let response = app.get(&path).await;
        let hit = response.headers()["x-cache"] == "HIT";
        let (status, read) = status_and_json(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read["invoice"]["tax_rate_bps"], 4321, "the write is read");
        if hit {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(8),
            "no cache hit 8 s after the cluster came up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
