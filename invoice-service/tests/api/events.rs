//! Invoice events: one per acknowledged change, named for what happened, with a gapless
//! sequence; a finalized invoice's event carries its number; and a webhook receives them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::webhooks::{Receiver, verified_by_reference_library};

use crate::helpers::{Draft, spawn_app, status_and_json};

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn each_lifecycle_change_is_one_event_and_refused_ones_none() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (status, endpoint) = status_and_json(
        app.post(
            "/webhook_endpoints",
            &json!({"url": receiver.url, "enabled_events": ["invoice.finalized", "invoice.paid"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");

    let Draft { path, invoice, .. } = app.draft_for("Events", "events@example.com").await;
    let id = invoice["id"].as_str().unwrap().to_owned();
    let (status, _) =
        status_and_json(app.patch(&path, &json!({"metadata": {"po": "7"}})).await).await;
    assert_eq!(status, StatusCode::OK);
    let (status, finalized) =
        status_and_json(app.post_empty(&format!("{path}/finalize")).await).await;
    assert_eq!(status, StatusCode::OK);
    // Refused: an open invoice cannot be edited or finalized again.
    let (status, _) = status_and_json(app.post_empty(&format!("{path}/finalize")).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = status_and_json(app.post_empty(&format!("{path}/pay")).await).await;
    assert_eq!(status, StatusCode::OK);

    let events = app.events_of(&id, 4).await;
    assert_eq!(
        kinds(&events),
        [
            "invoice.created",
            "invoice.updated",
            "invoice.finalized",
            "invoice.paid"
        ]
    );
    let sequence: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequence, [1, 2, 3, 4]);
    let number = &finalized["invoice"]["number"];
    assert!(number.is_string());
    assert_eq!(events[2]["data"]["object"]["number"], *number);
    assert_eq!(
        events[2]["data"]["previous_attributes"]["number"],
        Value::Null
    );
    assert_eq!(events[2]["data"]["previous_attributes"]["status"], "draft");
    assert_eq!(events[3]["data"]["object"]["status"], "paid");
    assert_eq!(
        events[1]["data"]["previous_attributes"]["metadata"],
        json!({})
    );

    let requests = receiver
        .wait_for(Duration::from_secs(20), |r| r.len() >= 2)
        .await;
    let delivered: Vec<String> = requests
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered, ["invoice.finalized", "invoice.paid"]);
    let secret = endpoint["secret"].as_str().unwrap();
    assert_eq!(verified_by_reference_library(secret, &requests), 2);

    // A deleted draft: its event, and the invoice is gone.
    let Draft { path, invoice, .. } = app.draft_for("Gone", "gone@example.com").await;
    let id = invoice["id"].as_str().unwrap().to_owned();
    app.assert_deletes(&path, "Invoice deleted").await;
    let events = app.events_of(&id, 2).await;
    assert_eq!(kinds(&events), ["invoice.created", "invoice.deleted"]);
    assert_eq!(events[1]["sequence"], 2);
    let (status, _) = status_and_json(app.get("/invoices?limit=100").await).await;
    assert_eq!(status, StatusCode::OK);
}
