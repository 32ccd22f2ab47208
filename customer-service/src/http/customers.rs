use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use service_kit::idempotency::ResourceId;
use service_kit::openapi::IdempotencyKeyHeader;
use service_kit::{JsonBody, ObjectIdParam, Page, QueryParams};

use super::AppState;
use super::dto::{
    CreateCustomer, CustomerCreated, CustomerUpdated, ListCustomers, Message, UpdateCustomer,
};
use super::openapi::{
    CreateErrors, CustomerList, CustomerSchema, ListErrors, OneCustomerErrors, UpdateErrors,
};
use crate::domain::{Customer, CustomerChanges, NewCustomer};
use crate::error::AppError;

/// Create a customer.
///
/// The email must not belong to another customer (`409 email_taken`, compared
/// case-insensitively). Answers with the customer and its `Location`.
#[utoipa::path(
    post,
    path = "/customers",
    tag = "customers",
    params(IdempotencyKeyHeader),
    request_body = CreateCustomer,
    responses(
        (status = 201, description = "Created.", body = CustomerCreated, headers(
            ("Location" = String, description = "`/customers/{id}` of the new customer."),
            ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`."),
        )),
        CreateErrors,
    ),
    security(("api_key" = [])),
)]
pub async fn create_customer(
    State(state): State<AppState>,
    resource_id: Option<Extension<ResourceId>>,
    JsonBody(body): JsonBody<CreateCustomer>,
) -> Result<impl IntoResponse, AppError> {
    let new =
        NewCustomer::parse(body.into(), service_kit::time::now()).map_err(AppError::Validation)?;
    let reserved_id = resource_id.map(|Extension(ResourceId(id))| id);
    let customer = state.customers.create(new, reserved_id).await?;
    let id = customer.id.to_hex();
    let location = HeaderValue::from_str(&format!("/customers/{id}")).ok();
    let body = CustomerCreated {
        message: "Customer added",
        id,
        customer,
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Read a customer.
#[utoipa::path(
    get,
    path = "/customers/{id}",
    tag = "customers",
    params(ObjectIdParam),
    responses(
        (status = 200, description = "The customer.", body = CustomerSchema),
        OneCustomerErrors,
    ),
    security(("api_key" = [])),
)]
pub async fn get_customer(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<Customer>, AppError> {
    Ok(Json(state.customers.get(id).await?))
}

/// Update a customer (`PUT` and `PATCH` alike).
///
/// The given fields are merged; `null` clears `phone`, `address` or `metadata`; `name`
/// and `email` may be left out but not cleared. An empty object changes nothing.
#[utoipa::path(
    method(put, patch),
    path = "/customers/{id}",
    tag = "customers",
    params(ObjectIdParam),
    request_body = UpdateCustomer,
    responses(
        (status = 200, description = "The customer as it is now.", body = CustomerUpdated),
        UpdateErrors,
    ),
    security(("api_key" = [])),
)]
pub async fn update_customer(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
    JsonBody(body): JsonBody<UpdateCustomer>,
) -> Result<Json<CustomerUpdated>, AppError> {
    let changes = CustomerChanges::parse(body.into(), service_kit::time::now())
        .map_err(AppError::Validation)?;
    let customer = state.customers.update(id, &changes).await?;
    Ok(Json(CustomerUpdated {
        message: "Customer updated",
        customer,
    }))
}

/// Delete a customer.
#[utoipa::path(
    delete,
    path = "/customers/{id}",
    tag = "customers",
    params(ObjectIdParam),
    responses(
        (status = 200, description = "Deleted.", body = Message),
        OneCustomerErrors,
    ),
    security(("api_key" = [])),
)]
pub async fn delete_customer(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<Message>, AppError> {
    state.customers.delete(id).await?;
    Ok(Json(Message {
        message: "Customer deleted",
    }))
}

/// List customers, in id order, a page at a time.
#[utoipa::path(
    get,
    path = "/customers",
    tag = "customers",
    params(ListCustomers),
    responses(
        (status = 200, description = "One page of customers.", body = CustomerList),
        ListErrors,
    ),
    security(("api_key" = [])),
)]
pub async fn list_customers(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListCustomers>,
) -> Result<Json<Page<Customer>>, AppError> {
    Ok(Json(state.customers.list(query.into()).await?))
}
