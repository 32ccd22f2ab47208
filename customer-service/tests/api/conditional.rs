//! Conditional requests: the `ETag` is the customer's version, a stale `If-Match` changes
//! nothing, and `If-None-Match` on the current version is `304`.

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, customer_path, spawn_app, status_and_json};

fn etag_of(response: &reqwest::Response) -> String {
    response.headers()[ETAG].to_str().unwrap().to_owned()
}

async fn created(app: &TestApp) -> (String, String) {
    let response = app
        .post(
            "/customers",
            &json!({"name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let etag = etag_of(&response);
    let (_, body) = status_and_json(response).await;
    (customer_path(&body), etag)
}

async fn patch_if(
    app: &TestApp,
    path: &str,
    etag: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    app.http
        .patch(app.url(path))
        .header(IF_MATCH, etag)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_answer_about_a_customer_carries_its_version_as_a_strong_etag() {
    let app = spawn_app().await;
    let (path, etag) = created(&app).await;
    assert_eq!(etag, "\"1\"");
    assert_eq!(etag_of(&app.get(&path).await), "\"1\"");
    let updated = app.patch(&path, &json!({"name": "Ada King"})).await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(etag_of(&updated), "\"2\"");
    assert_eq!(
        etag_of(&app.put(&path, &json!({"phone": "555 0100"})).await),
        "\"3\""
    );
    assert_eq!(etag_of(&app.get(&path).await), "\"3\"");
}

#[tokio::test]
async fn a_write_on_the_version_it_read_succeeds_and_a_stale_one_is_412_changing_nothing() {
    let app = spawn_app().await;
    let (path, first) = created(&app).await;

    let response = patch_if(&app, &path, &first, json!({"name": "First operator"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = etag_of(&response);

    // The second operator still holds the first version.
    let response = patch_if(&app, &path, &first, json!({"phone": "555 0199"})).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        etag_of(&response),
        second,
        "the 412 names the current version"
    );
    let (status, body) = status_and_json(response).await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );

    let (_, now) = status_and_json(app.get(&path).await).await;
    assert_eq!(now["name"], "First operator");
    assert_eq!(now["phone"], serde_json::Value::Null);

    // An empty change is checked too, and a weak tag never matches a write.
    let empty = patch_if(&app, &path, &first, json!({})).await;
    assert_eq!(empty.status(), StatusCode::PRECONDITION_FAILED);
    let weak = patch_if(&app, &path, &format!("W/{second}"), json!({"phone": "1"})).await;
    assert_eq!(weak.status(), StatusCode::PRECONDITION_FAILED);
    let any = patch_if(&app, &path, "*", json!({"phone": "555 0100"})).await;
    assert_eq!(any.status(), StatusCode::OK);
    let third = etag_of(&any);
    assert_eq!(third, "\"3\"", "the refused writes left the version alone");

    let delete_if = |etag: String| {
        app.http
            .delete(app.url(&path))
            .header(IF_MATCH, etag)
            .send()
    };
    let stale = delete_if(second).await.unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.get(&path).await.status(), StatusCode::OK, "still there");
    assert_eq!(delete_if(third).await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn if_none_match_on_the_current_version_is_304_with_no_body_and_200_once_it_changed() {
    let app = spawn_app().await;
    let (path, etag) = created(&app).await;
    let get_if_none = || {
        app.http
            .get(app.url(&path))
            .header(IF_NONE_MATCH, &etag)
            .send()
    };

    let unchanged = get_if_none().await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(etag_of(&unchanged), etag);
    assert!(unchanged.bytes().await.unwrap().is_empty());

    app.patch(&path, &json!({"name": "Ada King"})).await;
    let changed = get_if_none().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(etag_of(&changed), "\"2\"");
    let (_, body) = status_and_json(changed).await;
    assert_eq!(body["name"], "Ada King");
}
