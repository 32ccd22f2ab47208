//! The HTTP surface of customer-service: routes extract, call the application layer and
//! answer.

pub mod customers;
pub mod dto;
pub mod openapi;
pub mod ready;
pub mod responses;
pub mod schemas;

use axum::Router;
use axum::routing::get;
use service_kit::http::Guards;

use crate::app::Customers;

/// Every route; handlers reach the use cases as their state.
pub fn router(customers: Customers, guards: Guards) -> Router {
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
        )
        .merge(service_kit::events::http::routes(
            customers.events().clone(),
        ));
    service_kit::http::service_router(
        crate::SERVICE,
        business,
        Router::new(),
        get(ready::ready),
        <openapi::ApiDoc as utoipa::OpenApi>::openapi(),
        guards,
        customers,
        None,
    )
}
