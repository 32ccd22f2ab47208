use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app, status_and_json};

async fn send_raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = app.http.request(method, app.url(path)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    status_and_json(request.send().await.expect("sent")).await
}

#[tokio::test]
async fn create_customer_rejects_bad_bodies_in_the_error_shape() {
    let app = spawn_app().await;
    let json_type = Some("application/json");
    /// (case, content type, body, expected status, expected code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "truncated",
            json_type,
            br#"{"name": "a", "email": "#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "not json",
            json_type,
            b"name=a".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "array",
            json_type,
            b"[]".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "string",
            json_type,
            br#""x""#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "null",
            json_type,
            b"null".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "empty",
            json_type,
            b"".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "no content type",
            None,
            br#"{"name":"a","email":"a@b.co"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "text/plain",
            Some("text/plain"),
            br#"{"name":"a","email":"a@b.co"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "form",
            Some("application/x-www-form-urlencoded"),
            b"name=a".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (case, content_type, body, expected, code) in cases {
        let (status, body) = send_raw(
            &app,
            reqwest::Method::POST,
            "/customers",
            content_type,
            body,
        )
        .await;
        assert_eq!(status, expected, "{case}: {body}");
        assert_error(status, &body, expected, code);
    }
}

#[tokio::test]
async fn create_customer_rejects_invalid_fields_and_operator_keys() {
    let app = spawn_app().await;
    let ok = json!({"name": "A", "email": "a@example.com"});
    let with = |key: &str, value: Value| {
        let mut body = ok.clone();
        body[key] = value;
        body
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing name", json!({"email": "a@example.com"}), "name"),
        ("missing email", json!({"name": "A"}), "email"),
        ("blank name", with("name", json!("   ")), "name"),
        ("long name", with("name", json!("x".repeat(201))), "name"),
        ("bad email", with("email", json!("nope")), "email"),
        (
            "operator as email",
            with("email", json!({"$gt": ""})),
            "email",
        ),
        (
            "operator as name",
            with("name", json!({"$ne": null})),
            "name",
        ),
        ("number as name", with("name", json!(5)), "name"),
        ("$where key", with("$where", json!("sleep(1000)")), "$where"),
        ("$set key", with("$set", json!({"name": "x"})), "$set"),
        (
            "dotted key",
            with("address.city", json!("x")),
            "address.city",
        ),
        ("unknown field", with("nickname", json!("x")), "nickname"),
        ("long phone", with("phone", json!("1".repeat(33))), "phone"),
        (
            "bad country",
            with("address", json!({"country": "Germany"})),
            "address.country",
        ),
        (
            "unknown address field",
            with("address", json!({"$gt": ""})),
            "address.$gt",
        ),
        (
            "operator metadata key",
            with("metadata", json!({"$where": "1"})),
            "metadata.$where",
        ),
        (
            "dotted metadata key",
            with("metadata", json!({"a.b": "1"})),
            "metadata.a.b",
        ),
        (
            "non-string metadata",
            with("metadata", json!({"a": {"$ne": 1}})),
            "metadata.a",
        ),
        (
            "too many metadata keys",
            with(
                "metadata",
                Value::Object((0..51).map(|i| (format!("k{i}"), json!("v"))).collect()),
            ),
            "metadata",
        ),
        (
            "long metadata value",
            with("metadata", json!({"k": "v".repeat(501)})),
            "metadata.k",
        ),
    ];
    for (case, body, field) in cases {
        let (status, answer) = status_and_json(app.post("/customers", &body).await).await;
        assert_error(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        let fields: Vec<&str> = answer["details"]
            .as_array()
            .unwrap_or_else(|| panic!("{case}: no details in {answer}"))
            .iter()
            .filter_map(|d| d["field"].as_str())
            .collect();
        assert!(
            fields.contains(&field),
            "{case}: expected {field} in {answer}"
        );
    }
    let (_, list) = status_and_json(app.get("/customers").await).await;
    assert_eq!(list["data"], json!([]), "nothing half-written stays behind");
}

#[tokio::test]
async fn update_customer_rejects_bad_input_and_changes_nothing() {
    let app = spawn_app().await;
    let customer = app.create_customer("Kept", "kept@example.com").await;
    let path = format!("/customers/{}", customer["id"].as_str().unwrap());
    for body in [
        json!({"name": null}),
        json!({"email": null}),
        json!({"name": "ok", "email": "bad"}),
        json!({"$set": {"name": "x"}}),
        json!({"name": {"$gt": ""}}),
        json!({"created_at": "2020-01-01T00:00:00Z"}),
        json!({"id": "65f000000000000000000001"}),
    ] {
        let (status, answer) = status_and_json(app.patch(&path, &body).await).await;
        assert_error(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
    }
    let (_, read) = status_and_json(app.get(&path).await).await;
    assert_eq!(read, customer);
}

#[tokio::test]
async fn malformed_ids_are_400_on_every_route() {
    let app = spawn_app().await;
    for id in [
        "123",
        "zzzzzzzzzzzzzzzzzzzzzzzz",
        "65f0000000000000000000011",
        "%24gt",
        "null",
    ] {
        let path = format!("/customers/{id}");
        for (status, body) in [
            status_and_json(app.get(&path).await).await,
            status_and_json(app.patch(&path, &json!({"name": "x"})).await).await,
            status_and_json(app.put(&path, &json!({"name": "x"})).await).await,
            status_and_json(app.delete(&path).await).await,
        ] {
            assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_id");
        }
    }
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413_and_one_byte_less_is_read() {
    let app = spawn_app().await;
    let limit = 1024 * 1024;
    let frame = r#"{"name": "A", "email": "a@example.com", "metadata": {"k": ""}, "x": ""}"#;
    let padding = limit - frame.len();
    let body = frame.replace(r#""x": """#, &format!(r#""x": "{}""#, "y".repeat(padding)));
    assert_eq!(body.len(), limit);
    let (status, answer) = send_raw(
        &app,
        reqwest::Method::POST,
        "/customers",
        Some("application/json"),
        body.into_bytes(),
    )
    .await;
    assert_error(
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let body = format!(
        "{}{}",
        frame.replace(r#""x": """#, &format!(r#""x": "{}""#, "y".repeat(padding))),
        " "
    );
    assert_eq!(body.len(), limit + 1);
    let (status, answer) = send_raw(
        &app,
        reqwest::Method::POST,
        "/customers",
        Some("application/json"),
        body.into_bytes(),
    )
    .await;
    assert_error(
        status,
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[tokio::test]
async fn list_rejects_bad_query_parameters() {
    let app = spawn_app().await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-5",
        "after=nope",
        "after=%7B%22%24gt%22%3A%22%22%7D",
        "email[$ne]=1",
        "x[$ne]=1",
        "q[$regex]=.*",
        "$where=1",
        "sort=name",
    ] {
        let (status, body) = status_and_json(app.get(&format!("/customers?{query}")).await).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
    }
}
