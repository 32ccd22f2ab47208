use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use service_kit::ApiError;

use super::responses::ReadyErrors;
use crate::app::Customers;

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
pub async fn ready(State(customers): State<Customers>) -> Result<Json<Value>, ApiError> {
    let (store, answer) = customers.ping().await;
    match answer {
        Ok(()) => Ok(Json(json!({"status": "ready", "checks": {store: "up"}}))),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            Err(ApiError::unavailable(store))
        }
    }
}
