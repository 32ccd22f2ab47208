use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use test_support::Refusals;

use crate::helpers::{customer_path, spawn_app, status_and_json, with_field};

/// List queries that try operators, or parameters twice or out of range.
const OPERATOR_QUERIES: [&str; 10] = [
    "email[$ne]=1",
    "email[$gt]=",
    "q[$regex]=.*",
    "x[$ne]=1",
    "limit[$gt]=0",
    "after[$ne]=1",
    "$where=sleep(1000)",
    "email.x=1",
    "q=a&q=b",
    "limit=1e9",
];

/// Values and keys an attacker would try against a MongoDB-backed API.
pub fn operator_values() -> Vec<Value> {
    vec![
        json!({"$gt": ""}),
        json!({"$ne": null}),
        json!({"$where": "sleep(1000)"}),
        json!({"$regex": ".*"}),
        json!([{"$gt": ""}]),
    ]
}

pub fn operator_keys() -> Vec<&'static str> {
    vec!["$where", "$set", "$gt", "a.b", "name.$", "$ne"]
}

#[tokio::test]
async fn every_field_and_parameter_refuses_operators_with_a_fast_4xx() {
    let app = spawn_app().await;
    let customer = app.create_customer("Target", "target@example.com").await;
    let path = customer_path(&customer);
    let valid = json!({
        "name": "N", "email": "n@example.com", "phone": "123",
        "address": {"line1": "a", "line2": "b", "city": "c", "state": "d", "postal_code": "e", "country": "US"},
        "metadata": {"k": "v"}
    });
    let mut bodies = Vec::new();
    for field in ["name", "email", "phone", "address", "metadata"] {
        for value in operator_values() {
            bodies.push(with_field(&valid, field, value));
        }
    }
    for field in ["line1", "line2", "city", "state", "postal_code", "country"] {
        for value in operator_values() {
            let mut body = valid.clone();
            body["address"][field] = value;
            bodies.push(body);
        }
    }
    for key in operator_keys() {
        bodies.push(with_field(&valid, key, json!("x")));
        let mut body = valid.clone();
        body["address"][key] = json!("x");
        bodies.push(body);
        let mut body = valid.clone();
        body["metadata"][key] = json!("x");
        bodies.push(body);
    }

    let mut refusals = Refusals::default();
    let routes = [
        (Method::POST, "/customers"),
        (Method::PATCH, path.as_str()),
        (Method::PUT, path.as_str()),
    ];
    refusals.check_bodies(&app, &bodies, &routes).await;
    refusals
        .check_queries(&app, "/customers", &OPERATOR_QUERIES)
        .await;
    for id in ["%7B%22%24gt%22%3A%22%22%7D", "%24where", "[$ne]"] {
        let url = app.url(&format!("/customers/{id}"));
        refusals.check(app.http.get(url), id).await;
    }
    refusals.assert_faster_than(Duration::from_secs(1));
    let (_, list) = status_and_json(app.get("/customers").await).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "nothing was written"
    );
}
