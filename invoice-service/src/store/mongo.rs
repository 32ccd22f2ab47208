use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::{Document, doc};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use service_kit::mongo::{Database, Documents, index, opt_datetime, unique_index};
use service_kit::store::Records;
use service_kit::{Metadata, StoreError};

use service_kit::events::Event;

use super::{CREATED, EventOf, InvoiceQuery, InvoiceStore, Numbered};
use crate::domain::{Currency, Invoice, LineItem, Status};

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
    #[serde(with = "service_kit::id::hex")]
    customer_id: ObjectId,
    customer_name: String,
    customer_email: String,
    currency: Currency,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hosted_invoice_url: Option<String>,
    version: i64,
}

impl From<&Invoice> for InvoiceDocument {
    fn from(i: &Invoice) -> Self {
        Self {
            id: i.id,
            number: i.number.clone(),
            number_seq: i.number.as_deref().and_then(Invoice::sequence_of),
            customer_id: i.customer_id,
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
            hosted_invoice_url: i.hosted_invoice_url.clone(),
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
            hosted_invoice_url: d.hosted_invoice_url,
            version: d.version,
        }
    }
}

/// How many times finalize tries the next number when racing other finalizes.
const MAX_NUMBER_ATTEMPTS: usize = 64;

/// Invoices in the `invoices` collection.
pub struct MongoInvoiceStore {
    invoices: Documents<InvoiceDocument>,
}

impl MongoInvoiceStore {
    pub fn new(database: Database) -> Self {
        let indexes = vec![
            index(doc! {"customer_id": 1}, "customer_id"),
            // Supports the hashed shard key: `sh.shardCollection` on a collection that holds
            // data needs it built already.
            index(doc! {"customer_id": "hashed"}, "customer_id_hashed"),
            index(doc! {"status": 1}, "status"),
            index(doc! {"number_seq": 1}, "number_seq"),
            unique_index(
                doc! {"number": 1},
                "number_unique",
                Some(doc! {"number": {"$type": "string"}}),
            ),
        ];
        Self {
            invoices: Documents::new(&database, "invoices", indexes),
        }
    }

    async fn highest_sequence(&self) -> Result<i64, StoreError> {
        let highest = self
            .invoices
            .first(doc! {"number_seq": {"$gt": 0_i64}}, doc! {"number_seq": -1})
            .await?;
        Ok(highest.and_then(|d| d.number_seq).unwrap_or(0))
    }

    fn unchanged(current: &Invoice) -> Document {
        doc! {"_id": current.id, "version": current.version, "status": current.status.as_str()}
    }
}

#[async_trait]
impl Records<Invoice> for MongoInvoiceStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.invoices.ping().await
    }

    async fn insert(&self, invoice: &Invoice, event: &Event) -> Result<(), StoreError> {
        self.invoices.insert(&invoice.into(), event).await
    }

    async fn get(&self, id: ObjectId) -> Result<Option<Invoice>, StoreError> {
        Ok(self.invoices.find(id).await?.map(Invoice::from))
    }

    async fn seed(&self, invoices: &[Invoice]) -> Result<usize, StoreError> {
        let documents = invoices
            .iter()
            .map(|i| Ok((InvoiceDocument::from(i), Event::seeded(CREATED, i.id, i)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.invoices.seed(documents).await
    }
}

#[async_trait]
impl InvoiceStore for MongoInvoiceStore {
    async fn list(&self, query: &InvoiceQuery) -> Result<Vec<Invoice>, StoreError> {
        let mut filter = Document::new();
        if let Some(customer_id) = query.customer_id {
            filter.insert("customer_id", customer_id.to_hex());
        }
        if let Some(status) = query.status {
            filter.insert("status", status.as_str());
        }
        let documents = self
            .invoices
            .page(filter, query.after, query.limit.overfetch())
            .await?;
        Ok(documents.into_iter().map(Invoice::from).collect())
    }

    async fn replace(
        &self,
        current: &Invoice,
        next: &Invoice,
        event: &Event,
    ) -> Result<bool, StoreError> {
        self.invoices
            .replace(Self::unchanged(current), &next.into(), event)
            .await
    }

    /// The next number is the highest assigned plus one; the unique index on `number`
    /// refuses a second invoice with it, and the loser tries the number after. Nothing is
    /// taken before the write succeeds, so no failure leaves a gap.
    async fn finalize(&self, current: &Invoice, next: Invoice, event_of: EventOf) -> Numbered {
        let mut next = next;
        for _ in 0..MAX_NUMBER_ATTEMPTS {
            let sequence = self.highest_sequence().await? + 1;
            next.number = Some(Invoice::number_for(sequence));
            match self.replace(current, &next, &event_of(&next)?).await {
                Ok(true) => return Ok(Some(next)),
                Ok(false) => return Ok(None),
                Err(StoreError::Duplicate) => continue,
                Err(error) => return Err(error),
            }
        }
        // Other finalizes kept taking the next number first: contention, like a lost race.
        Ok(None)
    }

    async fn delete(&self, current: &Invoice, event: &Event) -> Result<bool, StoreError> {
        self.invoices
            .delete(
                Self::unchanged(current),
                current.version + 1,
                doc! {},
                event,
            )
            .await
    }
}
