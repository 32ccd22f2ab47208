//! Everything a customer request can fail with, and how each is answered.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::{ApiError, FieldError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("customer not found")]
    NotFound,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("email already taken")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CustomerError> for ApiError {
    fn from(error: CustomerError) -> Self {
        match error {
            CustomerError::NotFound => ApiError::not_found("customer"),
            CustomerError::Validation(details) => ApiError::validation(details),
            CustomerError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "A customer with this email already exists.",
            ),
            CustomerError::Store(StoreError::Duplicate) => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "A customer with this email already exists.",
            ),
            CustomerError::Store(error) => error.into_api_error("The customer database"),
        }
    }
}

impl IntoResponse for CustomerError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}
