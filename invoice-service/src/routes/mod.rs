//! The HTTP surface of invoice-service.

pub(crate) mod invoices;
pub(crate) mod ready;

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::routing::{get, post};
use service_kit::http::Guards;

use crate::cache::{InvoiceCache, ReadThrough, Ttl};
use crate::customers::CustomerDirectory;
use crate::store::InvoiceStore;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn InvoiceStore>,
    pub cache: Arc<InvoiceCache>,
    pub reads: Arc<ReadThrough>,
    pub customers: Arc<CustomerDirectory>,
    pub ttl: Ttl,
}

pub fn router(state: AppState, guards: Guards) -> Router {
    let reads = state.reads.clone();
    let extra_metrics: service_kit::http::ExtraMetrics = Arc::new(move |text: &mut String| {
        let _ = write!(
            text,
            "# HELP invoice_instance_store_reads Store reads made by GET /invoices/{{id}} on this instance.\n\
             # TYPE invoice_instance_store_reads counter\n\
             invoice_instance_store_reads {}\n",
            reads.store_reads.load(Ordering::Relaxed)
        );
    });
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
        );
    let router = service_kit::http::guard(business, guards)
        .route("/ready", get(ready::ready))
        .merge(crate::openapi::docs_routes())
        .with_state(state);
    service_kit::http::finish(router, "invoice-service", Some(extra_metrics))
}
