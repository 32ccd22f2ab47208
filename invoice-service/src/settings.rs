//! invoice-service settings: the common ones with this service's defaults, and its cache
//! and customer-service.

use std::time::Duration;

use secrecy::SecretString;
use service_kit::Common;
use service_kit::config::{optional, parse_or};

use crate::documents::{Logo, MAX_ADDRESS_LINES, Seller};

#[derive(Clone)]
pub struct Settings {
    pub common: Common,
    /// `REDIS_URL`: `redis://host:port` for one server, or
    /// `redis+cluster://host1:port1,host2:port2,...` for a Redis Cluster (its seed nodes; a
    /// `user:password@` before the first applies to all). `None` uses the in-process cache.
    pub redis_url: Option<String>,
    pub cache_ttl: Duration,
    /// Prefix of every cache key, so several deployments (or tests) can share a Redis.
    pub cache_key_prefix: String,
    pub customer_service_url: String,
    pub customer_service_api_key: Option<SecretString>,
    /// This service's address as customers reach it: the base of hosted invoice links.
    /// `None`: `http://localhost:<port>`, on whatever port the service ends up with.
    pub public_url: Option<String>,
    /// Who issues the invoices, as the documents show it.
    pub seller: Seller,
    #[cfg(feature = "test-hooks")]
    pub before_cache_fill: Option<crate::cache::BeforeFill>,
}

impl Settings {
    pub const DEFAULT_PORT: u16 = 5001;
    pub const DEFAULT_DB: &str = "invoice_db";

    /// Where customers reach this service: `PUBLIC_URL`, else this host on its port.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{}", self.common.port))
    }

    pub fn from_env() -> anyhow::Result<Self> {
        let ttl_seconds: u64 = parse_or("CACHE_TTL_SECONDS", 3600)?;
        if ttl_seconds == 0 {
            anyhow::bail!("CACHE_TTL_SECONDS must be at least 1");
        }
        let common = Common::from_env(Self::DEFAULT_PORT, Self::DEFAULT_DB)?;
        let public_url = optional("PUBLIC_URL");
        if let Some(url) = &public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                anyhow::bail!("PUBLIC_URL must start with http:// or https://");
            }
        }
        Ok(Self {
            common,
            redis_url: optional("REDIS_URL"),
            cache_ttl: Duration::from_secs(ttl_seconds),
            cache_key_prefix: optional("CACHE_KEY_PREFIX").unwrap_or_else(|| "billing:".to_owned()),
            customer_service_url: optional("CUSTOMER_SERVICE_URL")
                .unwrap_or_else(|| "http://127.0.0.1:5000".to_owned()),
            customer_service_api_key: optional("CUSTOMER_SERVICE_API_KEY").map(SecretString::from),
            public_url,
            seller: seller_from_env()?,
            #[cfg(feature = "test-hooks")]
            before_cache_fill: None,
        })
    }
}

/// `SELLER_NAME`, `SELLER_ADDRESS` (up to four lines separated by newlines or `\n`),
/// `SELLER_TAX_ID`, `INVOICE_FOOTER` and `SELLER_LOGO` (the path of a PNG or JPEG file, read
/// and checked at start).
fn seller_from_env() -> anyhow::Result<Seller> {
    let logo = match optional("SELLER_LOGO") {
        None => None,
        Some(path) => {
            let bytes = std::fs::read(&path)
                .map_err(|e| anyhow::anyhow!("SELLER_LOGO {path} cannot be read: {e}"))?;
            if bytes.len() > MAX_LOGO_BYTES {
                anyhow::bail!("SELLER_LOGO {path} is over {MAX_LOGO_BYTES} bytes");
            }
            Some(Logo::parse(bytes).map_err(|e| anyhow::anyhow!("SELLER_LOGO {path} {e}"))?)
        }
    };
    let address: Vec<String> = optional("SELLER_ADDRESS")
        .map(|address| {
            address
                .replace("\\n", "\n")
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if address.len() > MAX_ADDRESS_LINES {
        anyhow::bail!(
            "SELLER_ADDRESS has {} lines; at most {MAX_ADDRESS_LINES}",
            address.len()
        );
    }
    Ok(Seller {
        name: optional("SELLER_NAME").unwrap_or_else(|| "Billing System Demo Ltd".to_owned()),
        address,
        tax_id: optional("SELLER_TAX_ID"),
        footer: optional("INVOICE_FOOTER"),
        logo,
    })
}

/// A logo is shown small; a larger file is a mistake, and every page would carry it.
const MAX_LOGO_BYTES: usize = 256 * 1024;

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
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}
