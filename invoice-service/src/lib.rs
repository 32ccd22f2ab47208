//! invoice-service: invoices of the billing system over HTTP, kept in MongoDB (or an
//! embedded SQLite file) and read through Redis (or an in-process cache).

pub mod cache;
pub mod config;
pub mod customers;
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

use crate::cache::{InvoiceCache, LocalCache, ReadThrough, RedisCache, Ttl};
use crate::customers::CustomerDirectory;
use crate::routes::AppState;
use crate::store::{EmbeddedInvoiceStore, InvoiceStore, MongoInvoiceStore};

/// Entries the in-process cache keeps at most.
const LOCAL_CACHE_ENTRIES: u64 = 100_000;

/// Builds the service on its configured port; it runs when the caller calls
/// [`App::run_until`]. Starts even while MongoDB, Redis and customer-service are down.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let (store, idempotency_keys, mongo) = open_store(&settings).await?;
    if settings.seed_sample_data {
        seed::in_background(store.clone())?;
    }
    let cache = Arc::new(match &settings.redis_url {
        Some(url) => {
            tracing::info!("invoice cache in Redis");
            InvoiceCache::Redis(RedisCache::new(url, settings.cache_key_prefix.clone())?)
        }
        None => {
            tracing::info!("invoice cache in process");
            InvoiceCache::Local(LocalCache::new(LOCAL_CACHE_ENTRIES))
        }
    });
    let ttl = Ttl::new(settings.cache_ttl);
    let reads = Arc::new(ReadThrough::new(
        store.clone(),
        cache.clone(),
        ttl,
        settings.before_cache_fill.clone(),
    ));
    let customers = Arc::new(CustomerDirectory::new(
        &settings.customer_service_url,
        settings.customer_service_api_key.clone(),
    )?);
    let guards = Guards {
        api_keys: settings.api_keys.clone(),
        rate_limit: KeyedLimiter::new(settings.rate_limit),
        idempotency: Idempotency {
            store: idempotency_keys,
            dependency: store.name(),
        },
    };
    let router = routes::router(
        AppState {
            store,
            cache,
            reads,
            customers,
            ttl,
        },
        guards,
    );
    let app = App::bind("invoice-service", &settings.host, settings.port, router).await?;
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
    Arc<dyn InvoiceStore>,
    Arc<dyn IdempotencyStore>,
    Option<mongodb::Client>,
)> {
    Ok(match &settings.mongodb_uri {
        Some(uri) => {
            let client = service_kit::mongo::client(uri, "invoice-service").await?;
            tracing::info!(db = %settings.mongodb_db, "invoices in MongoDB");
            let database = client.database(&settings.mongodb_db);
            let keys = Arc::new(MongoIdempotencyStore::new(&database));
            (
                Arc::new(MongoInvoiceStore::new(database)),
                keys,
                Some(client),
            )
        }
        None => {
            tracing::info!(dir = %settings.data_dir.display(), "invoices in the embedded store");
            let store = EmbeddedInvoiceStore::open(&settings.data_dir)?;
            let keys = Arc::new(EmbeddedIdempotencyStore::new(store.database()).await?);
            (Arc::new(store), keys, None)
        }
    })
}
