//! Everything an invoice use case can fail with, this service's own error codes, and how
//! each error is answered.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::conditional::{Stale, precondition_failed};
use service_kit::{ApiError, ErrorCode, FieldError, StoreError};

use crate::customers::LookupError;
use crate::domain::InvoiceError;

pub const INVALID_TRANSITION: ErrorCode = ErrorCode::new(
    StatusCode::CONFLICT,
    "invalid_transition",
    "The invoice's status does not allow this.",
);
pub const CUSTOMER_NOT_FOUND: ErrorCode = ErrorCode::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "customer_not_found",
    "No customer with that customer_id exists.",
);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invoice not found")]
    NotFound,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("cannot {action} an invoice that is {status}")]
    InvalidTransition {
        action: &'static str,
        status: &'static str,
    },
    #[error("customer not found")]
    CustomerNotFound,
    #[error("customer-service unavailable")]
    CustomerServiceUnavailable,
    #[error("the invoice kept changing under this request")]
    Contended,
    #[error(transparent)]
    Stale(#[from] Stale),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Document(#[from] crate::documents::DocumentError),
}

impl From<InvoiceError> for AppError {
    fn from(error: InvoiceError) -> Self {
        match error {
            InvoiceError::Invalid(details) => AppError::Validation(details),
            InvoiceError::InvalidTransition { action, status } => AppError::InvalidTransition {
                action,
                status: status.as_str(),
            },
        }
    }
}

impl From<LookupError> for AppError {
    fn from(error: LookupError) -> Self {
        match error {
            LookupError::NotFound => AppError::CustomerNotFound,
            LookupError::Unavailable(_) => AppError::CustomerServiceUnavailable,
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound => ApiError::not_found("invoice"),
            AppError::Validation(details) => ApiError::validation(details),
            AppError::InvalidTransition { action, status } => ApiError::saying(
                INVALID_TRANSITION,
                format!("Cannot {action} an invoice that is {status}."),
            ),
            AppError::CustomerNotFound => ApiError::from(CUSTOMER_NOT_FOUND)
                .with_details(vec![FieldError::new("customer_id", "no such customer")]),
            AppError::CustomerServiceUnavailable => ApiError::unavailable("customer-service"),
            AppError::Contended => ApiError::contended("invoice"),
            AppError::Stale(_) => ApiError::precondition_failed("invoice"),
            AppError::Store(error) => error.into_api_error("The invoice database"),
            AppError::Document(error) => ApiError::internal(&error),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Stale(stale) = self {
            return precondition_failed("invoice", stale);
        }
        ApiError::from(self).into_response()
    }
}
