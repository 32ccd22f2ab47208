//! The use cases of customer-service: every read and every change of a customer happens
//! here, whichever way it arrives.

use std::sync::Arc;

use bson::oid::ObjectId;
use service_kit::store::{Attempt, insert_once, retry_lost_races};
use service_kit::{Limit, Page, StoreError};

use crate::domain::{Customer, CustomerChanges, Email, NewCustomer};
use crate::error::AppError;
use crate::store::{CustomerFilter, CustomerStore};

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only the customer with this email, compared as [`Email::key_of`] does.
    pub email: Option<String>,
    /// Only customers whose name starts with this, case-insensitively.
    pub name_prefix: Option<String>,
    pub after: Option<ObjectId>,
    pub limit: Limit,
}

#[derive(Clone)]
pub struct Customers {
    store: Arc<dyn CustomerStore>,
}

impl Customers {
    pub fn new(store: Arc<dyn CustomerStore>) -> Self {
        Self { store }
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Stores a new customer. `reserved_id` is the id an `Idempotency-Key` reserved: a
    /// retry whose first attempt got as far as storing it answers with that customer.
    pub async fn create(
        &self,
        new: NewCustomer,
        reserved_id: Option<ObjectId>,
    ) -> Result<Customer, AppError> {
        let customer = new.into_customer(reserved_id);
        let id = customer.id;
        Ok(insert_once(
            customer.clone(),
            reserved_id.is_some(),
            || self.store.insert(&customer),
            || self.store.get(id),
        )
        .await?)
    }

    pub async fn get(&self, id: ObjectId) -> Result<Customer, AppError> {
        self.store
            .get(id)
            .await
            .map_err(AppError::Store)?
            .ok_or(AppError::NotFound)
    }

    /// Merges `changes`, retrying when another write to the customer came first.
    pub async fn update(
        &self,
        id: ObjectId,
        changes: &CustomerChanges,
    ) -> Result<Customer, AppError> {
        if changes.is_empty() {
            return self.get(id).await;
        }
        retry_lost_races(|| async {
            let current = self.get(id).await?;
            let next = current.changed(changes);
            Ok::<_, AppError>(if self.store.replace(&current, &next).await? {
                Attempt::Won(next)
            } else {
                Attempt::Lost
            })
        })
        .await?
        .ok_or(AppError::Contended)
    }

    pub async fn delete(&self, id: ObjectId) -> Result<(), AppError> {
        if self.store.delete(id).await.map_err(AppError::Store)? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// One page of customers, in id order.
    pub async fn list(&self, query: ListQuery) -> Result<Page<Customer>, AppError> {
        let filter = CustomerFilter {
            email_key: query.email.as_deref().map(Email::key_of),
            name_prefix: query.name_prefix.as_deref().map(str::to_lowercase),
        };
        let customers = self
            .store
            .list(&filter, query.after, query.limit.get() + 1)
            .await
            .map_err(AppError::Store)?;
        Ok(Page::from_overfetch(customers, query.limit, |c| c.id))
    }
}
