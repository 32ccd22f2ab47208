//! The use cases of events and webhooks, the same on both services: reading the log,
//! managing endpoints, and sending events again.

use std::sync::Arc;

use bson::oid::ObjectId;
use chrono::{DateTime, Utc};

use super::relay::Worker;
use super::store::{AttemptRecord, Delivery, Endpoint, EndpointStatus, EventQuery};
use super::url_guard::{UrlPolicy, UrlRefused};
use super::{Event, EventStore};
use crate::error::{ApiError, FieldError};
use crate::store::StoreError;
use crate::time::now_ms;
use crate::webhook_signing::Secret;
use crate::{Limit, Page};

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// Longest endpoint description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest webhook URL, in characters.
pub const MAX_URL_CHARS: usize = 2048;

/// The events and webhooks of one service.
#[derive(Clone)]
pub struct Events {
    store: Arc<dyn EventStore>,
    worker: Arc<Worker>,
    /// Every event type this service emits.
    types: &'static [&'static str],
    policy: UrlPolicy,
    dependency: &'static str,
}

/// What `POST /webhook_endpoints` and `PATCH` give.
#[derive(Debug, Clone, Default)]
pub struct EndpointFields {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    /// Enabling a disabled endpoint, or disabling it.
    pub status: Option<EndpointStatus>,
}

impl Events {
    pub fn new(
        store: Arc<dyn EventStore>,
        worker: Arc<Worker>,
        types: &'static [&'static str],
        dependency: &'static str,
    ) -> Self {
        let policy = worker.settings.url_policy();
        Self {
            store,
            worker,
            types,
            policy,
            dependency,
        }
    }

    /// Tells the relay a write left events in the outbox.
    pub fn written(&self) {
        self.worker.written.notify_one();
    }

    fn store_error(&self, error: StoreError) -> ApiError {
        error.into_api_error(self.dependency)
    }

    pub async fn list(&self, mut query: EventQuery, limit: Limit) -> Result<Page<Event>, ApiError> {
        if let Some(kind) = &query.kind {
            if !self.types.contains(&kind.as_str()) {
                return Err(ApiError::invalid_field("type", self.types_sentence()));
            }
        }
        query.fetch = limit.overfetch();
        let events = self
            .store
            .events(&query)
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(Page::from_overfetch(events, limit, |e| e.id))
    }

    pub async fn get(&self, id: ObjectId) -> Result<Event, ApiError> {
        self.store
            .event(id)
            .await
            .map_err(|e| self.store_error(e))?
            .ok_or_else(|| ApiError::not_found("event"))
    }

    fn types_sentence(&self) -> String {
        format!("must be one of: {}", self.types.join(", "))
    }

    async fn checked(&self, fields: &EndpointFields, creating: bool) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        match &fields.url {
            Some(url) if url.chars().count() > MAX_URL_CHARS => {
                errors.push(FieldError::new(
                    "url",
                    format!("at most {MAX_URL_CHARS} characters"),
                ));
            }
            Some(url) => {
                if let Err(refused) = self.policy.check(url).await {
                    let message = match refused {
                        UrlRefused::Private => {
                            "must not point to a private, loopback or link-local address".into()
                        }
                        other => other.to_string(),
                    };
                    errors.push(FieldError::new("url", message));
                }
            }
            None if creating => errors.push(FieldError::new("url", "is required")),
            None => {}
        }
        match &fields.enabled_events {
            Some(types) if types.is_empty() => {
                errors.push(FieldError::new(
                    "enabled_events",
                    "name at least one event type, or \"*\"",
                ));
            }
            Some(types) => {
                if let Some(unknown) = types
                    .iter()
                    .find(|t| t.as_str() != "*" && !self.types.contains(&t.as_str()))
                {
                    errors.push(FieldError::new(
                        "enabled_events",
                        format!(
                            "{unknown:?} is not an event type; use \"*\" or one of: {}",
                            self.types.join(", ")
                        ),
                    ));
                }
            }
            None if creating => errors.push(FieldError::new("enabled_events", "is required")),
            None => {}
        }
        if let Some(Some(description)) = &fields.description {
            if description.chars().count() > MAX_DESCRIPTION_CHARS {
                errors.push(FieldError::new(
                    "description",
                    format!("at most {MAX_DESCRIPTION_CHARS} characters"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(errors))
        }
    }

    /// Creates an endpoint with a new secret, which only this answer shows.
    pub async fn create_endpoint(&self, fields: EndpointFields) -> Result<Endpoint, ApiError> {
        self.checked(&fields, true).await?;
        let mut endpoint = Endpoint::new(
            fields.url.unwrap_or_default(),
            dedup(fields.enabled_events.unwrap_or_default()),
            fields.description.flatten(),
        );
        if let Some(status) = fields.status {
            endpoint.status = status;
        }
        self.store
            .insert_endpoint(&endpoint)
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(endpoint)
    }

    pub async fn endpoint(&self, id: ObjectId) -> Result<Endpoint, ApiError> {
        self.store
            .endpoint(id)
            .await
            .map_err(|e| self.store_error(e))?
            .ok_or_else(|| ApiError::not_found("webhook endpoint"))
    }

    pub async fn endpoints(
        &self,
        after: Option<ObjectId>,
        limit: Limit,
    ) -> Result<Page<Endpoint>, ApiError> {
        let endpoints = self
            .store
            .endpoints(after, limit.overfetch())
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(Page::from_overfetch(endpoints, limit, |e| e.id))
    }

    /// Changes an endpoint, retrying when another write to it came first.
    pub async fn update_endpoint(
        &self,
        id: ObjectId,
        fields: EndpointFields,
    ) -> Result<Endpoint, ApiError> {
        self.checked(&fields, false).await?;
        self.change(id, |endpoint| {
            if let Some(url) = &fields.url {
                endpoint.url.clone_from(url);
            }
            if let Some(types) = &fields.enabled_events {
                endpoint.enabled_events = dedup(types.clone());
            }
            if let Some(description) = &fields.description {
                endpoint.description.clone_from(description);
            }
            if let Some(status) = fields.status {
                endpoint.status = status;
                if status == EndpointStatus::Enabled {
                    endpoint.disabled_reason = None;
                    endpoint.failing_since = None;
                }
            }
        })
        .await
    }

    /// Gives the endpoint a new secret; the old one keeps signing beside it for a day.
    pub async fn rotate_secret(&self, id: ObjectId) -> Result<Endpoint, ApiError> {
        let now = crate::time::now();
        self.change(id, |endpoint| {
            let old =
                std::mem::replace(&mut endpoint.secret, Secret::generate().expose().to_owned());
            endpoint.previous_secret = Some(old);
            endpoint.previous_secret_expires_at = Some(now + ROTATION_OVERLAP);
        })
        .await
    }

    async fn change(
        &self,
        id: ObjectId,
        edit: impl Fn(&mut Endpoint),
    ) -> Result<Endpoint, ApiError> {
        for _ in 0..crate::store::WRITE_ATTEMPTS {
            let current = self.endpoint(id).await?;
            let mut next = current.clone();
            edit(&mut next);
            next.version = current.version + 1;
            next.updated_at = crate::time::now();
            if self
                .store
                .replace_endpoint(current.version, &next)
                .await
                .map_err(|e| self.store_error(e))?
            {
                if next.status == EndpointStatus::Disabled {
                    self.store
                        .fail_pending(next.id, now_ms())
                        .await
                        .map_err(|e| self.store_error(e))?;
                }
                return Ok(next);
            }
        }
        Err(ApiError::contended("webhook endpoint"))
    }

    pub async fn delete_endpoint(&self, id: ObjectId) -> Result<(), ApiError> {
        if !self
            .store
            .delete_endpoint(id)
            .await
            .map_err(|e| self.store_error(e))?
        {
            return Err(ApiError::not_found("webhook endpoint"));
        }
        self.store
            .fail_pending(id, now_ms())
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(())
    }

    /// The attempts at an endpoint, newest first.
    pub async fn attempts(
        &self,
        id: ObjectId,
        before: Option<ObjectId>,
        limit: Limit,
    ) -> Result<Page<AttemptRecord>, ApiError> {
        let endpoint = self.endpoint(id).await?;
        let attempts = self
            .store
            .attempts(endpoint.id, before, limit.overfetch())
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(Page::from_overfetch(attempts, limit, |a| a.id))
    }

    /// Sends again every event whose delivery to the endpoint failed since `since`; how
    /// many. Enables the endpoint if it was disabled.
    pub async fn recover(&self, id: ObjectId, since: DateTime<Utc>) -> Result<u64, ApiError> {
        let endpoint = self.endpoint(id).await?;
        if endpoint.status == EndpointStatus::Disabled {
            self.update_endpoint(
                id,
                EndpointFields {
                    status: Some(EndpointStatus::Enabled),
                    ..EndpointFields::default()
                },
            )
            .await?;
        }
        let reopened = self
            .store
            .reopen_failed(endpoint.id, since.timestamp_millis(), now_ms())
            .await
            .map_err(|e| self.store_error(e))?;
        self.worker.owed.notify_one();
        Ok(reopened)
    }

    /// Sends the event to the endpoint once more, whatever became of it before.
    pub async fn redeliver(
        &self,
        event_id: ObjectId,
        endpoint_id: ObjectId,
    ) -> Result<(), ApiError> {
        let event = self.get(event_id).await?;
        let endpoint = self.endpoint(endpoint_id).await?;
        if endpoint.status != EndpointStatus::Enabled {
            return Err(ApiError::from(crate::error::codes::ENDPOINT_DISABLED));
        }
        self.store
            .requeue(&Delivery::new(endpoint.id, &event, now_ms()))
            .await
            .map_err(|e| self.store_error(e))?;
        self.worker.owed.notify_one();
        Ok(())
    }
}

fn dedup(mut types: Vec<String>) -> Vec<String> {
    types.sort();
    types.dedup();
    types
}
