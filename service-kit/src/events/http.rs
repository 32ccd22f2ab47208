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
use utoipa::{IntoParams, ToSchema};

use super::Event;
use super::app::{EndpointFields, Events};
use super::store::{AttemptRecord, Endpoint, EndpointStatus, EventQuery};
use crate::error::ApiError;
use crate::extract::{double_option, object_id_field};
use crate::openapi::IdempotencyKeyHeader;
use crate::openapi::events::{
    self as schemas, AttemptErrors, AttemptList, CreateErrors, DeliveryScheduled, EVENTS_TAG,
    EventList, EventSchema, ListErrors, OneErrors, RecoverErrors, RedeliverErrors, RotateErrors,
    UpdateErrors, WEBHOOK_ENDPOINTS_TAG, WebhookEndpointDeleted,
};
use crate::{Cursor, JsonBody, Limit, ObjectIdParam, Page, QueryParams};

/// The document of these routes; [`crate::openapi::EventRoutes`] adds it to a service's.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_events,
    get_event,
    redeliver,
    create_endpoint,
    list_endpoints,
    get_endpoint,
    update_endpoint,
    delete_endpoint,
    rotate_secret,
    list_attempts,
    recover,
))]
pub(crate) struct EventsApi;

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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListEvents {
    #[serde(rename = "type")]
    #[param(schema_with = schemas::event_type_filter)]
    kind: Option<String>,
    #[param(schema_with = schemas::object_id_filter)]
    object_id: Option<String>,
    #[param(inline)]
    after: Option<Cursor>,
    #[serde(default)]
    #[param(inline)]
    limit: Limit,
}

/// List events, oldest first, a page at a time.
#[utoipa::path(
    get,
    path = "/events",
    tag = EVENTS_TAG,
    params(ListEvents),
    responses(
        (status = 200, description = "One page of events.", body = EventList),
        ListErrors,
    ),
)]
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

/// Read an event.
#[utoipa::path(
    get,
    path = "/events/{id}",
    tag = EVENTS_TAG,
    params(ObjectIdParam),
    responses(
        (status = 200, description = "The event.", body = EventSchema),
        OneErrors,
    ),
)]
async fn get_event(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<Event>, ApiError> {
    Ok(Json(events.get(id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RedeliverEvent)]
struct Redeliver {
    #[serde(with = "crate::id::hex")]
    #[schema(schema_with = schemas::endpoint_id)]
    endpoint_id: ObjectId,
}

/// Send an event to an endpoint once more, whatever became of it before.
///
/// `404` for an unknown event or endpoint; `409 endpoint_disabled` when the endpoint is
/// disabled.
#[utoipa::path(
    post,
    path = "/events/{id}/redeliver",
    tag = EVENTS_TAG,
    operation_id = "redeliver_event",
    params(ObjectIdParam, IdempotencyKeyHeader),
    request_body = Redeliver,
    responses(
        (status = 202, description = "The delivery is owed again.", body = DeliveryScheduled),
        RedeliverErrors,
    ),
)]
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookEndpoint)]
pub(crate) struct EndpointView {
    #[serde(with = "crate::id::hex")]
    #[schema(schema_with = schemas::id)]
    id: ObjectId,
    url: String,
    #[schema(schema_with = schemas::enabled_events)]
    enabled_events: Vec<String>,
    #[schema(required = true)]
    description: Option<String>,
    #[schema(schema_with = schemas::status)]
    status: EndpointStatus,
    /// Why it is disabled, when it is.
    #[schema(required = true)]
    disabled_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schemas::secret)]
    secret: Option<String>,
    /// Until when the secret a rotation replaced still signs beside the new one.
    #[schema(required = true)]
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EndpointView {
    pub(crate) fn of(endpoint: Endpoint, with_secret: bool) -> Self {
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

/// A page of endpoints.
type EndpointList = Page<EndpointView>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateWebhookEndpoint)]
struct CreateEndpoint {
    #[schema(schema_with = schemas::url_input)]
    url: String,
    #[schema(schema_with = schemas::enabled_events_input)]
    enabled_events: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::description_input)]
    description: Option<String>,
}

/// Create a webhook endpoint.
///
/// Answers with the endpoint, its `secret` (shown this once) and its `Location`.
#[utoipa::path(
    post,
    path = "/webhook_endpoints",
    tag = WEBHOOK_ENDPOINTS_TAG,
    operation_id = "create_webhook_endpoint",
    params(IdempotencyKeyHeader),
    request_body = CreateEndpoint,
    responses(
        (status = 201, description = "Created, with its secret.", body = EndpointView),
        CreateErrors,
    ),
)]
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListPage {
    #[param(inline)]
    after: Option<Cursor>,
    #[serde(default)]
    #[param(inline)]
    limit: Limit,
}

/// List webhook endpoints, in id order, a page at a time (never a secret).
#[utoipa::path(
    get,
    path = "/webhook_endpoints",
    tag = WEBHOOK_ENDPOINTS_TAG,
    operation_id = "list_webhook_endpoints",
    params(ListPage),
    responses(
        (status = 200, description = "One page of endpoints.", body = EndpointList),
        ListErrors,
    ),
)]
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

/// Read a webhook endpoint (never its secret).
#[utoipa::path(
    get,
    path = "/webhook_endpoints/{id}",
    tag = WEBHOOK_ENDPOINTS_TAG,
    operation_id = "get_webhook_endpoint",
    params(ObjectIdParam),
    responses(
        (status = 200, description = "The endpoint.", body = EndpointView),
        OneErrors,
    ),
)]
async fn get_endpoint(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(EndpointView::of(events.endpoint(id).await?, false)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateWebhookEndpoint)]
struct UpdateEndpoint {
    #[schema(schema_with = schemas::url_update)]
    url: Option<String>,
    #[schema(schema_with = schemas::enabled_events_update)]
    enabled_events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schemas::description_input)]
    description: Option<Option<String>>,
    #[schema(schema_with = schemas::status_update)]
    status: Option<EndpointStatus>,
}

/// Change a webhook endpoint.
///
/// The given fields are merged; `null` clears `description` and leaves the others as they
/// are. An empty object changes nothing.
#[utoipa::path(
    patch,
    path = "/webhook_endpoints/{id}",
    tag = WEBHOOK_ENDPOINTS_TAG,
    operation_id = "update_webhook_endpoint",
    params(ObjectIdParam),
    request_body = UpdateEndpoint,
    responses(
        (status = 200, description = "The endpoint as it is now.", body = EndpointView),
        UpdateErrors,
    ),
)]
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

/// Delete a webhook endpoint; what it was still owed is given up.
#[utoipa::path(
    delete,
    path = "/webhook_endpoints/{id}",
    tag = WEBHOOK_ENDPOINTS_TAG,
    operation_id = "delete_webhook_endpoint",
    params(ObjectIdParam),
    responses(
        (status = 200, description = "Deleted.", body = WebhookEndpointDeleted),
        OneErrors,
    ),
)]
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

/// Give a webhook endpoint a new secret.
///
/// The old one keeps signing beside it for 24 hours (`previous_secret_expires_at`), so
/// deliveries carry two signatures meanwhile.
#[utoipa::path(
    post,
    path = "/webhook_endpoints/{id}/rotate_secret",
    tag = WEBHOOK_ENDPOINTS_TAG,
    operation_id = "rotate_webhook_endpoint_secret",
    params(ObjectIdParam, IdempotencyKeyHeader),
    responses(
        (status = 200, description = "The endpoint with its new secret.", body = EndpointView),
        RotateErrors,
    ),
)]
async fn rotate_secret(
    State(events): State<Events>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(EndpointView::of(
        events.rotate_secret(id).await?,
        true,
    )))
}

/// List the attempts at delivering to a webhook endpoint, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/webhook_endpoints/{id}/attempts",
    tag = WEBHOOK_ENDPOINTS_TAG,
    operation_id = "list_webhook_endpoint_attempts",
    params(ObjectIdParam, ListPage),
    responses(
        (status = 200, description = "One page of attempts.", body = AttemptList),
        AttemptErrors,
    ),
)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RecoverWebhookEndpoint)]
struct Recover {
    #[schema(schema_with = schemas::since)]
    since: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RecoveryScheduled)]
struct Recovered {
    #[schema(value_type = String, examples("Failed deliveries scheduled again"))]
    message: &'static str,
    /// How many events are owed to the endpoint again.
    redelivering: u64,
}

/// Send a webhook endpoint every event whose delivery to it failed since a moment.
///
/// Enables the endpoint if it was disabled; what was given up while it was disabled is sent
/// too.
#[utoipa::path(
    post,
    path = "/webhook_endpoints/{id}/recover",
    tag = WEBHOOK_ENDPOINTS_TAG,
    operation_id = "recover_webhook_endpoint",
    params(ObjectIdParam, IdempotencyKeyHeader),
    request_body = Recover,
    responses(
        (status = 202, description = "The failed deliveries are owed again.", body = Recovered),
        RecoverErrors,
    ),
)]
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
