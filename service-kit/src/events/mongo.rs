//! The event log, endpoints and deliveries in the service's MongoDB database, and the
//! outbox inside each record's own document.
//!
//! Deliveries hold only strings and integers (times as ms since the epoch), so that the
//! partial updates that claim and settle them keep every field's type.

use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::options::ReturnDocument;

use super::Event;
use super::store::{
    AttemptRecord, Delivery, DeliveryState, Endpoint, EventQuery, EventStore, Outbox, Pending,
    PendingToken,
};
use crate::mongo::{Database, Indexes, find_page, index};
use crate::sqlite::{from_json, to_json};
use crate::store::StoreError;

pub struct MongoEventStore {
    database: Database,
    events: Collection<Document>,
    endpoints: Collection<Document>,
    deliveries: Collection<Document>,
    attempts: Collection<Document>,
    /// Events relayed while the projection could not take them.
    unprojected: Collection<Document>,
    indexes: [Indexes; 3],
}

impl MongoEventStore {
    pub fn new(database: &Database) -> Self {
        let events = database.collection("events");
        let deliveries = database.collection("webhook_deliveries");
        let attempts = database.collection("webhook_attempts");
        let indexes = [
            Indexes::new(
                &events,
                vec![
                    index(doc! {"object_id": 1}, "object_id"),
                    // Supports the hashed shard key: `sh.shardCollection` on a collection
                    // that holds data needs it built already.
                    index(doc! {"object_id": "hashed"}, "object_id_hashed"),
                    index(doc! {"created_ms": 1}, "created_ms"),
                ],
            ),
            Indexes::new(
                &deliveries,
                vec![
                    index(doc! {"state": 1, "next_ms": 1}, "state_next"),
                    index(doc! {"endpoint_id": 1, "object_id": 1}, "endpoint_object"),
                ],
            ),
            Indexes::new(
                &attempts,
                vec![index(doc! {"endpoint_id": 1}, "endpoint_id")],
            ),
        ];
        Self {
            database: database.clone(),
            events,
            endpoints: database.collection("webhook_endpoints"),
            deliveries,
            attempts,
            unprojected: database.collection("unprojected_events"),
            indexes,
        }
    }

    async fn ensure_indexes(&self) -> Result<(), StoreError> {
        for indexes in &self.indexes {
            indexes.ensure(&self.database).await?;
        }
        Ok(())
    }

    /// Sets `fields` on every delivery `filter` selects; how many it changed.
    async fn set_deliveries(&self, filter: Document, fields: Document) -> Result<u64, StoreError> {
        let update = doc! {"$set": fields};
        let result = self
            .database
            .call(self.deliveries.update_many(filter, update))
            .await?;
        Ok(result.modified_count)
    }

    async fn all<T>(
        &self,
        collection: &Collection<Document>,
        filter: Document,
        sort: Document,
        limit: usize,
        decode: impl Fn(&Document) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let documents: Vec<Document> = self
            .database
            .call(async {
                collection
                    .find(filter)
                    .sort(sort)
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        documents.iter().map(decode).collect()
    }
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// An integer field, whichever width the server gives it back with.
fn int_of(document: &Document, key: &str) -> Result<i64, StoreError> {
    match document.get(key) {
        Some(Bson::Int64(n)) => Ok(*n),
        Some(Bson::Int32(n)) => Ok(i64::from(*n)),
        _ => Err(StoreError::Internal(format!(
            "field {key} is not an integer"
        ))),
    }
}

fn body_of(document: &Document) -> Result<&str, StoreError> {
    document.get_str("body").map_err(internal)
}

fn decode_event(document: &Document) -> Result<Event, StoreError> {
    Event::from_json(body_of(document)?)
}

fn decode_endpoint(document: &Document) -> Result<Endpoint, StoreError> {
    let mut endpoint: Endpoint = from_json(body_of(document)?)?;
    endpoint.version = int_of(document, "version")?;
    Ok(endpoint)
}

fn decode_attempt(document: &Document) -> Result<AttemptRecord, StoreError> {
    from_json(body_of(document)?)
}

fn endpoint_document(endpoint: &Endpoint) -> Result<Document, StoreError> {
    Ok(doc! {
        "_id": endpoint.id,
        "version": endpoint.version,
        "body": to_json(endpoint)?,
    })
}

fn delivery_document(d: &Delivery) -> Document {
    doc! {
        "_id": &d.id,
        "endpoint_id": &d.endpoint_id,
        "event_id": &d.event_id,
        "object_id": &d.object_id,
        "sequence": d.sequence,
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "next_ms": d.next_attempt_ms,
        "lease_ms": d.lease_until_ms,
        "lease": &d.lease,
        "updated_ms": d.updated_ms,
    }
}

fn decode_delivery(document: &Document) -> Result<Delivery, StoreError> {
    let text = |key: &str| document.get_str(key).map(str::to_owned).map_err(internal);
    let int = |key: &str| int_of(document, key);
    Ok(Delivery {
        id: text("_id")?,
        endpoint_id: text("endpoint_id")?,
        event_id: text("event_id")?,
        object_id: text("object_id")?,
        sequence: int("sequence")?,
        state: DeliveryState::parse(document.get_str("state").map_err(internal)?)?,
        attempts: int("attempts")?,
        next_attempt_ms: int("next_ms")?,
        lease_until_ms: int("lease_ms")?,
        lease: text("lease")?,
        updated_ms: int("updated_ms")?,
    })
}

/// Inserts `document`; one with the same id already there counts as done.
async fn insert_once(
    database: &Database,
    collection: &Collection<Document>,
    document: Document,
) -> Result<(), StoreError> {
    match database.call(collection.insert_one(document)).await {
        Ok(_) | Err(StoreError::Duplicate) => Ok(()),
        Err(error) => Err(error),
    }
}

#[async_trait]
impl EventStore for MongoEventStore {
    async fn append(&self, event: &Event) -> Result<(), StoreError> {
        self.ensure_indexes().await?;
        let document = doc! {
            "_id": event.id,
            "type": &event.kind,
            "object_id": event.object_id.to_hex(),
            "sequence": event.sequence,
            "created_ms": event.created_at.timestamp_millis(),
            "body": event.to_json()?,
        };
        insert_once(&self.database, &self.events, document).await
    }

    async fn event(&self, id: ObjectId) -> Result<Option<Event>, StoreError> {
        let found = self
            .database
            .call(self.events.find_one(doc! {"_id": id}))
            .await?;
        found.as_ref().map(decode_event).transpose()
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let mut filter = Document::new();
        if let Some(kind) = &query.kind {
            filter.insert("type", kind);
        }
        if let Some(object_id) = query.object_id {
            filter.insert("object_id", object_id.to_hex());
        }
        let found = find_page(
            &self.database,
            &self.events,
            filter,
            query.after,
            query.fetch,
        );
        found.await?.iter().map(decode_event).collect()
    }

    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.database
            .call(self.endpoints.insert_one(endpoint_document(endpoint)?))
            .await?;
        Ok(())
    }

    async fn endpoint(&self, id: ObjectId) -> Result<Option<Endpoint>, StoreError> {
        let found = self
            .database
            .call(self.endpoints.find_one(doc! {"_id": id}))
            .await?;
        found.as_ref().map(decode_endpoint).transpose()
    }

    async fn endpoints(
        &self,
        after: Option<ObjectId>,
        fetch: usize,
    ) -> Result<Vec<Endpoint>, StoreError> {
        let found = find_page(&self.database, &self.endpoints, doc! {}, after, fetch);
        found.await?.iter().map(decode_endpoint).collect()
    }

    async fn replace_endpoint(&self, version: i64, next: &Endpoint) -> Result<bool, StoreError> {
        let filter = doc! {"_id": next.id, "version": version};
        let result = self
            .database
            .call(self.endpoints.replace_one(filter, endpoint_document(next)?))
            .await?;
        Ok(result.matched_count == 1)
    }

    async fn delete_endpoint(&self, id: ObjectId) -> Result<bool, StoreError> {
        let result = self
            .database
            .call(self.endpoints.delete_one(doc! {"_id": id}))
            .await?;
        Ok(result.deleted_count == 1)
    }

    async fn enqueue(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.ensure_indexes().await?;
        insert_once(
            &self.database,
            &self.deliveries,
            delivery_document(delivery),
        )
        .await
    }

    async fn requeue(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let replaced = self
            .database
            .call(
                self.deliveries
                    .replace_one(doc! {"_id": &delivery.id}, delivery_document(delivery)),
            )
            .await?;
        if replaced.matched_count == 0 {
            self.enqueue(delivery).await?;
        }
        Ok(())
    }

    async fn claim(&self, now_ms: i64, lease_ms: i64) -> Result<Option<Delivery>, StoreError> {
        let filter = doc! {
            "state": DeliveryState::Pending.as_str(),
            "next_ms": {"$lte": now_ms},
            "lease_ms": {"$lte": now_ms},
        };
        let claim = doc! {"$set": {
            "lease_ms": now_ms + lease_ms,
            "lease": ObjectId::new().to_hex(),
        }};
        let claimed = self
            .database
            .call(
                self.deliveries
                    .find_one_and_update(filter, claim)
                    .sort(doc! {"next_ms": 1})
                    .return_document(ReturnDocument::After),
            )
            .await?;
        claimed.as_ref().map(decode_delivery).transpose()
    }

    async fn earlier_pending(&self, delivery: &Delivery) -> Result<Option<i64>, StoreError> {
        let filter = doc! {
            "endpoint_id": &delivery.endpoint_id,
            "object_id": &delivery.object_id,
            "state": DeliveryState::Pending.as_str(),
            "sequence": {"$lt": delivery.sequence},
        };
        let earlier = self
            .all(
                &self.deliveries,
                filter,
                doc! {"next_ms": 1},
                1,
                decode_delivery,
            )
            .await?;
        Ok(earlier.first().map(|d| d.next_attempt_ms))
    }

    async fn settle(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        let filter = doc! {"_id": &delivery.id, "lease": &delivery.lease};
        let update = doc! {"$set": {
            "state": delivery.state.as_str(),
            "attempts": delivery.attempts,
            "next_ms": delivery.next_attempt_ms,
            "lease_ms": 0_i64,
            "updated_ms": delivery.updated_ms,
        }};
        let result = self
            .database
            .call(self.deliveries.update_one(filter, update))
            .await?;
        Ok(result.matched_count == 1)
    }

    async fn reopen_failed(
        &self,
        endpoint_id: ObjectId,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let filter = doc! {
            "endpoint_id": endpoint_id.to_hex(),
            "state": DeliveryState::Failed.as_str(),
            "updated_ms": {"$gte": since_ms},
        };
        let reopened = doc! {
            "state": DeliveryState::Pending.as_str(),
            "attempts": 0_i64,
            "next_ms": now_ms,
            "lease_ms": 0_i64,
            "updated_ms": now_ms,
        };
        self.set_deliveries(filter, reopened).await
    }

    async fn fail_pending(&self, endpoint_id: ObjectId, now_ms: i64) -> Result<u64, StoreError> {
        let filter =
            doc! {"endpoint_id": endpoint_id.to_hex(), "state": DeliveryState::Pending.as_str()};
        let failed = doc! {
            "state": DeliveryState::Failed.as_str(),
            "lease_ms": 0_i64,
            "updated_ms": now_ms,
        };
        self.set_deliveries(filter, failed).await
    }

    async fn record_attempt(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        self.ensure_indexes().await?;
        let document = doc! {
            "_id": attempt.id,
            "endpoint_id": attempt.endpoint_id.to_hex(),
            "at_ms": attempt.attempted_at.timestamp_millis(),
            "body": to_json(attempt)?,
        };
        insert_once(&self.database, &self.attempts, document).await
    }

    async fn attempts(
        &self,
        endpoint_id: ObjectId,
        before: Option<ObjectId>,
        fetch: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut filter = doc! {"endpoint_id": endpoint_id.to_hex()};
        if let Some(before) = before {
            filter.insert("_id", doc! {"$lt": before});
        }
        self.all(
            &self.attempts,
            filter,
            doc! {"_id": -1},
            fetch,
            decode_attempt,
        )
        .await
    }

    async fn owe_projection(&self, events: &[Event]) -> Result<(), StoreError> {
        for event in events {
            let document = doc! {"_id": event.id, "body": event.to_json()?};
            insert_once(&self.database, &self.unprojected, document).await?;
        }
        Ok(())
    }

    async fn owed_projections(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        let filter = Document::new();
        self.all(
            &self.unprojected,
            filter,
            doc! {"_id": 1},
            limit,
            decode_event,
        )
        .await
    }

    async fn projected(&self, ids: &[ObjectId]) -> Result<(), StoreError> {
        for id in ids {
            let taken = self.unprojected.delete_one(doc! {"_id": id});
            self.database.call(taken).await?;
        }
        Ok(())
    }

    async fn purge(&self, before_ms: i64) -> Result<(), StoreError> {
        let old = doc! {"created_ms": {"$lt": before_ms}};
        self.database.call(self.events.delete_many(old)).await?;
        let old = doc! {"at_ms": {"$lt": before_ms}};
        self.database.call(self.attempts.delete_many(old)).await?;
        let settled = doc! {
            "state": {"$ne": DeliveryState::Pending.as_str()},
            "updated_ms": {"$lt": before_ms},
        };
        self.database
            .call(self.deliveries.delete_many(settled))
            .await?;
        Ok(())
    }
}

/// The outbox inside the documents of one collection of records: `outbox` holds the JSON of
/// events not yet in the log, `pending` says whether it holds any, and a deleted record stays
/// as a tombstone (`deleted: true`) until its last event is relayed.
pub struct MongoOutbox {
    database: Database,
    records: Collection<Document>,
}

impl MongoOutbox {
    pub fn new(database: &Database, collection: &str) -> Self {
        Self {
            database: database.clone(),
            records: database.collection(collection),
        }
    }
}

#[async_trait]
impl Outbox for MongoOutbox {
    async fn pending(&self, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let documents: Vec<Document> = self
            .database
            .call(async {
                self.records
                    .find(doc! {"pending": true})
                    .projection(doc! {"outbox": 1, "version": 1, "deleted": 1})
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        documents.iter().map(pending_of).collect()
    }

    async fn settle(&self, pending: &Pending) -> Result<(), StoreError> {
        let PendingToken::Document {
            id,
            version,
            tombstone,
        } = &pending.token
        else {
            return Err(StoreError::Internal("not a MongoDB outbox".into()));
        };
        let unchanged = doc! {"_id": id.clone(), "version": *version};
        if *tombstone {
            self.database
                .call(self.records.delete_one(unchanged))
                .await?;
        } else {
            let emptied = doc! {"$set": {"outbox": [], "pending": false}};
            self.database
                .call(self.records.update_one(unchanged, emptied))
                .await?;
        }
        Ok(())
    }
}

fn pending_of(document: &Document) -> Result<Pending, StoreError> {
    let events = document
        .get_array("outbox")
        .map_err(internal)?
        .iter()
        .map(|entry| match entry {
            Bson::String(text) => Event::from_json(text),
            other => Err(StoreError::Internal(format!("outbox entry {other}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let version = int_of(document, "version")?;
    Ok(Pending {
        events,
        token: PendingToken::Document {
            id: document.get("_id").cloned().unwrap_or(Bson::Null),
            version,
            tombstone: matches!(document.get("deleted"), Some(Bson::Boolean(true))),
        },
    })
}

/// Writes a record's document with `event` in its outbox, if the stored one still matches
/// `unchanged`; `false` when another write came first. Most writes find the outbox already
/// relayed and take one round trip; otherwise the events still in it are kept.
pub(crate) async fn replace_with_event(
    database: &Database,
    records: &Collection<Document>,
    unchanged: Document,
    mut next: Document,
    event: &Event,
) -> Result<bool, StoreError> {
    let event = event.to_json()?;
    next.insert("pending", true);
    next.insert("outbox", vec![event.clone()]);
    let mut relayed = unchanged.clone();
    relayed.insert("pending", false);
    let result = database.call(records.replace_one(relayed, &next)).await?;
    if result.matched_count == 1 {
        return Ok(true);
    }
    let mut current = unchanged.clone();
    current.insert("deleted", doc! {"$ne": true});
    let Some(stored) = database
        .call(records.find_one(current).projection(doc! {"outbox": 1}))
        .await?
    else {
        return Ok(false);
    };
    let mut outbox = match stored.get("outbox") {
        Some(Bson::Array(entries)) => entries.clone(),
        _ => Vec::new(),
    };
    outbox.push(Bson::String(event));
    next.insert("outbox", outbox);
    let result = database.call(records.replace_one(unchanged, next)).await?;
    Ok(result.matched_count == 1)
}

/// `document` as a new record's, with `event` in its outbox.
pub(crate) fn with_event(mut document: Document, event: &Event) -> Result<Document, StoreError> {
    document.insert("pending", true);
    document.insert("outbox", vec![event.to_json()?]);
    Ok(document)
}
