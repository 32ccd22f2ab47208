//! The in-process cache used when no `REDIS_URL` is set (one instance only).

use std::time::{Duration, Instant};

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

pub struct LocalCache {
    entries: Cache<ObjectId, Entry>,
}

impl LocalCache {
    pub fn new(max_entries: u64) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(max_entries)
                .expire_after(EntryTtl)
                .build(),
        }
    }

    pub async fn get(&self, id: ObjectId) -> Lookup {
        match self.entries.get(&id).await {
            Some(entry) if entry.payload.is_empty() => Lookup::Absent,
            Some(entry) => Lookup::Hit(entry.payload),
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
