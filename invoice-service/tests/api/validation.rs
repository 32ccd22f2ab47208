use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    assert_error, invoice_body, spawn_app, status_and_json, store_reads, with_field,
};

#[tokio::test]
async fn create_invoice_rejects_bad_input_in_the_error_shape() {
    let app = spawn_app().await;
    let customer_id = app.create_customer("Valid", "valid@example.com").await;
    let ok = invoice_body(&customer_id);
    // `ok` with `key` set to `value`: refused, naming `key`.
    let set = |case, key: &str, value| (case, with_field(&ok, key, value), key.to_owned());
    // `ok` with `{key: value}` as `outer`: refused, naming `outer.key`.
    let set_in = |case, outer: &str, key: &str, value: Value| {
        let body = with_field(&ok, outer, json!({ key: value }));
        (case, body, format!("{outer}.{key}"))
    };
    // `ok` with one item whose `key` is `value`: refused, naming `items[0].key`.
    let set_item = |case, key: &str, value| {
        let item = with_field(
            &json!({"description": "x", "quantity": 1, "unit_amount": 1}),
            key,
            value,
        );
        (
            case,
            with_field(&ok, "items", json!([item])),
            format!("items[0].{key}"),
        )
    };
    let many_items: Vec<Value> = (0..101)
        .map(|_| json!({"description": "x", "quantity": 1, "unit_amount": 1}))
        .collect();
    let cases = vec![
        set("malformed customer id", "customer_id", json!("nope")),
        set("operator customer id", "customer_id", json!({"$ne": null})),
        set("bad currency", "currency", json!("dollars")),
        set("no items", "items", json!([])),
        set("101 items", "items", json!(many_items)),
        set_item("blank description", "description", json!("")),
        set_item("long description", "description", json!("d".repeat(501))),
        set_item("zero quantity", "quantity", json!(0)),
        set_item("huge quantity", "quantity", json!(1_000_001)),
        set_item("fractional quantity", "quantity", json!(1.5)),
        set_item("negative amount", "unit_amount", json!(-1)),
        set_item("float amount", "unit_amount", json!(9.99)),
        set_item("string amount", "unit_amount", json!("100")),
        set_item("too large amount", "unit_amount", json!(10_000_000_001_i64)),
        set_item("operator amount", "unit_amount", json!({"$gt": 0})),
        set("tax over 100%", "tax_rate_bps", json!(10_001)),
        set("negative tax", "tax_rate_bps", json!(-1)),
        set("bad due date", "due_date", json!("31/12/2026")),
        set("impossible due date", "due_date", json!("2026-02-30")),
        set("status given", "status", json!("paid")),
        set("number given", "number", json!("INV-000001")),
        set("$where", "$where", json!("sleep(1000)")),
        set_in("metadata operator key", "metadata", "$set", json!("x")),
    ];
    app.assert_refused_fields("/invoices", cases).await;
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
    let invalid_json = (StatusCode::BAD_REQUEST, "invalid_json");
    let unsupported = (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    for (body, content_type, (expected, code)) in [
        ("{\"customer_id\": ", "application/json", invalid_json),
        ("[1]", "application/json", invalid_json),
        ("{}", "text/plain", unsupported),
    ] {
        let response = app
            .post_raw("/invoices", Some(content_type), body.into())
            .await;
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

/// What the list refuses: limits out of range, filters and cursors that are not ones,
/// operators, parameters it does not know.
const BAD_QUERIES: [&str; 8] = [
    "limit=0",
    "limit=101",
    "status=bogus",
    "customer_id=nope",
    "customer_id[$ne]=1",
    "status[$ne]=paid",
    "after=xyz",
    "x[$ne]=1",
];

#[tokio::test]
async fn the_list_rejects_bad_queries() {
    let app = spawn_app().await;
    app.assert_queries_refused("/invoices", &BAD_QUERIES).await;
}
