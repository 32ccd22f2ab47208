//! Everything an invoice request can fail with, and how each is answered.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::{ApiError, FieldError, StoreError};

use crate::customers::LookupError;
use crate::domain::InvoiceError;

#[derive(Debug, thiserror::Error)]
pub enum InvoiceApiError {
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
    Store(#[from] StoreError),
}

impl From<InvoiceError> for InvoiceApiError {
    fn from(error: InvoiceError) -> Self {
        match error {
            InvoiceError::Invalid(details) => InvoiceApiError::Validation(details),
            InvoiceError::InvalidTransition { action, status } => {
                InvoiceApiError::InvalidTransition {
                    action,
                    status: status.as_str(),
                }
            }
        }
    }
}

impl From<LookupError> for InvoiceApiError {
    fn from(error: LookupError) -> Self {
        match error {
            LookupError::NotFound => InvoiceApiError::CustomerNotFound,
            LookupError::Unavailable(_) => InvoiceApiError::CustomerServiceUnavailable,
        }
    }
}

impl From<InvoiceApiError> for ApiError {
    fn from(error: InvoiceApiError) -> Self {
        match error {
            InvoiceApiError::NotFound => ApiError::not_found("invoice"),
            InvoiceApiError::Validation(details) => ApiError::validation(details),
            InvoiceApiError::InvalidTransition { action, status } => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_transition",
                format!("Cannot {action} an invoice that is {status}."),
            ),
            InvoiceApiError::CustomerNotFound => {
                let mut error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "customer_not_found",
                    "No customer with that customer_id exists.",
                );
                error.details = vec![FieldError::new("customer_id", "no such customer")];
                error
            }
            InvoiceApiError::CustomerServiceUnavailable => {
                ApiError::unavailable("customer-service")
            }
            InvoiceApiError::Contended => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "The invoice was changed by another request at the same time; try again.",
            ),
            InvoiceApiError::Store(error) => error.into_api_error("The invoice database"),
        }
    }
}

impl IntoResponse for InvoiceApiError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}
