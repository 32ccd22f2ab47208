use std::path::Path;

use async_trait::async_trait;
use bson::oid::ObjectId;
use rusqlite::{Connection, params};
use service_kit::StoreError;
use service_kit::events::{Event, write_outbox, write_with_event};
use service_kit::sqlite::{EmbeddedDb, query_versioned, read_versioned, to_json};
use service_kit::store::Records;

use super::{CREATED, CustomerQuery, CustomerStore, prefix_upper_bound};
use crate::domain::Customer;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (
    id               TEXT PRIMARY KEY,
    email_normalized TEXT NOT NULL UNIQUE,
    name_lower       TEXT NOT NULL,
    body             TEXT NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS customers_name_lower_id ON customers (name_lower, id);
";

/// Customers in `DATA_DIR/customers.sqlite3`. Ids are stored as hex, whose order is the
/// ObjectId order, so lists and cursors match MongoDB's.
pub struct EmbeddedCustomerStore {
    db: EmbeddedDb,
}

impl EmbeddedCustomerStore {
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let db = EmbeddedDb::open(data_dir, "customers.sqlite3", SCHEMA)?;
        // Files written before writes were version-checked have no such column.
        db.add_column_if_missing("customers", "version", "INTEGER NOT NULL DEFAULT 1")?;
        Ok(Self { db })
    }

    /// The database file, for the other tables this service keeps beside its own.
    pub fn database(&self) -> EmbeddedDb {
        self.db.clone()
    }
}

fn insert_row(conn: &Connection, customer: &Customer) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO customers (id, email_normalized, name_lower, body, version)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            customer.id.to_hex(),
            customer.email.key(),
            customer.name_key(),
            to_json(customer)?,
            customer.version,
        ],
    )?;
    Ok(())
}

fn read_row(conn: &Connection, id: &str) -> Result<Option<Customer>, StoreError> {
    read_versioned(
        conn,
        "SELECT body, version FROM customers WHERE id = ?1",
        id,
    )
}

#[async_trait]
impl Records<Customer> for EmbeddedCustomerStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    async fn insert(&self, customer: &Customer, event: &Event) -> Result<(), StoreError> {
        let (customer, event) = (customer.clone(), event.clone());
        self.db
            .call(move |conn| {
                write_with_event(conn, &event, |tx| insert_row(tx, &customer).map(|()| true))
                    .map(drop)
            })
            .await
    }

    async fn get(&self, id: ObjectId) -> Result<Option<Customer>, StoreError> {
        self.db.call(move |conn| read_row(conn, &id.to_hex())).await
    }

    async fn seed(&self, customers: &[Customer]) -> Result<usize, StoreError> {
        self.db
            .seed_if_empty("customers", customers, |conn, c| {
                insert_row(conn, c)?;
                write_outbox(conn, &Event::seeded(CREATED, c.id, c)?)
            })
            .await
    }
}

#[async_trait]
impl CustomerStore for EmbeddedCustomerStore {
    async fn replace(
        &self,
        current: &Customer,
        next: &Customer,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let (id, version, next) = (current.id.to_hex(), current.version, next.clone());
        let event = event.clone();
        self.db
            .call(move |conn| {
                write_with_event(conn, &event, |tx| {
                    let changed = tx.execute(
                        "UPDATE customers SET email_normalized = ?3, name_lower = ?4, body = ?5,
                     version = ?6 WHERE id = ?1 AND version = ?2",
                        params![
                            id,
                            version,
                            next.email.key(),
                            next.name_key(),
                            to_json(&next)?,
                            next.version
                        ],
                    )?;
                    Ok(changed == 1)
                })
            })
            .await
    }

    async fn delete(&self, current: &Customer, event: &Event) -> Result<bool, StoreError> {
        let (id, version, event) = (current.id.to_hex(), current.version, event.clone());
        self.db
            .call(move |conn| {
                write_with_event(conn, &event, |tx| {
                    let deleted = tx.execute(
                        "DELETE FROM customers WHERE id = ?1 AND version = ?2",
                        params![id, version],
                    )?;
                    Ok(deleted == 1)
                })
            })
            .await
    }

    async fn list(&self, query: &CustomerQuery) -> Result<Vec<Customer>, StoreError> {
        let email_key = query.email_key.clone();
        let name_range = query
            .name_prefix
            .as_ref()
            .map(|prefix| (prefix.clone(), prefix_upper_bound(prefix)));
        let (after, limit) = (query.after.map(|id| id.to_hex()), query.limit.overfetch());
        self.db
            .call(move |conn| {
                let (name_from, name_to) = name_range.unzip();
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                query_versioned(
                    conn,
                    "SELECT body, version FROM customers
                     WHERE (?1 IS NULL OR email_normalized = ?1)
                       AND (?2 IS NULL OR (name_lower >= ?2 AND name_lower < ?3))
                       AND (?4 IS NULL OR id > ?4)
                     ORDER BY id LIMIT ?5",
                    params![email_key, name_from, name_to, after, limit],
                )
            })
            .await
    }
}
