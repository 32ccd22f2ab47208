//! The pieces of an OpenAPI 3.1 document that every service shares, by concern: string
//! schemas that state the code's limits ([`text`]), shared schemas ([`schemas`]) and
//! parameters ([`params`]), error responses from the code table ([`responses`]), the
//! document's common parts and the routes that serve it ([`document`]), and the events and
//! webhook-endpoint routes both services have ([`events`]).
//!
//! Schemas state the limits the code enforces, so that a generator such as schemathesis
//! can tell a request the service must accept from one it must refuse.

pub mod document;
pub mod events;
pub mod params;
pub mod responses;
pub mod schemas;
pub mod text;

pub use document::{Shared, docs_routes};
pub use events::EventRoutes;
pub use params::{IdempotencyKeyHeader, IfMatchHeader, IfNoneMatchHeader};
pub use schemas::{ErrorBody, Readiness, metadata_input};
pub use text::{
    CONTROL_CLASS, ID_PATTERN, SPACE_CLASS, code_pattern, non_blank_text, nullable, plain_text,
};

/// Name of the bearer security scheme.
pub const BEARER: &str = "api_key";

/// The tag of the operational routes.
pub const OPERATIONS_TAG: &str = "operations";
