//! customer-service: customers of the billing system over HTTP, kept in MongoDB or, with no
//! `MONGODB_URI`, in an embedded SQLite file.

pub mod app;
pub mod domain;
pub mod error;
pub mod http;
pub mod seed;
pub mod settings;
pub mod store;

use service_kit::App;
pub use settings::Settings;

use crate::app::Customers;
use crate::store::{CustomerStore, EmbeddedCustomerStore, MongoCustomerStore};

pub const SERVICE: &str = "customer-service";

/// Builds the service on its configured port; it runs when the caller calls
/// [`App::run_until`]. Starts even while MongoDB is down.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let settings = settings.common;
    let mut backend = service_kit::open_backend!(
        SERVICE,
        &settings,
        MongoCustomerStore | EmbeddedCustomerStore => dyn CustomerStore
    )?;
    if settings.seed_sample_data {
        let customers = service_kit::seed::parse(seed::SAMPLE)?;
        service_kit::seed::in_background("customers", backend.store.clone(), customers);
    }
    let events = backend.events(&settings, "customers", None, app::EVENT_TYPES)?;
    let customers = Customers::new(backend.store.clone(), backend.name, events);
    let router = http::router(customers, backend.guards(&settings));
    backend.bind(SERVICE, &settings, router).await
}
