use reqwest::StatusCode;

use crate::helpers::{Draft, spawn_app, status_and_json};

#[tokio::test]
async fn metrics_move_after_requests() {
    let app = spawn_app().await;
    let Draft { path, .. } = app.draft_for("Counted", "counted@example.com").await;
    let scrape = || async {
        let text = app.get("/metrics").await.text().await.unwrap();
        let count = |prefix: &str| -> f64 {
            text.lines()
                .filter(|l| l.starts_with(prefix))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        (
            count(
                r#"http_requests_total{service="invoice-service",method="GET",route="/invoices/{id}",status="200"}"#,
            ),
            count("cache_hits_total"),
            count("cache_misses_total"),
            count("invoice_instance_store_reads"),
        )
    };
    let before = scrape().await;
    app.get(&path).await;
    app.get(&path).await;
    let after = scrape().await;
    assert!(
        after.0 >= before.0 + 2.0,
        "request count: {before:?} → {after:?}"
    );
    assert!(after.1 > before.1, "cache hits: {before:?} → {after:?}");
    assert!(after.2 > before.2, "cache misses: {before:?} → {after:?}");
    assert_eq!(
        after.3,
        before.3 + 1.0,
        "one store read: {before:?} → {after:?}"
    );
    let text = app.get("/metrics").await.text().await.unwrap();
    for name in [
        "http_request_duration_seconds_bucket",
        "upstream_request_duration_seconds",
        "mongodb_call_duration_seconds",
    ] {
        if name.starts_with("mongodb") && app.settings.common.mongodb_uri.is_none() {
            continue;
        }
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    let (status, _) = status_and_json(app.get("/metrics").await).await;
    assert_eq!(status, StatusCode::OK);
}
