//! The HTTP surface of invoice-service: routes extract, call the application layer and
//! answer.

pub mod documents;
pub mod dto;
pub mod invoices;
pub mod openapi;
pub mod ready;
pub mod responses;
pub mod schemas;

use axum::Router;
use axum::routing::{get, post};
use service_kit::http::Guards;

use crate::app::Invoices;

/// Every route; handlers reach the use cases as their state.
pub fn router(invoices: Invoices, guards: Guards) -> Router {
    let business = Router::new()
        .route(
            "/invoices",
            get(invoices::list_invoices).post(invoices::create_invoice),
        )
        .route(
            "/invoices/{id}",
            get(invoices::get_invoice)
                .patch(invoices::update_invoice)
                .delete(invoices::delete_invoice),
        )
        .route("/invoices/{id}/finalize", post(invoices::finalize_invoice))
        .route("/invoices/{id}/pay", post(invoices::pay_invoice))
        .route("/invoices/{id}/void", post(invoices::void_invoice))
        .route(
            "/invoices/{id}/mark_uncollectible",
            post(invoices::mark_invoice_uncollectible),
        )
        .route("/invoices/{id}/pdf", get(documents::get_invoice_pdf))
        .merge(service_kit::events::http::routes(invoices.events().clone()));
    // The customer's links: the token in the path is the credential, so no API key.
    // Anything else under `/i` is the same bare 404 a wrong token gets.
    let hosted = Router::new()
        .route("/assets/{file}", get(documents::hosted_font))
        .route("/{id}/{token}", get(documents::hosted_page))
        .route("/{id}/{token}/pdf", get(documents::hosted_pdf))
        .fallback(documents::hosted_not_found);
    let hosted = Router::new().nest("/i", hosted);
    #[cfg(feature = "test-hooks")]
    let extra_metrics = Some(instance_metrics(&invoices));
    #[cfg(not(feature = "test-hooks"))]
    let extra_metrics = None;
    service_kit::http::service_router(
        crate::SERVICE,
        business,
        hosted,
        get(ready::ready),
        <openapi::ApiDoc as utoipa::OpenApi>::openapi(),
        guards,
        invoices,
        extra_metrics,
    )
}

/// `invoice_instance_store_reads`: this instance's store reads, for tests that run many
/// instances in one process (the process-wide counters add them all up).
#[cfg(feature = "test-hooks")]
fn instance_metrics(invoices: &Invoices) -> service_kit::http::ExtraMetrics {
    use std::fmt::Write;
    let invoices = invoices.clone();
    std::sync::Arc::new(move |text: &mut String| {
        let _ = write!(
            text,
            "# HELP invoice_instance_store_reads Store reads made by GET /invoices/{{id}} on this instance.\n\
             # TYPE invoice_instance_store_reads counter\n\
             invoice_instance_store_reads {}\n",
            invoices.reads().hooks().store_reads()
        );
    })
}
