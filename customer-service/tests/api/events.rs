//! Events and webhooks: each acknowledged change recorded once with a gapless sequence,
//! delivered signed (verified with the Standard Webhooks reference library), in order per
//! customer through failures, retried on schedule, and sent again on request.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::webhooks::{Received, Receiver, verified_by_reference_library};

use crate::helpers::{
    TestApp, assert_error, assert_validation_failed, customer_path, spawn_app, spawn_app_with,
    status_and_json, test_settings,
};

const WAIT: Duration = Duration::from_secs(20);

/// An app whose deliveries retry after 1 s, three times.
async fn quick_retrying_app() -> TestApp {
    let (mut settings, dir) = test_settings();
    settings.common.events.retry_schedule = "1s,1s,1s".parse().unwrap();
    spawn_app_with(settings, dir).await
}

async fn create_endpoint(app: &TestApp, url: &str, types: Value) -> Value {
    let (status, endpoint) = status_and_json(
        app.post(
            "/webhook_endpoints",
            &json!({"url": url, "enabled_events": types, "description": "test receiver"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");
    endpoint
}

fn sequences(requests: &[Received], object_id: &str) -> Vec<i64> {
    requests
        .iter()
        .map(Received::json)
        .filter(|e| e["object_id"] == object_id)
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn every_acknowledged_change_has_one_event_in_sequence_and_failed_ones_none() {
    let app = spawn_app().await;
    let customer = app.create_customer("Ada", "ada@example.com").await;
    let id = customer["id"].as_str().unwrap().to_owned();
    let path = customer_path(&customer);
    let response = app
        .http
        .patch(app.url(&path))
        .header("x-request-id", "req-rename-1")
        .json(&json!({"name": "Ada King"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _) = status_and_json(app.patch(&path, &json!({"phone": "+44 1"})).await).await;
    assert_eq!(status, StatusCode::OK);
    // Refused writes: a taken email, an invalid field. Neither may leave an event.
    let (status, _) = app.post_customer("Other", "ADA@example.com").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = status_and_json(app.patch(&path, &json!({"email": "nope"})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.assert_deletes(&path, "Customer deleted").await;

    let events = app.events_of(&id, 4).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "customer.created",
            "customer.updated",
            "customer.updated",
            "customer.deleted"
        ]
    );
    let sequence: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequence, [1, 2, 3, 4]);
    assert_eq!(events[0]["data"]["object"], customer);
    assert_eq!(events[0]["data"]["previous_attributes"], Value::Null);
    let rename = &events[1];
    assert_eq!(rename["data"]["object"]["name"], "Ada King");
    assert_eq!(rename["data"]["previous_attributes"]["name"], "Ada");
    assert!(rename["data"]["previous_attributes"].get("email").is_none());
    assert_eq!(rename["request_id"], "req-rename-1");
    assert_eq!(rename["actor"], Value::Null);
    assert_eq!(events[3]["data"]["object"]["phone"], "+44 1");
    // Only one customer was ever created.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, created) =
        status_and_json(app.get("/events?type=customer.created&limit=100").await).await;
    assert_eq!(created["data"].as_array().unwrap().len(), 1);

    let event_id = rename["id"].as_str().unwrap();
    let (status, one) = status_and_json(app.get(&format!("/events/{event_id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&one, rename);
    let (status, body) = status_and_json(app.get("/events/66f000000000000000000999").await).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = status_and_json(app.get("/events?type=invoice.paid").await).await;
    assert_validation_failed(status, &body);
}

#[tokio::test]
async fn deliveries_are_signed_retried_and_in_order_per_customer() {
    let app = quick_retrying_app().await;
    // Every event's first attempt fails: the next event of the same customer must wait.
    let receiver = Receiver::scripted(|request, before| {
        if before.iter().any(|r| r.id == request.id) {
            (StatusCode::NO_CONTENT, None)
        } else {
            (StatusCode::INTERNAL_SERVER_ERROR, None)
        }
    })
    .await;
    let endpoint = create_endpoint(&app, &receiver.url, json!(["*"])).await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(endpoint["status"], "enabled");

    let customer = app.create_customer("Grace", "grace@example.com").await;
    let id = customer["id"].as_str().unwrap().to_owned();
    let path = customer_path(&customer);
    for name in ["Grace H", "Grace Hopper"] {
        let (status, _) = status_and_json(app.patch(&path, &json!({"name": name})).await).await;
        assert_eq!(status, StatusCode::OK);
    }
    let requests = receiver.wait_for(WAIT, |r| r.len() >= 6).await;
    assert_eq!(
        requests.len(),
        6,
        "each of 3 events tried twice: {requests:?}"
    );
    // In order: 1 (failed), 1, 2 (failed), 2, 3 (failed), 3.
    assert_eq!(sequences(&requests, &id), [1, 1, 2, 2, 3, 3]);
    // The same webhook-id on every retry of an event, and a retry a second later.
    assert_eq!(requests[0].id, requests[1].id);
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(900));
    assert_eq!(verified_by_reference_library(&secret, &requests), 6);
    assert_eq!(
        verified_by_reference_library("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &requests),
        0
    );

    let endpoint_id = endpoint["id"].as_str().unwrap();
    let (status, attempts) = status_and_json(
        app.get(&format!(
            "/webhook_endpoints/{endpoint_id}/attempts?limit=100"
        ))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<i64> = attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 500).count(), 3);
    assert_eq!(codes.iter().filter(|c| **c == 204).count(), 3);

    // The secret is shown only when made.
    let (status, read) =
        status_and_json(app.get(&format!("/webhook_endpoints/{endpoint_id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(read.get("secret").is_none(), "{read}");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let endpoint = create_endpoint(&app, &receiver.url, json!(["customer.created"])).await;
    let old = endpoint["secret"].as_str().unwrap().to_owned();
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let (status, rotated) = status_and_json(
        app.post_empty(&format!("/webhook_endpoints/{endpoint_id}/rotate_secret"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert!(rotated["previous_secret_expires_at"].is_string());

    app.create_customer("Linus", "linus@example.com").await;
    let requests = receiver.wait_for(WAIT, |r| !r.is_empty()).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].signature.split(' ').count(), 2);
    assert_eq!(verified_by_reference_library(&new, &requests), 1);
    assert_eq!(verified_by_reference_library(&old, &requests), 1);
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_recover_sends_the_failed_ones_again() {
    let app = quick_retrying_app().await;
    let gone = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let answer = gone.clone();
    let receiver = Receiver::scripted(move |_, _| {
        if answer.load(std::sync::atomic::Ordering::SeqCst) {
            (StatusCode::GONE, None)
        } else {
            (StatusCode::OK, None)
        }
    })
    .await;
    let endpoint = create_endpoint(&app, &receiver.url, json!(["customer.created"])).await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let since = chrono::Utc::now().to_rfc3339();
    app.create_customer("Ken", "ken@example.com").await;
    receiver.wait_for(WAIT, |r| !r.is_empty()).await;

    let deadline = std::time::Instant::now() + WAIT;
    let disabled = loop {
        let (_, read) =
            status_and_json(app.get(&format!("/webhook_endpoints/{endpoint_id}")).await).await;
        if read["status"] == "disabled" || std::time::Instant::now() >= deadline {
            break read;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(disabled["status"], "disabled", "{disabled}");
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    // Disabled: a new event is not sent.
    app.create_customer("Dennis", "dennis@example.com").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 1);

    gone.store(false, std::sync::atomic::Ordering::SeqCst);
    let (status, recovered) = status_and_json(
        app.post(
            &format!("/webhook_endpoints/{endpoint_id}/recover"),
            &json!({"since": since}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{recovered}");
    assert_eq!(recovered["redelivering"], 2);
    let requests = receiver.wait_for(WAIT, |r| r.len() >= 3).await;
    assert_eq!(requests.len(), 3);
    let names: Vec<Value> = requests[1..]
        .iter()
        .map(|r| r.json()["data"]["object"]["name"].clone())
        .collect();
    assert!(
        names.contains(&json!("Ken")) && names.contains(&json!("Dennis")),
        "{names:?}"
    );
    let (_, read) =
        status_and_json(app.get(&format!("/webhook_endpoints/{endpoint_id}")).await).await;
    assert_eq!(read["status"], "enabled");

    // Redeliver: the same event, the same webhook-id, once more.
    let event_id = requests[0].id.clone();
    let (status, _) = status_and_json(
        app.post(
            &format!("/events/{event_id}/redeliver"),
            &json!({"endpoint_id": endpoint_id}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let requests = receiver.wait_for(WAIT, |r| r.len() >= 4).await;
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[3].id, event_id);

    // A disabled endpoint is not sent anything until it is enabled again.
    let endpoint_path = format!("/webhook_endpoints/{endpoint_id}");
    let (status, _) = status_and_json(
        app.patch(&endpoint_path, &json!({"status": "disabled"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, refused) = status_and_json(
        app.post(
            &format!("/events/{event_id}/redeliver"),
            &json!({"endpoint_id": endpoint_id}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "endpoint_disabled");
}

#[tokio::test]
async fn endpoints_are_validated_and_private_addresses_refused() {
    let (mut settings, dir) = test_settings();
    settings.common.events.allow_loopback = false;
    let app = spawn_app_with(settings, dir).await;
    for (url, field) in [
        ("http://127.0.0.1:9/hook", "url"),
        ("http://10.0.0.8/hook", "url"),
        ("http://169.254.169.254/latest/meta-data", "url"),
        ("http://[::1]/hook", "url"),
        ("ftp://example.com/hook", "url"),
        ("not a url", "url"),
    ] {
        let (status, body) = status_and_json(
            app.post(
                "/webhook_endpoints",
                &json!({"url": url, "enabled_events": ["*"]}),
            )
            .await,
        )
        .await;
        assert_validation_failed(status, &body);
        assert_eq!(body["details"][0]["field"], field, "{url}: {body}");
    }
    for types in [
        json!([]),
        json!(["customer.exploded"]),
        json!(["invoice.paid"]),
    ] {
        let (status, body) = status_and_json(
            app.post(
                "/webhook_endpoints",
                &json!({"url": "https://8.8.8.8/hook", "enabled_events": types}),
            )
            .await,
        )
        .await;
        assert_validation_failed(status, &body);
    }
    let (status, body) = status_and_json(
        app.post(
            "/webhook_endpoints",
            &json!({"url": "https://8.8.8.8/hook", "enabled_events": ["*"], "secret": "x"}),
        )
        .await,
    )
    .await;
    assert_validation_failed(status, &body);

    let (status, created) = status_and_json(
        app.post(
            "/webhook_endpoints",
            &json!({"url": "https://8.8.8.8/hook", "enabled_events": ["customer.deleted"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/webhook_endpoints/{}", created["id"].as_str().unwrap());
    let (status, body) = status_and_json(
        app.patch(&path, &json!({"url": "http://192.168.0.1/"}))
            .await,
    )
    .await;
    assert_validation_failed(status, &body);
    let (status, patched) = status_and_json(
        app.patch(
            &path,
            &json!({"enabled_events": ["*"], "description": "all"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["enabled_events"], json!(["*"]));
    assert_eq!(patched["description"], "all");
    let (status, page) = status_and_json(app.get("/webhook_endpoints").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert!(page["data"][0].get("secret").is_none());
    app.assert_deletes(&path, "Webhook endpoint deleted").await;
    let (status, body) = status_and_json(app.get(&path).await).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}
