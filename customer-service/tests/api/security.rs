use std::collections::HashSet;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::json;
use service_kit::auth::ApiKeys;
use service_kit::rate_limit::RateLimit;
use test_support::join_tasks;

use crate::helpers::{
    assert_error, assert_validation_failed, spawn_app, spawn_app_with, status_and_json,
    test_settings,
};

const KEY: &str = "ck_test_0123456789abcdef";

fn client_with_key(key: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

#[tokio::test]
async fn business_routes_need_a_key_and_a_missing_or_wrong_one_gets_the_same_401() {
    let (mut settings, dir) = test_settings();
    settings.common.api_keys =
        Some(ApiKeys::parse(&format!("{KEY},another_key_0123456789")).unwrap());
    let app = spawn_app_with(settings, dir).await;

    let mut answers = Vec::new();
    for auth in [
        None,
        Some("Bearer wrong_key_0123456789abc"),
        Some("Basic Y2s6eA=="),
        Some(KEY),
        Some("Bearer "),
    ] {
        let mut request = app.http.get(app.url("/customers"));
        if let Some(auth) = auth {
            request = request.header(AUTHORIZATION, auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let (status, body) = status_and_json(response).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        answers.push(body);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every refusal is the same"
    );

    let authorized = client_with_key(KEY);
    let response = authorized
        .post(app.url("/customers"))
        .json(&json!({"name": "Keyed", "email": "keyed@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let lower_case = app
        .http
        .get(app.url("/customers"))
        .header(AUTHORIZATION, format!("bearer {KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower_case.status(), StatusCode::OK);

    for open in ["/health", "/ready", "/metrics", "/openapi.json", "/docs"] {
        let status = app.get(open).await.status();
        assert!(
            status.is_success() || status.is_redirection(),
            "{open} answered {status}"
        );
    }
}

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after() {
    let (mut settings, dir) = test_settings();
    settings.common.api_keys = Some(ApiKeys::parse(KEY).unwrap());
    settings.common.rate_limit = RateLimit {
        per_second: 5,
        burst: 5,
    };
    let app = spawn_app_with(settings, dir).await;
    let authorized = client_with_key(KEY);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..20 {
        let response = authorized.get(app.url("/customers")).send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let (status, body) = status_and_json(response).await;
            assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            statuses.push(status);
        } else {
            statuses.push(response.status());
        }
    }
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&seconds));
    // Operational routes are not counted against anyone.
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_hundred_retried_creates_with_one_key_make_one_customer() {
    let app = spawn_app().await;
    let body = json!({"name": "Once", "email": "once@example.com"});
    let mut ids = HashSet::new();
    for attempt in 0..100 {
        let response = app
            .post_idempotent("/customers", "create-once-1", &body)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "attempt {attempt}");
        if attempt > 0 {
            assert_eq!(response.headers()["idempotent-replayed"], "true");
        }
        let (_, answer) = status_and_json(response).await;
        ids.insert(answer["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    let (_, list) = status_and_json(app.get("/customers?email=once%40example.com").await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "no duplicate");

    let other = json!({"name": "Other", "email": "other@example.com"});
    let reused = app.post_idempotent("/customers", "create-once-1", &other);
    let (status, answer) = status_and_json(reused.await).await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );

    // A failed first attempt is replayed as it was: the key remembers the 4xx answer.
    let bad = json!({"name": "", "email": "x@example.com"});
    for _ in 0..2 {
        let response = app.post_idempotent("/customers", "bad-1", &bad).await;
        let (status, answer) = status_and_json(response).await;
        assert_validation_failed(status, &answer);
    }
}

#[tokio::test]
async fn concurrent_retries_with_one_key_never_make_two() {
    let app = spawn_app().await;
    let body = json!({"name": "Racy", "email": "racy@example.com"});
    let attempts = (0..16).map(|_| {
        let (client, body) = ((*app).clone(), body.clone());
        tokio::spawn(async move {
            let response = client.post_idempotent("/customers", "concurrent-1", &body);
            response.await.status()
        })
    });
    let statuses = join_tasks(attempts).await;
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let (_, list) = status_and_json(app.get("/customers?email=racy%40example.com").await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}
