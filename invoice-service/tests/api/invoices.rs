use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Draft, assert_error, assert_not_found, invoice_body, invoice_path, spawn_app, status_and_json,
};

#[tokio::test]
async fn create_copies_the_customer_and_computes_exact_totals() {
    let app = spawn_app().await;
    let (name, email) = ("Zoë Müller GmbH", "zoe@example.de");
    let customer_id = app.create_customer(name, email).await;
    let response = app.post("/invoices", &invoice_body(&customer_id)).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"], "Invoice created");
    let invoice = &body["invoice"];
    assert_eq!(body["id"], invoice["id"]);
    assert_eq!(
        location,
        format!("/invoices/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(invoice["customer_id"], customer_id.as_str());
    assert_eq!(invoice["customer_name"], name);
    assert_eq!(invoice["customer_email"], email);
    assert_eq!(invoice["currency"], "USD");
    assert_eq!(invoice["items"][0]["amount"], 5997);
    assert_eq!(invoice["items"][1]["amount"], 1000);
    // 6997 × 8.5% = 594.745 → 595
    assert_eq!(
        (
            invoice["subtotal"].as_i64(),
            invoice["tax"].as_i64(),
            invoice["total"].as_i64()
        ),
        (Some(6997), Some(595), Some(7592))
    );
    assert_eq!(
        (
            invoice["amount_paid"].as_i64(),
            invoice["amount_due"].as_i64()
        ),
        (Some(0), Some(7592))
    );
    assert_eq!(invoice["status"], "draft");
    assert_eq!(invoice["number"], Value::Null);
    assert_eq!(invoice["due_date"], "2026-12-31");
    for field in ["finalized_at", "paid_at", "voided_at"] {
        assert_eq!(invoice[field], Value::Null);
    }

    // The invoice keeps what it was issued to, whatever happens to the customer later.
    let renamed = app
        .http
        .patch(format!("{}/customers/{customer_id}", app.customers.base))
        .json(&json!({"name": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let (_, read) = status_and_json(app.get(&location).await).await;
    assert_eq!(read["invoice"]["customer_name"], name);
}

#[tokio::test]
async fn unknown_customers_are_422_customer_not_found() {
    let app = spawn_app().await;
    let (status, body) = status_and_json(
        app.post("/invoices", &invoice_body("65f0000000000000000000ff"))
            .await,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "customer_not_found",
    );
    let (_, list) = status_and_json(app.get("/invoices").await).await;
    assert_eq!(list["data"], json!([]));
}

#[tokio::test]
async fn reads_go_database_then_cache_with_x_cache() {
    let app = spawn_app().await;
    let Draft { invoice, path, .. } = app.draft_for("Reader", "reader@example.com").await;

    let first = app.get(&path).await;
    assert_eq!(first.headers()["x-cache"], "MISS");
    let (status, first) = status_and_json(first).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["source"], "database");
    assert_eq!(first["invoice"], invoice);

    let second = app.get(&path).await;
    assert_eq!(second.headers()["x-cache"], "HIT");
    let (_, second) = status_and_json(second).await;
    assert_eq!(second["source"], "cache");
    assert_eq!(second["invoice"], invoice);

    // Twice: the second read of an absent id answers as the first.
    for _ in 0..2 {
        let (status, body) =
            status_and_json(app.get("/invoices/65f0000000000000000000ff").await).await;
        assert_not_found(status, &body);
    }
}

#[tokio::test]
async fn drafts_can_be_edited_and_deleted_and_nothing_else_can() {
    let app = spawn_app().await;
    let draft = app.draft_for("Editor", "editor@example.com").await;
    let path = &draft.path;
    app.get(path).await; // cached

    let (status, body) = status_and_json(
        app.patch(
            path,
            &json!({
                "items": [{"description": "Consulting", "quantity": 10, "unit_amount": 15000}],
                "tax_rate_bps": 2000, "due_date": null, "metadata": {"po": "PO-7"}
            }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let edited = &body["invoice"];
    assert_eq!(
        (
            edited["subtotal"].as_i64(),
            edited["tax"].as_i64(),
            edited["total"].as_i64()
        ),
        (Some(150_000), Some(30_000), Some(180_000))
    );
    assert_eq!(edited["amount_due"], 180_000);
    assert_eq!(edited["due_date"], Value::Null);
    assert_eq!(edited["metadata"]["po"], "PO-7");
    let (_, read) = status_and_json(app.get(path).await).await;
    assert_eq!(&read["invoice"], edited, "the cache holds the edit");

    let (status, _) = status_and_json(app.post_empty(&format!("{path}/finalize")).await).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = status_and_json(app.patch(path, &json!({"tax_rate_bps": 0})).await).await;
    assert_error(status, &body, StatusCode::CONFLICT, "invalid_transition");
    let (status, body) = status_and_json(app.delete(path).await).await;
    assert_error(status, &body, StatusCode::CONFLICT, "invalid_transition");

    let draft_path = invoice_path(&app.create_invoice(&draft.customer_id).await);
    app.get(&draft_path).await;
    app.assert_deletes(&draft_path, "Invoice deleted").await;
}

#[tokio::test]
async fn the_list_filters_by_customer_and_status_and_pages_with_cursors() {
    let app = spawn_app().await;
    let alice = app.create_customer("Alice", "alice@example.com").await;
    let bob = app.create_customer("Bob", "bob@example.com").await;
    let alices = app.create_invoices(&alice, 7).await;
    let bobs = app.create_invoice(&bob).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_empty(&format!("/invoices/{}/finalize", alices[0]))
        .await;
    app.post_empty(&format!("/invoices/{bobs}/finalize")).await;

    let mut seen = Vec::new();
    let mut query = format!("customer_id={alice}&limit=3");
    loop {
        let (status, page) = status_and_json(app.get(&format!("/invoices?{query}")).await).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        if !page["has_more"].as_bool().unwrap() {
            assert_eq!(page["next_cursor"], Value::Null);
            break;
        }
        query = format!(
            "customer_id={alice}&limit=3&after={}",
            page["next_cursor"].as_str().unwrap()
        );
    }
    assert_eq!(seen, alices);

    let (_, open) = status_and_json(app.get("/invoices?status=open").await).await;
    let open: HashSet<_> = open["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(open, HashSet::from([alices[0].clone(), bobs.clone()]));
    let (_, bobs_drafts) = status_and_json(
        app.get(&format!("/invoices?status=draft&customer_id={bob}"))
            .await,
    )
    .await;
    assert_eq!(bobs_drafts["data"], json!([]));
}
