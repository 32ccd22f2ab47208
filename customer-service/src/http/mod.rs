//! The HTTP surface of customer-service: routes extract, call the application layer and
//! answer.

pub mod customers;
pub mod dto;
pub mod openapi;
pub mod ready;

use axum::Router;
use axum::routing::get;
use service_kit::http::Guards;

use crate::app::Customers;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub customers: Customers,
    /// The store's name as `/ready` gives it.
    pub store_name: &'static str,
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
        .merge(openapi::docs_routes())
        .with_state(state);
    service_kit::http::finish(router, crate::SERVICE, None)
}
