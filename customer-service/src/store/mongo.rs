use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::{Document, doc};
use chrono::{DateTime, Utc};
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};
use service_kit::mongo::{Indexes, bounded, find_page, index, insert_all_if_empty, unique_index};
use service_kit::{Metadata, StoreError};

use super::{CustomerFilter, CustomerStore, prefix_upper_bound};
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
    database: Database,
    customers: Collection<CustomerDocument>,
    indexes: Indexes,
}

impl MongoCustomerStore {
    pub fn new(database: Database) -> Self {
        let customers = database.collection("customers");
        let indexes = Indexes::new(
            &customers,
            vec![
                unique_index(
                    doc! {"email_normalized": 1},
                    "email_normalized_unique",
                    None,
                ),
                // Single-field: the MongoDB wire server the tests run on cannot index `_id`
                // in a compound key. MongoDB still walks `_id` order from it for the cursor.
                index(doc! {"name_lower": 1}, "name_lower"),
            ],
        );
        Self {
            database,
            customers,
            indexes,
        }
    }
}

#[async_trait]
impl CustomerStore for MongoCustomerStore {
    async fn ping(&self) -> Result<(), StoreError> {
        bounded(self.database.run_command(doc! {"ping": 1})).await?;
        self.indexes.ensure().await
    }

    async fn insert(&self, customer: &Customer) -> Result<(), StoreError> {
        self.indexes.ensure().await?;
        bounded(self.customers.insert_one(CustomerDocument::from(customer))).await?;
        Ok(())
    }

    async fn get(&self, id: ObjectId) -> Result<Option<Customer>, StoreError> {
        let found = bounded(self.customers.find_one(doc! {"_id": id})).await?;
        Ok(found.map(Customer::from))
    }

    /// A whole-document replace keeps every field's BSON type and lets the unique email
    /// index refuse the write.
    async fn replace(&self, current: &Customer, next: &Customer) -> Result<bool, StoreError> {
        self.indexes.ensure().await?;
        let unchanged = doc! {"_id": current.id, "version": current.version};
        let result = bounded(
            self.customers
                .replace_one(unchanged, CustomerDocument::from(next)),
        )
        .await?;
        Ok(result.matched_count == 1)
    }

    async fn delete(&self, id: ObjectId) -> Result<bool, StoreError> {
        let result = bounded(self.customers.delete_one(doc! {"_id": id})).await?;
        Ok(result.deleted_count == 1)
    }

    async fn list(
        &self,
        filter: &CustomerFilter,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Result<Vec<Customer>, StoreError> {
        let mut query = Document::new();
        if let Some(email_key) = &filter.email_key {
            query.insert("email_normalized", email_key);
        }
        if let Some(prefix) = &filter.name_prefix {
            query.insert(
                "name_lower",
                doc! {"$gte": prefix, "$lt": prefix_upper_bound(prefix)},
            );
        }
        let documents = find_page(&self.customers, query, after, limit).await?;
        Ok(documents.into_iter().map(Customer::from).collect())
    }

    async fn seed(&self, customers: &[Customer]) -> Result<usize, StoreError> {
        self.indexes.ensure().await?;
        let documents = customers.iter().map(CustomerDocument::from).collect();
        insert_all_if_empty(&self.customers, documents).await
    }
}
