use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::Refusals;

use crate::helpers::{invoice_body, spawn_app, status_and_json, with_field};

fn operator_values() -> Vec<Value> {
    vec![
        json!({"$gt": ""}),
        json!({"$ne": null}),
        json!({"$where": "sleep(1000)"}),
        json!([{"$gt": ""}]),
    ]
}

/// List queries that try operators in each parameter.
const OPERATOR_QUERIES: [&str; 8] = [
    "customer_id[$ne]=1",
    "status[$ne]=paid",
    "status[$in][]=paid",
    "x[$ne]=1",
    "limit[$gt]=0",
    "after[$gt]=0",
    "$where=1",
    "customer_id=%7B%22%24gt%22%3A%22%22%7D",
];

#[tokio::test]
async fn every_field_and_parameter_refuses_operators_with_a_fast_4xx() {
    let app = spawn_app().await;
    let draft = app.draft_for("Target", "target@example.com").await;
    let (path, valid) = (&draft.path, invoice_body(&draft.customer_id));
    let mut bodies = Vec::new();
    for field in [
        "customer_id",
        "currency",
        "items",
        "tax_rate_bps",
        "due_date",
        "metadata",
    ] {
        for value in operator_values() {
            bodies.push(with_field(&valid, field, value));
        }
    }
    for field in ["description", "quantity", "unit_amount"] {
        for value in operator_values() {
            let mut body = valid.clone();
            body["items"][0][field] = value;
            bodies.push(body);
        }
    }
    for key in ["$where", "$set", "a.b", "$inc"] {
        bodies.push(with_field(&valid, key, json!("x")));
        let mut body = valid.clone();
        body["items"][0][key] = json!(1);
        bodies.push(body);
        bodies.push(with_field(&valid, "metadata", json!({key: "x"})));
    }
    let mut refusals = Refusals::default();
    let routes = [(Method::POST, "/invoices"), (Method::PATCH, path.as_str())];
    refusals.check_bodies(&app, &bodies, &routes).await;
    refusals
        .check_queries(&app, "/invoices", &OPERATOR_QUERIES)
        .await;
    refusals.assert_faster_than(Duration::from_secs(1));
    let (_, read) = status_and_json(app.get(path).await).await;
    assert_eq!(read["invoice"], draft.invoice, "the draft is untouched");
    let (status, list) = status_and_json(app.get("/invoices").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "nothing was written"
    );
}
