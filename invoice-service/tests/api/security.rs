use std::collections::HashSet;

use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use secrecy::SecretString;
use serde_json::json;
use service_kit::auth::ApiKeys;
use test_support::scratch_dir;

use crate::helpers::{
    Draft, assert_error, customer_settings, invoice_body, invoice_settings, spawn_app,
    spawn_customer_service, spawn_invoice_service, status_and_json,
};

const CUSTOMER_KEY: &str = "ck_test_customers_0123456789";
const INVOICE_KEY: &str = "ik_test_invoices_0123456789";
const INVOICE_TO_CUSTOMER_KEY: &str = "ck_test_from_invoices_0123456789";

#[tokio::test]
async fn invoice_service_presents_its_own_key_to_customer_service() {
    let data_dir = scratch_dir();
    let customers_dir = scratch_dir();
    let mut customer_settings = customer_settings(customers_dir.path());
    customer_settings.common.api_keys =
        Some(ApiKeys::parse(&format!("{CUSTOMER_KEY},{INVOICE_TO_CUSTOMER_KEY}")).unwrap());
    let customers = spawn_customer_service(customer_settings).await;
    let customers_base = customers.base.clone();

    let http = reqwest::Client::new();
    let response = http
        .post(format!("{customers_base}/customers"))
        .header(AUTHORIZATION, format!("Bearer {CUSTOMER_KEY}"))
        .json(&json!({"name": "Keyed", "email": "keyed@example.com"}))
        .send()
        .await
        .unwrap();
    let (_, created) = status_and_json(response).await;
    let customer_id = created["id"].as_str().unwrap().to_owned();

    for (their_key, expected) in [
        (None, StatusCode::SERVICE_UNAVAILABLE),
        (Some(INVOICE_TO_CUSTOMER_KEY), StatusCode::CREATED),
    ] {
        let mut settings = invoice_settings(&customers_base, data_dir.path());
        settings.common.api_keys = Some(ApiKeys::parse(INVOICE_KEY).unwrap());
        settings.customer_service_api_key = their_key.map(|k| SecretString::from(k.to_owned()));
        let invoices = spawn_invoice_service(settings).await;
        let unauthorized = http
            .post(format!("{}/invoices", invoices.base))
            .json(&invoice_body(&customer_id))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
        let response = http
            .post(format!("{}/invoices", invoices.base))
            .header(AUTHORIZATION, format!("Bearer {INVOICE_KEY}"))
            .json(&invoice_body(&customer_id))
            .send()
            .await
            .unwrap();
        // Without its key, customer-service refuses invoice-service: that is a dependency
        // problem for the caller, not a missing customer.
        assert_eq!(response.status(), expected);
    }
}

#[tokio::test]
async fn a_hundred_retried_invoice_creates_with_one_key_make_one_invoice() {
    let app = spawn_app().await;
    let customer_id = app.create_customer("Retry", "retry@example.com").await;
    let body = invoice_body(&customer_id);
    let mut ids = HashSet::new();
    for _ in 0..100 {
        let response = app.post_idempotent("/invoices", "inv-1", &body).await;
        let (status, answer) = status_and_json(response).await;
        assert_eq!(status, StatusCode::CREATED);
        ids.insert(answer["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    let (_, list) = status_and_json(
        app.get(&format!("/invoices?customer_id={customer_id}"))
            .await,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "no duplicate");

    let mut other = body.clone();
    other["tax_rate_bps"] = json!(1);
    let response = app.post_idempotent("/invoices", "inv-1", &other).await;
    let (status, answer) = status_and_json(response).await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
}

#[tokio::test]
async fn a_retried_transition_replays_its_first_answer() {
    let app = spawn_app().await;
    let Draft { path, .. } = app.draft_for("Transit", "transit@example.com").await;
    app.post_empty(&format!("{path}/finalize")).await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let response = app
            .post_empty_idempotent(&format!("{path}/pay"), "pay-1")
            .await;
        answers.push(status_and_json(response).await);
    }
    assert!(
        answers
            .iter()
            .all(|(status, body)| *status == StatusCode::OK && *body == answers[0].1)
    );
    // Without the key, a second pay is the lifecycle's 409.
    let (status, body) = status_and_json(app.post_empty(&format!("{path}/pay")).await).await;
    assert_error(status, &body, StatusCode::CONFLICT, "invalid_transition");
}
