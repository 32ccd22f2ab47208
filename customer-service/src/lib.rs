//! customer-service: customers of the billing system over HTTP, kept in MongoDB or, with no
//! `MONGODB_URI`, in an embedded SQLite file.

pub mod config;
pub mod domain;
pub mod error;
pub mod routes;
pub mod seed;
pub mod store;

use std::sync::Arc;

pub use config::Settings;
use service_kit::App;

use crate::routes::AppState;
use crate::store::{CustomerStore, EmbeddedCustomerStore, MongoCustomerStore};

/// Builds the service on its configured port; it runs when the caller calls
/// [`App::run_until`]. Starts even while MongoDB is down.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let store = open_store(&settings).await?;
    if settings.seed_sample_data {
        seed::in_background(store.clone());
    }
    let router = routes::router(AppState { store });
    App::bind("customer-service", &settings.host, settings.port, router).await
}

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn CustomerStore>> {
    Ok(match &settings.mongodb_uri {
        Some(uri) => {
            let client = service_kit::mongo::client(uri, "customer-service").await?;
            tracing::info!(db = %settings.mongodb_db, "customers in MongoDB");
            Arc::new(MongoCustomerStore::new(
                client.database(&settings.mongodb_db),
            ))
        }
        None => {
            tracing::info!(dir = %settings.data_dir.display(), "customers in the embedded store");
            Arc::new(EmbeddedCustomerStore::open(&settings.data_dir)?)
        }
    })
}
