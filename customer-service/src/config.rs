//! customer-service settings, from the environment with the defaults of ARCHITECTURE.md.

use std::path::PathBuf;

use service_kit::auth::ApiKeys;
use service_kit::config::{flag, optional, parse_or};
use service_kit::rate_limit::RateLimit;

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// `None` runs on the embedded store under `data_dir`.
    pub mongodb_uri: Option<String>,
    pub mongodb_db: String,
    pub data_dir: PathBuf,
    pub seed_sample_data: bool,
    /// `None` runs open (no API keys configured).
    pub api_keys: Option<ApiKeys>,
    pub rate_limit: RateLimit,
}

impl Settings {
    pub const DEFAULT_PORT: u16 = 5000;

    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            host: optional("HOST").unwrap_or_else(|| "0.0.0.0".to_owned()),
            port: parse_or("PORT", Self::DEFAULT_PORT)?,
            mongodb_uri: optional("MONGODB_URI"),
            mongodb_db: optional("MONGODB_DB").unwrap_or_else(|| "billing_db".to_owned()),
            data_dir: optional("DATA_DIR")
                .map_or_else(|| PathBuf::from("./data-local"), PathBuf::from),
            seed_sample_data: flag("SEED_SAMPLE_DATA", false)?,
            api_keys: ApiKeys::from_env()?,
            rate_limit: RateLimit::from_env()?,
        })
    }
}
