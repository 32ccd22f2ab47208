//! customer-service settings: the common ones, with this service's defaults.

use service_kit::Common;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: Common,
}

impl Settings {
    pub const DEFAULT_PORT: u16 = 5000;
    pub const DEFAULT_DB: &str = "billing_db";

    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            common: Common::from_env(Self::DEFAULT_PORT, Self::DEFAULT_DB)?,
        })
    }
}

impl AsRef<Common> for Settings {
    fn as_ref(&self) -> &Common {
        &self.common
    }
}
