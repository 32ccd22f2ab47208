use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, invoice_body, spawn_app, status_and_json, store_reads};

#[tokio::test]
async fn create_invoice_rejects_bad_input_in_the_error_shape() {
    let app = spawn_app().await;
    let customer_id = app.create_customer("Valid", "valid@example.com").await;
    let ok = invoice_body(&customer_id);
    let with = |key: &str, value: Value| {
        let mut body = ok.clone();
        body[key] = value;
        body
    };
    let item = |description: Value, quantity: Value, unit_amount: Value| json!([{"description": description, "quantity": quantity, "unit_amount": unit_amount}]);
    let many_items: Vec<Value> = (0..101)
        .map(|_| json!({"description": "x", "quantity": 1, "unit_amount": 1}))
        .collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "malformed customer id",
            with("customer_id", json!("nope")),
            "customer_id",
        ),
        (
            "operator customer id",
            with("customer_id", json!({"$ne": null})),
            "customer_id",
        ),
        (
            "bad currency",
            with("currency", json!("dollars")),
            "currency",
        ),
        ("no items", with("items", json!([])), "items"),
        ("101 items", with("items", json!(many_items)), "items"),
        (
            "blank description",
            with("items", item(json!(""), json!(1), json!(1))),
            "items[0].description",
        ),
        (
            "long description",
            with("items", item(json!("d".repeat(501)), json!(1), json!(1))),
            "items[0].description",
        ),
        (
            "zero quantity",
            with("items", item(json!("x"), json!(0), json!(1))),
            "items[0].quantity",
        ),
        (
            "huge quantity",
            with("items", item(json!("x"), json!(1_000_001), json!(1))),
            "items[0].quantity",
        ),
        (
            "fractional quantity",
            with("items", item(json!("x"), json!(1.5), json!(1))),
            "items[0].quantity",
        ),
        (
            "negative amount",
            with("items", item(json!("x"), json!(1), json!(-1))),
            "items[0].unit_amount",
        ),
        (
            "float amount",
            with("items", item(json!("x"), json!(1), json!(9.99))),
            "items[0].unit_amount",
        ),
        (
            "string amount",
            with("items", item(json!("x"), json!(1), json!("100"))),
            "items[0].unit_amount",
        ),
        (
            "too large amount",
            with(
                "items",
                item(json!("x"), json!(1), json!(10_000_000_001_i64)),
            ),
            "items[0].unit_amount",
        ),
        (
            "operator amount",
            with("items", item(json!("x"), json!(1), json!({"$gt": 0}))),
            "items[0].unit_amount",
        ),
        (
            "tax over 100%",
            with("tax_rate_bps", json!(10_001)),
            "tax_rate_bps",
        ),
        (
            "negative tax",
            with("tax_rate_bps", json!(-1)),
            "tax_rate_bps",
        ),
        (
            "bad due date",
            with("due_date", json!("31/12/2026")),
            "due_date",
        ),
        (
            "impossible due date",
            with("due_date", json!("2026-02-30")),
            "due_date",
        ),
        ("status given", with("status", json!("paid")), "status"),
        (
            "number given",
            with("number", json!("INV-000001")),
            "number",
        ),
        ("$where", with("$where", json!("sleep(1000)")), "$where"),
        (
            "metadata operator key",
            with("metadata", json!({"$set": "x"})),
            "metadata.$set",
        ),
    ];
    for (case, body, field) in cases {
        let (status, answer) = status_and_json(app.post("/invoices", &body).await).await;
        assert_error(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        let fields: Vec<&str> = answer["details"]
            .as_array()
            .unwrap_or_else(|| panic!("{case}: {answer}"))
            .iter()
            .filter_map(|d| d["field"].as_str())
            .collect();
        assert!(
            fields.contains(&field),
            "{case}: expected {field} in {answer}"
        );
    }
    let (_, list) = status_and_json(app.get("/invoices").await).await;
    assert_eq!(list["data"], json!([]), "nothing half-written stays behind");
}

#[tokio::test]
async fn the_largest_invoice_the_limits_allow_is_created_with_exact_totals() {
    let app = spawn_app().await;
    let customer_id = app.create_customer("Large", "large@example.com").await;
    let items: Vec<Value> = (0..100)
        .map(|_| json!({"description": "x", "quantity": 1_000_000, "unit_amount": 10_000_000_000_i64}))
        .collect();
    let mut body = invoice_body(&customer_id);
    body["items"] = json!(items);
    body["tax_rate_bps"] = json!(10_000);
    let (status, answer) = status_and_json(app.post("/invoices", &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let invoice = &answer["invoice"];
    assert_eq!(invoice["subtotal"], json!(1_000_000_000_000_000_000_i64));
    assert_eq!(invoice["tax"], json!(1_000_000_000_000_000_000_i64));
    assert_eq!(invoice["total"], json!(2_000_000_000_000_000_000_i64));
}

#[tokio::test]
async fn integral_numbers_written_with_a_fraction_are_those_integers() {
    let app = spawn_app().await;
    let customer_id = app
        .create_customer("Spelling", "spelling@example.com")
        .await;
    let mut body = invoice_body(&customer_id);
    body["items"] = json!([{"description": "x", "quantity": 3.0, "unit_amount": 1999.0}]);
    let (status, answer) = status_and_json(app.post("/invoices", &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["invoice"]["items"][0]["quantity"], json!(3));
    assert_eq!(answer["invoice"]["subtotal"], json!(5_997));
}

#[tokio::test]
async fn bad_bodies_and_content_types_answer_in_the_error_shape() {
    let app = spawn_app().await;
    for (body, content_type, expected, code) in [
        (
            "{\"customer_id\": ",
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "[1]",
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "{}",
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ] {
        let response = app
            .http
            .post(app.url("/invoices"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, answer) = status_and_json(response).await;
        assert_error(status, &answer, expected, code);
    }
}

#[tokio::test]
async fn malformed_ids_are_400_and_touch_no_store() {
    let app = spawn_app().await;
    let before = store_reads(&app.http, &app.base).await;
    for id in ["123", "zzzzzzzzzzzzzzzzzzzzzzzz", "%7B%22%24gt%22%3A1%7D"] {
        let path = format!("/invoices/{id}");
        for response in [
            app.get(&path).await,
            app.patch(&path, &json!({"tax_rate_bps": 1})).await,
            app.delete(&path).await,
            app.post_empty(&format!("{path}/finalize")).await,
            app.post_empty(&format!("{path}/pay")).await,
        ] {
            let (status, body) = status_and_json(response).await;
            assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_id");
        }
    }
    assert_eq!(store_reads(&app.http, &app.base).await, before);
}

#[tokio::test]
async fn the_list_rejects_bad_queries() {
    let app = spawn_app().await;
    for query in [
        "limit=0",
        "limit=101",
        "status=bogus",
        "customer_id=nope",
        "customer_id[$ne]=1",
        "status[$ne]=paid",
        "after=xyz",
        "x[$ne]=1",
    ] {
        let (status, body) = status_and_json(app.get(&format!("/invoices?{query}")).await).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
    }
}
