//! invoice-service settings, from the environment with the defaults of ARCHITECTURE.md.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use service_kit::auth::ApiKeys;
use service_kit::config::{flag, optional, parse_or};
use service_kit::rate_limit::RateLimit;

use crate::cache::BeforeFill;

#[derive(Clone)]
pub struct Settings {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// `None` runs on the embedded store under `data_dir`.
    pub mongodb_uri: Option<String>,
    pub mongodb_db: String,
    pub data_dir: PathBuf,
    /// `None` uses the in-process cache.
    pub redis_url: Option<String>,
    pub cache_ttl: Duration,
    /// Prefix of every cache key, so several deployments (or tests) can share a Redis.
    pub cache_key_prefix: String,
    pub customer_service_url: String,
    pub customer_service_api_key: Option<SecretString>,
    pub seed_sample_data: bool,
    /// `None` runs open (no API keys configured).
    pub api_keys: Option<ApiKeys>,
    pub rate_limit: RateLimit,
    /// Test hook: runs between a store read and its cache fill.
    pub before_cache_fill: Option<BeforeFill>,
}

impl Settings {
    pub const DEFAULT_PORT: u16 = 5001;

    pub fn from_env() -> anyhow::Result<Self> {
        let ttl_seconds: u64 = parse_or("CACHE_TTL_SECONDS", 3600)?;
        if ttl_seconds == 0 {
            anyhow::bail!("CACHE_TTL_SECONDS must be at least 1");
        }
        Ok(Self {
            host: optional("HOST").unwrap_or_else(|| "0.0.0.0".to_owned()),
            port: parse_or("PORT", Self::DEFAULT_PORT)?,
            mongodb_uri: optional("MONGODB_URI"),
            mongodb_db: optional("MONGODB_DB").unwrap_or_else(|| "invoice_db".to_owned()),
            data_dir: optional("DATA_DIR")
                .map_or_else(|| PathBuf::from("./data-local"), PathBuf::from),
            redis_url: optional("REDIS_URL"),
            cache_ttl: Duration::from_secs(ttl_seconds),
            cache_key_prefix: optional("CACHE_KEY_PREFIX").unwrap_or_else(|| "billing:".to_owned()),
            customer_service_url: optional("CUSTOMER_SERVICE_URL")
                .unwrap_or_else(|| "http://127.0.0.1:5000".to_owned()),
            customer_service_api_key: optional("CUSTOMER_SERVICE_API_KEY").map(SecretString::from),
            seed_sample_data: flag("SEED_SAMPLE_DATA", false)?,
            api_keys: ApiKeys::from_env()?,
            rate_limit: RateLimit::from_env()?,
            before_cache_fill: None,
        })
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("port", &self.port)
            .field("mongodb_db", &self.mongodb_db)
            .field("redis", &self.redis_url.is_some())
            .field("customer_service_url", &self.customer_service_url)
            .finish_non_exhaustive()
    }
}
