use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::{Document, doc};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use service_kit::mongo::{bounded, insert_all_if_empty};
use service_kit::{Metadata, StoreError};

use super::{CustomerFilter, CustomerStore, prefix_upper_bound};
use crate::domain::{Address, Customer, CustomerChanges};

/// A customer as MongoDB keeps it: the API fields plus the keys the indexes search.
#[derive(Debug, Serialize, Deserialize)]
struct CustomerDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    name: String,
    name_lower: String,
    email: String,
    email_normalized: String,
    phone: Option<String>,
    address: Option<Address>,
    #[serde(default)]
    metadata: Metadata,
    /// Bumped by every write; updates replace the document only if it is unchanged.
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
            email_normalized: c.email_key(),
            phone: c.phone.clone(),
            address: c.address.clone(),
            metadata: c.metadata.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: 1,
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
        }
    }
}

/// How many times an update re-reads after losing a race to another writer.
const MAX_UPDATE_ATTEMPTS: usize = 8;

/// Customers in the `customers` collection.
pub struct MongoCustomerStore {
    database: Database,
    customers: Collection<CustomerDocument>,
    indexes_ready: AtomicBool,
}

impl MongoCustomerStore {
    pub fn new(database: Database) -> Self {
        Self {
            customers: database.collection("customers"),
            database,
            indexes_ready: AtomicBool::new(false),
        }
    }

    /// Creates the indexes once; retried on later calls while MongoDB is away.
    async fn ensure_indexes(&self) -> Result<(), StoreError> {
        if self.indexes_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let indexes = [
            IndexModel::builder()
                .keys(doc! {"email_normalized": 1})
                .options(
                    IndexOptions::builder()
                        .name("email_normalized_unique".to_owned())
                        .unique(true)
                        .build(),
                )
                .build(),
            // Single-field: the MongoDB wire server the tests run on cannot index `_id` in a
            // compound key. MongoDB still walks `_id` order from it for the cursor.
            IndexModel::builder()
                .keys(doc! {"name_lower": 1})
                .options(
                    IndexOptions::builder()
                        .name("name_lower".to_owned())
                        .build(),
                )
                .build(),
        ];
        bounded(self.customers.create_indexes(indexes)).await?;
        self.indexes_ready.store(true, Ordering::Release);
        tracing::info!("customers indexes ready");
        Ok(())
    }
}

#[async_trait]
impl CustomerStore for MongoCustomerStore {
    fn name(&self) -> &'static str {
        "MongoDB"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        bounded(self.database.run_command(doc! {"ping": 1})).await?;
        self.ensure_indexes().await
    }

    async fn insert(&self, customer: &Customer) -> Result<(), StoreError> {
        self.ensure_indexes().await?;
        bounded(self.customers.insert_one(CustomerDocument::from(customer))).await?;
        Ok(())
    }

    async fn get(&self, id: ObjectId) -> Result<Option<Customer>, StoreError> {
        let found = bounded(self.customers.find_one(doc! {"_id": id})).await?;
        Ok(found.map(Customer::from))
    }

    /// Read, merge, and replace only if nobody wrote in between (`version` in the filter);
    /// a lost race reads again. A whole-document replace keeps every field's BSON type and
    /// lets the unique email index refuse the write.
    async fn update(
        &self,
        id: ObjectId,
        changes: &CustomerChanges,
    ) -> Result<Option<Customer>, StoreError> {
        self.ensure_indexes().await?;
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let Some(current) = bounded(self.customers.find_one(doc! {"_id": id})).await? else {
                return Ok(None);
            };
            let version = current.version;
            let mut customer = Customer::from(current);
            customer.apply(changes);
            let mut next = CustomerDocument::from(&customer);
            next.version = version + 1;
            let filter = doc! {"_id": id, "version": version};
            let result = bounded(self.customers.replace_one(filter, next)).await?;
            if result.matched_count == 1 {
                return Ok(Some(customer));
            }
        }
        Err(StoreError::Unavailable(format!(
            "customer {id} changed {MAX_UPDATE_ATTEMPTS} times while being updated"
        )))
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
        if let Some(after) = after {
            query.insert("_id", doc! {"$gt": after});
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let documents: Vec<CustomerDocument> = bounded(async {
            self.customers
                .find(query)
                .sort(doc! {"_id": 1})
                .limit(limit)
                .await?
                .try_collect()
                .await
        })
        .await?;
        Ok(documents.into_iter().map(Customer::from).collect())
    }

    async fn seed(&self, customers: &[Customer]) -> Result<usize, StoreError> {
        self.ensure_indexes().await?;
        let documents = customers.iter().map(CustomerDocument::from).collect();
        insert_all_if_empty(&self.customers, documents).await
    }
}
