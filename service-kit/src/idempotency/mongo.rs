use async_trait::async_trait;
use bson::doc;
use bson::oid::ObjectId;
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};

use super::{Begin, Decision, IdempotencyStore, RETENTION, StoredResponse, decide, lease_ms};
use crate::mongo::Database;
use crate::store::StoreError;

#[derive(Debug, Serialize, Deserialize)]
struct KeyDocument {
    /// SHA-256 of the caller and its key.
    #[serde(rename = "_id")]
    key: String,
    fingerprint: String,
    resource_id: ObjectId,
    lease_expires_ms: i64,
    response: Option<StoredResponse>,
    /// For the TTL index that forgets keys after a day.
    created_at: bson::DateTime,
}

/// Keys in the service's own database, collection `idempotency_keys`.
pub struct MongoIdempotencyStore {
    keys: Collection<KeyDocument>,
    indexes_ready: std::sync::atomic::AtomicBool,
    database: Database,
}

impl MongoIdempotencyStore {
    pub fn new(database: &Database) -> Self {
        Self {
            keys: database.collection("idempotency_keys"),
            indexes_ready: std::sync::atomic::AtomicBool::new(false),
            database: database.clone(),
        }
    }

    async fn ensure_ttl_index(&self) {
        use std::sync::atomic::Ordering;
        if self.indexes_ready.load(Ordering::Acquire) {
            return;
        }
        let index = IndexModel::builder()
            .keys(doc! {"created_at": 1})
            .options(
                IndexOptions::builder()
                    .name("created_at_ttl".to_owned())
                    .expire_after(RETENTION)
                    .build(),
            )
            .build();
        // Best effort: without it keys are only kept longer.
        match self.database.in_turn(self.keys.create_index(index)).await {
            Ok(_) => self.indexes_ready.store(true, Ordering::Release),
            Err(error) => tracing::debug!(%error, "idempotency TTL index not created yet"),
        }
    }
}

#[async_trait]
impl IdempotencyStore for MongoIdempotencyStore {
    async fn begin(&self, key: &str, fingerprint: &str, now_ms: i64) -> Result<Begin, StoreError> {
        self.ensure_ttl_index().await;
        for _ in 0..3 {
            let fresh = KeyDocument {
                key: key.to_owned(),
                fingerprint: fingerprint.to_owned(),
                resource_id: ObjectId::new(),
                lease_expires_ms: now_ms + lease_ms(),
                response: None,
                created_at: bson::DateTime::from_millis(now_ms),
            };
            let resource_id = fresh.resource_id;
            match self.database.call(self.keys.insert_one(fresh)).await {
                Ok(_) => return Ok(Begin::Run { resource_id }),
                Err(StoreError::Duplicate) => {}
                Err(error) => return Err(error),
            }
            let Some(existing) = self
                .database
                .call(self.keys.find_one(doc! {"_id": key}))
                .await?
            else {
                continue; // expired in between: claim it again
            };
            let held_until = existing.lease_expires_ms;
            match decide(
                fingerprint,
                &existing.fingerprint,
                existing.response,
                held_until,
                now_ms,
            ) {
                Decision::Done(begin) => return Ok(begin),
                Decision::TakeOver => {
                    let renewed = KeyDocument {
                        key: key.to_owned(),
                        fingerprint: fingerprint.to_owned(),
                        resource_id: existing.resource_id,
                        lease_expires_ms: now_ms + lease_ms(),
                        response: None,
                        created_at: existing.created_at,
                    };
                    let filter =
                        doc! {"_id": key, "lease_expires_ms": held_until, "response": null};
                    let result = self
                        .database
                        .call(self.keys.replace_one(filter, renewed))
                        .await?;
                    return Ok(if result.matched_count == 1 {
                        Begin::Run {
                            resource_id: existing.resource_id,
                        }
                    } else {
                        Begin::InProgress
                    });
                }
            }
        }
        Ok(Begin::InProgress)
    }

    async fn complete(&self, key: &str, response: &StoredResponse) -> Result<(), StoreError> {
        let Some(mut record) = self
            .database
            .call(self.keys.find_one(doc! {"_id": key}))
            .await?
        else {
            return Ok(());
        };
        let held_until = record.lease_expires_ms;
        record.response = Some(response.clone());
        let filter = doc! {"_id": key, "lease_expires_ms": held_until, "response": null};
        self.database
            .call(self.keys.replace_one(filter, record))
            .await?;
        Ok(())
    }

    async fn abandon(&self, key: &str) -> Result<(), StoreError> {
        // The record and its resource id stay (see the trait); only the lease ends.
        self.database
            .call(self.keys.update_one(
                doc! {"_id": key, "response": null},
                doc! {"$set": {"lease_expires_ms": 0_i64}},
            ))
            .await?;
        Ok(())
    }
}
