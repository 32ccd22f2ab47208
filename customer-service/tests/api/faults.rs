use std::time::{Duration, Instant};

use reqwest::StatusCode;
use test_support::{Backend, MongoServer, scratch_dir, unique_name};

use crate::helpers::{customer_path, spawn_app_with, status_and_json, test_settings};

/// MongoDB stopped and started again under a running service: 503 within 2.5 s while it
/// is down, 2xx again within 15 s of its return, no restart of the service.
#[tokio::test]
async fn mongodb_down_gives_fast_503s_and_the_service_recovers_by_itself() {
    if !Backend::from_env().is_mongo() {
        return;
    }
    let mut mongo = MongoServer::start().expect("mongo server starts");
    let (mut settings, data_dir) = test_settings();
    settings.common.mongodb_uri = Some(mongo.uri());
    let app = spawn_app_with(settings, data_dir).await;
    let customer = app.create_customer("Durable", "durable@example.com").await;
    let path = customer_path(&customer);

    mongo.stop();
    for request in 0..3 {
        let started = Instant::now();
        let (status, body) = status_and_json(app.get(&path).await).await;
        let took = started.elapsed();
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "request {request}: {body}"
        );
        assert_eq!(body["code"], "dependency_unavailable");
        assert!(took < Duration::from_millis(2500), "answered in {took:?}");
    }
    let started = Instant::now();
    let (status, body) = app.post_customer("Lost", "lost@example.com").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(
        app.get("/ready").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);

    mongo.resume().expect("mongo server restarts");
    let back = Instant::now();
    loop {
        let (status, body) = status_and_json(app.get(&path).await).await;
        if status == StatusCode::OK {
            assert_eq!(body["email"], "durable@example.com");
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "not recovered: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/ready").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_service_starts_while_mongodb_is_down() {
    if !Backend::from_env().is_mongo() {
        return;
    }
    let mut mongo = MongoServer::start().expect("mongo server starts");
    let uri = mongo.uri();
    mongo.stop();
    let (mut settings, data_dir) = test_settings();
    settings.common.mongodb_uri = Some(uri);
    settings.common.mongodb_db = unique_name("down_at_start");
    let app = spawn_app_with(settings, data_dir).await;
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/ready").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    mongo.resume().expect("mongo server starts");
    let started = Instant::now();
    while app.get("/ready").await.status() != StatusCode::OK {
        assert!(started.elapsed() < Duration::from_secs(15));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.create_customer("Late", "late@example.com").await;
    let (status, body) = app.post_customer("Late 2", "LATE@example.com").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "unique index exists once MongoDB is back: {body}"
    );
}

#[tokio::test]
async fn the_embedded_store_survives_a_restart() {
    let dir = scratch_dir();
    let (mut settings, _unused) = test_settings();
    settings.common.mongodb_uri = None;
    settings.common.data_dir = dir.path().to_path_buf();
    let app = spawn_app_with(settings.clone(), scratch_dir()).await;
    let customer = app.create_customer("Kept", "kept@example.com").await;
    drop(app);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let app = spawn_app_with(settings, scratch_dir()).await;
    let (status, read) = status_and_json(app.get(&customer_path(&customer)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, customer);
}

/// MongoDB frozen (SIGSTOP) under more concurrent reads than the service lets wait on it
/// (`MONGODB_MAX_IN_FLIGHT`, 4 here): the excess is shed at once with `503` and
/// `Retry-After: 1`, the calls in flight answer `503` when MongoDB does not, and once it
/// continues reads answer `200` again within 2 s.
#[tokio::test]
async fn a_frozen_mongodb_sheds_the_calls_past_the_bound_at_once() {
    if !Backend::from_env().is_mongo() {
        return;
    }
    let mongo = MongoServer::start().expect("mongo server starts");
    let (mut settings, data_dir) = test_settings();
    settings.common.mongodb_uri = Some(mongo.uri());
    settings.common.mongodb_max_in_flight = 4;
    let app = spawn_app_with(settings, data_dir).await;
    let customer = app.create_customer("Frozen", "frozen@example.com").await;
    let path = customer_path(&customer);

    mongo.freeze();
    let answers = futures::future::join_all((0..64).map(|_| async {
        let started = Instant::now();
        let response = app.get(&path).await;
        let retry_after = response.headers().get("retry-after").cloned();
        (response.status(), retry_after, started.elapsed())
    }))
    .await;
    mongo.thaw();
    let thawed = Instant::now();

    let shed = answers
        .iter()
        .filter(|(_, _, took)| *took < Duration::from_millis(500))
        .count();
    assert!(shed >= 48, "{shed} of 64 answered at once");
    for (status, retry_after, took) in &answers {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "after {took:?}");
        assert_eq!(retry_after.as_ref().map(|v| v.as_bytes()), Some(&b"1"[..]));
        assert!(*took < Duration::from_millis(2500), "answered in {took:?}");
    }
    loop {
        let (status, body) = status_and_json(app.get(&path).await).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            thawed.elapsed() < Duration::from_secs(2),
            "not answering 200 within 2 s of the thaw: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Calls that time out while MongoDB is frozen leave nothing queued in the driver: waves of
/// reads past the pool's connections, all answered `503` at the call bound, and once it
/// continues every read answers `200` again, none waiting behind the calls that gave up.
#[tokio::test]
async fn calls_that_timed_out_during_a_freeze_leave_no_queue_behind() {
    if !Backend::from_env().is_mongo() {
        return;
    }
    let mongo = MongoServer::start().expect("mongo server starts");
    let (mut settings, data_dir) = test_settings();
    settings.common.mongodb_uri = Some(mongo.uri());
    let app = spawn_app_with(settings, data_dir).await;
    let customer = app.create_customer("Queued", "queued@example.com").await;
    let path = customer_path(&customer);

    mongo.freeze();
    for _wave in 0..2 {
        let statuses = futures::future::join_all(
            (0..64).map(|_| async { status_and_json(app.get(&path).await).await.0 }),
        )
        .await;
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
            "{statuses:?}"
        );
    }
    mongo.thaw();

    let thawed = Instant::now();
    loop {
        let (status, _) = status_and_json(app.get("/ready").await).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(thawed.elapsed() < Duration::from_secs(5), "/ready {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for read in 0..20 {
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!(status, StatusCode::OK, "read {read}: {body}");
    }
}
