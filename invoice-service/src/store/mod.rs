//! Where invoices are kept: MongoDB (`invoice_db`, owned by this service alone) or an
//! embedded SQLite file. Every write is conditional on the version it read, so two racing
//! requests cannot both succeed; numbers are assigned gapless at finalize.

mod embedded;
mod mongo;

use async_trait::async_trait;
use bson::oid::ObjectId;
pub use embedded::EmbeddedInvoiceStore;
pub use mongo::MongoInvoiceStore;
use service_kit::StoreError;

use crate::domain::{Invoice, Status};

/// The list filters of `GET /invoices`.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub customer_id: Option<ObjectId>,
    pub status: Option<Status>,
}

#[async_trait]
pub trait InvoiceStore: Send + Sync + 'static {
    async fn ping(&self) -> Result<(), StoreError>;

    async fn insert(&self, invoice: &Invoice) -> Result<(), StoreError>;

    async fn get(&self, id: ObjectId) -> Result<Option<Invoice>, StoreError>;

    async fn list(
        &self,
        filter: &InvoiceFilter,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Result<Vec<Invoice>, StoreError>;

    /// Stores `next` (whose `version` is one more than `current`'s) only if the stored
    /// invoice is still `current`'s version and status. `false` when another write won.
    async fn replace(&self, current: &Invoice, next: &Invoice) -> Result<bool, StoreError>;

    /// Like [`InvoiceStore::replace`] for finalize: gives `next` the next invoice number,
    /// one more than the highest assigned, in the same conditional write. `None` when
    /// another write won, or other finalizes kept taking the next number first.
    async fn replace_numbered(
        &self,
        current: &Invoice,
        next: Invoice,
    ) -> Result<Option<Invoice>, StoreError>;

    /// Deletes the invoice if it is still `current`'s version. `false` when another write won.
    async fn delete(&self, current: &Invoice) -> Result<bool, StoreError>;

    /// Loads `invoices` when the store is empty; never twice.
    async fn seed(&self, invoices: &[Invoice]) -> Result<usize, StoreError>;
}
