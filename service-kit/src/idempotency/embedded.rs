use async_trait::async_trait;
use bson::oid::ObjectId;
use rusqlite::{OptionalExtension, params};

use super::{Begin, Decision, IdempotencyStore, StoredResponse, decide, lease_ms, retention_ms};
use crate::sqlite::{EmbeddedDb, from_json, to_json, write_transaction};
use crate::store::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key              TEXT PRIMARY KEY,
    fingerprint      TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    lease_expires_ms INTEGER NOT NULL,
    response         TEXT,
    created_at_ms    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at_ms);
";

/// Keys in the service's own SQLite file.
pub struct EmbeddedIdempotencyStore {
    db: EmbeddedDb,
}

impl EmbeddedIdempotencyStore {
    pub async fn new(db: EmbeddedDb) -> anyhow::Result<Self> {
        db.call(|conn| Ok(conn.execute_batch(SCHEMA)?)).await?;
        Ok(Self { db })
    }
}

#[async_trait]
impl IdempotencyStore for EmbeddedIdempotencyStore {
    async fn begin(&self, key: &str, fingerprint: &str, now_ms: i64) -> Result<Begin, StoreError> {
        let (key, fingerprint) = (key.to_owned(), fingerprint.to_owned());
        self.db
            .call(move |conn| {
                let tx = write_transaction(conn)?;
                tx.execute(
                    "DELETE FROM idempotency_keys WHERE created_at_ms < ?1",
                    [now_ms - retention_ms()],
                )?;
                let existing: Option<(String, String, i64, Option<String>)> = tx
                    .query_row(
                        "SELECT fingerprint, resource_id, lease_expires_ms, response
                         FROM idempotency_keys WHERE key = ?1",
                        [&key],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                    )
                    .optional()?;
                let resource_id = match existing {
                    None => {
                        let resource_id = ObjectId::new();
                        tx.execute(
                            "INSERT INTO idempotency_keys
                             (key, fingerprint, resource_id, lease_expires_ms, created_at_ms)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![key, fingerprint, resource_id.to_hex(), now_ms + lease_ms(), now_ms],
                        )?;
                        resource_id
                    }
                    Some((stored_fingerprint, resource_id, held_until, response)) => {
                        let response: Option<StoredResponse> =
                            response.as_deref().map(from_json).transpose()?;
                        match decide(&fingerprint, &stored_fingerprint, response, held_until, now_ms) {
                            Decision::Done(begin) => return Ok(begin),
                            Decision::TakeOver => {
                                tx.execute(
                                    "UPDATE idempotency_keys SET lease_expires_ms = ?2 WHERE key = ?1",
                                    params![key, now_ms + lease_ms()],
                                )?;
                                ObjectId::parse_str(&resource_id)
                                    .map_err(|e| StoreError::Internal(e.to_string()))?
                            }
                        }
                    }
                };
                tx.commit()?;
                Ok(Begin::Run { resource_id })
            })
            .await
    }

    async fn complete(&self, key: &str, response: &StoredResponse) -> Result<(), StoreError> {
        let (key, response) = (key.to_owned(), to_json(response)?);
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE idempotency_keys SET response = ?2 WHERE key = ?1 AND response IS NULL",
                    params![key, response],
                )?;
                Ok(())
            })
            .await
    }

    async fn abandon(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.db
            .call(move |conn| {
                // The row and its resource id stay (see the trait); only the lease ends.
                conn.execute(
                    "UPDATE idempotency_keys SET lease_expires_ms = 0
                     WHERE key = ?1 AND response IS NULL",
                    [key],
                )?;
                Ok(())
            })
            .await
    }
}
