//! customer-service: customers of the billing system over HTTP, kept in MongoDB or, with no
//! `MONGODB_URI`, in an embedded SQLite file.

pub mod app;
pub mod domain;
pub mod error;
pub mod http;
pub mod seed;
pub mod settings;
pub mod store;

use std::sync::Arc;

use service_kit::{App, Backend, Opener};
pub use settings::Settings;

use crate::app::Customers;
use crate::store::{CustomerStore, EmbeddedCustomerStore, MongoCustomerStore};

pub const SERVICE: &str = "customer-service";

/// Builds the service on its configured port; it runs when the caller calls
/// [`App::run_until`]. Starts even while MongoDB is down.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let settings = settings.common;
    let backend = Backend::<dyn CustomerStore>::open(
        SERVICE,
        &settings,
        Opener {
            mongo: |database| Arc::new(MongoCustomerStore::new(database)) as Arc<dyn CustomerStore>,
            embedded: |dir: &std::path::Path| {
                let store = EmbeddedCustomerStore::open(dir)?;
                let database = store.database();
                Ok((Arc::new(store) as Arc<dyn CustomerStore>, database))
            },
        },
    )
    .await?;
    if settings.seed_sample_data {
        seed::in_background(backend.store.clone())?;
    }
    let state = http::AppState {
        customers: Customers::new(backend.store.clone()),
        store_name: backend.name,
    };
    let router = http::router(state, backend.guards(&settings));
    backend.bind(SERVICE, &settings, router).await
}
