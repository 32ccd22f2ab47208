//! The sample customers of `data/customers.json`, loaded into an empty store on request.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::Customer;
use crate::store::CustomerStore;

const SAMPLE: &str = include_str!("../data/customers.json");

pub fn sample_customers() -> anyhow::Result<Vec<Customer>> {
    Ok(serde_json::from_str(SAMPLE)?)
}

/// Seeds in the background, retrying while the store is unavailable.
pub fn in_background(store: Arc<dyn CustomerStore>) {
    tokio::spawn(async move {
        let customers = match sample_customers() {
            Ok(customers) => customers,
            Err(error) => {
                tracing::error!(%error, "data/customers.json is not valid");
                return;
            }
        };
        loop {
            match store.seed(&customers).await {
                Ok(0) => return tracing::info!("store not empty; sample customers not loaded"),
                Ok(n) => return tracing::info!(count = n, "sample customers loaded"),
                Err(error) => {
                    tracing::warn!(%error, "cannot seed yet; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_data_parses() {
        assert!(super::sample_customers().unwrap().len() >= 10);
    }
}
