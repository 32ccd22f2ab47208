use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::{Document, doc};
use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use service_kit::mongo::{bounded, insert_all_if_empty, opt_datetime};
use service_kit::{Metadata, StoreError};

use super::{InvoiceFilter, InvoiceStore};
use crate::domain::{Invoice, LineItem, Status};

/// An invoice as MongoDB keeps it: the API fields, the number as an integer for the
/// "next number" query, and the write version. Money is Int64, never Decimal128 or double.
#[derive(Debug, Serialize, Deserialize)]
struct InvoiceDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number_seq: Option<i64>,
    customer_id: String,
    customer_name: String,
    customer_email: String,
    currency: String,
    items: Vec<LineItem>,
    subtotal: i64,
    tax_rate_bps: u32,
    tax: i64,
    total: i64,
    amount_paid: i64,
    amount_due: i64,
    status: Status,
    due_date: Option<NaiveDate>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    created_at: DateTime<Utc>,
    #[serde(with = "bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    updated_at: DateTime<Utc>,
    #[serde(default, with = "opt_datetime")]
    finalized_at: Option<DateTime<Utc>>,
    #[serde(default, with = "opt_datetime")]
    paid_at: Option<DateTime<Utc>>,
    #[serde(default, with = "opt_datetime")]
    voided_at: Option<DateTime<Utc>>,
    version: i64,
}

impl From<&Invoice> for InvoiceDocument {
    fn from(i: &Invoice) -> Self {
        Self {
            id: i.id,
            number: i.number.clone(),
            number_seq: i.number.as_deref().and_then(Invoice::sequence_of),
            customer_id: i.customer_id.clone(),
            customer_name: i.customer_name.clone(),
            customer_email: i.customer_email.clone(),
            currency: i.currency.clone(),
            items: i.items.clone(),
            subtotal: i.subtotal,
            tax_rate_bps: i.tax_rate_bps,
            tax: i.tax,
            total: i.total,
            amount_paid: i.amount_paid,
            amount_due: i.amount_due,
            status: i.status,
            due_date: i.due_date,
            metadata: i.metadata.clone(),
            created_at: i.created_at,
            updated_at: i.updated_at,
            finalized_at: i.finalized_at,
            paid_at: i.paid_at,
            voided_at: i.voided_at,
            version: i.version,
        }
    }
}

impl From<InvoiceDocument> for Invoice {
    fn from(d: InvoiceDocument) -> Self {
        Self {
            id: d.id,
            number: d.number,
            customer_id: d.customer_id,
            customer_name: d.customer_name,
            customer_email: d.customer_email,
            currency: d.currency,
            items: d.items,
            subtotal: d.subtotal,
            tax_rate_bps: d.tax_rate_bps,
            tax: d.tax,
            total: d.total,
            amount_paid: d.amount_paid,
            amount_due: d.amount_due,
            status: d.status,
            due_date: d.due_date,
            metadata: d.metadata,
            created_at: d.created_at,
            updated_at: d.updated_at,
            finalized_at: d.finalized_at,
            paid_at: d.paid_at,
            voided_at: d.voided_at,
            version: d.version,
        }
    }
}

/// How many times finalize tries the next number when racing other finalizes.
const MAX_NUMBER_ATTEMPTS: usize = 64;

/// Invoices in the `invoices` collection.
pub struct MongoInvoiceStore {
    database: Database,
    invoices: Collection<InvoiceDocument>,
    indexes_ready: AtomicBool,
}

impl MongoInvoiceStore {
    pub fn new(database: Database) -> Self {
        Self {
            invoices: database.collection("invoices"),
            database,
            indexes_ready: AtomicBool::new(false),
        }
    }

    async fn ensure_indexes(&self) -> Result<(), StoreError> {
        if self.indexes_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let named = |name: &str| IndexOptions::builder().name(name.to_owned()).build();
        let indexes = [
            IndexModel::builder()
                .keys(doc! {"customer_id": 1})
                .options(named("customer_id"))
                .build(),
            IndexModel::builder()
                .keys(doc! {"status": 1})
                .options(named("status"))
                .build(),
            IndexModel::builder()
                .keys(doc! {"number_seq": 1})
                .options(named("number_seq"))
                .build(),
            IndexModel::builder()
                .keys(doc! {"number": 1})
                .options(
                    IndexOptions::builder()
                        .name("number_unique".to_owned())
                        .unique(true)
                        .partial_filter_expression(doc! {"number": {"$type": "string"}})
                        .build(),
                )
                .build(),
        ];
        bounded(self.invoices.create_indexes(indexes)).await?;
        self.indexes_ready.store(true, Ordering::Release);
        tracing::info!("invoices indexes ready");
        Ok(())
    }

    async fn highest_sequence(&self) -> Result<i64, StoreError> {
        let highest = bounded(
            self.invoices
                .find_one(doc! {"number_seq": {"$gt": 0_i64}})
                .sort(doc! {"number_seq": -1}),
        )
        .await?;
        Ok(highest.and_then(|d| d.number_seq).unwrap_or(0))
    }

    fn unchanged(current: &Invoice) -> Document {
        doc! {"_id": current.id, "version": current.version, "status": current.status.as_str()}
    }
}

#[async_trait]
impl InvoiceStore for MongoInvoiceStore {
    fn name(&self) -> &'static str {
        "MongoDB"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        bounded(self.database.run_command(doc! {"ping": 1})).await?;
        self.ensure_indexes().await
    }

    async fn insert(&self, invoice: &Invoice) -> Result<(), StoreError> {
        self.ensure_indexes().await?;
        bounded(self.invoices.insert_one(InvoiceDocument::from(invoice))).await?;
        Ok(())
    }

    async fn get(&self, id: ObjectId) -> Result<Option<Invoice>, StoreError> {
        let found = bounded(self.invoices.find_one(doc! {"_id": id})).await?;
        Ok(found.map(Invoice::from))
    }

    async fn list(
        &self,
        filter: &InvoiceFilter,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Result<Vec<Invoice>, StoreError> {
        let mut query = Document::new();
        if let Some(customer_id) = &filter.customer_id {
            query.insert("customer_id", customer_id);
        }
        if let Some(status) = filter.status {
            query.insert("status", status.as_str());
        }
        if let Some(after) = after {
            query.insert("_id", doc! {"$gt": after});
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let documents: Vec<InvoiceDocument> = bounded(async {
            self.invoices
                .find(query)
                .sort(doc! {"_id": 1})
                .limit(limit)
                .await?
                .try_collect()
                .await
        })
        .await?;
        Ok(documents.into_iter().map(Invoice::from).collect())
    }

    async fn replace(&self, current: &Invoice, next: &Invoice) -> Result<bool, StoreError> {
        let result = bounded(
            self.invoices
                .replace_one(Self::unchanged(current), InvoiceDocument::from(next)),
        )
        .await?;
        Ok(result.matched_count == 1)
    }

    /// The next number is the highest assigned plus one; the unique index on `number`
    /// refuses a second invoice with it, and the loser tries the number after. Nothing is
    /// taken before the write succeeds, so no failure leaves a gap.
    async fn replace_numbered(
        &self,
        current: &Invoice,
        mut next: Invoice,
    ) -> Result<Option<Invoice>, StoreError> {
        self.ensure_indexes().await?;
        for _ in 0..MAX_NUMBER_ATTEMPTS {
            let sequence = self.highest_sequence().await? + 1;
            next.number = Some(Invoice::number_for(sequence));
            match self.replace(current, &next).await {
                Ok(true) => return Ok(Some(next)),
                Ok(false) => return Ok(None),
                Err(StoreError::Duplicate) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Unavailable(
            "too many concurrent finalizes; try again".into(),
        ))
    }

    async fn delete(&self, current: &Invoice) -> Result<bool, StoreError> {
        let result = bounded(self.invoices.delete_one(Self::unchanged(current))).await?;
        Ok(result.deleted_count == 1)
    }

    async fn seed(&self, invoices: &[Invoice]) -> Result<usize, StoreError> {
        self.ensure_indexes().await?;
        let documents = invoices.iter().map(InvoiceDocument::from).collect();
        insert_all_if_empty(&self.invoices, documents).await
    }
}
