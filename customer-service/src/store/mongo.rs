use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::{Document, doc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::events::Event;
use service_kit::mongo::{Database, Documents, index, unique_index};
use service_kit::store::Records;
use service_kit::{Metadata, StoreError};

use super::{CREATED, CustomerQuery, CustomerStore, prefix_upper_bound};
use crate::domain::{Address, Customer, Email};

/// A customer as MongoDB keeps it: the API fields plus the keys the indexes search.
#[derive(Debug, Serialize, Deserialize)]
struct CustomerDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    name: String,
    name_lower: String,
    email: Email,
    email_normalized: String,
    phone: Option<String>,
    address: Option<Address>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    version: i64,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    created_at: DateTime<Utc>,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    updated_at: DateTime<Utc>,
}

impl From<&Customer> for CustomerDocument {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            name_lower: c.name_key(),
            email: c.email.clone(),
            email_normalized: c.email.key(),
            phone: c.phone.clone(),
            address: c.address.clone(),
            metadata: c.metadata.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }
}

impl From<CustomerDocument> for Customer {
    fn from(d: CustomerDocument) -> Self {
        Self {
            id: d.id,
            name: d.name,
            email: d.email,
            phone: d.phone,
            address: d.address,
            metadata: d.metadata,
            created_at: d.created_at,
            updated_at: d.updated_at,
            version: d.version,
        }
    }
}

/// Customers in the `customers` collection.
pub struct MongoCustomerStore {
    customers: Documents<CustomerDocument>,
}

impl MongoCustomerStore {
    pub fn new(database: Database) -> Self {
        let indexes = vec![
            unique_index(
                doc! {"email_normalized": 1},
                "email_normalized_unique",
                None,
            ),
            // Single-field: the MongoDB wire server the tests run on cannot index `_id` in a
            // compound key. MongoDB still walks `_id` order from it for the cursor.
            index(doc! {"name_lower": 1}, "name_lower"),
        ];
        Self {
            customers: Documents::new(&database, "customers", indexes),
        }
    }
}

#[async_trait]
impl Records<Customer> for MongoCustomerStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.customers.ping().await
    }

    async fn insert(&self, customer: &Customer, event: &Event) -> Result<(), StoreError> {
        self.customers.insert(&customer.into(), event).await
    }

    async fn get(&self, id: ObjectId) -> Result<Option<Customer>, StoreError> {
        Ok(self.customers.find(id).await?.map(Customer::from))
    }

    async fn seed(&self, customers: &[Customer]) -> Result<usize, StoreError> {
        let documents = customers
            .iter()
            .map(|c| Ok((CustomerDocument::from(c), Event::seeded(CREATED, c.id, c)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.customers.seed(documents).await
    }
}

#[async_trait]
impl CustomerStore for MongoCustomerStore {
    async fn replace(
        &self,
        current: &Customer,
        next: &Customer,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let unchanged = doc! {"_id": current.id, "version": current.version};
        self.customers.replace(unchanged, &next.into(), event).await
    }

    async fn delete(&self, current: &Customer, event: &Event) -> Result<bool, StoreError> {
        let unchanged = doc! {"_id": current.id, "version": current.version};
        // The tombstone frees the email for a new customer.
        let freed = doc! {"email_normalized": format!("deleted:{}", current.id.to_hex())};
        self.customers
            .delete(unchanged, current.version + 1, freed, event)
            .await
    }

    async fn list(&self, query: &CustomerQuery) -> Result<Vec<Customer>, StoreError> {
        let mut filter = Document::new();
        if let Some(email_key) = &query.email_key {
            filter.insert("email_normalized", email_key);
        }
        if let Some(prefix) = &query.name_prefix {
            filter.insert(
                "name_lower",
                doc! {"$gte": prefix, "$lt": prefix_upper_bound(prefix)},
            );
        }
        let documents = self
            .customers
            .page(filter, query.after, query.limit.overfetch())
            .await?;
        Ok(documents.into_iter().map(Customer::from).collect())
    }
}
