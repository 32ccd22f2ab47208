//! Events: every change of a record, written in the same store write as the change (an
//! outbox inside the record's own document or transaction), then copied into the event log
//! by a relay that every instance runs, and delivered from there to webhook endpoints.
//!
//! An event's `sequence` is the version the change gave its record, so a consumer orders an
//! object's events by it and sees a gap as a missed event.

pub mod app;
pub mod delivery;
mod embedded;
pub mod http;
pub(crate) mod mongo;
pub mod projection;
pub mod relay;
pub mod store;
pub mod url_guard;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use bson::oid::ObjectId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::Principal;
use crate::store::StoreError;

pub use app::Events;
pub use embedded::{EmbeddedEventStore, EmbeddedOutbox, write_outbox, write_with_event};
pub use mongo::{MongoEventStore, MongoOutbox};
pub use projection::Projection;
pub use store::{EventStore, Outbox, Pending};

/// How events are kept and webhooks delivered.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// `WEBHOOK_RETRY_SCHEDULE`: the delays between attempts.
    pub retry_schedule: delivery::Schedule,
    /// `WEBHOOK_ALLOW_LOOPBACK`: lets endpoints on loopback addresses through.
    pub allow_loopback: bool,
    /// `WEBHOOK_TIMEOUT_SECONDS`: the bound on one attempt.
    pub attempt_timeout: std::time::Duration,
    /// `EVENT_RETENTION_DAYS`: how long events and attempts are kept.
    pub retention: std::time::Duration,
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after: std::time::Duration,
}

const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);
const DEFAULT_TIMEOUT_SECONDS: u64 = 10;
const DEFAULT_RETENTION_DAYS: u32 = 30;

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            retry_schedule: delivery::Schedule::default(),
            allow_loopback: false,
            attempt_timeout: std::time::Duration::from_secs(DEFAULT_TIMEOUT_SECONDS),
            retention: DAY * DEFAULT_RETENTION_DAYS,
            disable_after: DAY * 5,
        }
    }
}

impl EventSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        use crate::config::{flag, parse_or};
        let defaults = Self::default();
        let timeout: u64 = parse_or("WEBHOOK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)?;
        let retention: u64 = parse_or("EVENT_RETENTION_DAYS", u64::from(DEFAULT_RETENTION_DAYS))?;
        if timeout == 0 || retention == 0 {
            anyhow::bail!("WEBHOOK_TIMEOUT_SECONDS and EVENT_RETENTION_DAYS must be at least 1");
        }
        Ok(Self {
            retry_schedule: parse_or("WEBHOOK_RETRY_SCHEDULE", defaults.retry_schedule)?,
            allow_loopback: flag("WEBHOOK_ALLOW_LOOPBACK", defaults.allow_loopback)?,
            attempt_timeout: std::time::Duration::from_secs(timeout),
            retention: DAY * u32::try_from(retention).unwrap_or(u32::MAX),
            disable_after: defaults.disable_after,
        })
    }

    /// What tests and a laptop run: loopback endpoints allowed, the default schedule.
    pub fn local() -> Self {
        Self {
            allow_loopback: true,
            ..Self::default()
        }
    }

    /// Which addresses deliveries may reach.
    pub fn url_policy(&self) -> url_guard::UrlPolicy {
        url_guard::UrlPolicy {
            allow_loopback: self.allow_loopback,
        }
    }
}

/// One change of one record, as the log keeps it and webhooks deliver it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(with = "crate::id::hex")]
    pub id: ObjectId,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::id::hex")]
    pub object_id: ObjectId,
    /// The version the change gave the object: 1 for its creation, then 2, 3…
    pub sequence: i64,
    pub data: EventData,
    pub request_id: Option<String>,
    /// The non-secret id of the API key that made the change; `null` on an open service.
    pub actor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    /// The whole resource after the change (as it was, for a deletion).
    pub object: Value,
    /// The fields the change gave new values, with their old ones; `null` for a creation
    /// and a deletion.
    pub previous_attributes: Option<Map<String, Value>>,
}

/// Who asked for a change, and under which request id: what an event records of its cause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub request_id: Option<String>,
    pub actor: Option<String>,
}

impl Origin {
    /// A change the service makes itself, such as loading its sample data.
    pub fn system() -> Self {
        Self::default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get(&crate::http::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let actor = parts
            .extensions
            .get::<Principal>()
            .filter(|p| !p.is_anonymous())
            .map(|p| p.as_str().to_owned());
        Ok(Self { request_id, actor })
    }
}

impl Event {
    /// The event of `kind` for `object` (identified by `object_id`) at version `sequence`;
    /// `before` is its state before the change, for an update.
    pub fn new<T: Serialize>(
        kind: &str,
        origin: &Origin,
        object_id: ObjectId,
        sequence: i64,
        object: &T,
        before: Option<&T>,
    ) -> Result<Self, StoreError> {
        let object = to_value(object)?;
        let previous_attributes = before
            .map(to_value)
            .transpose()?
            .map(|before| changed_fields(&before, &object));
        Ok(Self {
            id: ObjectId::new(),
            kind: kind.to_owned(),
            created_at: crate::time::now(),
            object_id,
            sequence,
            data: EventData {
                object,
                previous_attributes,
            },
            request_id: origin.request_id.clone(),
            actor: origin.actor.clone(),
        })
    }

    /// The creation event of a record the service loads itself (its sample data).
    pub fn seeded<T: Serialize>(
        kind: &str,
        object_id: ObjectId,
        object: &T,
    ) -> Result<Self, StoreError> {
        Self::new(kind, &Origin::system(), object_id, 1, object, None)
    }

    /// The event as the log keeps it and webhooks send it.
    pub fn to_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|e| StoreError::Internal(format!("event JSON: {e}")))
    }

    pub fn from_json(text: &str) -> Result<Self, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Internal(format!("event JSON: {e}")))
    }

    /// Whether an endpoint subscribed to `enabled` wants this event.
    pub fn wanted_by(&self, enabled: &[String]) -> bool {
        enabled.iter().any(|t| t == "*" || *t == self.kind)
    }
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Internal(format!("event object: {e}")))
}

/// The top-level fields of `before` that `after` gives another value, with their values in
/// `before` (`null` for a field `after` added).
fn changed_fields(before: &Value, after: &Value) -> Map<String, Value> {
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return Map::new();
    };
    let mut changed = Map::new();
    for (key, new) in after {
        match before.get(key) {
            Some(old) if old == new => {}
            old => {
                changed.insert(key.clone(), old.cloned().unwrap_or(Value::Null));
            }
        }
    }
    for (key, old) in before {
        if !after.contains_key(key) {
            changed.insert(key.clone(), old.clone());
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn previous_attributes_hold_the_old_values_of_changed_fields_only() {
        let before = json!({"name": "A", "email": "a@x.io", "phone": null, "gone": 1});
        let after = json!({"name": "B", "email": "a@x.io", "phone": "+1", "added": true});
        let changed = changed_fields(&before, &after);
        assert_eq!(
            Value::Object(changed),
            json!({"name": "A", "phone": null, "added": null, "gone": 1})
        );
    }

    #[test]
    fn an_event_round_trips_through_its_json() {
        let origin = Origin {
            request_id: Some("req-1".into()),
            actor: Some("key_ab12".into()),
        };
        let id = ObjectId::new();
        let event = Event::new(
            "thing.updated",
            &origin,
            id,
            2,
            &json!({"a": 2}),
            Some(&json!({"a": 1})),
        )
        .unwrap();
        assert_eq!(event.object_id, id);
        assert_eq!(
            event.data.previous_attributes,
            Some(json!({"a": 1}).as_object().unwrap().clone())
        );
        assert_eq!(Event::from_json(&event.to_json().unwrap()).unwrap(), event);
        assert!(event.wanted_by(&["*".into()]));
        assert!(event.wanted_by(&["thing.updated".into()]));
        assert!(!event.wanted_by(&["thing.created".into()]));
    }
}
