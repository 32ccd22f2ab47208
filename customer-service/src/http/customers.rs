use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use service_kit::conditional::{Precondition, not_modified, tagged};
use service_kit::events::Origin;
use service_kit::idempotency::ResourceId;
use service_kit::openapi::{IdempotencyKeyHeader, IfMatchHeader, IfNoneMatchHeader};
use service_kit::{JsonBody, ObjectIdParam, Page, QueryParams};

use super::dto::{
    CreateCustomer, CustomerCreated, CustomerList, CustomerSchema, CustomerUpdated, ListCustomers,
    Message, UpdateCustomer,
};
use super::responses::{CreateErrors, DeleteErrors, ListErrors, OneCustomerErrors, UpdateErrors};
use crate::app::Customers;
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
            ("ETag" = String, description = "The customer's version, for `If-Match`."),
            ("Location" = String, description = "`/customers/{id}`."),
        )),
        CreateErrors,
    ),
)]
pub async fn create_customer(
    State(customers): State<Customers>,
    origin: Origin,
    resource_id: Option<Extension<ResourceId>>,
    JsonBody(body): JsonBody<CreateCustomer>,
) -> Result<impl IntoResponse, AppError> {
    let new =
        NewCustomer::parse(body.into(), service_kit::time::now()).map_err(AppError::Validation)?;
    let reserved_id = resource_id.map(|Extension(ResourceId(id))| id);
    let customer = customers.create(new, reserved_id, &origin).await?;
    let id = customer.id.to_hex();
    let location = HeaderValue::from_str(&format!("/customers/{id}")).ok();
    let version = customer.version;
    let body = CustomerCreated {
        message: "Customer added",
        id,
        customer,
    };
    let mut response = tagged((StatusCode::CREATED, Json(body)), version);
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
    params(ObjectIdParam, IfNoneMatchHeader),
    responses(
        (status = 200, description = "The customer.", body = CustomerSchema, headers(
            ("ETag" = String, description = "The customer's version, for `If-Match`."),
        )),
        (status = 304, description = "`If-None-Match` names the customer's current version.", headers(
            ("ETag" = String, description = "The customer's version."),
        )),
        OneCustomerErrors,
    ),
)]
pub async fn get_customer(
    State(customers): State<Customers>,
    ObjectIdParam(id): ObjectIdParam,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let customer = customers.get(id).await?;
    if let Some(unchanged) = not_modified(&headers, customer.version) {
        return Ok(unchanged);
    }
    let version = customer.version;
    Ok(tagged(Json(customer), version))
}

/// Update a customer (`PUT` and `PATCH` alike).
///
/// The given fields are merged; `null` clears `phone`, `address` or `metadata`; `name`
/// and `email` may be left out but not cleared. An empty object changes nothing.
#[utoipa::path(
    method(put, patch),
    path = "/customers/{id}",
    tag = "customers",
    params(ObjectIdParam, IfMatchHeader),
    request_body = UpdateCustomer,
    responses(
        (status = 200, description = "The customer as it is now.", body = CustomerUpdated, headers(
            ("ETag" = String, description = "The customer's new version."),
        )),
        UpdateErrors,
    ),
)]
pub async fn update_customer(
    State(customers): State<Customers>,
    origin: Origin,
    ObjectIdParam(id): ObjectIdParam,
    precondition: Precondition,
    JsonBody(body): JsonBody<UpdateCustomer>,
) -> Result<Response, AppError> {
    let changes = CustomerChanges::parse(body.into(), service_kit::time::now())
        .map_err(AppError::Validation)?;
    let customer = customers
        .update(id, &changes, &precondition, &origin)
        .await?;
    let version = customer.version;
    let body = CustomerUpdated {
        message: "Customer updated",
        customer,
    };
    Ok(tagged(Json(body), version))
}

/// Delete a customer.
#[utoipa::path(
    delete,
    path = "/customers/{id}",
    tag = "customers",
    params(ObjectIdParam, IfMatchHeader),
    responses(
        (status = 200, description = "Deleted.", body = Message),
        DeleteErrors,
    ),
)]
pub async fn delete_customer(
    State(customers): State<Customers>,
    origin: Origin,
    ObjectIdParam(id): ObjectIdParam,
    precondition: Precondition,
) -> Result<Json<Message>, AppError> {
    customers.delete(id, &precondition, &origin).await?;
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
)]
pub async fn list_customers(
    State(customers): State<Customers>,
    QueryParams(query): QueryParams<ListCustomers>,
) -> Result<Json<Page<Customer>>, AppError> {
    Ok(Json(customers.list(query.into()).await?))
}
