//! The use cases of customer-service: every read and every change of a customer happens
//! here, whichever way it arrives, and each change writes its event in the same store write.

use std::sync::Arc;

use bson::oid::ObjectId;
use service_kit::conditional::Precondition;
use service_kit::events::{Event, Events, Origin};
use service_kit::store::{Attempt, insert_once, retry_lost_races};
use service_kit::{Page, StoreError};

use crate::domain::{Customer, CustomerChanges, NewCustomer};
use crate::error::AppError;
pub use crate::store::CustomerQuery;
use crate::store::{CREATED, CustomerStore};

/// Every event type customer-service emits.
pub const EVENT_TYPES: &[&str] = &[CREATED, UPDATED, DELETED];
const UPDATED: &str = "customer.updated";
const DELETED: &str = "customer.deleted";

#[derive(Clone)]
pub struct Customers {
    store: Arc<dyn CustomerStore>,
    store_name: &'static str,
    events: Events,
}

impl Customers {
    /// The use cases on `store`, whose name `/ready` and 503s give; `events` relays what
    /// they write.
    pub fn new(store: Arc<dyn CustomerStore>, store_name: &'static str, events: Events) -> Self {
        Self {
            store,
            store_name,
            events,
        }
    }

    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Whether the store answers, and its name.
    pub async fn ping(&self) -> (&'static str, Result<(), StoreError>) {
        (self.store_name, self.store.ping().await)
    }

    /// Stores a new customer. `reserved_id` is the id an `Idempotency-Key` reserved: a
    /// retry whose first attempt got as far as storing it answers with that customer.
    pub async fn create(
        &self,
        new: NewCustomer,
        reserved_id: Option<ObjectId>,
        origin: &Origin,
    ) -> Result<Customer, AppError> {
        let customer = new.into_customer(reserved_id);
        let id = customer.id;
        let event = Event::new(CREATED, origin, id, customer.version, &customer, None)?;
        let stored = insert_once(
            reserved_id.is_some(),
            || self.store.insert(&customer, &event),
            || self.store.get(id),
        )
        .await?;
        self.events.written();
        Ok(stored.unwrap_or(customer))
    }

    pub async fn get(&self, id: ObjectId) -> Result<Customer, AppError> {
        self.store
            .get(id)
            .await
            .map_err(AppError::Store)?
            .ok_or(AppError::NotFound)
    }

    /// Merges `changes` into the customer at a version `precondition` admits, retrying when
    /// another write to the customer came first.
    pub async fn update(
        &self,
        id: ObjectId,
        changes: &CustomerChanges,
        precondition: &Precondition,
        origin: &Origin,
    ) -> Result<Customer, AppError> {
        if changes.is_empty() {
            let current = self.get(id).await?;
            precondition.check(current.version)?;
            return Ok(current);
        }
        let updated = retry_lost_races(|| async {
            let current = self.get(id).await?;
            precondition.check(current.version)?;
            let next = current.changed(changes);
            let event = Event::new(UPDATED, origin, id, next.version, &next, Some(&current))?;
            Ok::<_, AppError>(if self.store.replace(&current, &next, &event).await? {
                Attempt::Won(next)
            } else {
                Attempt::Lost
            })
        })
        .await?
        .ok_or(AppError::Contended)?;
        self.events.written();
        Ok(updated)
    }

    /// Deletes the customer if it is at a version `precondition` admits.
    pub async fn delete(
        &self,
        id: ObjectId,
        precondition: &Precondition,
        origin: &Origin,
    ) -> Result<(), AppError> {
        retry_lost_races(|| async {
            let current = self.get(id).await?;
            precondition.check(current.version)?;
            let event = Event::new(DELETED, origin, id, current.version + 1, &current, None)?;
            Ok::<_, AppError>(if self.store.delete(&current, &event).await? {
                Attempt::Won(())
            } else {
                Attempt::Lost
            })
        })
        .await?
        .ok_or(AppError::Contended)?;
        self.events.written();
        Ok(())
    }

    /// One page of customers, in id order.
    pub async fn list(&self, query: CustomerQuery) -> Result<Page<Customer>, AppError> {
        let customers = self.store.list(&query).await.map_err(AppError::Store)?;
        Ok(Page::from_overfetch(customers, query.limit, |c| c.id))
    }
}
