//! Load shedding: a bound on the calls in flight to one dependency. When it is full, a new
//! call fails at once (the request answers `503` with `Retry-After`) instead of queueing
//! behind a dependency that has stopped answering, so a frozen dependency leaves no backlog of
//! requests whose clients have long gone, and the service answers normally once it is back.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Calls in flight to one dependency, at most `limit` at a time.
pub struct Bulkhead {
    permits: Semaphore,
    dependency: &'static str,
}

/// The call may go ahead; dropping it frees its place.
pub type Admitted<'a> = SemaphorePermit<'a>;

impl Bulkhead {
    pub const fn new(dependency: &'static str, limit: usize) -> Self {
        Self {
            permits: Semaphore::const_new(limit),
            dependency,
        }
    }

    /// A place for one call, or `None` (counted in `load_shed_total`) when all are taken.
    pub fn try_enter(&self) -> Option<Admitted<'_>> {
        let admitted = self.permits.try_acquire().ok();
        if admitted.is_none() {
            metrics::counter!("load_shed_total", "dependency" => self.dependency).increment(1);
        }
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::Bulkhead;

    #[test]
    fn a_full_bulkhead_refuses_at_once_and_a_freed_place_admits_again() {
        let bulkhead = Bulkhead::new("test", 2);
        let first = bulkhead.try_enter();
        let second = bulkhead.try_enter();
        assert!(first.is_some() && second.is_some());
        assert!(bulkhead.try_enter().is_none());
        drop(first);
        assert!(bulkhead.try_enter().is_some());
    }
}
