use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use service_kit::ApiError;

use super::AppState;
use super::openapi::ReadyErrors;

/// `GET /ready`: 200 when the store answers, 503 naming it otherwise.
#[utoipa::path(
    get,
    path = "/ready",
    tag = service_kit::openapi::OPERATIONS_TAG,
    summary = "Whether the service's dependencies answer",
    responses(
        (status = 200, description = "Ready.", body = service_kit::openapi::Readiness),
        ReadyErrors,
    ),
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let store = state.store_name;
    match state.customers.ping().await {
        Ok(()) => Ok(Json(json!({"status": "ready", "checks": {store: "up"}}))),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            Err(ApiError::unavailable(store))
        }
    }
}
