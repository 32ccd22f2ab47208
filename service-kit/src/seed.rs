//! Loading sample data into an empty store, in the background, retrying while the store is
//! unavailable (the service starts before its database).

use std::sync::Arc;
use std::time::Duration;

use crate::store::Records;

/// Parses the sample records a service ships as JSON.
pub fn parse<T: serde::de::DeserializeOwned>(json: &str) -> anyhow::Result<Vec<T>> {
    Ok(serde_json::from_str(json)?)
}

/// Loads `records` into `store` if it is empty, retrying until the store answers.
pub fn in_background<T, S>(what: &'static str, store: Arc<S>, records: Vec<T>)
where
    T: Send + Sync + 'static,
    S: Records<T> + ?Sized,
{
    tokio::spawn(async move {
        loop {
            match store.seed(&records).await {
                Ok(0) => return tracing::info!(what, "store not empty; sample data not loaded"),
                Ok(count) => return tracing::info!(what, count, "sample data loaded"),
                Err(error) => {
                    tracing::warn!(%error, what, "cannot load sample data yet; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    });
}
