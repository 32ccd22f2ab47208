//! Conditional requests: the `ETag` is the invoice's version, a stale `If-Match` on an edit,
//! a transition or a delete changes nothing, and `If-None-Match` is answered `304` from the
//! cache.

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use serde_json::json;
use test_support::{assert_error, status_and_json};

use crate::helpers::{TestApp, spawn_app, store_reads};

fn etag_of(response: &reqwest::Response) -> String {
    response.headers()[ETAG].to_str().unwrap().to_owned()
}

async fn post_if(app: &TestApp, path: &str, etag: &str) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header(IF_MATCH, etag)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_answer_about_an_invoice_carries_its_version_as_a_strong_etag() {
    let app = spawn_app().await;
    let customer_id = app.create_customer("Ada", "ada@example.com").await;
    let created = app
        .post("/invoices", &crate::helpers::invoice_body(&customer_id))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(etag_of(&created), "\"1\"");
    let (_, body) = status_and_json(created).await;
    let path = crate::helpers::invoice_path(&body);

    assert_eq!(
        etag_of(&app.get(&path).await),
        "\"1\"",
        "read from the database"
    );
    assert_eq!(
        etag_of(&app.get(&path).await),
        "\"1\"",
        "read from the cache"
    );
    let edited = app.patch(&path, &json!({"tax_rate_bps": 0})).await;
    assert_eq!(etag_of(&edited), "\"2\"");
    let finalized = app.post_empty(&format!("{path}/finalize")).await;
    assert_eq!(etag_of(&finalized), "\"3\"");
    assert_eq!(etag_of(&app.get(&path).await), "\"3\"");
}

#[tokio::test]
async fn a_stale_if_match_on_an_edit_a_transition_or_a_delete_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let draft = app.draft_for("Ada", "ada@example.com").await;
    let path = &draft.path;
    let first = "\"1\"";

    let edit_if = |etag: &'static str, body: serde_json::Value| {
        app.http
            .patch(app.url(path))
            .header(IF_MATCH, etag)
            .json(&body)
            .send()
    };
    let edited = edit_if(first, json!({"due_date": "2027-01-31"}))
        .await
        .unwrap();
    assert_eq!(edited.status(), StatusCode::OK);
    assert_eq!(etag_of(&edited), "\"2\"");

    let stale = edit_if(first, json!({"due_date": "2027-02-28"}))
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        etag_of(&stale),
        "\"2\"",
        "the 412 names the current version"
    );
    let (status, body) = status_and_json(stale).await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );

    // The precondition is checked before the state: paying a draft on a stale tag is 412.
    let pay = post_if(&app, &format!("{path}/pay"), first).await;
    assert_eq!(pay.status(), StatusCode::PRECONDITION_FAILED);
    let finalize = post_if(&app, &format!("{path}/finalize"), first).await;
    assert_eq!(finalize.status(), StatusCode::PRECONDITION_FAILED);
    let delete = app
        .http
        .delete(app.url(path))
        .header(IF_MATCH, first)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::PRECONDITION_FAILED);

    let (_, now) = status_and_json(app.get(path).await).await;
    assert_eq!(now["invoice"]["status"], "draft");
    assert_eq!(now["invoice"]["due_date"], "2027-01-31");
    assert_eq!(now["invoice"]["number"], serde_json::Value::Null);

    let finalized = post_if(&app, &format!("{path}/finalize"), "\"2\"").await;
    assert_eq!(finalized.status(), StatusCode::OK);
    assert_eq!(etag_of(&finalized), "\"3\"");
}

#[tokio::test]
async fn a_transition_refused_for_a_stale_tag_runs_when_retried_with_the_same_idempotency_key() {
    let app = spawn_app().await;
    let draft = app.draft_for("Ada", "ada@example.com").await;
    let finalize = format!("{}/finalize", draft.path);
    let send = |etag: &'static str| {
        app.http
            .post(app.url(&finalize))
            .header("Idempotency-Key", "finalize-once")
            .header(IF_MATCH, etag)
            .send()
    };
    assert_eq!(
        send("\"7\"").await.unwrap().status(),
        StatusCode::PRECONDITION_FAILED
    );
    let retried = send("\"1\"").await.unwrap();
    assert_eq!(retried.status(), StatusCode::OK);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    let replayed = send("\"1\"").await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(
        etag_of(&replayed),
        "\"2\"",
        "a replay carries the first answer's ETag"
    );
}

#[tokio::test]
async fn if_none_match_on_the_current_version_is_304_from_the_cache_without_a_database_read() {
    let app = spawn_app().await;
    let draft = app.draft_for("Ada", "ada@example.com").await;
    let path = &draft.path;
    let get_if_none = |etag: &'static str| {
        app.http
            .get(app.url(path))
            .header(IF_NONE_MATCH, etag)
            .send()
    };

    let filled = app.get(path).await;
    assert_eq!(filled.headers()["x-cache"], "MISS");
    let reads = store_reads(&app.http, &app.base).await;

    let unchanged = get_if_none("\"1\"").await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["x-cache"], "HIT");
    assert_eq!(etag_of(&unchanged), "\"1\"");
    assert!(unchanged.bytes().await.unwrap().is_empty());
    let weak = get_if_none("W/\"1\"").await.unwrap();
    assert_eq!(
        weak.status(),
        StatusCode::NOT_MODIFIED,
        "If-None-Match compares weakly"
    );
    assert_eq!(
        store_reads(&app.http, &app.base).await,
        reads,
        "no database read"
    );

    app.patch(path, &json!({"tax_rate_bps": 0})).await;
    let changed = get_if_none("\"1\"").await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        changed.headers()["x-cache"],
        "HIT",
        "the write published its new state"
    );
    assert_eq!(etag_of(&changed), "\"2\"");
    let (_, body) = status_and_json(changed).await;
    assert_eq!(body["invoice"]["tax_rate_bps"], 0);
}
