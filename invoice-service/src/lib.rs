//! invoice-service: invoices of the billing system over HTTP, kept in MongoDB (or an
//! embedded SQLite file) and read through Redis (or an in-process cache).

pub mod app;
pub mod cache;
pub mod customers;
pub mod documents;
pub mod domain;
pub mod error;
pub mod http;
pub mod seed;
pub mod settings;
pub mod store;

use std::sync::Arc;

use service_kit::App;
pub use settings::Settings;

use crate::app::Invoices;
use crate::cache::{CacheProjection, InvoiceCache, LocalCache, ReadThrough, RedisCache, Ttl};
use crate::customers::CustomerDirectory;
use crate::documents::Documents;
use crate::store::{EmbeddedInvoiceStore, InvoiceStore, MongoInvoiceStore};

pub const SERVICE: &str = "invoice-service";

/// Entries the in-process cache keeps at most.
const LOCAL_CACHE_ENTRIES: u64 = 100_000;

/// Builds the service on its configured port; it runs when the caller calls
/// [`App::run_until`]. Starts even while MongoDB, Redis and customer-service are down.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let mut backend = service_kit::open_backend!(
        SERVICE,
        &settings.common,
        MongoInvoiceStore | EmbeddedInvoiceStore => dyn InvoiceStore
    )?;
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
        backend.store.clone(),
        cache.clone(),
        ttl,
        #[cfg(feature = "test-hooks")]
        cache::TestHooks::new(settings.before_cache_fill.clone()),
    ));
    let customers = Arc::new(CustomerDirectory::new(
        &settings.customer_service_url,
        settings.customer_service_api_key.clone(),
    )?);
    let documents = Arc::new(Documents::new(
        settings.seller.clone(),
        &settings.public_url(),
        cache.clone(),
    ));
    if settings.common.seed_sample_data {
        let invoices = seed::sample(&documents)?;
        service_kit::seed::in_background("invoices", backend.store.clone(), invoices);
    }
    let store = (backend.store.clone(), backend.name);
    let projection = Arc::new(CacheProjection::new(cache.clone(), ttl));
    let events = backend.events(
        &settings.common,
        "invoices",
        Some(projection),
        app::EVENT_TYPES,
    )?;
    let invoices = Invoices::new(store, cache, reads, customers, documents, (ttl, events));
    let router = http::router(invoices, backend.guards(&settings.common));
    backend.bind(SERVICE, &settings.common, router).await
}
