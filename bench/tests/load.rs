//! The load generator against small in-process servers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test should panic

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use bench::load::{self, LoadConfig, LoadHandle};
use hyper::Method;

#[derive(Clone, Default)]
struct Seen {
    requests: Arc<AtomicU64>,
    bodies: Arc<std::sync::Mutex<Vec<Bytes>>>,
}

/// `GET /ok`, `GET /teapot` (418), `GET /slow` (200 after 50 ms), `POST /echo`.
async fn serve() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/ok",
            get(|State(seen): State<Seen>| async move {
                seen.requests.fetch_add(1, Ordering::Relaxed);
                "ok"
            }),
        )
        .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                "slow"
            }),
        )
        .route(
            "/echo",
            post(|State(seen): State<Seen>, body: Bytes| async move {
                seen.bodies.lock().unwrap().push(body.clone());
                body
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn config(urls: Vec<String>, seconds: f64) -> LoadConfig {
    LoadConfig {
        connections: 4,
        duration: Some(Duration::from_secs_f64(seconds)),
        urls,
        ..LoadConfig::new("http://unused")
    }
}

#[tokio::test]
async fn a_closed_loop_counts_every_answer_by_status_class() {
    let (base, seen) = serve().await;
    let report = load::run(config(
        vec![format!("{base}/ok"), format!("{base}/teapot")],
        0.5,
    ))
    .await
    .unwrap();
    assert!(report.requests > 100, "{report:?}");
    assert_eq!(report.errors.total(), 0, "{report:?}");
    // Round robin over the two URLs: about as many of each.
    let (ok, teapots) = (report.status.success, report.status.client_error);
    assert!(ok.abs_diff(teapots) <= 8, "{report:?}");
    assert_eq!(report.failures(), teapots);
    assert!(report.latency.p50_ms > 0.0 && report.latency.p50_ms <= report.latency.p99_ms);
    assert!(report.latency.p99_ms <= report.latency.max_ms);
    assert!(seen.requests.load(Ordering::Relaxed) >= ok);
    assert!((report.seconds - 0.5).abs() < 0.05, "{report:?}");
}

#[tokio::test]
async fn the_warm_up_is_sent_but_not_counted() {
    let (base, seen) = serve().await;
    let report = load::run(LoadConfig {
        warmup: Duration::from_millis(300),
        ..config(vec![format!("{base}/ok")], 0.3)
    })
    .await
    .unwrap();
    let served = seen.requests.load(Ordering::Relaxed);
    assert!(report.requests > 0);
    // The server saw the warm-up's requests too.
    assert!(served > report.requests + 10, "{served} vs {report:?}");
    assert!(report.sent >= served);
}

#[tokio::test]
async fn bodies_are_sent_in_turn_each_once_before_any_again() {
    let (base, seen) = serve().await;
    let bodies: Vec<Bytes> = (0..1000)
        .map(|n| Bytes::from(format!("body-{n}")))
        .collect();
    let report = load::run(LoadConfig {
        method: Method::POST,
        bodies: bodies.clone(),
        rate: Some(400.0),
        ..config(vec![format!("{base}/echo")], 0.5)
    })
    .await
    .unwrap();
    let received = seen.bodies.lock().unwrap().clone();
    assert!(
        !received.is_empty() && received.len() < bodies.len(),
        "{report:?}"
    );
    let mut unique = received.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), received.len(), "a body was sent twice");
    assert!(report.bytes_received > 0);
}

#[tokio::test]
async fn a_rate_is_kept_across_connections() {
    let (base, _) = serve().await;
    let report = load::run(LoadConfig {
        rate: Some(200.0),
        ..config(vec![format!("{base}/ok")], 1.0)
    })
    .await
    .unwrap();
    assert!(
        (170.0..=230.0).contains(&report.requests_per_second),
        "{report:?}"
    );
}

#[tokio::test]
async fn latency_at_a_rate_counts_from_the_intended_send_time() {
    let (base, _) = serve().await;
    // One connection, a 50 ms answer, 100 requests/s asked: the server can do 20/s, so the
    // queue grows and latencies from the intended times grow far beyond 50 ms.
    let report = load::run(LoadConfig {
        connections: 1,
        rate: Some(100.0),
        ..config(vec![format!("{base}/slow")], 1.0)
    })
    .await
    .unwrap();
    assert!(report.requests_per_second < 25.0, "{report:?}");
    assert!(report.latency.p90_ms > 300.0, "{report:?}");
}

#[tokio::test]
async fn a_background_load_can_be_read_and_stopped() {
    let (base, _) = serve().await;
    let load = LoadHandle::start(LoadConfig {
        duration: None,
        ..config(vec![format!("{base}/ok")], 1.0)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let partial = load.snapshot();
    assert!(partial.requests > 0);
    assert!(!load.is_finished());
    load.stop();
    let report = load.finish().await.unwrap();
    assert!(report.requests >= partial.requests);
    assert!(report.seconds < 1.0, "{report:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let report = load::run(config(vec![format!("http://127.0.0.1:{port}/")], 0.3))
        .await
        .unwrap();
    assert_eq!(report.requests, 0);
    assert!(report.errors.connect > 0, "{report:?}");
    assert!(report.first_error.is_some());
    assert_eq!(report.failures(), report.errors.connect);
}

#[tokio::test]
async fn a_slow_answer_past_the_timeout_is_a_timeout() {
    let (base, _) = serve().await;
    let report = load::run(LoadConfig {
        timeout: Duration::from_millis(10),
        connections: 1,
        ..config(vec![format!("{base}/slow")], 0.3)
    })
    .await
    .unwrap();
    assert_eq!(report.requests, 0);
    assert!(report.errors.timeout > 0, "{report:?}");
}

#[tokio::test]
async fn fetch_reads_one_whole_answer() {
    let (base, _) = serve().await;
    let fetched = load::fetch(
        Method::GET,
        &format!("{base}/ok"),
        &Default::default(),
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(&fetched.body[..], b"ok");
}
