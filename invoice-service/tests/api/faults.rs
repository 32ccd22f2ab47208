//! Dependencies failing under a running service: Redis killed or stalled, MongoDB
//! stopped, customer-service gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::{Backend, MongoServer, RedisServer};

use crate::helpers::{
    Options, TestApp, invoice_body, invoice_path, spawn_app, spawn_app_with, status_and_json,
};

/// Drives reads (80%) and writes (20%) over `paths` until stopped; counts what went wrong.
struct Load {
    stop: Arc<AtomicBool>,
    non_2xx: Arc<AtomicU64>,
    server_errors: Arc<AtomicU64>,
    slowest_ms: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The tax rate last acknowledged per invoice.
    acknowledged: Arc<std::sync::Mutex<Vec<i64>>>,
}

impl Load {
    fn start(app: &TestApp, paths: Vec<String>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let non_2xx = Arc::new(AtomicU64::new(0));
        let server_errors = Arc::new(AtomicU64::new(0));
        let slowest_ms = Arc::new(AtomicU64::new(0));
        let acknowledged = Arc::new(std::sync::Mutex::new(vec![-1; paths.len()]));
        let paths = Arc::new(paths);
        let tasks = (0..4)
            .map(|worker| {
                let (http, base) = (app.http.clone(), app.base.clone());
                let (stop, non_2xx, server_errors, slowest_ms, acknowledged, paths) = (
                    stop.clone(),
                    non_2xx.clone(),
                    server_errors.clone(),
                    slowest_ms.clone(),
                    acknowledged.clone(),
                    paths.clone(),
                );
                tokio::spawn(async move {
                    let mut n: usize = worker;
                    while !stop.load(Ordering::Relaxed) {
                        n += 4;
                        let index = n % paths.len();
                        let url = format!("{base}{}", paths[index]);
                        let started = Instant::now();
                        let write = n % 5 == 0;
                        // Each worker writes only the invoices it owns, so acknowledgements are ordered.
                        let response = if write && index % 4 == worker {
                            let bps = i64::try_from(n % 10_000).unwrap();
                            let response = http
                                .patch(&url)
                                .json(&json!({"tax_rate_bps": bps}))
                                .send()
                                .await;
                            if let Ok(r) = &response
                                && r.status() == StatusCode::OK
                            {
                                acknowledged.lock().unwrap()[index] = bps;
                            }
                            response
                        } else {
                            http.get(&url).send().await
                        };
                        let took = u64::try_from(started.elapsed().as_millis()).unwrap();
                        slowest_ms.fetch_max(took, Ordering::Relaxed);
                        match response {
                            Ok(r) if r.status().is_success() => {}
                            Ok(r) => {
                                non_2xx.fetch_add(1, Ordering::Relaxed);
                                if r.status().is_server_error() {
                                    server_errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(_) => {
                                non_2xx.fetch_add(1, Ordering::Relaxed);
                                server_errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                })
            })
            .collect();
        Self {
            stop,
            non_2xx,
            server_errors,
            slowest_ms,
            tasks,
            acknowledged,
        }
    }

    async fn stop(self) -> (u64, u64, u64, Vec<i64>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let acknowledged = self.acknowledged.lock().unwrap().clone();
        (
            self.non_2xx.load(Ordering::Relaxed),
            self.server_errors.load(Ordering::Relaxed),
            self.slowest_ms.load(Ordering::Relaxed),
            acknowledged,
        )
    }
}

/// The app on `redis_url` with 20 invoices, each read once, under [`Load`].
async fn app_under_load(redis_url: String) -> (TestApp, Vec<String>, Load) {
    let app = spawn_app_with(Options {
        redis_url: Some(redis_url),
        ..Options::default()
    })
    .await;
    let customer_id = app.create_customer("Loaded", "loaded@example.com").await;
    let mut paths = Vec::new();
    for _ in 0..20 {
        let path = invoice_path(&app.create_invoice(&customer_id).await);
        app.get(&path).await;
        paths.push(path);
    }
    let load = Load::start(&app, paths.clone());
    (app, paths, load)
}

async fn assert_latest_states(app: &TestApp, paths: &[String], acknowledged: &[i64]) {
    for (path, bps) in paths.iter().zip(acknowledged) {
        if *bps < 0 {
            continue;
        }
        let (status, read) = status_and_json(app.get(path).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            read["invoice"]["tax_rate_bps"], *bps,
            "{path} reads its latest state"
        );
    }
}

#[tokio::test]
async fn redis_killed_under_load_gives_no_errors_and_the_cache_comes_back() {
    let mut redis = RedisServer::start().expect("redis starts");
    let (app, paths, load) = app_under_load(redis.url()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.resume().expect("redis restarts");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (non_2xx, _, _, acknowledged) = load.stop().await;
    assert_eq!(non_2xx, 0, "non-2xx answers while Redis was down");

    let back = Instant::now();
    loop {
        let (_, first) = status_and_json(app.get(&paths[0]).await).await;
        let (_, second) = status_and_json(app.get(&paths[0]).await).await;
        if first["source"] == "cache" || second["source"] == "cache" {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the cache did not come back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_latest_states(&app, &paths, &acknowledged).await;
}

#[tokio::test]
async fn redis_stalled_under_load_gives_no_5xx_and_no_slow_answer() {
    let redis = RedisServer::start().expect("redis starts");
    let (app, paths, load) = app_under_load(redis.url()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.pause();
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.unpause();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, server_errors, slowest_ms, acknowledged) = load.stop().await;
    assert_eq!(server_errors, 0, "5xx answers while Redis was stalled");
    assert!(slowest_ms < 1000, "slowest answer took {slowest_ms} ms");
    assert_latest_states(&app, &paths, &acknowledged).await;
}

#[tokio::test]
async fn mongodb_down_keeps_cache_hits_answering_and_fails_the_rest_fast() {
    if !Backend::from_env().is_mongo() {
        return;
    }
    let mut mongo = MongoServer::start().expect("mongo starts");
    let app = spawn_app_with(Options {
        mongodb_uri: Some(mongo.uri()),
        ..Options::default()
    })
    .await;
    let cached = app.draft_for("Cached", "cached@example.com").await;
    let (customer_id, cached_path) = (&cached.customer_id, &cached.path);
    app.get(cached_path).await;
    let uncached_path = invoice_path(&app.create_invoice(customer_id).await);

    mongo.stop();
    let (status, read) = status_and_json(app.get(cached_path).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["source"], "cache");
    for response in [
        app.get(&uncached_path).await,
        app.post("/invoices", &invoice_body(customer_id)).await,
        app.post_empty(&format!("{uncached_path}/finalize")).await,
    ] {
        let started = Instant::now();
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["code"], "dependency_unavailable");
        assert!(started.elapsed() < Duration::from_millis(2500));
    }
    let started = Instant::now();
    let (status, body) = status_and_json(app.get(&uncached_path).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        app.get("/ready").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    mongo.resume().expect("mongo restarts");
    let back = Instant::now();
    loop {
        let (status, _) = status_and_json(app.get(&uncached_path).await).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "not recovered: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn customer_service_down_fails_creation_fast_and_reads_go_on() {
    let app = spawn_app().await;
    let draft = app.draft_for("Gone", "gone@example.com").await;
    let customers_base = app.customers.base.clone();
    let invoices = (*app).clone();
    drop(app.customers);
    // customer-service stops listening at once on its shutdown signal.
    let mut stopped = false;
    for _ in 0..50 {
        if reqwest::get(format!("{customers_base}/health"))
            .await
            .is_err()
        {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "customer-service still answers");

    let started = Instant::now();
    let (status, body): (StatusCode, Value) = status_and_json(
        invoices
            .http
            .post(format!("{}/invoices", invoices.base))
            .json(&invoice_body(&draft.customer_id))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "dependency_unavailable");
    assert!(started.elapsed() < Duration::from_millis(2500));
    let (status, _) = status_and_json(
        invoices
            .http
            .get(format!("{}{}", invoices.base, draft.path))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_service_starts_with_mongodb_and_redis_down() {
    if !Backend::from_env().is_mongo() {
        return;
    }
    let mut mongo = MongoServer::start().expect("mongo starts");
    let mut redis = RedisServer::start().expect("redis starts");
    let (mongo_uri, redis_url) = (mongo.uri(), redis.url());
    mongo.stop();
    redis.stop();
    let app = spawn_app_with(Options {
        mongodb_uri: Some(mongo_uri),
        redis_url: Some(redis_url),
        ..Options::default()
    })
    .await;
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/ready").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    mongo.resume().expect("mongo starts");
    redis.resume().expect("redis starts");
    let customer_id = app.create_customer("Late", "late@example.com").await;
    let started = Instant::now();
    loop {
        let response = app.post("/invoices", &invoice_body(&customer_id)).await;
        if response.status() == StatusCode::CREATED {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/ready").await.status(), StatusCode::OK);
}
