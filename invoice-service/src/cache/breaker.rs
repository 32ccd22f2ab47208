//! When Redis is bypassed after a failure: a window of one second per server, or on a Redis
//! Cluster per hash slot, opened for every slot of the master that failed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::connection::SlotRange;
use super::keys;

/// How long Redis is bypassed after a failure.
const BREAKER_OPEN_FOR: Duration = Duration::from_millis(1000);
/// How long a cluster's slot ranges, read after a failure, are used for the next ones: they
/// change only when slots move.
const MASTERS_KNOWN_FOR: Duration = Duration::from_secs(10);

/// Windows in which Redis is bypassed after a failure: one for a single server; for a cluster
/// one per hash slot, and a failure opens those of every slot its key's master serves, since
/// one master can be down while the others answer.
pub(super) struct Breaker {
    started: Instant,
    /// Milliseconds since `started` until which each window's keys bypass Redis.
    open_until_ms: Box<[AtomicU64]>,
    /// A cluster's slot ranges by master, and when they were read: so that a master that is
    /// down costs one failed call per window, not one per slot.
    pub(super) masters: Mutex<Option<(Instant, Arc<[SlotRange]>)>>,
    /// Whether a read of `masters` is under way.
    pub(super) reading_masters: AtomicBool,
}

impl Breaker {
    pub(super) fn new(cluster: bool) -> Self {
        let windows = if cluster { usize::from(keys::SLOTS) } else { 1 };
        Self {
            started: Instant::now(),
            open_until_ms: (0..windows).map(|_| AtomicU64::new(0)).collect(),
            masters: Mutex::new(None),
            reading_masters: AtomicBool::new(false),
        }
    }

    /// The window whose state `key`'s calls obey and set.
    pub(super) fn window(&self, key: &str) -> usize {
        if self.open_until_ms.len() == 1 {
            0
        } else {
            usize::from(keys::slot(key))
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(super) fn closed(&self, window: usize) -> bool {
        self.open_until_ms
            .get(window)
            .is_none_or(|until| self.now_ms() >= until.load(Ordering::Relaxed))
    }

    pub(super) fn trip(&self, window: usize) {
        self.open(window, self.reopens_at());
    }

    fn reopens_at(&self) -> u64 {
        self.now_ms() + u64::try_from(BREAKER_OPEN_FOR.as_millis()).unwrap_or(1000)
    }

    fn open(&self, window: usize, until_ms: u64) {
        if let Some(open_until) = self.open_until_ms.get(window) {
            open_until.store(until_ms, Ordering::Relaxed);
        }
    }

    /// The masters' slot ranges, unless they are unknown or older than MASTERS_KNOWN_FOR.
    pub(super) fn known_masters(&self) -> Option<Arc<[SlotRange]>> {
        let masters = self.masters.lock().ok()?;
        let (read, ranges) = masters.as_ref()?;
        (read.elapsed() < MASTERS_KNOWN_FOR).then(|| Arc::clone(ranges))
    }

    /// Opens the window of every slot served by the master that serves slot `window`.
    pub(super) fn trip_master(&self, ranges: &[SlotRange], window: usize) {
        let Ok(slot) = u16::try_from(window) else {
            return;
        };
        let Some((_, master)) = ranges.iter().find(|(range, _)| range.contains(&slot)) else {
            return;
        };
        let until_ms = self.reopens_at();
        for (range, _) in ranges.iter().filter(|(_, m)| m == master) {
            for slot in range.clone() {
                self.open(usize::from(slot), until_ms);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Breaker;

    #[test]
    fn one_server_has_one_window() {
        let breaker = Breaker::new(false);
        assert_eq!(breaker.window("billing:invoice:a"), 0);
        assert_eq!(breaker.window("billing:invoice:b"), 0);
        breaker.trip(0);
        assert!(!breaker.closed(0));
    }

    #[test]
    fn a_cluster_failure_opens_the_slots_of_its_master_only() {
        let breaker = Breaker::new(true);
        let ranges = [
            (0..=5460, "a:7000".to_owned()),
            (5461..=10922, "b:7001".to_owned()),
            (10923..=16383, "a:7000".to_owned()),
        ];
        breaker.trip_master(&ranges, 7000);
        assert!(!breaker.closed(5461) && !breaker.closed(7000) && !breaker.closed(10922));
        assert!(breaker.closed(0) && breaker.closed(5460) && breaker.closed(10923));

        breaker.trip_master(&ranges, 12000);
        assert!(!breaker.closed(0) && !breaker.closed(16383));

        let window = breaker.window("billing:invoice:66f000000000000000000001");
        assert_eq!(
            window,
            usize::from(crate::cache::keys::slot(
                "billing:invoice:66f000000000000000000001"
            ))
        );
    }
}
