//! The settings both services share, from the environment, failing fast with a sentence
//! that names the variable.

use std::path::PathBuf;

use crate::auth::ApiKeys;
use crate::config::{flag, optional, parse_or};
use crate::mongo::MAX_IN_FLIGHT;
use crate::rate_limit::RateLimit;

#[derive(Clone)]
pub struct Common {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// `None` runs on the embedded store under `data_dir`. May hold a password: never
    /// printed.
    pub mongodb_uri: Option<String>,
    pub mongodb_db: String,
    /// The most MongoDB calls in flight at once; past it calls are shed (answered 503 at once).
    pub mongodb_max_in_flight: usize,
    pub data_dir: PathBuf,
    pub seed_sample_data: bool,
    /// `None` runs open (no API keys configured).
    pub api_keys: Option<ApiKeys>,
    pub rate_limit: RateLimit,
    pub events: crate::events::EventSettings,
}

impl Common {
    /// `HOST`, `PORT`, `MONGODB_URI`, `MONGODB_DB`, `MONGODB_MAX_IN_FLIGHT`, `DATA_DIR`,
    /// `SEED_SAMPLE_DATA`, `API_KEYS`, `RATE_LIMIT_PER_SECOND` and `RATE_LIMIT_BURST`.
    pub fn from_env(default_port: u16, default_db: &str) -> anyhow::Result<Self> {
        Ok(Self {
            host: optional("HOST").unwrap_or_else(|| "0.0.0.0".to_owned()),
            port: parse_or("PORT", default_port)?,
            mongodb_uri: optional("MONGODB_URI"),
            mongodb_db: optional("MONGODB_DB").unwrap_or_else(|| default_db.to_owned()),
            mongodb_max_in_flight: match parse_or("MONGODB_MAX_IN_FLIGHT", MAX_IN_FLIGHT)? {
                0 => anyhow::bail!("MONGODB_MAX_IN_FLIGHT must be at least 1"),
                n => n,
            },
            data_dir: optional("DATA_DIR")
                .map_or_else(|| PathBuf::from("./data-local"), PathBuf::from),
            seed_sample_data: flag("SEED_SAMPLE_DATA", false)?,
            api_keys: ApiKeys::from_env()?,
            rate_limit: RateLimit::from_env()?,
            events: crate::events::EventSettings::from_env()?,
        })
    }

    /// A service on a free port of 127.0.0.1, open, with no sample data: what tests run.
    pub fn local(mongodb_uri: Option<String>, mongodb_db: String, data_dir: PathBuf) -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            mongodb_uri,
            mongodb_db,
            mongodb_max_in_flight: MAX_IN_FLIGHT,
            data_dir,
            seed_sample_data: false,
            api_keys: None,
            rate_limit: RateLimit::default(),
            events: crate::events::EventSettings::local(),
        }
    }
}

impl std::fmt::Debug for Common {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Common")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("mongodb", &self.mongodb_uri.is_some())
            .field("mongodb_db", &self.mongodb_db)
            .field("data_dir", &self.data_dir)
            .field("api_keys", &self.api_keys)
            .finish_non_exhaustive()
    }
}
