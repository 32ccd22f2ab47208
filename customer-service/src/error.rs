//! Everything a customer use case can fail with, this service's own error codes, and how
//! each error is answered.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::conditional::{Stale, precondition_failed};
use service_kit::{ApiError, ErrorCode, FieldError, StoreError};

pub const EMAIL_TAKEN: ErrorCode = ErrorCode::new(
    StatusCode::CONFLICT,
    "email_taken",
    "A customer with this email already exists.",
);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("customer not found")]
    NotFound,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("email already taken")]
    EmailTaken,
    #[error("the customer kept changing under this request")]
    Contended,
    #[error(transparent)]
    Stale(#[from] Stale),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    /// On customer writes the only unique key besides the id is the email.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Duplicate => AppError::EmailTaken,
            other => AppError::Store(other),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound => ApiError::not_found("customer"),
            AppError::Validation(details) => ApiError::validation(details),
            AppError::EmailTaken => EMAIL_TAKEN.into(),
            AppError::Contended => ApiError::contended("customer"),
            AppError::Stale(_) => ApiError::precondition_failed("customer"),
            AppError::Store(error) => error.into_api_error("The customer database"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Stale(stale) = self {
            return precondition_failed("customer", stale);
        }
        ApiError::from(self).into_response()
    }
}
