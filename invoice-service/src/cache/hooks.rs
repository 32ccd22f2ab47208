//! Hooks only the tests use, compiled in with the `test-hooks` feature alone: a pause
//! between a store read and its cache fill (to race a writer against a slow reader), and a
//! count of this instance's store reads (tests run many instances in one process, which
//! share the process-wide metrics).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bson::oid::ObjectId;
use futures::future::BoxFuture;

/// Runs after the store read and before the cache fill.
pub type BeforeFill = Arc<dyn Fn(ObjectId) -> BoxFuture<'static, ()> + Send + Sync>;

#[derive(Default)]
pub struct TestHooks {
    pub before_fill: Option<BeforeFill>,
    store_reads: AtomicU64,
}

impl TestHooks {
    pub fn new(before_fill: Option<BeforeFill>) -> Self {
        Self {
            before_fill,
            store_reads: AtomicU64::new(0),
        }
    }

    pub(super) fn count_store_read(&self) {
        self.store_reads.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) async fn before_fill(&self, id: ObjectId) {
        if let Some(hook) = &self.before_fill {
            hook(id).await;
        }
    }

    /// Store reads made for `GET /invoices/{id}` by this instance.
    pub fn store_reads(&self) -> u64 {
        self.store_reads.load(Ordering::Relaxed)
    }
}
