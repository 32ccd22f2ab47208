use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use service_kit::events::Origin;
use service_kit::idempotency::ResourceId;
use service_kit::openapi::IdempotencyKeyHeader;
use service_kit::{JsonBody, ObjectIdParam, Page, QueryParams};

use super::dto::{
    CreateCustomer, CustomerCreated, CustomerList, CustomerSchema, CustomerUpdated, ListCustomers,
    Message, UpdateCustomer,
};
use super::responses::{CreateErrors, ListErrors, OneCustomerErrors, UpdateErrors};
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
        (status = 201, description = "Created.", body = CustomerCreated),
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
)]
pub async fn get_customer(
    State(customers): State<Customers>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<Customer>, AppError> {
    Ok(Json(customers.get(id).await?))
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
)]
pub async fn update_customer(
    State(customers): State<Customers>,
    origin: Origin,
    ObjectIdParam(id): ObjectIdParam,
    JsonBody(body): JsonBody<UpdateCustomer>,
) -> Result<Json<CustomerUpdated>, AppError> {
    let changes = CustomerChanges::parse(body.into(), service_kit::time::now())
        .map_err(AppError::Validation)?;
    let customer = customers.update(id, &changes, &origin).await?;
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
)]
pub async fn delete_customer(
    State(customers): State<Customers>,
    origin: Origin,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<Message>, AppError> {
    customers.delete(id, &origin).await?;
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
