//! What the stores hold: every invoice and customer read straight from MongoDB, and the
//! lookups the invariants make in them.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use bson::{Bson, Document, doc};
use futures::TryStreamExt;

use crate::outcome::{Op, Outcome};

/// An invoice as MongoDB holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvoice {
    pub id: String,
    pub number: Option<String>,
    pub status: String,
    pub metadata: BTreeMap<String, String>,
    pub updated_ms: i64,
}

/// A customer as MongoDB holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCustomer {
    pub id: String,
    pub email: String,
    pub metadata: BTreeMap<String, String>,
}

/// Both stores, read at one moment.
#[derive(Debug, Default)]
pub struct StoreView {
    pub invoices: Vec<StoredInvoice>,
    pub customers: Vec<StoredCustomer>,
}

fn text(document: &Document, key: &str) -> Option<String> {
    match document.get(key) {
        Some(Bson::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn string_map(document: &Document, key: &str) -> BTreeMap<String, String> {
    match document.get(key) {
        Some(Bson::Document(map)) => map
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn id_of(document: &Document) -> String {
    match document.get("_id") {
        Some(Bson::ObjectId(id)) => id.to_hex(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Reads every invoice and customer straight from MongoDB.
pub async fn read_store(
    client: &mongodb::Client,
    invoice_db: &str,
    customer_db: &str,
) -> anyhow::Result<StoreView> {
    let invoices = read_all(client, invoice_db, "invoices").await?;
    let customers = read_all(client, customer_db, "customers").await?;
    Ok(StoreView {
        invoices: invoices
            .iter()
            .map(|d| StoredInvoice {
                id: id_of(d),
                number: text(d, "number"),
                status: text(d, "status").unwrap_or_default(),
                metadata: string_map(d, "metadata"),
                updated_ms: d
                    .get_datetime("updated_at")
                    .map_or(0, |t| t.timestamp_millis()),
            })
            .collect(),
        customers: customers
            .iter()
            .map(|d| StoredCustomer {
                id: id_of(d),
                email: text(d, "email").unwrap_or_default(),
                metadata: string_map(d, "metadata"),
            })
            .collect(),
    })
}

/// Every live document of `database.collection` (not the tombstones a deletion leaves until
/// its event is relayed).
async fn read_all(
    client: &mongodb::Client,
    database: &str,
    collection: &str,
) -> anyhow::Result<Vec<Document>> {
    client
        .database(database)
        .collection::<Document>(collection)
        .find(doc! {"deleted": {"$ne": true}})
        .await
        .with_context(|| format!("cannot read the {collection}"))?
        .try_collect()
        .await
        .with_context(|| format!("cannot read the {collection}"))
}

/// Ids of the documents whose `metadata[key]` is each value.
fn by_tag<'a>(
    documents: impl Iterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
    key: &str,
) -> HashMap<String, Vec<String>> {
    let mut index: HashMap<String, Vec<String>> = HashMap::new();
    for (id, metadata) in documents {
        if let Some(tag) = metadata.get(key) {
            index.entry(tag.clone()).or_default().push(id.to_owned());
        }
    }
    index
}

/// The stores indexed by id and by tag, as the invariants look things up.
pub(super) struct Stored<'a> {
    invoices: HashMap<&'a str, &'a StoredInvoice>,
    customers: HashMap<&'a str, &'a StoredCustomer>,
    invoice_rk: HashMap<String, Vec<String>>,
    invoice_ik: HashMap<String, Vec<String>>,
    customer_rk: HashMap<String, Vec<String>>,
    customer_ik: HashMap<String, Vec<String>>,
}

impl<'a> Stored<'a> {
    pub(super) fn of(store: &'a StoreView) -> Self {
        let invoice_tags = |key| {
            by_tag(
                store.invoices.iter().map(|i| (i.id.as_str(), &i.metadata)),
                key,
            )
        };
        let customer_tags = |key| {
            by_tag(
                store.customers.iter().map(|c| (c.id.as_str(), &c.metadata)),
                key,
            )
        };
        Self {
            invoices: store.invoices.iter().map(|i| (i.id.as_str(), i)).collect(),
            customers: store.customers.iter().map(|c| (c.id.as_str(), c)).collect(),
            invoice_rk: invoice_tags("rk"),
            invoice_ik: invoice_tags("ik"),
            customer_rk: customer_tags("rk"),
            customer_ik: customer_tags("ik"),
        }
    }

    pub(super) fn invoice(&self, id: &str) -> Option<&'a StoredInvoice> {
        self.invoices.get(id).copied()
    }

    /// `metadata.rw` of the invoice: the value of the last patch it took.
    pub(super) fn patched(&self, id: &str) -> Option<&'a str> {
        self.invoice(id)
            .and_then(|i| i.metadata.get("rw"))
            .map(String::as_str)
    }

    /// Ids of what the creates of `op` tagged `tag` left in the store: `metadata.rk` of a
    /// plain create, `metadata.ik` (the `Idempotency-Key`) of a keyed one.
    pub(super) fn created(&self, op: Op, tag: &str) -> &[String] {
        let index = match op {
            Op::CreateInvoice => &self.invoice_rk,
            Op::IdempotentInvoice => &self.invoice_ik,
            Op::IdempotentCustomer => &self.customer_ik,
            _ => &self.customer_rk,
        };
        index.get(tag).map_or(&[], Vec::as_slice)
    }

    /// Whether the create `outcome` (tagged `rk = tag`) is there: its id, with its tag.
    pub(super) fn holds_create(&self, outcome: &Outcome, tag: &str) -> bool {
        let id = outcome.created_id.as_deref().unwrap_or_default();
        let metadata = if outcome.op == Op::CreateInvoice {
            self.invoices.get(id).map(|i| &i.metadata)
        } else {
            self.customers.get(id).map(|c| &c.metadata)
        };
        metadata.is_some_and(|m| m.get("rk").map(String::as_str) == Some(tag))
    }
}
