//! A copy of the records kept outside the store, fed from the event log: the invoice cache.
//!
//! Every instance's relay applies every write's event, so a write whose own instance could
//! not reach the copy (Redis stalled or unreachable for it) is applied by another one. An
//! event no instance could apply waits in the store, so it outlives the instance that
//! relayed it.

use async_trait::async_trait;

use super::Event;

#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Applies the state `event` left its object in; `false` when the copy cannot take it
    /// now. Applying an event again, or an older one after a newer, must change nothing.
    async fn apply(&self, event: &Event) -> bool;
}
