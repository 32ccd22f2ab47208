use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use service_kit::{Cursor, JsonBody, Limit, ObjectIdParam, Page, QueryParams, StoreError};

use super::AppState;
use crate::domain::{
    CreateCustomer, Customer, CustomerChanges, Email, NewCustomer, UpdateCustomer,
};
use crate::error::CustomerError;
use crate::store::CustomerFilter;

#[derive(Serialize)]
pub struct CustomerCreated {
    message: &'static str,
    id: String,
    customer: Customer,
}

#[derive(Serialize)]
pub struct CustomerUpdated {
    message: &'static str,
    customer: Customer,
}

#[derive(Serialize)]
pub struct Message {
    message: &'static str,
}

/// `GET /customers` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListCustomers {
    #[serde(default)]
    limit: Limit,
    after: Option<Cursor>,
    email: Option<String>,
    q: Option<String>,
}

pub async fn create_customer(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateCustomer>,
) -> Result<impl IntoResponse, CustomerError> {
    let NewCustomer(customer) =
        NewCustomer::parse(body, service_kit::time::now()).map_err(CustomerError::Validation)?;
    state
        .store
        .insert(&customer)
        .await
        .map_err(email_conflict)?;
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

pub async fn get_customer(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Json<Customer>, CustomerError> {
    let customer = state.store.get(id).await?.ok_or(CustomerError::NotFound)?;
    Ok(Json(customer))
}

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
