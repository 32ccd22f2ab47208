use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::responses::ReadyErrors;
use crate::app::Invoices;

/// `GET /ready`: 503 when the store does not answer. A cache that is down is reported but
/// does not make the service unready: reads and writes go on against the store.
#[utoipa::path(
    get,
    path = "/ready",
    tag = service_kit::openapi::OPERATIONS_TAG,
    summary = "Whether the service's dependencies answer",
    description = "The invoice cache being down is reported in `checks` but does not make the \
        service unready: reads and writes go on against the database.",
    responses(
        (status = 200, description = "Ready.", body = service_kit::openapi::Readiness),
        ReadyErrors,
    ),
)]
pub async fn ready(State(invoices): State<Invoices>) -> Response {
    let (store_result, cache_up) = invoices.ping().await;
    let store_up = store_result.is_ok();
    let (store, cache) = invoices.dependency_names();
    let checks = json!({
        store: if store_up { "up" } else { "down" },
        cache: if cache_up { "up" } else { "down" },
    });
    if store_up {
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "checks": checks})),
        )
            .into_response()
    } else {
        let body = json!({
            "error": format!("{} is unavailable; try again shortly.", store),
            "code": "dependency_unavailable",
            "checks": checks,
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}
