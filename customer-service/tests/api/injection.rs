use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

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
    let path = format!("/customers/{}", customer["id"].as_str().unwrap());
    let valid = json!({
        "name": "N", "email": "n@example.com", "phone": "123",
        "address": {"line1": "a", "line2": "b", "city": "c", "state": "d", "postal_code": "e", "country": "US"},
        "metadata": {"k": "v"}
    });
    let mut bodies = Vec::new();
    for field in ["name", "email", "phone", "address", "metadata"] {
        for value in operator_values() {
            let mut body = valid.clone();
            body[field] = value;
            bodies.push(body);
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
        let mut body = valid.clone();
        body[key] = json!("x");
        bodies.push(body.clone());
        let mut body = valid.clone();
        body["address"][key] = json!("x");
        bodies.push(body.clone());
        let mut body = valid.clone();
        body["metadata"][key] = json!("x");
        bodies.push(body);
    }

    let mut slowest = Duration::ZERO;
    let mut check = |status: StatusCode, took: Duration, what: &str| {
        assert!(status.is_client_error(), "{what} answered {status}");
        slowest = slowest.max(took);
    };
    for body in &bodies {
        for (method, url) in [
            (reqwest::Method::POST, app.url("/customers")),
            (reqwest::Method::PATCH, app.url(&path)),
            (reqwest::Method::PUT, app.url(&path)),
        ] {
            let started = Instant::now();
            let status = app
                .http
                .request(method.clone(), &url)
                .json(body)
                .send()
                .await
                .unwrap()
                .status();
            check(status, started.elapsed(), &format!("{method} {url} {body}"));
        }
    }
    for query in [
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
    ] {
        let started = Instant::now();
        let status = app.get(&format!("/customers?{query}")).await.status();
        check(status, started.elapsed(), query);
    }
    for id in ["%7B%22%24gt%22%3A%22%22%7D", "%24where", "[$ne]"] {
        let started = Instant::now();
        let status = app.get(&format!("/customers/{id}")).await.status();
        check(status, started.elapsed(), id);
    }
    assert!(
        slowest < Duration::from_secs(1),
        "slowest refusal took {slowest:?}"
    );
    let (_, list) = crate::helpers::status_and_json(app.get("/customers").await).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "nothing was written"
    );
}
