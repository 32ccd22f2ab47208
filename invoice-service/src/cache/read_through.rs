//! `GET /invoices/{id}`: cache first; on a miss one store read per id at a time, however
//! many requests ask at once (single flight), and a guarded fill.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use axum::body::Bytes;
use bson::oid::ObjectId;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use service_kit::StoreError;

use super::{Entry, InvoiceCache, Lookup, Ttl};
use crate::store::InvoiceStore;

/// The read path's counters, resolved once: a cache hit makes no registry lookup.
struct Counters {
    hits: metrics::Counter,
    misses: metrics::Counter,
    bypassed: metrics::Counter,
}

static COUNTERS: LazyLock<Counters> = LazyLock::new(|| Counters {
    hits: metrics::counter!("cache_hits_total"),
    misses: metrics::counter!("cache_misses_total"),
    bypassed: metrics::counter!("cache_bypassed_total"),
});

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Database,
}

/// An invoice's JSON and where it came from.
#[derive(Debug, Clone)]
pub struct Found {
    pub source: Source,
    /// The invoice's write version, its `ETag`.
    pub version: i64,
    pub invoice: Bytes,
}

type Flight = Shared<BoxFuture<'static, Result<Option<Found>, StoreError>>>;

pub struct ReadThrough {
    store: Arc<dyn InvoiceStore>,
    cache: Arc<InvoiceCache>,
    ttl: Ttl,
    in_flight: Mutex<HashMap<ObjectId, Flight>>,
    #[cfg(feature = "test-hooks")]
    hooks: super::TestHooks,
}

impl ReadThrough {
    pub fn new(
        store: Arc<dyn InvoiceStore>,
        cache: Arc<InvoiceCache>,
        ttl: Ttl,
        #[cfg(feature = "test-hooks")] hooks: super::TestHooks,
    ) -> Self {
        Self {
            store,
            cache,
            ttl,
            in_flight: Mutex::new(HashMap::new()),
            #[cfg(feature = "test-hooks")]
            hooks,
        }
    }

    /// What this instance's test hooks counted.
    #[cfg(feature = "test-hooks")]
    pub fn hooks(&self) -> &super::TestHooks {
        &self.hooks
    }

    /// The invoice's JSON, or `None` when there is no such invoice.
    pub async fn read(self: &Arc<Self>, id: ObjectId) -> Result<Option<Found>, StoreError> {
        let counters = &*COUNTERS;
        match self.cache.get(id).await {
            Ok(Lookup::Hit { version, invoice }) => {
                counters.hits.increment(1);
                return Ok(Some(Found {
                    source: Source::Cache,
                    version,
                    invoice,
                }));
            }
            Ok(Lookup::Absent) => {
                counters.hits.increment(1);
                return Ok(None);
            }
            Ok(Lookup::Miss) => counters.misses.increment(1),
            Err(_) => counters.bypassed.increment(1),
        }
        self.join_flight(id).await
    }

    async fn join_flight(self: &Arc<Self>, id: ObjectId) -> Result<Option<Found>, StoreError> {
        let flight = {
            let mut in_flight = self
                .in_flight
                .lock()
                .map_err(|_| StoreError::Internal("in-flight map poisoned".into()))?;
            in_flight
                .entry(id)
                .or_insert_with(|| {
                    let this = Arc::clone(self);
                    // Spawned, so the read and fill finish even if the first caller leaves.
                    let task = tokio::spawn(async move {
                        let result = this.load(id).await;
                        if let Ok(mut in_flight) = this.in_flight.lock() {
                            in_flight.remove(&id);
                        }
                        result
                    });
                    async move {
                        task.await.unwrap_or_else(|e| {
                            Err(StoreError::Internal(format!("read task: {e}")))
                        })
                    }
                    .boxed()
                    .shared()
                })
                .clone()
        };
        flight.await
    }

    /// One store read and a guarded fill.
    async fn load(&self, id: ObjectId) -> Result<Option<Found>, StoreError> {
        // A request that missed just before the previous flight filled the cache lands
        // here: look again before going to the store.
        if let Ok(Lookup::Hit { version, invoice }) = self.cache.get(id).await {
            return Ok(Some(Found {
                source: Source::Cache,
                version,
                invoice,
            }));
        }
        metrics::counter!("invoice_store_reads_total").increment(1);
        #[cfg(feature = "test-hooks")]
        self.hooks.count_store_read();
        let invoice = self.store.get(id).await?;
        #[cfg(feature = "test-hooks")]
        self.hooks.before_fill(id).await;
        match invoice {
            Some(invoice) => {
                let json = Bytes::from(
                    serde_json::to_vec(&invoice)
                        .map_err(|e| StoreError::Internal(format!("invoice JSON: {e}")))?,
                );
                let entry = Entry {
                    version: invoice.version,
                    payload: json.clone(),
                    ttl: self.ttl.jittered(),
                };
                self.cache.fill(id, entry).await;
                Ok(Some(Found {
                    source: Source::Database,
                    version: invoice.version,
                    invoice: json,
                }))
            }
            None => {
                let entry = Entry {
                    version: 0,
                    payload: Bytes::new(),
                    ttl: self.ttl.absent,
                };
                self.cache.fill(id, entry).await;
                Ok(None)
            }
        }
    }
}
