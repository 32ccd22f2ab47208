//! The customer-service client: invoice creation looks the customer up over HTTP.

use std::time::Duration;

use bson::oid::ObjectId;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use service_kit::bulkhead::Bulkhead;

use crate::domain::CustomerSnapshot;

/// The bound on one customer lookup.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no such customer")]
    NotFound,
    #[error("customer-service unavailable: {0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct CustomerBody {
    name: String,
    email: String,
}

/// Talks to customer-service; one pooled HTTP client for the life of the service.
pub struct CustomerDirectory {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<SecretString>,
    in_flight: Bulkhead,
}

/// The most lookups in flight at once; past it a lookup fails at once (see [`Bulkhead`]).
pub const MAX_LOOKUPS_IN_FLIGHT: usize = 256;

impl CustomerDirectory {
    pub fn new(base_url: &str, api_key: Option<SecretString>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(LOOKUP_TIMEOUT)
            .connect_timeout(Duration::from_millis(1000))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            in_flight: Bulkhead::new("customer-service", MAX_LOOKUPS_IN_FLIGHT),
        })
    }

    /// The customer's name and email now; the request id (and, when traces are exported,
    /// the W3C trace context) goes along so one id and one trace follow the request through
    /// both services.
    pub async fn lookup(
        &self,
        id: ObjectId,
        request_id: Option<&str>,
    ) -> Result<CustomerSnapshot, LookupError> {
        let Some(_admitted) = self.in_flight.try_enter() else {
            return Err(LookupError::Unavailable(format!(
                "{MAX_LOOKUPS_IN_FLIGHT} lookups in flight"
            )));
        };
        let started = std::time::Instant::now();
        let mut request = self
            .http
            .get(format!("{}/customers/{}", self.base_url, id.to_hex()))
            .headers(service_kit::telemetry::trace_context_headers());
        if let Some(request_id) = request_id {
            request = request.header("x-request-id", request_id);
        }
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let result = match request.send().await {
            Ok(response) if response.status() == StatusCode::OK => response
                .json::<CustomerBody>()
                .await
                .map(|c| CustomerSnapshot {
                    name: c.name,
                    email: c.email,
                })
                .map_err(|e| LookupError::Unavailable(format!("unreadable answer: {e}"))),
            Ok(response) if response.status() == StatusCode::NOT_FOUND => {
                Err(LookupError::NotFound)
            }
            Ok(response) => Err(LookupError::Unavailable(format!(
                "answered {}",
                response.status()
            ))),
            Err(error) => Err(LookupError::Unavailable(error.to_string())),
        };
        metrics::histogram!("upstream_request_duration_seconds", "upstream" => "customer-service")
            .record(started.elapsed().as_secs_f64());
        if let Err(LookupError::Unavailable(cause)) = &result {
            metrics::counter!("upstream_errors_total", "upstream" => "customer-service")
                .increment(1);
            tracing::warn!(%cause, "customer-service lookup failed");
        }
        result
    }
}
