//! The invoice cache: Redis when `REDIS_URL` is set, an in-process cache otherwise.
//!
//! Every entry carries the invoice's write version, and every write to the cache is
//! "set if newer": a reader that read MongoDB before a writer committed can never put the
//! older state back (the writer left its newer version there first). Unknown ids are
//! cached briefly as "absent"; a deleted invoice leaves a versioned tombstone.

mod breaker;
mod connection;
#[cfg(feature = "test-hooks")]
mod hooks;
mod keys;
mod local;
mod projection;
mod read_through;
mod redis;

use std::time::Duration;

use axum::body::Bytes;
use bson::oid::ObjectId;
#[cfg(feature = "test-hooks")]
pub use hooks::{BeforeFill, TestHooks};
pub use local::LocalCache;
pub use projection::CacheProjection;
use rand::Rng;
pub use read_through::{Found, ReadThrough, Source};
pub use redis::RedisCache;

/// What the cache holds for an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The invoice's write version, and its JSON exactly as the API returns it.
    Hit {
        version: i64,
        invoice: Bytes,
    },
    /// Known not to exist (never created, or deleted).
    Absent,
    Miss,
}

/// A value to cache: the invoice's JSON at `version`, or absence (empty payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub version: i64,
    pub payload: Bytes,
    pub ttl: Duration,
}

/// The cache cannot be used right now; the caller goes to the store instead.
#[derive(Debug, thiserror::Error)]
#[error("cache unavailable: {0}")]
pub struct CacheUnavailable(pub String);

/// How long entries live.
#[derive(Debug, Clone, Copy)]
pub struct Ttl {
    /// For invoices and tombstones; jittered by ±10% so entries do not expire together.
    pub invoice: Duration,
    /// For ids that were not found.
    pub absent: Duration,
}

impl Ttl {
    pub fn new(invoice: Duration) -> Self {
        Self {
            invoice,
            absent: Duration::from_secs(30).min(invoice),
        }
    }

    pub fn jittered(&self) -> Duration {
        let factor = rand::rng().random_range(0.9..1.1);
        self.invoice.mul_f64(factor)
    }
}

/// The cache in front of the invoice store.
pub enum InvoiceCache {
    Redis(RedisCache),
    Local(LocalCache),
}

impl InvoiceCache {
    pub fn name(&self) -> &'static str {
        match self {
            InvoiceCache::Redis(_) => "Redis",
            InvoiceCache::Local(_) => "in-process cache",
        }
    }

    pub async fn get(&self, id: ObjectId) -> Result<Lookup, CacheUnavailable> {
        match self {
            InvoiceCache::Redis(cache) => cache.get(id).await,
            InvoiceCache::Local(cache) => Ok(cache.get(id).await),
        }
    }

    /// A reader's fill after a store read: best effort, and refused if the cache already
    /// holds this version or a newer one.
    pub async fn fill(&self, id: ObjectId, entry: Entry) {
        if !self.put_if_newer(id, entry).await {
            tracing::debug!(invoice = %id, "cache fill skipped: the cache is unavailable");
        }
    }

    /// Stores `entry` unless the cache holds this version or a newer one; `false` when the
    /// cache cannot be reached now.
    pub async fn put_if_newer(&self, id: ObjectId, entry: Entry) -> bool {
        match self {
            InvoiceCache::Redis(cache) => cache.put_if_newer(id, &entry).await.is_ok(),
            InvoiceCache::Local(cache) => {
                cache.put_if_newer(id, entry).await;
                true
            }
        }
    }

    /// A writer's new state after a committed write. Never lost: if Redis cannot take it
    /// now, it is retried, and reads bypass Redis until it has.
    pub async fn publish(&self, id: ObjectId, entry: Entry) {
        match self {
            InvoiceCache::Redis(cache) => cache.publish(id, entry).await,
            InvoiceCache::Local(cache) => cache.put_if_newer(id, entry).await,
        }
    }

    /// A drawn document of invoice `id` under its `tag`; `None` when not cached or the
    /// cache cannot be reached (the caller draws it again).
    pub async fn get_document(&self, id: ObjectId, tag: &str) -> Option<Bytes> {
        match self {
            InvoiceCache::Redis(cache) => cache.get_document(id, tag).await,
            InvoiceCache::Local(cache) => cache.get_document(id, tag).await,
        }
    }

    /// Keeps a drawn document, best effort.
    pub async fn put_document(&self, id: ObjectId, tag: &str, document: Bytes) {
        match self {
            InvoiceCache::Redis(cache) => cache.put_document(id, tag, document).await,
            InvoiceCache::Local(cache) => cache.put_document(id, tag, document).await,
        }
    }

    /// Whether the cache answers, for `/ready`.
    pub async fn ping(&self) -> bool {
        match self {
            InvoiceCache::Redis(cache) => cache.ping().await,
            InvoiceCache::Local(_) => true,
        }
    }
}
