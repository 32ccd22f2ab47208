//! The in-process cache used when no `REDIS_URL` is set (one instance only).

use std::time::{Duration, Instant};

use axum::body::Bytes;
use bson::oid::ObjectId;
use moka::Expiry;
use moka::future::Cache;
use moka::ops::compute::Op;

use super::{Entry, Lookup};

struct EntryTtl;

impl Expiry<ObjectId, Entry> for EntryTtl {
    fn expire_after_create(&self, _: &ObjectId, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &ObjectId,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The bytes of drawn documents the in-process cache keeps at most.
const DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;

pub struct LocalCache {
    entries: Cache<ObjectId, Entry>,
    documents: Cache<(ObjectId, String), Bytes>,
}

impl LocalCache {
    pub fn new(max_entries: u64) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(max_entries)
                .expire_after(EntryTtl)
                .build(),
            documents: Cache::builder()
                .max_capacity(DOCUMENT_BYTES)
                .weigher(|_, document: &Bytes| u32::try_from(document.len()).unwrap_or(u32::MAX))
                .build(),
        }
    }

    pub async fn get_document(&self, id: ObjectId, tag: &str) -> Option<Bytes> {
        self.documents.get(&(id, tag.to_owned())).await
    }

    pub async fn put_document(&self, id: ObjectId, tag: &str, document: Bytes) {
        self.documents.insert((id, tag.to_owned()), document).await;
    }

    pub async fn get(&self, id: ObjectId) -> Lookup {
        match self.entries.get(&id).await {
            Some(entry) if entry.payload.is_empty() => Lookup::Absent,
            Some(entry) => Lookup::Hit {
                version: entry.version,
                invoice: entry.payload,
            },
            None => Lookup::Miss,
        }
    }

    /// Stores `entry` unless the cache holds the same or a newer version. Calls for one
    /// key run one at a time, so check and store are atomic.
    pub async fn put_if_newer(&self, id: ObjectId, entry: Entry) {
        self.entries
            .entry(id)
            .and_compute_with(|existing| async move {
                match existing {
                    Some(current) if current.value().version >= entry.version => Op::Nop,
                    _ => Op::Put(entry),
                }
            })
            .await;
    }
}
