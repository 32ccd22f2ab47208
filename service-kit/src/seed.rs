//! Loading sample data into an empty store, in the background, retrying while the store is
//! unavailable (the service starts before its database).

use std::future::Future;
use std::time::Duration;

use crate::store::StoreError;

/// Runs `seed` until the store answers: it returns how many records it loaded, 0 when the
/// store already held data.
pub fn in_background<F, Fut>(what: &'static str, seed: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<usize, StoreError>> + Send,
{
    tokio::spawn(async move {
        loop {
            match seed().await {
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
