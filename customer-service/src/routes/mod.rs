//! The HTTP surface of customer-service.

pub(crate) mod customers;
pub(crate) mod ready;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use service_kit::http::Guards;

use crate::store::CustomerStore;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn CustomerStore>,
}

pub fn router(state: AppState, guards: Guards) -> Router {
    let business = Router::new()
        .route(
            "/customers",
            get(customers::list_customers).post(customers::create_customer),
        )
        .route(
            "/customers/{id}",
            get(customers::get_customer)
                .put(customers::update_customer)
                .patch(customers::update_customer)
                .delete(customers::delete_customer),
        );
    let router = service_kit::http::guard(business, guards)
        .route("/ready", get(ready::ready))
        .merge(crate::openapi::docs_routes())
        .with_state(state);
    service_kit::http::finish(router, "customer-service", None)
}
