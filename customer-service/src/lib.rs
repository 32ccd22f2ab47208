//! customer-service: customers of the billing system over HTTP, kept in MongoDB or, with no
//! `MONGODB_URI`, in an embedded SQLite file.

pub mod config;
pub mod domain;
pub mod error;
pub mod openapi;
pub mod routes;
pub mod seed;
pub mod store;

use std::sync::Arc;

pub use config::Settings;
use service_kit::App;
use service_kit::http::Guards;
use service_kit::idempotency::{
    EmbeddedIdempotencyStore, Idempotency, IdempotencyStore, MongoIdempotencyStore,
};
use service_kit::rate_limit::KeyedLimiter;

use crate::routes::AppState;
use crate::store::{CustomerStore, EmbeddedCustomerStore, MongoCustomerStore};

/// Builds the service on its configured port; it runs when the caller calls
/// [`App::run_until`]. Starts even while MongoDB is down.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let (store, idempotency_keys, mongo) = open_store(&settings).await?;
    if settings.seed_sample_data {
        seed::in_background(store.clone())?;
    }
    let guards = Guards {
        api_keys: settings.api_keys.clone(),
        rate_limit: KeyedLimiter::new(settings.rate_limit),
        idempotency: Idempotency {
            store: idempotency_keys,
            dependency: store.name(),
        },
    };
    let router = routes::router(AppState { store }, guards);
    let app = App::bind("customer-service", &settings.host, settings.port, router).await?;
    Ok(match mongo {
        Some(client) => app.on_stop(service_kit::mongo::shut_down(client)),
        None => app,
    })
}

/// The service's store, where idempotency keys are kept beside it, and the MongoDB client
/// to close at shutdown.
async fn open_store(
    settings: &Settings,
) -> anyhow::Result<(
    Arc<dyn CustomerStore>,
    Arc<dyn IdempotencyStore>,
    Option<mongodb::Client>,
)> {
    Ok(match &settings.mongodb_uri {
        Some(uri) => {
            let client = service_kit::mongo::client(uri, "customer-service").await?;
            tracing::info!(db = %settings.mongodb_db, "customers in MongoDB");
            let database = client.database(&settings.mongodb_db);
            let keys = Arc::new(MongoIdempotencyStore::new(&database));
            (
                Arc::new(MongoCustomerStore::new(database)),
                keys,
                Some(client),
            )
        }
        None => {
            tracing::info!(dir = %settings.data_dir.display(), "customers in the embedded store");
            let store = EmbeddedCustomerStore::open(&settings.data_dir)?;
            let keys = Arc::new(EmbeddedIdempotencyStore::new(store.database()).await?);
            (Arc::new(store), keys, None)
        }
    })
}
