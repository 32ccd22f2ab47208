use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, assert_not_found, customer_path, spawn_app, status_and_json};

#[tokio::test]
async fn create_read_update_delete_round_trip() {
    let app = spawn_app().await;

    let response = app
        .post(
            "/customers",
            &json!({
                "name": "Ada Lovelace", "email": "Ada@Example.com", "phone": "+44 20 7946 0000",
                "address": {"line1": "12 St James's Sq", "city": "London", "country": "gb"},
                "metadata": {"crm_id": "A-1"}
            }),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (status, created) = status_and_json(response).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["message"], "Customer added");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(location, format!("/customers/{id}"));
    let customer = &created["customer"];
    assert_eq!(customer["id"], id.as_str());
    assert_eq!(customer["email"], "Ada@Example.com");
    assert_eq!(customer["address"]["country"], "GB");
    assert_eq!(customer["created_at"], customer["updated_at"]);

    let (status, read) = status_and_json(app.get(&location).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&read, customer);

    let (status, updated) = status_and_json(
        app.patch(&location, &json!({"name": "Ada King", "phone": null}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["message"], "Customer updated");
    assert_eq!(updated["customer"]["name"], "Ada King");
    assert_eq!(updated["customer"]["phone"], serde_json::Value::Null);
    assert_eq!(updated["customer"]["email"], "Ada@Example.com");
    assert_eq!(updated["customer"]["created_at"], customer["created_at"]);
    assert!(updated["customer"]["updated_at"].as_str() >= customer["updated_at"].as_str());

    let (status, read) = status_and_json(app.get(&location).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, updated["customer"]);

    app.assert_deletes(&location, "Customer deleted").await;
}

#[tokio::test]
async fn put_merges_like_patch_and_null_clears_optional_fields() {
    let app = spawn_app().await;
    let grace = json!({"name": "Grace", "email": "grace@navy.mil", "address": {"city": "Arlington", "country": "US"}, "metadata": {"a": "1"}});
    let (_, created) = status_and_json(app.post("/customers", &grace).await).await;
    let path = customer_path(&created);

    let (status, body) = status_and_json(app.put(&path, &json!({"phone": "555 0100"})).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["customer"]["phone"], "555 0100");
    assert_eq!(body["customer"]["address"]["city"], "Arlington");

    let (status, body) = status_and_json(
        app.patch(&path, &json!({"address": null, "metadata": null}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["customer"]["address"], serde_json::Value::Null);
    assert_eq!(body["customer"]["metadata"], json!({}));

    let (status, body) = status_and_json(app.patch(&path, &json!({})).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["customer"]["phone"], "555 0100");
}

#[tokio::test]
async fn unicode_is_stored_and_returned_exactly() {
    let app = spawn_app().await;
    let name = "株式会社サンプル — Zoë Müller 🧾 \u{0301}e";
    let (status, created) = status_and_json(
        app.post(
            "/customers",
            &json!({"name": name, "email": "zoë@example.de", "metadata": {"note": "naïve ☃"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, read) = status_and_json(app.get(&customer_path(&created)).await).await;
    assert_eq!(read["name"], name);
    assert_eq!(read["metadata"]["note"], "naïve ☃");
}

#[tokio::test]
async fn emails_are_unique_case_insensitively_on_create_and_update() {
    let app = spawn_app().await;
    app.create_customer("One", "same@example.com").await;
    let (status, body) = app.post_customer("Two", "  SAME@example.COM ").await;
    assert_error(status, &body, StatusCode::CONFLICT, "email_taken");

    let other = app.create_customer("Three", "other@example.com").await;
    let path = customer_path(&other);
    let (status, body) = status_and_json(
        app.patch(&path, &json!({"email": "Same@Example.com"}))
            .await,
    )
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "email_taken");
    let (_, read) = status_and_json(app.get(&path).await).await;
    assert_eq!(read["email"], "other@example.com");
}

#[tokio::test]
async fn unknown_ids_are_404_and_operational_routes_answer() {
    let app = spawn_app().await;
    for path in ["/customers/65f0000000000000000000ff"] {
        let (status, body) = status_and_json(app.get(path).await).await;
        assert_not_found(status, &body);
        let (status, body) = status_and_json(app.patch(path, &json!({"name": "x"})).await).await;
        assert_not_found(status, &body);
    }
    let (status, body) = status_and_json(app.get("/nowhere").await).await;
    assert_not_found(status, &body);
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    assert_eq!(app.get("/ready").await.status(), StatusCode::OK);
    let response = app.get("/health").await;
    assert!(response.headers().contains_key("x-request-id"));
}
