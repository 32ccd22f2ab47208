use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{invoice_body, spawn_app, status_and_json};

fn operator_values() -> Vec<Value> {
    vec![
        json!({"$gt": ""}),
        json!({"$ne": null}),
        json!({"$where": "sleep(1000)"}),
        json!([{"$gt": ""}]),
    ]
}

#[tokio::test]
async fn every_field_and_parameter_refuses_operators_with_a_fast_4xx() {
    let app = spawn_app().await;
    let customer_id = app.create_customer("Target", "target@example.com").await;
    let draft = app.create_invoice(&customer_id).await;
    let path = format!("/invoices/{}", draft["id"].as_str().unwrap());
    let valid = invoice_body(&customer_id);
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
            let mut body = valid.clone();
            body[field] = value;
            bodies.push(body);
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
        let mut body = valid.clone();
        body[key] = json!("x");
        bodies.push(body.clone());
        let mut body = valid.clone();
        body["items"][0][key] = json!(1);
        bodies.push(body.clone());
        let mut body = valid.clone();
        body["metadata"] = json!({key: "x"});
        bodies.push(body);
    }
    let mut slowest = Duration::ZERO;
    for body in &bodies {
        for (method, url) in [
            (reqwest::Method::POST, app.url("/invoices")),
            (reqwest::Method::PATCH, app.url(&path)),
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
            assert!(
                status.is_client_error(),
                "{method} {body} answered {status}"
            );
            slowest = slowest.max(started.elapsed());
        }
    }
    for query in [
        "customer_id[$ne]=1",
        "status[$ne]=paid",
        "status[$in][]=paid",
        "x[$ne]=1",
        "limit[$gt]=0",
        "after[$gt]=0",
        "$where=1",
        "customer_id=%7B%22%24gt%22%3A%22%22%7D",
    ] {
        let started = Instant::now();
        let status = app.get(&format!("/invoices?{query}")).await.status();
        assert!(status.is_client_error(), "{query} answered {status}");
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "slowest refusal took {slowest:?}"
    );
    let (_, read) = status_and_json(app.get(&path).await).await;
    assert_eq!(read["invoice"], draft, "the draft is untouched");
    let (status, list) = status_and_json(app.get("/invoices").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "nothing was written"
    );
}
