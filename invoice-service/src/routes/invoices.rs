use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use service_kit::StoreError;
use service_kit::http::REQUEST_ID;
use service_kit::idempotency::ResourceId;
use service_kit::openapi::{
    BadRequest, Conflict, IdempotencyKeyHeader, NotFound, PayloadTooLarge, ServiceUnavailable,
    TooManyRequests, Unauthorized, UnprocessableEntity, UnsupportedMediaType,
};
use service_kit::{ApiError, Cursor, JsonBody, Limit, ObjectIdParam, Page, QueryParams};
use utoipa::IntoParams;

use super::AppState;
use crate::cache::{Entry, Source};
use crate::domain::{
    CreateInvoice, Invoice, InvoiceChanges, InvoiceError, NewInvoice, Status, Transition,
    UpdateInvoice,
};
use crate::error::InvoiceApiError;
use crate::openapi::{InvoiceCreated, InvoiceDeleted, InvoiceEnvelope, InvoiceRead};
use crate::store::InvoiceFilter;

/// How many times a write re-reads after losing a race to another write.
const MAX_WRITE_ATTEMPTS: usize = 16;

/// A page of invoices (named for the document).
pub type InvoiceList = Page<Invoice>;

/// `GET /invoices` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListInvoices {
    #[serde(default)]
    #[param(inline)]
    limit: Limit,
    #[param(inline)]
    after: Option<Cursor>,
    /// Only the invoices of this customer.
    #[param(pattern = "^[0-9a-fA-F]{24}$")]
    customer_id: Option<String>,
    /// Only the invoices in this status.
    #[param(inline)]
    status: Option<Status>,
}

/// Create a draft invoice.
///
/// The customer must exist in customer-service (`422 customer_not_found`; `503` when
/// customer-service cannot be reached); its name and email are copied onto the invoice.
/// Totals are computed here, in integer minor units.
#[utoipa::path(
    post,
    path = "/invoices",
    tag = "invoices",
    params(IdempotencyKeyHeader),
    request_body = CreateInvoice,
    responses(
        (status = 201, description = "Created, as a draft.", body = InvoiceCreated, headers(
            ("Location" = String, description = "`/invoices/{id}` of the new invoice."),
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

pub async fn create_invoice(
    State(state): State<AppState>,
    headers: HeaderMap,
    resource_id: Option<Extension<ResourceId>>,
    JsonBody(body): JsonBody<CreateInvoice>,
) -> Result<Response, InvoiceApiError> {
    let new = NewInvoice::parse(body)?;
    let request_id = headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok());
    let customer = state.customers.lookup(new.customer_id, request_id).await?;
    let mut invoice = new.into_draft(customer, service_kit::time::now());
    if let Some(Extension(ResourceId(id))) = resource_id {
        invoice.id = id;
    }
    let invoice =
        match state.store.insert(&invoice).await {
            Ok(()) => invoice,
            // A retried idempotent create whose first attempt got this far: answer with it.
            Err(StoreError::Duplicate) if resource_id.is_some() => state
                .store
                .get(invoice.id)
                .await?
                .ok_or(InvoiceApiError::Store(StoreError::Duplicate))?,
            Err(error) => return Err(error.into()),
        };
    let id = invoice.id.to_hex();
    let json = to_json(&invoice)?;
    let mut response = json_response(
        StatusCode::CREATED,
        &[
            br#"{"message":"Invoice created","id":""#,
            id.as_bytes(),
            br#"","invoice":"#,
            &json,
            b"}",
        ],
    );
    if let Ok(location) = HeaderValue::from_str(&format!("/invoices/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Read an invoice, through the cache.
#[utoipa::path(
    get,
    path = "/invoices/{id}",
    tag = "invoices",
    params(ObjectIdParam),
    responses(
        (status = 200, description = "The invoice, and where it was read from.", body = InvoiceRead, headers(
            ("X-Cache" = String, description = "`HIT` when read from the cache, `MISS` otherwise."),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn get_invoice(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Response, ApiError> {
    let found = state
        .reads
        .read(id)
        .await?
        .ok_or_else(|| ApiError::from(InvoiceApiError::NotFound))?;
    let (source, cache_header) = match found.source {
        Source::Cache => (&br#"{"source":"cache","invoice":"#[..], "HIT"),
        Source::Database => (&br#"{"source":"database","invoice":"#[..], "MISS"),
    };
    let mut response = json_response(StatusCode::OK, &[source, &found.invoice, b"}"]);
    response
        .headers_mut()
        .insert("x-cache", HeaderValue::from_static(cache_header));
    Ok(response)
}

/// List invoices, in id order, a page at a time.
#[utoipa::path(
    get,
    path = "/invoices",
    tag = "invoices",
    params(ListInvoices),
    responses(
        (status = 200, description = "One page of invoices.", body = InvoiceList),
        (status = 401, response = Unauthorized),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn list_invoices(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListInvoices>,
) -> Result<Json<Page<Invoice>>, ApiError> {
    let customer_id = match query.customer_id.as_deref() {
        Some(raw) => Some(
            service_kit::extract::parse_object_id(raw)
                .ok_or_else(|| {
                    ApiError::invalid_field("customer_id", "must be a 24-character hexadecimal id")
                })?
                .to_hex(),
        ),
        None => None,
    };
    let filter = InvoiceFilter {
        customer_id,
        status: query.status,
    };
    let invoices = state
        .store
        .list(&filter, query.after.map(|c| c.0), query.limit.get() + 1)
        .await
        .map_err(InvoiceApiError::from)?;
    Ok(Json(Page::from_overfetch(invoices, query.limit, |i| i.id)))
}

/// Edit a draft.
///
/// The given fields replace the draft's (`items` as a whole); `null` clears `due_date`,
/// `metadata` or `tax_rate_bps`. Totals are recomputed. `409 invalid_transition` unless the
/// invoice is a draft.
#[utoipa::path(
    patch,
    path = "/invoices/{id}",
    tag = "invoices",
    params(ObjectIdParam),
    request_body = UpdateInvoice,
    responses(
        (status = 200, description = "The invoice as it is now.", body = InvoiceEnvelope),
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
pub async fn update_invoice(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
    JsonBody(body): JsonBody<UpdateInvoice>,
) -> Result<Response, InvoiceApiError> {
    let changes = InvoiceChanges::parse(body, service_kit::time::now())?;
    write(&state, id, |current| current.edited(&changes), false).await
}

/// Finalize a draft: draft → open.
///
/// Assigns the invoice its `number`.
#[utoipa::path(
    post,
    path = "/invoices/{id}/finalize",
    tag = "invoices",
    params(ObjectIdParam, IdempotencyKeyHeader),
    responses(
        (status = 200, description = "The invoice as it is now.", body = InvoiceEnvelope),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn finalize_invoice(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Response, InvoiceApiError> {
    transition(&state, id, Transition::Finalize).await
}

/// Pay an invoice: open or uncollectible → paid.
///
/// `amount_paid` becomes the total and `amount_due` 0.
#[utoipa::path(
    post,
    path = "/invoices/{id}/pay",
    tag = "invoices",
    params(ObjectIdParam, IdempotencyKeyHeader),
    responses(
        (status = 200, description = "The invoice as it is now.", body = InvoiceEnvelope),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn pay_invoice(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Response, InvoiceApiError> {
    transition(&state, id, Transition::Pay).await
}

/// Void an invoice: open or uncollectible → void.
///
/// Nothing is due any more.
#[utoipa::path(
    post,
    path = "/invoices/{id}/void",
    tag = "invoices",
    params(ObjectIdParam, IdempotencyKeyHeader),
    responses(
        (status = 200, description = "The invoice as it is now.", body = InvoiceEnvelope),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn void_invoice(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Response, InvoiceApiError> {
    transition(&state, id, Transition::Void).await
}

/// Mark an invoice uncollectible: open → uncollectible.
///
/// It may still be paid or voided later.
#[utoipa::path(
    post,
    path = "/invoices/{id}/mark_uncollectible",
    tag = "invoices",
    params(ObjectIdParam, IdempotencyKeyHeader),
    responses(
        (status = 200, description = "The invoice as it is now.", body = InvoiceEnvelope),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn mark_invoice_uncollectible(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Response, InvoiceApiError> {
    transition(&state, id, Transition::MarkUncollectible).await
}

/// Delete a draft.
///
/// `409 invalid_transition` unless the invoice is a draft.
#[utoipa::path(
    delete,
    path = "/invoices/{id}",
    tag = "invoices",
    params(ObjectIdParam),
    responses(
        (status = 200, description = "Deleted.", body = InvoiceDeleted),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
    security(("api_key" = [])),
)]
pub async fn delete_invoice(
    State(state): State<AppState>,
    ObjectIdParam(id): ObjectIdParam,
) -> Result<Response, InvoiceApiError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = state
            .store
            .get(id)
            .await?
            .ok_or(InvoiceApiError::NotFound)?;
        current.check_deletable()?;
        if state.store.delete(&current).await? {
            let tombstone = Entry {
                version: current.version + 1,
                payload: Bytes::new(),
                ttl: state.ttl.jittered(),
            };
            state.cache.publish(id, tombstone).await;
            return Ok(json_response(
                StatusCode::OK,
                &[br#"{"message":"Invoice deleted"}"#],
            ));
        }
    }
    Err(InvoiceApiError::Contended)
}

async fn transition(
    state: &AppState,
    id: bson::oid::ObjectId,
    transition: Transition,
) -> Result<Response, InvoiceApiError> {
    let now = service_kit::time::now();
    write(
        state,
        id,
        |current| current.transitioned(transition, now),
        transition == Transition::Finalize,
    )
    .await
}

/// Read, change, and store only if nobody wrote in between; then publish the new state to
/// the cache before answering, so no later read sees the old one.
async fn write(
    state: &AppState,
    id: bson::oid::ObjectId,
    change: impl Fn(&Invoice) -> Result<Invoice, InvoiceError>,
    numbered: bool,
) -> Result<Response, InvoiceApiError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = state
            .store
            .get(id)
            .await?
            .ok_or(InvoiceApiError::NotFound)?;
        let mut next = change(&current)?;
        next.version = current.version + 1;
        let stored = if numbered {
            state.store.replace_numbered(&current, next).await?
        } else if state.store.replace(&current, &next).await? {
            Some(next)
        } else {
            None
        };
        if let Some(invoice) = stored {
            let json = Bytes::from(to_json(&invoice)?);
            let entry = Entry {
                version: invoice.version,
                payload: json.clone(),
                ttl: state.ttl.jittered(),
            };
            state.cache.publish(id, entry).await;
            return Ok(json_response(
                StatusCode::OK,
                &[br#"{"invoice":"#, &json, b"}"],
            ));
        }
    }
    Err(InvoiceApiError::Contended)
}

fn to_json(invoice: &Invoice) -> Result<Vec<u8>, InvoiceApiError> {
    serde_json::to_vec(invoice).map_err(|e| {
        InvoiceApiError::Store(service_kit::StoreError::Internal(format!(
            "invoice JSON: {e}"
        )))
    })
}

/// A JSON response assembled from already-serialised parts, so cached invoice JSON is
/// sent as it is, never parsed and written again.
fn json_response(status: StatusCode, parts: &[&[u8]]) -> Response {
    let mut body = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        body.extend_from_slice(part);
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.into_response()
}
