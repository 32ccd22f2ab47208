//! Redis as the shared cache of every instance: one server or a Redis Cluster.
//!
//! Calls are bounded by a short timeout; after a failure Redis is bypassed for a moment
//! (a circuit breaker), so a dead or stalled Redis costs no request more than one timeout.
//! On a cluster the breaker is kept per master: a master that is down bypasses only the keys
//! it serves, and the other masters keep serving theirs.
//! A writer's new state that Redis could not take is kept and retried in the background;
//! until it lands, this instance reads that invoice from the store, so it never serves what
//! it replaced.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use bson::oid::ObjectId;
use redis::{AsyncCommands, ErrorKind, Script, ServerErrorKind};

use super::breaker::Breaker;
use super::connection::{Connection, SlotRange};
use super::{CacheUnavailable, Entry, Lookup, keys};

/// The bound on one Redis call.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(200);
/// How long a drawn document is kept; a newer version is a new key, so this only bounds
/// the memory old versions hold.
const DOCUMENT_TTL_SECONDS: u64 = 24 * 3600;
/// How often unpublished writes are retried.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// SET the key to `ARGV[2]` (`<version>|<json>`) for `ARGV[3]` ms unless it already holds
/// version `ARGV[1]` or newer.
///
/// It touches exactly `KEYS[1]`, and a cluster routes EVALSHA and EVAL by that key's slot. A
/// script that touches several keys must give them one hash tag (`{...}`), so that they share
/// a slot and so a master.
const PUT_IF_NEWER: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if sep and tonumber(string.sub(current, 1, sep - 1)) >= tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

pub struct RedisCache {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Connection,
    prefix: String,
    put_if_newer: Script,
    breaker: Arc<Breaker>,
    /// Writers' states Redis has not taken yet, newest version per id.
    unpublished: Mutex<HashMap<ObjectId, Entry>>,
    /// Whether `unpublished` holds anything: read on every request without the lock.
    any_unpublished: AtomicBool,
}

impl RedisCache {
    /// Connects lazily: the service starts while Redis is down.
    pub fn new(url: &str, prefix: String) -> anyhow::Result<Self> {
        let connection = Connection::open(url)?;
        let breaker = Arc::new(Breaker::new(connection.is_cluster()));
        let inner = Arc::new(Inner {
            connection,
            prefix,
            put_if_newer: Script::new(PUT_IF_NEWER),
            breaker,
            unpublished: Mutex::new(HashMap::new()),
            any_unpublished: AtomicBool::new(false),
        });
        tokio::spawn(retry_unpublished(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    pub async fn get(&self, id: ObjectId) -> Result<Lookup, CacheUnavailable> {
        let inner = &self.inner;
        let key = keys::invoice(&inner.prefix, id);
        let window = inner.breaker.window(&key);
        if !inner.breaker.closed(window) || inner.is_unpublished(id) {
            return Err(CacheUnavailable("bypassed".into()));
        }
        let mut connection = inner.connection.clone();
        let value: Option<Vec<u8>> = inner.bounded(Some(window), connection.get(key)).await?;
        let Some(value) = value else {
            return Ok(Lookup::Miss);
        };
        let Some(separator) = value.iter().position(|&b| b == b'|') else {
            return Ok(Lookup::Miss);
        };
        if separator + 1 == value.len() {
            return Ok(Lookup::Absent);
        }
        let Some(version) = std::str::from_utf8(&value[..separator])
            .ok()
            .and_then(|digits| digits.parse().ok())
        else {
            return Ok(Lookup::Miss);
        };
        Ok(Lookup::Hit {
            version,
            invoice: Bytes::from(value).slice(separator + 1..),
        })
    }

    pub async fn put_if_newer(&self, id: ObjectId, entry: &Entry) -> Result<(), CacheUnavailable> {
        let key = keys::invoice(&self.inner.prefix, id);
        if !self.inner.breaker.closed(self.inner.breaker.window(&key)) {
            return Err(CacheUnavailable("bypassed".into()));
        }
        self.inner.put_if_newer(key, entry).await
    }

    pub async fn publish(&self, id: ObjectId, entry: Entry) {
        if let Err(error) = self.put_if_newer(id, &entry).await {
            tracing::warn!(%error, invoice = %id, "cache update deferred");
            metrics::counter!("cache_deferred_writes_total").increment(1);
            self.inner.defer(id, entry);
        }
    }

    pub async fn get_document(&self, id: ObjectId, tag: &str) -> Option<Bytes> {
        let inner = &self.inner;
        let key = keys::document(&inner.prefix, id, tag);
        let window = inner.breaker.window(&key);
        if !inner.breaker.closed(window) {
            return None;
        }
        let mut connection = inner.connection.clone();
        let value: Option<Vec<u8>> = inner
            .bounded(Some(window), connection.get(key))
            .await
            .ok()?;
        value.map(Bytes::from)
    }

    pub async fn put_document(&self, id: ObjectId, tag: &str, document: Bytes) {
        let inner = &self.inner;
        let key = keys::document(&inner.prefix, id, tag);
        let window = inner.breaker.window(&key);
        if !inner.breaker.closed(window) {
            return;
        }
        let mut connection = inner.connection.clone();
        let stored = connection.set_ex::<_, _, ()>(key, document.as_ref(), DOCUMENT_TTL_SECONDS);
        if let Err(error) = inner.bounded(Some(window), stored).await {
            tracing::debug!(%error, "document not cached");
        }
    }

    /// A cluster answers PING from every master; a failure there names no slot, so it opens
    /// no window.
    pub async fn ping(&self) -> bool {
        let inner = &self.inner;
        let mut connection = inner.connection.clone();
        let window = (!inner.connection.is_cluster()).then_some(0);
        inner
            .bounded(
                window,
                redis::cmd("PING").query_async::<String>(&mut connection),
            )
            .await
            .is_ok()
    }
}

impl Inner {
    /// Read on every request: the flag, kept in step with the map under its lock, spares
    /// readers the lock.
    fn has_unpublished(&self) -> bool {
        self.any_unpublished.load(Ordering::Acquire)
    }

    /// Whether Redis may hold a state of `id` older than one this instance wrote: that
    /// invoice is read from the store until its write lands, the others from Redis.
    fn is_unpublished(&self, id: ObjectId) -> bool {
        self.has_unpublished()
            && self
                .unpublished
                .lock()
                .map_or(true, |pending| pending.contains_key(&id))
    }

    fn defer(&self, id: ObjectId, entry: Entry) {
        if let Ok(mut pending) = self.unpublished.lock() {
            let newer = pending
                .get(&id)
                .is_none_or(|known| known.version < entry.version);
            if newer {
                pending.insert(id, entry);
            }
            self.any_unpublished.store(true, Ordering::Release);
        }
    }

    /// Opens the windows of the whole master that serves `slot`, after a failure there: at
    /// once from the known slot ranges, else once a node has told them (in the background,
    /// so the failed call costs its caller nothing more).
    fn open_master_of(&self, slot: usize) {
        if let Some(ranges) = self.breaker.known_masters() {
            self.breaker.trip_master(&ranges, slot);
            return;
        }
        if self.breaker.reading_masters.swap(true, Ordering::AcqRel) {
            return;
        }
        let breaker = Arc::clone(&self.breaker);
        let mut connection = self.connection.clone();
        tokio::spawn(async move {
            let read = tokio::time::timeout(COMMAND_TIMEOUT, connection.slot_ranges()).await;
            if let Ok(Ok(ranges)) = read {
                let ranges: Arc<[SlotRange]> = ranges.into();
                if let Ok(mut masters) = breaker.masters.lock() {
                    *masters = Some((Instant::now(), Arc::clone(&ranges)));
                }
                breaker.trip_master(&ranges, slot);
            }
            breaker.reading_masters.store(false, Ordering::Release);
        });
    }

    /// Runs `call` within COMMAND_TIMEOUT; a failure opens `window` (none: no window).
    async fn bounded<T>(
        &self,
        window: Option<usize>,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CacheUnavailable> {
        static CALL_DURATION: LazyLock<metrics::Histogram> =
            LazyLock::new(|| metrics::histogram!("redis_call_duration_seconds"));
        let started = Instant::now();
        let result = tokio::time::timeout(COMMAND_TIMEOUT, call).await;
        CALL_DURATION.record(started.elapsed().as_secs_f64());
        let outcome = match result {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        if let Some(window) = window {
            self.breaker.trip(window);
            if self.connection.is_cluster() {
                self.open_master_of(window);
            }
        }
        metrics::counter!("redis_errors_total").increment(1);
        Err(CacheUnavailable(outcome))
    }

    async fn put_if_newer(&self, key: String, entry: &Entry) -> Result<(), CacheUnavailable> {
        let mut value = Vec::with_capacity(entry.payload.len() + 21);
        value.extend_from_slice(entry.version.to_string().as_bytes());
        value.push(b'|');
        value.extend_from_slice(&entry.payload);
        let ttl_ms = u64::try_from(entry.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let window = self.breaker.window(&key);
        let mut connection = self.connection.clone();
        let call = async move {
            let mut evalsha = redis::cmd("EVALSHA");
            evalsha.arg(self.put_if_newer.get_hash());
            evalsha
                .arg(1)
                .arg(&key)
                .arg(entry.version)
                .arg(&value)
                .arg(ttl_ms);
            match evalsha.query_async::<i64>(&mut connection).await {
                // EVAL rather than SCRIPT LOAD: a cluster sends SCRIPT LOAD to every master,
                // so it fails while any is down; EVAL goes to the key's master only, which
                // keeps the script for the next EVALSHA.
                Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    let mut eval = redis::cmd("EVAL");
                    eval.arg(PUT_IF_NEWER).arg(1).arg(&key);
                    eval.arg(entry.version).arg(&value).arg(ttl_ms);
                    eval.query_async::<i64>(&mut connection).await
                }
                other => other,
            }
        };
        self.bounded(Some(window), call).await.map(drop)
    }
}

/// Retries deferred writes until Redis takes them; ends when the cache is dropped.
async fn retry_unpublished(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(RETRY_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        let pending: Vec<(ObjectId, Entry)> = match inner.unpublished.lock() {
            Ok(pending) => pending.iter().map(|(id, e)| (*id, e.clone())).collect(),
            Err(_) => continue,
        };
        // A failure opens its key's window (on a cluster, its master's), which later keys
        // there skip: each Redis that is down is tried once per pass, and a cluster's masters
        // that answer still take theirs.
        for (id, entry) in pending {
            let key = keys::invoice(&inner.prefix, id);
            if !inner.breaker.closed(inner.breaker.window(&key)) {
                continue;
            }
            if inner.put_if_newer(key, &entry).await.is_err() {
                continue;
            }
            if let Ok(mut pending) = inner.unpublished.lock() {
                if pending.get(&id).is_some_and(|e| e.version == entry.version) {
                    pending.remove(&id);
                }
                inner
                    .any_unpublished
                    .store(!pending.is_empty(), Ordering::Release);
            }
        }
        if !inner.has_unpublished() {
            tracing::debug!("deferred cache writes published");
        }
    }
}
