//! `Idempotency-Key` on POSTs that create or transition: a retry with the same key and
//! body gets the first answer and changes nothing; the same key with another body is
//! `422 idempotency_key_reused`; a retry while the first is still running is
//! `409 idempotency_key_in_use`.
//!
//! The first attempt records the key (with the id the new resource will get) before it
//! runs. If it dies half-way, a retry after the lease takes it over and creates with the
//! same id, which the store refuses as a duplicate, so a resource is never created twice.
//! An attempt that answers 5xx keeps that id too (its write may still land: a store call
//! that timed out is not a store call that did nothing); it only gives its lease up, so a
//! retry may take over at once. So does one that met write contention (`409 conflict`),
//! whose answer a retry may well change.

mod embedded;
mod mongo;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bson::oid::ObjectId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::{ApiError, Transient, codes};
use crate::extract::MAX_BODY_BYTES;
use crate::store::StoreError;

pub use embedded::EmbeddedIdempotencyStore;
pub use mongo::MongoIdempotencyStore;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// How long a first attempt owns its key before a retry may take it over.
pub const LEASE: Duration = Duration::from_secs(10);
/// How long keys are remembered.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);
/// The longest `Idempotency-Key` accepted.
pub const MAX_KEY_CHARS: usize = 255;

/// The id a create must give the resource it makes, so a retried create cannot make a
/// second one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceId(pub ObjectId);

/// The first answer, kept for replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub body: String,
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Run it (first attempt, or taking over one whose lease ran out).
    Run {
        resource_id: ObjectId,
    },
    Replay(StoredResponse),
    /// The key was used with another request.
    Mismatch,
    /// The first attempt is still running.
    InProgress,
}

/// Where keys are remembered: beside the service's own data.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for a request with `fingerprint`, or says what became of it.
    async fn begin(&self, key: &str, fingerprint: &str, now_ms: i64) -> Result<Begin, StoreError>;
    /// Records the answer of the attempt that holds `key`.
    async fn complete(&self, key: &str, response: &StoredResponse) -> Result<(), StoreError>;
    /// Ends the lease of an attempt that failed on our side, so a retry runs again at
    /// once, with the same resource id: never forget that id, as the failed attempt may
    /// have created the resource after all.
    async fn abandon(&self, key: &str) -> Result<(), StoreError>;
}

pub fn lease_ms() -> i64 {
    i64::try_from(LEASE.as_millis()).unwrap_or(10_000)
}

pub fn retention_ms() -> i64 {
    i64::try_from(RETENTION.as_millis()).unwrap_or(86_400_000)
}

/// The middleware's state.
#[derive(Clone)]
pub struct Idempotency {
    pub store: Arc<dyn IdempotencyStore>,
    /// Named in the 503 when the store cannot answer.
    pub dependency: &'static str,
}

/// Middleware for business routes, after authentication.
pub async fn idempotent_posts(
    State(idempotency): State<Idempotency>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(raw_key) = req.headers().get(&IDEMPOTENCY_KEY) else {
        return next.run(req).await;
    };
    let Some(client_key) = raw_key
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(str::to_owned)
    else {
        return ApiError::invalid_field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )
        .into_response();
    };
    let principal = req
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(Principal::anonymous);
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::from(codes::PAYLOAD_TOO_LARGE).into_response();
    };
    let key = hex::encode(
        Sha256::new()
            .chain_update(principal.as_str())
            .chain_update(b"\n")
            .chain_update(&client_key)
            .finalize(),
    );
    let fingerprint = hex::encode(
        Sha256::new()
            .chain_update(parts.method.as_str())
            .chain_update(b" ")
            .chain_update(parts.uri.path())
            .chain_update(b"\n")
            .chain_update(&bytes)
            .finalize(),
    );
    let now_ms = crate::time::now_ms();
    let resource_id = match idempotency.store.begin(&key, &fingerprint, now_ms).await {
        Ok(Begin::Run { resource_id }) => resource_id,
        Ok(Begin::Replay(stored)) => return replay(stored),
        Ok(Begin::Mismatch) => {
            return ApiError::from(codes::IDEMPOTENCY_KEY_REUSED).into_response();
        }
        Ok(Begin::InProgress) => {
            return ApiError::from(codes::IDEMPOTENCY_KEY_IN_USE).into_response();
        }
        Err(error) => return error.into_api_error(idempotency.dependency).into_response(),
    };
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(ResourceId(resource_id));
    let response = next.run(req).await;
    if response.status().is_server_error() || response.extensions().get::<Transient>().is_some() {
        // In the background: when the store is what failed, releasing the key can take a
        // store timeout too, and the client should have its answer now.
        let store = idempotency.store.clone();
        tokio::spawn(async move {
            if let Err(error) = store.abandon(&key).await {
                tracing::warn!(%error, "idempotency key not released; it frees itself after its lease");
            }
        });
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return ApiError::internal(&"response body unreadable").into_response();
    };
    let header_text = |name: &HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        content_type: header_text(&header::CONTENT_TYPE),
        location: header_text(&header::LOCATION),
        etag: header_text(&header::ETAG),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    if let Err(error) = idempotency.store.complete(&key, &stored).await {
        tracing::warn!(%error, "idempotent answer not recorded; a retry will re-run safely");
    }
    Response::from_parts(parts, Body::from(body))
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
        (header::ETAG, stored.etag),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// The decision for an existing record, shared by both stores.
pub fn decide(
    fingerprint: &str,
    stored_fingerprint: &str,
    response: Option<StoredResponse>,
    lease_expires_ms: i64,
    now_ms: i64,
) -> Decision {
    if stored_fingerprint != fingerprint {
        return Decision::Done(Begin::Mismatch);
    }
    match response {
        Some(response) => Decision::Done(Begin::Replay(response)),
        None if lease_expires_ms > now_ms => Decision::Done(Begin::InProgress),
        None => Decision::TakeOver,
    }
}

/// What [`decide`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Done(Begin),
    /// The first attempt's lease ran out: renew it and run again.
    TakeOver,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::EmbeddedDb;

    fn unique(prefix: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{prefix}_{}_{nanos:x}", std::process::id())
    }

    /// A retry after an attempt that answered 5xx runs with the id that attempt reserved:
    /// its write may have landed after all.
    async fn a_retry_after_a_failed_attempt_reuses_its_resource_id(store: &dyn IdempotencyStore) {
        let now = crate::time::now_ms();
        let Begin::Run { resource_id } = store.begin("key-1", "fp", now).await.unwrap() else {
            panic!("the first attempt must run");
        };
        store.abandon("key-1").await.unwrap();
        assert_eq!(
            store.begin("key-1", "fp", now + 1).await.unwrap(),
            Begin::Run { resource_id },
            "the retry must create with the reserved id, so a landed write is not made twice"
        );
        assert_eq!(
            store.begin("key-1", "fp", now + 2).await.unwrap(),
            Begin::InProgress,
            "the retry holds the lease again"
        );
    }

    #[tokio::test]
    async fn a_contended_answer_is_not_replayed_so_a_retry_with_the_key_runs_again() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tower::ServiceExt;

        let dir = std::env::temp_dir().join(unique("idempotency_contended"));
        let db = EmbeddedDb::open(&dir, "keys.sqlite", "").unwrap();
        let idempotency = Idempotency {
            store: Arc::new(EmbeddedIdempotencyStore::new(db).await.unwrap()),
            dependency: "embedded store",
        };
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let app = axum::Router::new()
            .route(
                "/things",
                axum::routing::post(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async { ApiError::contended("thing") }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                idempotency,
                idempotent_posts,
            ));
        let request = || {
            Request::post("/things")
                .header(&IDEMPOTENCY_KEY, "retry-me")
                .body(Body::empty())
                .unwrap()
        };
        let first = app.clone().oneshot(request()).await.unwrap();
        assert_eq!(first.status(), StatusCode::CONFLICT);
        // The lease is given up in the background: retry until the second run happens.
        for _ in 0..200 {
            let retry = app.clone().oneshot(request()).await.unwrap();
            assert!(
                retry.headers().get(&REPLAYED).is_none(),
                "a conflict was replayed"
            );
            if runs.load(Ordering::SeqCst) == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_embedded_store_keeps_the_resource_id_of_a_failed_attempt() {
        let dir = std::env::temp_dir().join(unique("idempotency_embedded"));
        let db = EmbeddedDb::open(&dir, "keys.sqlite", "").unwrap();
        let store = EmbeddedIdempotencyStore::new(db).await.unwrap();
        a_retry_after_a_failed_attempt_reuses_its_resource_id(&store).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_mongo_store_keeps_the_resource_id_of_a_failed_attempt() {
        // Set by the rust-mongo stage of scripts/test; the embedded run has no server.
        let Ok(uri) = std::env::var("TEST_MONGODB_URI") else {
            return;
        };
        let client = crate::mongo::client(&uri, "service-kit-tests")
            .await
            .unwrap();
        let database = client.driver.database(&unique("idempotency_mongo"));
        let store = MongoIdempotencyStore::new(&crate::mongo::Database::new(
            database.clone(),
            crate::mongo::MAX_IN_FLIGHT,
            client.pool_size,
        ));
        a_retry_after_a_failed_attempt_reuses_its_resource_id(&store).await;
        let _ = database.drop().await;
    }
}
