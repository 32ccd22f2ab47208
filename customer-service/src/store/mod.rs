//! Where customers are kept: MongoDB in production, an embedded SQLite file otherwise.
//! Both backends behave the same: unique email (case-insensitive), id order, cursors, and
//! writes that succeed only on the version they read.

mod embedded;
mod mongo;

use async_trait::async_trait;
use bson::oid::ObjectId;
pub use embedded::EmbeddedCustomerStore;
pub use mongo::MongoCustomerStore;
use service_kit::events::Event;
use service_kit::store::Records;
use service_kit::{Limit, StoreError};

use crate::domain::Customer;

/// What a list asks for: its filters and where its page starts.
#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    /// Exact match on the normalised email ([`crate::domain::Email::key_of`]).
    pub email_key: Option<String>,
    /// Prefix of the lower-cased name.
    pub name_prefix: Option<String>,
    /// Only ids after this one.
    pub after: Option<ObjectId>,
    pub limit: Limit,
}

/// Customers storage. Every call is bounded in time; a backend that cannot answer says
/// [`StoreError::Unavailable`], a unique email clash says [`StoreError::Duplicate`].
#[async_trait]
pub trait CustomerStore: Records<Customer> {
    /// Stores `next` only if the stored customer is still at `current`'s version. `false`
    /// when another write came first (or it is gone).
    /// `event` is written with it, in the same write.
    async fn replace(
        &self,
        current: &Customer,
        next: &Customer,
        event: &Event,
    ) -> Result<bool, StoreError>;

    /// Deletes the customer if it is still at `current`'s version, writing `event` with the
    /// deletion. `false` when another write came first (or it is gone).
    async fn delete(&self, current: &Customer, event: &Event) -> Result<bool, StoreError>;

    /// The customers `query` selects in id order, [`Limit::overfetch`] of them at most.
    async fn list(&self, query: &CustomerQuery) -> Result<Vec<Customer>, StoreError>;
}

/// The type of a customer's creation event.
pub const CREATED: &str = "customer.created";

/// The upper bound of a prefix range: every string starting with `prefix` sorts below it.
fn prefix_upper_bound(prefix: &str) -> String {
    let mut upper = String::with_capacity(prefix.len() + 4);
    upper.push_str(prefix);
    upper.push(char::MAX);
    upper
}
