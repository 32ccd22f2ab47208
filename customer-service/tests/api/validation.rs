use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    assert_error, assert_validation_failed, customer_path, spawn_app, status_and_json, with_field,
};

/// What the list refuses: limits out of range or not numbers, cursors that are not ones,
/// operators, parameters it does not know.
const BAD_QUERIES: [&str; 11] = [
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
];

#[tokio::test]
async fn create_customer_rejects_bad_bodies_in_the_error_shape() {
    let app = spawn_app().await;
    let (json, text, form) = (
        Some("application/json"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    );
    let invalid_json = (StatusCode::BAD_REQUEST, "invalid_json");
    let unsupported = (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let customer = br#"{"name":"a","email":"a@b.co"}"#;
    /// (case, content type, body, expected status and code)
    type Case<'a> = (&'a str, Option<&'a str>, &'a [u8], (StatusCode, &'a str));
    let cases: [Case; 9] = [
        (
            "truncated",
            json,
            br#"{"name": "a", "email": "#,
            invalid_json,
        ),
        ("not json", json, b"name=a", invalid_json),
        ("array", json, b"[]", invalid_json),
        ("string", json, br#""x""#, invalid_json),
        ("null", json, b"null", invalid_json),
        ("empty", json, b"", invalid_json),
        ("no content type", None, customer, unsupported),
        ("text/plain", text, customer, unsupported),
        ("form", form, b"name=a", unsupported),
    ];
    for (case, content_type, body, (expected, code)) in cases {
        let response = app
            .post_raw("/customers", content_type, body.to_vec())
            .await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, expected, "{case}: {body}");
        assert_error(status, &body, expected, code);
    }
}

#[tokio::test]
async fn create_customer_rejects_invalid_fields_and_operator_keys() {
    let app = spawn_app().await;
    let ok = json!({"name": "A", "email": "a@example.com"});
    // `ok` with `key` set to `value`: refused, naming `key`.
    let set = |case, key: &str, value| (case, with_field(&ok, key, value), key.to_owned());
    // `ok` with `{key: value}` as `outer`: refused, naming `outer.key`.
    let set_in = |case, outer: &str, key: &str, value: Value| {
        let body = with_field(&ok, outer, json!({ key: value }));
        (case, body, format!("{outer}.{key}"))
    };
    let many_keys = Value::Object((0..51).map(|i| (format!("k{i}"), json!("v"))).collect());
    let cases = vec![
        (
            "missing name",
            json!({"email": "a@example.com"}),
            "name".into(),
        ),
        ("missing email", json!({"name": "A"}), "email".into()),
        set("blank name", "name", json!("   ")),
        set("long name", "name", json!("x".repeat(201))),
        set("bad email", "email", json!("nope")),
        set("operator as email", "email", json!({"$gt": ""})),
        set("operator as name", "name", json!({"$ne": null})),
        set("number as name", "name", json!(5)),
        set("$where key", "$where", json!("sleep(1000)")),
        set("$set key", "$set", json!({"name": "x"})),
        set("dotted key", "address.city", json!("x")),
        set("unknown field", "nickname", json!("x")),
        set("long phone", "phone", json!("1".repeat(33))),
        set_in("bad country", "address", "country", json!("Germany")),
        set_in("unknown address field", "address", "$gt", json!("")),
        set_in("operator metadata key", "metadata", "$where", json!("1")),
        set_in("dotted metadata key", "metadata", "a.b", json!("1")),
        set_in("non-string metadata", "metadata", "a", json!({"$ne": 1})),
        set("too many metadata keys", "metadata", many_keys),
        set_in(
            "long metadata value",
            "metadata",
            "k",
            json!("v".repeat(501)),
        ),
    ];
    app.assert_refused_fields("/customers", cases).await;
}

#[tokio::test]
async fn update_customer_rejects_bad_input_and_changes_nothing() {
    let app = spawn_app().await;
    let customer = app.create_customer("Kept", "kept@example.com").await;
    let path = customer_path(&customer);
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
        assert_validation_failed(status, &answer);
    }
    let (_, read) = status_and_json(app.get(&path).await).await;
    assert_eq!(read, customer);
}

#[tokio::test]
async fn list_rejects_bad_query_parameters() {
    let app = spawn_app().await;
    app.assert_queries_refused("/customers", &BAD_QUERIES).await;
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
    let json = Some("application/json");
    assert_eq!(body.len(), limit);
    let response = app
        .post_raw("/customers", json, body.clone().into_bytes())
        .await;
    let (status, answer) = status_and_json(response).await;
    assert_validation_failed(status, &answer);

    let body = format!("{body} ");
    assert_eq!(body.len(), limit + 1);
    let response = app.post_raw("/customers", json, body.into_bytes()).await;
    let (status, answer) = status_and_json(response).await;
    assert_error(
        status,
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}
