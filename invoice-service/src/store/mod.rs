//! Where invoices are kept: MongoDB (`invoice_db`, owned by this service alone) or an
//! embedded SQLite file. Every write is conditional on the version it read, so two racing
//! requests cannot both succeed; numbers are assigned gapless at finalize.

mod embedded;
mod mongo;

use async_trait::async_trait;
use bson::oid::ObjectId;
pub use embedded::EmbeddedInvoiceStore;
pub use mongo::MongoInvoiceStore;
use service_kit::events::Event;
use service_kit::store::Records;
use service_kit::{Limit, StoreError};

use crate::domain::{Invoice, Status};

/// What a list asks for: its filters and where its page starts.
#[derive(Debug, Clone, Default)]
pub struct InvoiceQuery {
    pub customer_id: Option<ObjectId>,
    pub status: Option<Status>,
    /// Only ids after this one.
    pub after: Option<ObjectId>,
    pub limit: Limit,
}

/// The type of an invoice's creation event.
pub const CREATED: &str = "invoice.created";

/// Makes the event of a change from the invoice it stores (finalize learns the number only
/// as it writes).
pub type EventOf = std::sync::Arc<dyn Fn(&Invoice) -> Result<Event, StoreError> + Send + Sync>;

/// What [`InvoiceStore::finalize`] answers: the numbered invoice, or `None` when it lost.
pub type Numbered = Result<Option<Invoice>, StoreError>;

#[async_trait]
pub trait InvoiceStore: Records<Invoice> {
    /// The invoices `query` selects in id order, [`Limit::overfetch`] of them at most.
    async fn list(&self, query: &InvoiceQuery) -> Result<Vec<Invoice>, StoreError>;

    /// Stores `next` (whose `version` is one more than `current`'s) only if the stored
    /// invoice is still `current`'s version and status. `false` when another write won.
    /// `event` is written with it, in the same write.
    async fn replace(
        &self,
        current: &Invoice,
        next: &Invoice,
        event: &Event,
    ) -> Result<bool, StoreError>;

    /// Like [`InvoiceStore::replace`] for finalize: gives `next` the next invoice number,
    /// one more than the highest assigned, in the same conditional write. `None` when
    /// another write won, or other finalizes kept taking the next number first.
    /// The event `event_of` makes of the numbered invoice is written with it.
    async fn finalize(&self, current: &Invoice, next: Invoice, event_of: EventOf) -> Numbered;

    /// Deletes the invoice if it is still `current`'s version, writing `event` with the
    /// deletion. `false` when another write won.
    async fn delete(&self, current: &Invoice, event: &Event) -> Result<bool, StoreError>;
}
