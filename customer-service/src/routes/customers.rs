use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use service_kit::idempotency::ResourceId;
use service_kit::openapi::{
    BadRequest, Conflict, IdempotencyKeyHeader, NotFound, PayloadTooLarge, ServiceUnavailable,
    TooManyRequests, Unauthorized, UnprocessableEntity, UnsupportedMediaType,
};
use service_kit::{Cursor, JsonBody, Limit, ObjectIdParam, Page, QueryParams, StoreError};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::domain::{
    CreateCustomer, Customer, CustomerChanges, Email, NewCustomer, UpdateCustomer,
};
use crate::error::CustomerError;
use crate::store::CustomerFilter;

#[derive(Serialize, ToSchema)]
pub struct CustomerCreated {
    #[schema(value_type = String, examples("Customer added"))]
    message: &'static str,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    id: String,
    customer: Customer,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerUpdated {
    #[schema(value_type = String, examples("Customer updated"))]
    message: &'static str,
    customer: Customer,
}

#[derive(Serialize, ToSchema)]
pub struct Message {
    #[schema(value_type = String, examples("Customer deleted"))]
    message: &'static str,
}

/// A page of customers (named for the document).
pub type CustomerList = Page<Customer>;

/// `GET /customers` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListCustomers {
    #[serde(default)]
    #[param(inline)]
    limit: Limit,
    #[param(inline)]
    after: Option<Cursor>,
    /// Only the customer with this email (compared case-insensitively, surrounding space
    /// ignored).
    email: Option<String>,
    /// Only customers whose name starts with this (case-insensitively).
    q: Option<String>,
}

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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]

pub async fn create_customer(
    State(state): State<AppState>,
    resource_id: Option<Extension<ResourceId>>,
    JsonBody(body): JsonBody<CreateCustomer>,
) -> Result<impl IntoResponse, CustomerError> {
    let NewCustomer(mut customer) =
        NewCustomer::parse(body, service_kit::time::now()).map_err(CustomerError::Validation)?;
    if let Some(Extension(ResourceId(id))) = resource_id {
        customer.id = id;
    }
    let customer = match state.store.insert(&customer).await {
        Ok(()) => customer,
        // A retried idempotent create whose first attempt got this far: answer with it.
        Err(StoreError::Duplicate) if resource_id.is_some() => {
            match state.store.get(customer.id).await? {
                Some(existing) => existing,
                None => return Err(CustomerError::EmailTaken),
            }
        }
        Err(error) => return Err(email_conflict(error)),
    };
    let id = customer.id.to_hex();
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/customers/{id}")) {
        headers.insert(header::LOCATION, location);
    }
    let body = CustomerCreated {
        message: "Customer added",
        id,
        customer,
    };
    Ok((StatusCode::CREATED, headers, Json(body)))
}

/// Read a customer.
#[utoipa::path(
    get,
    path = "/customers/{id}",
    tag = "customers",
    params(ObjectIdParam),
    responses(
        (status = 200, description = "The customer.", body = Customer),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn get_customer(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<Customer>, CustomerError> {
    let customer = state.store.get(id).await?.ok_or(CustomerError::NotFound)?;
    Ok(Json(customer))
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn update_customer(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
    JsonBody(body): JsonBody<UpdateCustomer>,
) -> Result<Json<CustomerUpdated>, CustomerError> {
    let changes = CustomerChanges::parse(body, service_kit::time::now())
        .map_err(CustomerError::Validation)?;
    let customer = if changes.is_empty() {
        state.store.get(id).await?
    } else {
        state
            .store
            .update(id, &changes)
            .await
            .map_err(email_conflict)?
    };
    let customer = customer.ok_or(CustomerError::NotFound)?;
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
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn delete_customer(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<Message>, CustomerError> {
    if !state.store.delete(id).await? {
        return Err(CustomerError::NotFound);
    }
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
        (status = 401, response = Unauthorized),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn list_customers(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListCustomers>,
) -> Result<Json<Page<Customer>>, CustomerError> {
    let filter = CustomerFilter {
        email_key: query.email.as_deref().map(Email::key_of),
        name_prefix: query.q.as_deref().map(str::to_lowercase),
    };
    let customers = state
        .store
        .list(&filter, query.after.map(|c| c.0), query.limit.get() + 1)
        .await?;
    Ok(Json(Page::from_overfetch(customers, query.limit, |c| c.id)))
}

/// On customer writes the only unique key besides the id is the email.
fn email_conflict(error: StoreError) -> CustomerError {
    match error {
        StoreError::Duplicate => CustomerError::EmailTaken,
        other => CustomerError::Store(other),
    }
}
