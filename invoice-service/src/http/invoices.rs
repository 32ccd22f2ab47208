use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use service_kit::conditional::{Precondition, not_modified, tagged};
use service_kit::events::Origin;
use service_kit::idempotency::ResourceId;
use service_kit::openapi::{IdempotencyKeyHeader, IfMatchHeader, IfNoneMatchHeader};
use service_kit::{ApiError, JsonBody, ObjectIdParam, Page, QueryParams};

use super::dto::{
    CreateInvoice, InvoiceCreated, InvoiceDeleted, InvoiceEnvelope, InvoiceList, InvoiceRead,
    ListInvoices, UpdateInvoice,
};
use super::responses::{
    CreateErrors, DeleteErrors, EditErrors, ListErrors, ReadErrors, TransitionErrors,
};
use crate::app::{Invoices, Stored};
use crate::cache::Source;
use crate::domain::{Invoice, InvoiceChanges, NewInvoice, Transition};
use crate::error::AppError;

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
            ("ETag" = String, description = "The invoice's version, for `If-Match`."),
            ("Location" = String, description = "`/invoices/{id}`."),
        )),
        CreateErrors,
    ),
)]

pub async fn create_invoice(
    State(invoices): State<Invoices>,
    origin: Origin,
    resource_id: Option<Extension<ResourceId>>,
    JsonBody(body): JsonBody<CreateInvoice>,
) -> Result<Response, AppError> {
    let new = NewInvoice::parse(body.into())?;
    let reserved_id = resource_id.map(|Extension(ResourceId(id))| id);
    let Stored { invoice, json } = invoices.create(new, reserved_id, &origin).await?;
    let id = invoice.id.to_hex();
    let response = json_response(
        StatusCode::CREATED,
        &[
            br#"{"message":"Invoice created","id":""#,
            id.as_bytes(),
            br#"","invoice":"#,
            &json,
            b"}",
        ],
    );
    let mut response = tagged(response, invoice.version);
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
    params(ObjectIdParam, IfNoneMatchHeader),
    responses(
        (status = 200, description = "The invoice, and where it was read from.", body = InvoiceRead, headers(
            ("X-Cache" = String, description = "`HIT` when read from the cache, `MISS` otherwise."),
            ("ETag" = String, description = "The invoice's version, for `If-Match`."),
        )),
        (status = 304, description = "`If-None-Match` names the invoice's current version (read through the cache).", headers(
            ("X-Cache" = String, description = "`HIT` when read from the cache, `MISS` otherwise."),
            ("ETag" = String, description = "The invoice's version."),
        )),
        ReadErrors,
    ),
)]
pub async fn get_invoice(
    State(invoices): State<Invoices>,
    ObjectIdParam(id): ObjectIdParam,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let found = invoices.read(id).await?.ok_or(AppError::NotFound)?;
    let (source, cache_header) = match found.source {
        Source::Cache => (&br#"{"source":"cache","invoice":"#[..], "HIT"),
        Source::Database => (&br#"{"source":"database","invoice":"#[..], "MISS"),
    };
    let mut response = not_modified(&headers, found.version).unwrap_or_else(|| {
        let body = json_response(StatusCode::OK, &[source, &found.invoice, b"}"]);
        tagged(body, found.version)
    });
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
        ListErrors,
    ),
)]
pub async fn list_invoices(
    State(invoices): State<Invoices>,
    QueryParams(query): QueryParams<ListInvoices>,
) -> Result<axum::Json<Page<Invoice>>, ApiError> {
    Ok(axum::Json(invoices.list(query.try_into()?).await?))
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
    params(ObjectIdParam, IfMatchHeader),
    request_body = UpdateInvoice,
    responses(
        (status = 200, description = "The invoice as it is now.", body = InvoiceEnvelope, headers(
            ("ETag" = String, description = "The invoice's new version."),
        )),
        EditErrors,
    ),
)]
pub async fn update_invoice(
    State(invoices): State<Invoices>,
    origin: Origin,
    ObjectIdParam(id): ObjectIdParam,
    precondition: Precondition,
    JsonBody(body): JsonBody<UpdateInvoice>,
) -> Result<Response, AppError> {
    let changes = InvoiceChanges::parse(body.into(), service_kit::time::now())?;
    let stored = invoices.edit(id, &changes, &precondition, &origin).await?;
    Ok(envelope(stored))
}

/// One handler per lifecycle transition, alike but for its route and its move.
macro_rules! transition_handler {
    ($(#[doc = $doc:literal])* $name:ident, $path:literal, $transition:ident) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            post,
            path = $path,
            tag = "invoices",
            params(ObjectIdParam, IdempotencyKeyHeader, IfMatchHeader),
            responses(
                (status = 200, description = "The invoice as it is now.", body = InvoiceEnvelope, headers(
                    ("ETag" = String, description = "The invoice's new version."),
                )),
                TransitionErrors,
            ),
        )]
        pub async fn $name(
            State(invoices): State<Invoices>,
            origin: Origin,
            ObjectIdParam(id): ObjectIdParam,
            precondition: Precondition,
        ) -> Result<Response, AppError> {
            let transition = Transition::$transition;
            let stored = invoices.transition(id, transition, &precondition, &origin).await?;
            Ok(envelope(stored))
        }
    };
}

transition_handler! {
    /// Finalize a draft: draft → open.
    ///
    /// Assigns the invoice its `number`.
    finalize_invoice, "/invoices/{id}/finalize", Finalize
}

transition_handler! {
    /// Pay an invoice: open or uncollectible → paid.
    ///
    /// `amount_paid` becomes the total and `amount_due` 0.
    pay_invoice, "/invoices/{id}/pay", Pay
}

transition_handler! {
    /// Void an invoice: open or uncollectible → void.
    ///
    /// Nothing is due any more.
    void_invoice, "/invoices/{id}/void", Void
}

transition_handler! {
    /// Mark an invoice uncollectible: open → uncollectible.
    ///
    /// It may still be paid or voided later.
    mark_invoice_uncollectible, "/invoices/{id}/mark_uncollectible", MarkUncollectible
}

/// Delete a draft.
///
/// `409 invalid_transition` unless the invoice is a draft.
#[utoipa::path(
    delete,
    path = "/invoices/{id}",
    tag = "invoices",
    params(ObjectIdParam, IfMatchHeader),
    responses(
        (status = 200, description = "Deleted.", body = InvoiceDeleted),
        DeleteErrors,
    ),
)]
pub async fn delete_invoice(
    State(invoices): State<Invoices>,
    origin: Origin,
    ObjectIdParam(id): ObjectIdParam,
    precondition: Precondition,
) -> Result<Response, AppError> {
    invoices.delete(id, &precondition, &origin).await?;
    Ok(json_response(
        StatusCode::OK,
        &[br#"{"message":"Invoice deleted"}"#],
    ))
}

/// `{"invoice": ...}` around the stored invoice's JSON, with its `ETag`.
fn envelope(stored: Stored) -> Response {
    let body = json_response(StatusCode::OK, &[br#"{"invoice":"#, &stored.json, b"}"]);
    tagged(body, stored.invoice.version)
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
    response
}
