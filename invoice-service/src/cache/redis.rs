//! Redis as the shared cache of every instance.
//!
//! Calls are bounded by a short timeout; after a failure Redis is bypassed for a moment
//! (a circuit breaker), so a dead or stalled Redis costs no request more than one timeout.
//! A writer's new state that Redis could not take is kept and retried in the background;
//! until it lands, this instance reads from the store, so it never serves what it replaced.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use bson::oid::ObjectId;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::{CacheUnavailable, Entry, Lookup, keys};

/// The bound on one Redis call.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(200);
/// How long Redis is bypassed after a failure.
const BREAKER_OPEN_FOR: Duration = Duration::from_millis(1000);
/// How long a drawn document is kept; a newer version is a new key, so this only bounds
/// the memory old versions hold.
const DOCUMENT_TTL_SECONDS: u64 = 24 * 3600;
/// How often unpublished writes are retried.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// SET the key to `ARGV[2]` (`<version>|<json>`) for `ARGV[3]` ms unless it already holds
/// version `ARGV[1]` or newer.
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
    connection: ConnectionManager,
    prefix: String,
    put_if_newer: Script,
    started: Instant,
    /// Milliseconds since `started` until which Redis is bypassed.
    open_until_ms: AtomicU64,
    /// Writers' states Redis has not taken yet, newest version per id.
    unpublished: Mutex<HashMap<ObjectId, Entry>>,
    /// Whether `unpublished` holds anything: read on every request without the lock.
    any_unpublished: AtomicBool,
}

impl RedisCache {
    /// Connects lazily: the service starts while Redis is down.
    pub fn new(url: &str, prefix: String) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        let inner = Arc::new(Inner {
            connection,
            prefix,
            put_if_newer: Script::new(PUT_IF_NEWER),
            started: Instant::now(),
            open_until_ms: AtomicU64::new(0),
            unpublished: Mutex::new(HashMap::new()),
            any_unpublished: AtomicBool::new(false),
        });
        tokio::spawn(retry_unpublished(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    pub async fn get(&self, id: ObjectId) -> Result<Lookup, CacheUnavailable> {
        let inner = &self.inner;
        if !inner.breaker_closed() || inner.has_unpublished() {
            return Err(CacheUnavailable("bypassed".into()));
        }
        let key = keys::invoice(&inner.prefix, id);
        let mut connection = inner.connection.clone();
        let value: Option<Vec<u8>> = inner.bounded(connection.get(key)).await?;
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
        if !self.inner.breaker_closed() {
            return Err(CacheUnavailable("bypassed".into()));
        }
        self.inner.put_if_newer(id, entry).await
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
        if !inner.breaker_closed() {
            return None;
        }
        let mut connection = inner.connection.clone();
        let key = keys::document(&inner.prefix, id, tag);
        let value: Option<Vec<u8>> = inner.bounded(connection.get(key)).await.ok()?;
        value.map(Bytes::from)
    }

    pub async fn put_document(&self, id: ObjectId, tag: &str, document: Bytes) {
        let inner = &self.inner;
        if !inner.breaker_closed() {
            return;
        }
        let mut connection = inner.connection.clone();
        let key = keys::document(&inner.prefix, id, tag);
        let stored = connection.set_ex::<_, _, ()>(key, document.as_ref(), DOCUMENT_TTL_SECONDS);
        if let Err(error) = inner.bounded(stored).await {
            tracing::debug!(%error, "document not cached");
        }
    }

    pub async fn ping(&self) -> bool {
        let mut connection = self.inner.connection.clone();
        self.inner
            .bounded(redis::cmd("PING").query_async::<String>(&mut connection))
            .await
            .is_ok()
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn breaker_closed(&self) -> bool {
        self.now_ms() >= self.open_until_ms.load(Ordering::Relaxed)
    }

    fn trip(&self) {
        let until = self.now_ms() + u64::try_from(BREAKER_OPEN_FOR.as_millis()).unwrap_or(1000);
        self.open_until_ms.store(until, Ordering::Relaxed);
    }

    /// Read on every request: the flag, kept in step with the map under its lock, spares
    /// readers the lock.
    fn has_unpublished(&self) -> bool {
        self.any_unpublished.load(Ordering::Acquire)
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

    async fn bounded<T>(
        &self,
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
        self.trip();
        metrics::counter!("redis_errors_total").increment(1);
        Err(CacheUnavailable(outcome))
    }

    async fn put_if_newer(&self, id: ObjectId, entry: &Entry) -> Result<(), CacheUnavailable> {
        let mut value = Vec::with_capacity(entry.payload.len() + 21);
        value.extend_from_slice(entry.version.to_string().as_bytes());
        value.push(b'|');
        value.extend_from_slice(&entry.payload);
        let ttl_ms = u64::try_from(entry.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut connection = self.connection.clone();
        let mut invocation = self.put_if_newer.key(keys::invoice(&self.prefix, id));
        invocation.arg(entry.version).arg(value).arg(ttl_ms);
        self.bounded(invocation.invoke_async::<i64>(&mut connection))
            .await
            .map(drop)
    }
}

/// Retries deferred writes until Redis takes them; ends when the cache is dropped.
async fn retry_unpublished(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(RETRY_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        if !inner.breaker_closed() {
            continue;
        }
        let pending: Vec<(ObjectId, Entry)> = match inner.unpublished.lock() {
            Ok(pending) => pending.iter().map(|(id, e)| (*id, e.clone())).collect(),
            Err(_) => continue,
        };
        for (id, entry) in pending {
            if inner.put_if_newer(id, &entry).await.is_err() {
                break;
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
