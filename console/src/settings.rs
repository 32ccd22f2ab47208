//! The console's settings, from the environment, failing fast with a sentence that names
//! the variable.

use secrecy::{ExposeSecret, SecretString};
use service_kit::config::{optional, parse_or};

/// A session key shorter than this would be guessable.
pub const MIN_SESSION_KEY_CHARS: usize = 32;

#[derive(Clone)]
pub struct Settings {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    pub customer_service_url: String,
    pub invoice_service_url: String,
    /// What the cookie-encryption key is derived from; `None` makes a random key at start.
    pub session_key: Option<SecretString>,
}

impl Settings {
    pub const DEFAULT_PORT: u16 = 5002;

    /// `HOST`, `PORT`, `CUSTOMER_SERVICE_URL`, `INVOICE_SERVICE_URL` and
    /// `CONSOLE_SESSION_KEY`.
    pub fn from_env() -> anyhow::Result<Self> {
        let settings = Self {
            host: optional("HOST").unwrap_or_else(|| "0.0.0.0".to_owned()),
            port: parse_or("PORT", Self::DEFAULT_PORT)?,
            customer_service_url: optional("CUSTOMER_SERVICE_URL")
                .unwrap_or_else(|| "http://127.0.0.1:5000".to_owned()),
            invoice_service_url: optional("INVOICE_SERVICE_URL")
                .unwrap_or_else(|| "http://127.0.0.1:5001".to_owned()),
            session_key: optional("CONSOLE_SESSION_KEY").map(SecretString::from),
        };
        settings.check()?;
        Ok(settings)
    }

    /// A console on a free port of 127.0.0.1 with a random session key: what tests run.
    pub fn local(customer_service_url: &str, invoice_service_url: &str) -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            customer_service_url: customer_service_url.to_owned(),
            invoice_service_url: invoice_service_url.to_owned(),
            session_key: None,
        }
    }

    /// The rules `from_env` enforces; [`crate::build`] checks them again for settings made
    /// in code.
    pub fn check(&self) -> anyhow::Result<()> {
        for (variable, url) in [
            ("CUSTOMER_SERVICE_URL", &self.customer_service_url),
            ("INVOICE_SERVICE_URL", &self.invoice_service_url),
        ] {
            if url::Url::parse(url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                anyhow::bail!("{variable}={url:?} is not valid: use an http:// or https:// URL");
            }
        }
        if let Some(key) = &self.session_key {
            if key.expose_secret().chars().count() < MIN_SESSION_KEY_CHARS {
                anyhow::bail!(
                    "CONSOLE_SESSION_KEY is shorter than {MIN_SESSION_KEY_CHARS} characters"
                );
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("customer_service_url", &self.customer_service_url)
            .field("invoice_service_url", &self.invoice_service_url)
            .field("session_key", &self.session_key.is_some())
            .finish()
    }
}
