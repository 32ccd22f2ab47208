//! The contract's error body: `{"error": "...", "code": "...", "details": [...]}`.
//!
//! Every answer is made from an entry of the code table ([`codes`]); each service maps its
//! own error enum onto entries of that table and its own.

pub mod codes;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use codes::ErrorCode;
use serde::Serialize;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error as the client sees it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<FieldError>,
    /// Seconds for a `Retry-After` header.
    pub retry_after_seconds: Option<u64>,
}

/// Marks an answer that a retry may well change (write contention): an idempotent request
/// does not keep it for replays, so a retry with the same key runs again.
#[derive(Debug, Clone, Copy)]
pub struct Transient;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    details: &'a [FieldError],
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self {
            status: code.status,
            code: code.code,
            message: code.sentence.to_owned(),
            details: Vec::new(),
            retry_after_seconds: None,
        }
    }
}

impl ApiError {
    /// `code` with a more precise sentence than the table's.
    pub fn saying(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut error = Self::from(code);
        error.message = message.into();
        error
    }

    pub fn with_details(mut self, details: Vec<FieldError>) -> Self {
        self.details = details;
        self
    }

    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::saying(codes::INVALID_JSON, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::saying(codes::NOT_FOUND, format!("No {what} with that id exists."))
    }

    pub fn validation(details: Vec<FieldError>) -> Self {
        Self::from(codes::VALIDATION_FAILED).with_details(details)
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn unavailable(dependency: &str) -> Self {
        Self::saying(
            codes::DEPENDENCY_UNAVAILABLE,
            format!("{dependency} is unavailable; try again shortly."),
        )
    }

    /// Write contention on `what`: the version-checked write kept losing its race.
    pub fn contended(what: &str) -> Self {
        Self::saying(
            codes::CONFLICT,
            format!("The {what} was changed by other requests at the same time; try again."),
        )
    }

    /// `If-Match` on `what` named a version it is no longer at.
    pub fn precondition_failed(what: &str) -> Self {
        Self::saying(
            codes::PRECONDITION_FAILED,
            format!("The {what} has changed since the version If-Match names; read it again."),
        )
    }

    /// A failure of ours. The cause is logged here and never sent to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::from(codes::INTERNAL_ERROR)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            code: self.code,
            details: &self.details,
        };
        let mut response = (self.status, Json(body)).into_response();
        // Both depend on what others wrote meanwhile: a retry with the same key runs again.
        if self.code == codes::CONFLICT.code || self.code == codes::PRECONDITION_FAILED.code {
            response.extensions_mut().insert(Transient);
        }
        // Every 503 says when to come back; a dependency's outage is retried in a second.
        let retry_after = self
            .retry_after_seconds
            .or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
