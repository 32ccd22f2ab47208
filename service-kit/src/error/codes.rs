//! The table of error codes: each is a status, a stable snake_case code and the sentence a
//! person reads. Services add their own entries beside these; the runtime answer
//! ([`crate::ApiError::from`]) and the OpenAPI responses ([`crate::openapi::responses`])
//! are both made from the same entries, so the two cannot drift apart.

use axum::http::StatusCode;

/// One kind of error the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub status: StatusCode,
    pub code: &'static str,
    /// What an answer says unless it has something more precise to say.
    pub sentence: &'static str,
}

impl ErrorCode {
    pub const fn new(status: StatusCode, code: &'static str, sentence: &'static str) -> Self {
        Self {
            status,
            code,
            sentence,
        }
    }
}

pub const INVALID_ID: ErrorCode = ErrorCode::new(
    StatusCode::BAD_REQUEST,
    "invalid_id",
    "The id must be a 24-character hexadecimal string.",
);
pub const INVALID_JSON: ErrorCode = ErrorCode::new(
    StatusCode::BAD_REQUEST,
    "invalid_json",
    "The body must be a JSON object.",
);
pub const UNAUTHORIZED: ErrorCode = ErrorCode::new(
    StatusCode::UNAUTHORIZED,
    "unauthorized",
    "A valid API key is required: send Authorization: Bearer <key>.",
);
pub const NOT_FOUND: ErrorCode = ErrorCode::new(
    StatusCode::NOT_FOUND,
    "not_found",
    "Nothing with that id exists.",
);
pub const ROUTE_NOT_FOUND: ErrorCode = ErrorCode::new(
    StatusCode::NOT_FOUND,
    "not_found",
    "No route matches this path.",
);
pub const METHOD_NOT_ALLOWED: ErrorCode = ErrorCode::new(
    StatusCode::METHOD_NOT_ALLOWED,
    "method_not_allowed",
    "This route does not answer that method.",
);
/// A version-checked write lost its race to other writers more often than it retries.
pub const CONFLICT: ErrorCode = ErrorCode::new(
    StatusCode::CONFLICT,
    "conflict",
    "It was changed by other requests at the same time; try again.",
);
/// `If-Match` named a version the record is no longer at.
pub const PRECONDITION_FAILED: ErrorCode = ErrorCode::new(
    StatusCode::PRECONDITION_FAILED,
    "precondition_failed",
    "It has changed since the version If-Match names; read it again.",
);
/// A redelivery asked of a webhook endpoint that is disabled.
pub const ENDPOINT_DISABLED: ErrorCode = ErrorCode::new(
    StatusCode::CONFLICT,
    "endpoint_disabled",
    "The webhook endpoint is disabled; enable it (PATCH or recover) first.",
);
pub const IDEMPOTENCY_KEY_IN_USE: ErrorCode = ErrorCode::new(
    StatusCode::CONFLICT,
    "idempotency_key_in_use",
    "A request with this Idempotency-Key is still being processed; retry shortly.",
);
pub const PAYLOAD_TOO_LARGE: ErrorCode = ErrorCode::new(
    StatusCode::PAYLOAD_TOO_LARGE,
    "payload_too_large",
    "The body is larger than 1 MiB.",
);
pub const UNSUPPORTED_MEDIA_TYPE: ErrorCode = ErrorCode::new(
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    "unsupported_media_type",
    "The body must be sent as Content-Type: application/json.",
);
pub const VALIDATION_FAILED: ErrorCode = ErrorCode::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "validation_failed",
    "The request is not valid; see details.",
);
pub const IDEMPOTENCY_KEY_REUSED: ErrorCode = ErrorCode::new(
    StatusCode::UNPROCESSABLE_ENTITY,
    "idempotency_key_reused",
    "This Idempotency-Key was used with a different request.",
);
pub const RATE_LIMITED: ErrorCode = ErrorCode::new(
    StatusCode::TOO_MANY_REQUESTS,
    "rate_limited",
    "Too many requests for this API key; retry after the time in Retry-After.",
);
pub const DEPENDENCY_UNAVAILABLE: ErrorCode = ErrorCode::new(
    StatusCode::SERVICE_UNAVAILABLE,
    "dependency_unavailable",
    "A dependency is unavailable; try again shortly.",
);
pub const INTERNAL_ERROR: ErrorCode = ErrorCode::new(
    StatusCode::INTERNAL_SERVER_ERROR,
    "internal_error",
    "Something went wrong on our side.",
);

/// What every business route may answer: the guards in front of it and its dependencies.
pub const GUARDED: &[ErrorCode] = &[UNAUTHORIZED, RATE_LIMITED, DEPENDENCY_UNAVAILABLE];
/// What a route on one resource by `{id}` adds.
pub const BY_ID: &[ErrorCode] = &[INVALID_ID, NOT_FOUND];
/// What a route that takes a JSON body adds.
pub const JSON_BODY: &[ErrorCode] = &[
    INVALID_JSON,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
];
/// What a route with query parameters adds.
pub const QUERY: &[ErrorCode] = &[VALIDATION_FAILED];
/// What a POST that honours `Idempotency-Key` adds (the key is read with its body).
pub const IDEMPOTENT: &[ErrorCode] = &[
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_KEY_IN_USE,
    VALIDATION_FAILED,
    PAYLOAD_TOO_LARGE,
];
/// What a version-checked write adds.
pub const CONTENDED: &[ErrorCode] = &[CONFLICT];
/// What a write that honours `If-Match` adds.
pub const CONDITIONAL: &[ErrorCode] = &[PRECONDITION_FAILED];
