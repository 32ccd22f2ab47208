//! `/events` and `/webhook_endpoints`, the same on both services: extract, call
//! [`Events`], answer.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bson::oid::ObjectId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Event;
use super::app::{EndpointFields, Events};
use super::store::{AttemptRecord, Endpoint, EndpointStatus, EventQuery};
use crate::error::ApiError;
use crate::extract::{double_option, object_id_field};
use crate::{Cursor, JsonBody, Limit, ObjectIdParam, Page, QueryParams};

/// The routes, for a service's business router (behind its API keys).
pub fn routes<S: Clone + Send + Sync + 'static>(events: Events) -> Router<S> {
    Router::new()
        .route("/events", get(list_events))
        .route("/events/{id}", get(get_event))
        .route("/events/{id}/redeliver", post(redeliver))
        .route(
            "/webhook_endpoints",
            get(list_endpoints).post(create_endpoint),
        )
        .route(
            "/webhook_endpoints/{id}",
            get(get_endpoint)
                .patch(update_endpoint)
                .delete(delete_endpoint),
        )
        .route("/webhook_endpoints/{id}/rotate_secret", post(rotate_secret))
        .route("/webhook_endpoints/{id}/attempts", get(list_attempts))
        .route("/webhook_endpoints/{id}/recover", post(recover))
        .with_state(events)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListEvents {
    #[serde(rename = "type")]
    kind: Option<String>,
    object_id: Option<String>,
    after: Option<Cursor>,
    #[serde(default)]
    limit: Limit,
}

async fn list_events(
    State(events): State<Events>,
    QueryParams(query): QueryParams<ListEvents>,
) -> Result<Json<Page<Event>>, ApiError> {
    let object_id = query
        .object_id
        .as_deref()
        .map(|raw| object_id_field("object_id", raw))
        .transpose()?;
    let selection = EventQuery {
        kind: query.kind,
        object_id,
        after: query.after.map(|Cursor(id)| id),
        fetch: 0,
    };
    Ok(Json(events.list(selection, query.limit).await?))
}

async fn get_event(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<Event>, ApiError> {
    Ok(Json(events.get(id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Redeliver {
    #[serde(with = "crate::id::hex")]
    endpoint_id: ObjectId,
}

async fn redeliver(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
    JsonBody(body): JsonBody<Redeliver>,
) -> Result<Response, ApiError> {
    events.redeliver(id, body.endpoint_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(BTreeMap::from([("message", "Delivery scheduled")])),
    )
        .into_response())
}

/// An endpoint as answered: never its secret, except right after it was made.
#[derive(Debug, Serialize)]
struct EndpointView {
    #[serde(with = "crate::id::hex")]
    id: ObjectId,
    url: String,
    enabled_events: Vec<String>,
    description: Option<String>,
    status: EndpointStatus,
    disabled_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// Until when the secret a rotation replaced still signs beside the new one.
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EndpointView {
    fn of(endpoint: Endpoint, with_secret: bool) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url,
            enabled_events: endpoint.enabled_events,
            description: endpoint.description,
            status: endpoint.status,
            disabled_reason: endpoint.disabled_reason,
            secret: with_secret.then_some(endpoint.secret),
            previous_secret_expires_at: endpoint
                .previous_secret_expires_at
                .filter(|at| *at > Utc::now()),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateEndpoint {
    url: String,
    enabled_events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

async fn create_endpoint(
    State(events): State<Events>,
    JsonBody(body): JsonBody<CreateEndpoint>,
) -> Result<Response, ApiError> {
    let endpoint = events
        .create_endpoint(EndpointFields {
            url: Some(body.url),
            enabled_events: Some(body.enabled_events),
            description: Some(body.description),
            status: None,
        })
        .await?;
    let location = HeaderValue::from_str(&format!("/webhook_endpoints/{}", endpoint.id)).ok();
    let mut response =
        (StatusCode::CREATED, Json(EndpointView::of(endpoint, true))).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListPage {
    after: Option<Cursor>,
    #[serde(default)]
    limit: Limit,
}

async fn list_endpoints(
    State(events): State<Events>,
    QueryParams(query): QueryParams<ListPage>,
) -> Result<Json<Page<EndpointView>>, ApiError> {
    let page = events
        .endpoints(query.after.map(|Cursor(id)| id), query.limit)
        .await?;
    Ok(Json(Page {
        data: page
            .data
            .into_iter()
            .map(|e| EndpointView::of(e, false))
            .collect(),
        has_more: page.has_more,
        next_cursor: page.next_cursor,
    }))
}

async fn get_endpoint(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(EndpointView::of(events.endpoint(id).await?, false)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateEndpoint {
    url: Option<String>,
    enabled_events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    status: Option<EndpointStatus>,
}

async fn update_endpoint(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
    JsonBody(body): JsonBody<UpdateEndpoint>,
) -> Result<Json<EndpointView>, ApiError> {
    let fields = EndpointFields {
        url: body.url,
        enabled_events: body.enabled_events,
        description: body.description,
        status: body.status,
    };
    Ok(Json(EndpointView::of(
        events.update_endpoint(id, fields).await?,
        false,
    )))
}

async fn delete_endpoint(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<BTreeMap<&'static str, &'static str>>, ApiError> {
    events.delete_endpoint(id).await?;
    Ok(Json(BTreeMap::from([(
        "message",
        "Webhook endpoint deleted",
    )])))
}

async fn rotate_secret(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(EndpointView::of(
        events.rotate_secret(id).await?,
        true,
    )))
}

async fn list_attempts(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
    QueryParams(query): QueryParams<ListPage>,
) -> Result<Json<Page<AttemptRecord>>, ApiError> {
    Ok(Json(
        events
            .attempts(id, query.after.map(|Cursor(id)| id), query.limit)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recover {
    since: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct Recovered {
    message: &'static str,
    redelivering: u64,
}

async fn recover(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
    JsonBody(body): JsonBody<Recover>,
) -> Result<Response, ApiError> {
    let redelivering = events.recover(id, body.since).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Recovered {
            message: "Failed deliveries scheduled again",
            redelivering,
        }),
    )
        .into_response())
}
