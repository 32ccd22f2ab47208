use std::path::Path;

use async_trait::async_trait;
use bson::oid::ObjectId;
use rusqlite::{Connection, params};
use service_kit::StoreError;
use service_kit::events::{Event, write_outbox, write_with_event};
use service_kit::sqlite::{
    EmbeddedDb, query_versioned, read_versioned, to_json, write_transaction,
};
use service_kit::store::Records;

use super::{CREATED, EventOf, InvoiceQuery, InvoiceStore, Numbered};
use crate::domain::Invoice;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS invoices (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    number_seq  INTEGER UNIQUE,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_customer_id ON invoices (customer_id, id);
CREATE INDEX IF NOT EXISTS invoices_status ON invoices (status, id);
";

/// Invoices in `DATA_DIR/invoices.sqlite3`; each write is one SQLite transaction.
pub struct EmbeddedInvoiceStore {
    db: EmbeddedDb,
}

impl EmbeddedInvoiceStore {
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            db: EmbeddedDb::open(data_dir, "invoices.sqlite3", SCHEMA)?,
        })
    }

    /// The database file, for the other tables this service keeps beside its own.
    pub fn database(&self) -> EmbeddedDb {
        self.db.clone()
    }
}

fn insert_row(conn: &Connection, invoice: &Invoice) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO invoices (id, customer_id, status, number_seq, version, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            invoice.id.to_hex(),
            invoice.customer_id.to_hex(),
            invoice.status.as_str(),
            invoice.number.as_deref().and_then(Invoice::sequence_of),
            invoice.version,
            to_json(invoice)?
        ],
    )?;
    Ok(())
}

fn read_row(conn: &Connection, id: &str) -> Result<Option<Invoice>, StoreError> {
    read_versioned(conn, "SELECT body, version FROM invoices WHERE id = ?1", id)
}

fn replace_row(conn: &Connection, current: &Invoice, next: &Invoice) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE invoices SET status = ?4, number_seq = ?5, version = ?6, body = ?7
         WHERE id = ?1 AND version = ?2 AND status = ?3",
        params![
            current.id.to_hex(),
            current.version,
            current.status.as_str(),
            next.status.as_str(),
            next.number.as_deref().and_then(Invoice::sequence_of),
            next.version,
            to_json(next)?
        ],
    )?;
    Ok(changed == 1)
}

#[async_trait]
impl Records<Invoice> for EmbeddedInvoiceStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    async fn insert(&self, invoice: &Invoice, event: &Event) -> Result<(), StoreError> {
        let (invoice, event) = (invoice.clone(), event.clone());
        self.db
            .call(move |conn| {
                write_with_event(conn, &event, |tx| insert_row(tx, &invoice).map(|()| true))
                    .map(drop)
            })
            .await
    }

    async fn get(&self, id: ObjectId) -> Result<Option<Invoice>, StoreError> {
        self.db.call(move |conn| read_row(conn, &id.to_hex())).await
    }

    async fn seed(&self, invoices: &[Invoice]) -> Result<usize, StoreError> {
        self.db
            .seed_if_empty("invoices", invoices, |conn, invoice| {
                insert_row(conn, invoice)?;
                write_outbox(conn, &Event::seeded(CREATED, invoice.id, invoice)?)
            })
            .await
    }
}

#[async_trait]
impl InvoiceStore for EmbeddedInvoiceStore {
    async fn list(&self, query: &InvoiceQuery) -> Result<Vec<Invoice>, StoreError> {
        let customer_id = query.customer_id.map(|id| id.to_hex());
        let status = query.status.map(|s| s.as_str());
        let (after, limit) = (query.after.map(|id| id.to_hex()), query.limit.overfetch());
        self.db
            .call(move |conn| {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                query_versioned(
                    conn,
                    "SELECT body, version FROM invoices
                     WHERE (?1 IS NULL OR customer_id = ?1)
                       AND (?2 IS NULL OR status = ?2)
                       AND (?3 IS NULL OR id > ?3)
                     ORDER BY id LIMIT ?4",
                    params![customer_id, status, after, limit],
                )
            })
            .await
    }

    async fn replace(
        &self,
        current: &Invoice,
        next: &Invoice,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let (current, next, event) = (current.clone(), next.clone(), event.clone());
        self.db
            .call(move |conn| write_with_event(conn, &event, |tx| replace_row(tx, &current, &next)))
            .await
    }

    async fn finalize(&self, current: &Invoice, next: Invoice, event_of: EventOf) -> Numbered {
        let mut next = next;
        let current = current.clone();
        self.db
            .call(move |conn| {
                let tx = write_transaction(conn)?;
                let highest: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(number_seq), 0) FROM invoices",
                    [],
                    |row| row.get(0),
                )?;
                next.number = Some(Invoice::number_for(highest + 1));
                if !replace_row(&tx, &current, &next)? {
                    return Ok(None);
                }
                write_outbox(&tx, &event_of(&next)?)?;
                tx.commit()?;
                Ok(Some(next))
            })
            .await
    }

    async fn delete(&self, current: &Invoice, event: &Event) -> Result<bool, StoreError> {
        let (id, version, event) = (current.id.to_hex(), current.version, event.clone());
        self.db
            .call(move |conn| {
                write_with_event(conn, &event, |tx| {
                    let deleted = tx.execute(
                        "DELETE FROM invoices WHERE id = ?1 AND version = ?2 AND status = 'draft'",
                        params![id, version],
                    )?;
                    Ok(deleted == 1)
                })
            })
            .await
    }
}
