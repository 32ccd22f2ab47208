//! What a store call can fail with, whichever backend answers it.

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
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
