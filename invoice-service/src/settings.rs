//! invoice-service settings: the common ones with this service's defaults, and its cache
//! and customer-service.

use std::time::Duration;

use secrecy::SecretString;
use service_kit::Common;
use service_kit::config::{optional, parse_or};

#[derive(Clone)]
pub struct Settings {
    pub common: Common,
    /// `None` uses the in-process cache.
    pub redis_url: Option<String>,
    pub cache_ttl: Duration,
    /// Prefix of every cache key, so several deployments (or tests) can share a Redis.
    pub cache_key_prefix: String,
    pub customer_service_url: String,
    pub customer_service_api_key: Option<SecretString>,
    #[cfg(feature = "test-hooks")]
    pub before_cache_fill: Option<crate::cache::BeforeFill>,
}

impl Settings {
    pub const DEFAULT_PORT: u16 = 5001;
    pub const DEFAULT_DB: &str = "invoice_db";

    pub fn from_env() -> anyhow::Result<Self> {
        let ttl_seconds: u64 = parse_or("CACHE_TTL_SECONDS", 3600)?;
        if ttl_seconds == 0 {
            anyhow::bail!("CACHE_TTL_SECONDS must be at least 1");
        }
        Ok(Self {
            common: Common::from_env(Self::DEFAULT_PORT, Self::DEFAULT_DB)?,
            redis_url: optional("REDIS_URL"),
            cache_ttl: Duration::from_secs(ttl_seconds),
            cache_key_prefix: optional("CACHE_KEY_PREFIX").unwrap_or_else(|| "billing:".to_owned()),
            customer_service_url: optional("CUSTOMER_SERVICE_URL")
                .unwrap_or_else(|| "http://127.0.0.1:5000".to_owned()),
            customer_service_api_key: optional("CUSTOMER_SERVICE_API_KEY").map(SecretString::from),
            #[cfg(feature = "test-hooks")]
            before_cache_fill: None,
        })
    }
}

impl AsRef<Common> for Settings {
    fn as_ref(&self) -> &Common {
        &self.common
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("common", &self.common)
            .field("redis", &self.redis_url.is_some())
            .field("customer_service_url", &self.customer_service_url)
            .finish_non_exhaustive()
    }
}
