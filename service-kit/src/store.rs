//! What a store call can fail with, whichever backend answers it, and the two write
//! patterns both services use: version-checked writes retried a bounded number of times,
//! and creates that an idempotent retry may repeat.

use std::future::Future;

use crate::error::ApiError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write.
    #[error("duplicate key")]
    Duplicate,
    /// The database cannot be reached or did not answer in time.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug of ours or corrupt data.
    #[error("store failure: {0}")]
    Internal(String),
}

impl StoreError {
    /// The answer for a store error that the caller has no more specific meaning for.
    pub fn into_api_error(self, dependency: &str) -> ApiError {
        match self {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, dependency, "dependency unavailable");
                ApiError::unavailable(dependency)
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match error.sqlite_error_code() {
            Some(ErrorCode::ConstraintViolation) => StoreError::Duplicate,
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

/// How many times a version-checked write reads again after losing a race to another.
pub const WRITE_ATTEMPTS: usize = 16;

/// The outcome of one attempt at a version-checked write.
pub enum Attempt<T> {
    Won(T),
    /// Another write came first; read again and retry.
    Lost,
}

/// Runs `attempt` until it wins, at most [`WRITE_ATTEMPTS`] times. `None` when every
/// attempt lost its race: the caller answers `409 conflict`.
pub async fn retry_lost_races<T, E, F, Fut>(mut attempt: F) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, E>>,
{
    for _ in 0..WRITE_ATTEMPTS {
        if let Attempt::Won(value) = attempt().await? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// Inserts a new record. When the insert is a retry under an `Idempotency-Key` (the id was
/// reserved with the key) and an earlier attempt already stored that id, answers with the
/// stored record; `None` when this insert stored it. `Duplicate` otherwise: another unique
/// key clashed.
pub async fn insert_once<T, I, G>(
    retried_id: bool,
    insert: impl FnOnce() -> I,
    stored: impl FnOnce() -> G,
) -> Result<Option<T>, StoreError>
where
    I: Future<Output = Result<(), StoreError>>,
    G: Future<Output = Result<Option<T>, StoreError>>,
{
    match insert().await {
        Ok(()) => Ok(None),
        Err(StoreError::Duplicate) if retried_id => {
            Ok(Some(stored().await?.ok_or(StoreError::Duplicate)?))
        }
        Err(error) => Err(error),
    }
}

/// The version a record is stored with first.
pub fn first_version() -> i64 {
    1
}

/// What every store of records keyed by an ObjectId does, whichever backend keeps them.
#[async_trait::async_trait]
pub trait Records<T: Send + Sync + 'static>: Send + Sync + 'static {
    /// Answers when the backend can serve (and has its indexes).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a new record with its creation's `event` in the outbox, in one write.
    async fn insert(&self, record: &T, event: &crate::events::Event) -> Result<(), StoreError>;

    async fn get(&self, id: bson::oid::ObjectId) -> Result<Option<T>, StoreError>;

    /// Loads `records` when the store is empty, each with its creation's event; never
    /// twice. How many it loaded.
    async fn seed(&self, records: &[T]) -> Result<usize, StoreError>;
}

/// A record whose writes are version-checked: the stores keep its version beside it.
pub trait Versioned {
    fn version_mut(&mut self) -> &mut i64;
}
