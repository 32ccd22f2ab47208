//! Where customers are kept: MongoDB in production, an embedded SQLite file otherwise.
//! Both backends behave the same: unique email (case-insensitive), id order, cursors, and
//! writes that succeed only on the version they read.

mod embedded;
mod mongo;

use async_trait::async_trait;
use bson::oid::ObjectId;
pub use embedded::EmbeddedCustomerStore;
pub use mongo::MongoCustomerStore;
use service_kit::StoreError;

use crate::domain::Customer;

/// The list filters of `GET /customers`.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Exact match on the normalised email.
    pub email_key: Option<String>,
    /// Prefix of the lower-cased name.
    pub name_prefix: Option<String>,
}

/// Customers storage. Every call is bounded in time; a backend that cannot answer says
/// [`StoreError::Unavailable`], a unique email clash says [`StoreError::Duplicate`].
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    /// Answers when the backend can serve (and has its indexes).
    async fn ping(&self) -> Result<(), StoreError>;

    async fn insert(&self, customer: &Customer) -> Result<(), StoreError>;

    async fn get(&self, id: ObjectId) -> Result<Option<Customer>, StoreError>;

    /// Stores `next` only if the stored customer is still at `current`'s version. `false`
    /// when another write came first (or it is gone).
    async fn replace(&self, current: &Customer, next: &Customer) -> Result<bool, StoreError>;

    /// `false` when there was no such customer.
    async fn delete(&self, id: ObjectId) -> Result<bool, StoreError>;

    /// Up to `limit` customers with ids after `after`, in id order.
    async fn list(
        &self,
        filter: &CustomerFilter,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Result<Vec<Customer>, StoreError>;

    /// Loads `customers` when the store is empty; never twice.
    async fn seed(&self, customers: &[Customer]) -> Result<usize, StoreError>;
}

/// The upper bound of a prefix range: every string starting with `prefix` sorts below it.
fn prefix_upper_bound(prefix: &str) -> String {
    let mut upper = String::with_capacity(prefix.len() + 4);
    upper.push_str(prefix);
    upper.push(char::MAX);
    upper
}
