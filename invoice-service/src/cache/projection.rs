//! The cache as a consumer of the event log: every relayed change of an invoice publishes the
//! state it left, set-if-newer, from whichever instance relays it.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use service_kit::events::{Event, Projection};

use super::{Entry, InvoiceCache, Ttl};
use crate::domain::Invoice;

pub struct CacheProjection {
    cache: Arc<InvoiceCache>,
    ttl: Ttl,
}

impl CacheProjection {
    pub fn new(cache: Arc<InvoiceCache>, ttl: Ttl) -> Self {
        Self { cache, ttl }
    }

    /// What the cache holds after `event`: the invoice's JSON as the API answers it, or a
    /// tombstone after its deletion. `None` for an object that is not an invoice.
    fn entry(&self, event: &Event) -> Option<Entry> {
        let payload = if event.kind == crate::app::DELETED {
            Bytes::new()
        } else {
            let invoice: Invoice = serde_json::from_value(event.data.object.clone()).ok()?;
            Bytes::from(serde_json::to_vec(&invoice).ok()?)
        };
        Some(Entry {
            version: event.sequence,
            payload,
            ttl: self.ttl.jittered(),
        })
    }
}

#[async_trait]
impl Projection for CacheProjection {
    async fn apply(&self, event: &Event) -> bool {
        // A creation replaces nothing a reader could have cached; the first read fills it.
        if event.kind == crate::store::CREATED {
            return true;
        }
        let Some(entry) = self.entry(event) else {
            tracing::warn!(event = %event.id, "event of no invoice left out of the cache");
            return true;
        };
        self.cache.put_if_newer(event.object_id, entry).await
    }
}
