//! Where the event log, the webhook endpoints and their deliveries are kept: beside the
//! service's own data, in MongoDB or the embedded store.

use async_trait::async_trait;
use bson::oid::ObjectId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Event;
use crate::store::StoreError;

/// A subscriber to events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(with = "crate::id::hex")]
    pub id: ObjectId,
    pub url: String,
    /// Event types, or `*` for all.
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    pub status: EndpointStatus,
    /// Why it is disabled, when it is.
    pub disabled_reason: Option<String>,
    /// Signs every delivery. Never answered after the creation (or rotation) that made it.
    pub secret: String,
    /// The secret a rotation replaced, signing beside the new one until it expires.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When its current run of failed attempts began.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    Enabled,
    Disabled,
}

impl Endpoint {
    /// A new enabled endpoint with a new secret.
    pub fn new(url: String, enabled_events: Vec<String>, description: Option<String>) -> Self {
        let now = crate::time::now();
        Self {
            id: ObjectId::new(),
            url,
            enabled_events,
            description,
            status: EndpointStatus::Enabled,
            disabled_reason: None,
            secret: crate::webhook_signing::Secret::generate()
                .expose()
                .to_owned(),
            previous_secret: None,
            previous_secret_expires_at: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
            version: crate::store::first_version(),
        }
    }
}

impl crate::store::Versioned for Endpoint {
    fn version_mut(&mut self) -> &mut i64 {
        &mut self.version
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "failed" => Ok(DeliveryState::Failed),
            other => Err(StoreError::Internal(format!("delivery state {other:?}"))),
        }
    }
}

/// One event owed to one endpoint. Its id is made of both, so relaying an event twice
/// owes it once.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub object_id: String,
    pub sequence: i64,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i64,
    /// Not attempted before this time (ms since the epoch).
    pub next_attempt_ms: i64,
    /// Claimed by a deliverer until this time.
    pub lease_until_ms: i64,
    /// The claim's token: only its holder may settle the delivery.
    pub lease: String,
    pub updated_ms: i64,
}

impl Delivery {
    /// A delivery of `event` to `endpoint_id`, due at `now_ms`.
    pub fn new(endpoint_id: ObjectId, event: &Event, now_ms: i64) -> Self {
        Self {
            id: format!("{endpoint_id}{}", event.id),
            endpoint_id: endpoint_id.to_hex(),
            event_id: event.id.to_hex(),
            object_id: event.object_id.to_hex(),
            sequence: event.sequence,
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_ms: now_ms,
            lease_until_ms: 0,
            lease: String::new(),
            updated_ms: now_ms,
        }
    }
}

/// One try at delivering an event to an endpoint, as `GET /webhook_endpoints/{id}/attempts`
/// lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    #[serde(with = "crate::id::hex")]
    pub id: ObjectId,
    #[serde(with = "crate::id::hex")]
    pub endpoint_id: ObjectId,
    #[serde(with = "crate::id::hex")]
    pub event_id: ObjectId,
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's answer; `null` when none came (refused, timed out).
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
}

/// What `GET /events` asks for.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub kind: Option<String>,
    pub object_id: Option<ObjectId>,
    pub after: Option<ObjectId>,
    /// How many to fetch (one more than the page, to know whether another follows).
    pub fetch: usize,
}

/// The log, the endpoints, the deliveries and their attempts.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Adds `event` to the log; an event already there is left as it is.
    async fn append(&self, event: &Event) -> Result<(), StoreError>;
    async fn event(&self, id: ObjectId) -> Result<Option<Event>, StoreError>;
    /// The events `query` selects, in id order.
    async fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError>;

    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    async fn endpoint(&self, id: ObjectId) -> Result<Option<Endpoint>, StoreError>;
    /// Endpoints in id order, after `after`, `fetch` at most.
    async fn endpoints(
        &self,
        after: Option<ObjectId>,
        fetch: usize,
    ) -> Result<Vec<Endpoint>, StoreError>;
    /// Stores `next` if the endpoint is still at `version`; `false` when another write won.
    async fn replace_endpoint(&self, version: i64, next: &Endpoint) -> Result<bool, StoreError>;
    async fn delete_endpoint(&self, id: ObjectId) -> Result<bool, StoreError>;

    /// Owes `delivery`; one already owed is left as it is.
    async fn enqueue(&self, delivery: &Delivery) -> Result<(), StoreError>;
    /// Owes `delivery` again from now, whatever became of it before.
    async fn requeue(&self, delivery: &Delivery) -> Result<(), StoreError>;
    /// Claims the pending delivery due first (due at `now_ms`, unclaimed or its claim run
    /// out) until `now_ms + lease_ms`.
    async fn claim(&self, now_ms: i64, lease_ms: i64) -> Result<Option<Delivery>, StoreError>;
    /// When the earliest pending delivery of an earlier event of the same object to the
    /// same endpoint is due; `None` when there is none.
    async fn earlier_pending(&self, delivery: &Delivery) -> Result<Option<i64>, StoreError>;
    /// Stores what became of a claimed delivery; `false` when its claim was lost.
    async fn settle(&self, delivery: &Delivery) -> Result<bool, StoreError>;
    /// Owes again, from `now_ms`, every delivery to `endpoint_id` that failed at or after
    /// `since_ms`; how many.
    async fn reopen_failed(
        &self,
        endpoint_id: ObjectId,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Gives up every pending delivery to `endpoint_id` (it was disabled or deleted).
    async fn fail_pending(&self, endpoint_id: ObjectId, now_ms: i64) -> Result<u64, StoreError>;

    async fn record_attempt(&self, attempt: &AttemptRecord) -> Result<(), StoreError>;
    /// The attempts at `endpoint_id`, newest first, before `before` (an attempt id).
    async fn attempts(
        &self,
        endpoint_id: ObjectId,
        before: Option<ObjectId>,
        fetch: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError>;

    /// Keeps `events` until the projection takes them: it could not when they were relayed.
    async fn owe_projection(&self, events: &[Event]) -> Result<(), StoreError>;
    /// Events the projection has not taken yet, oldest first.
    async fn owed_projections(&self, limit: usize) -> Result<Vec<Event>, StoreError>;
    /// The projection has taken the events `ids`.
    async fn projected(&self, ids: &[ObjectId]) -> Result<(), StoreError>;

    /// Forgets events, attempts and settled deliveries older than `before_ms`.
    async fn purge(&self, before_ms: i64) -> Result<(), StoreError>;
}

/// Records whose events are still in their outbox, not yet in the log.
#[derive(Debug, Clone)]
pub struct Pending {
    pub events: Vec<Event>,
    pub(crate) token: PendingToken,
}

#[derive(Debug, Clone)]
pub(crate) enum PendingToken {
    /// The record's document, as found: settled if it is still at this version.
    Document {
        id: bson::Bson,
        version: i64,
        tombstone: bool,
    },
    /// The outbox rows holding these events.
    Rows(Vec<i64>),
}

/// Where a service's writes leave their events.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Up to `limit` records with events in their outbox, oldest first.
    async fn pending(&self, limit: usize) -> Result<Vec<Pending>, StoreError>;
    /// Empties the outbox `pending` was read from, unless a newer write has added to it.
    async fn settle(&self, pending: &Pending) -> Result<(), StoreError>;
}
