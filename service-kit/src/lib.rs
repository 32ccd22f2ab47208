//! Plumbing shared by the billing services, and nothing else: typed settings helpers,
//! telemetry, the contract's error body, request extractors that answer in that shape,
//! pagination types, the hardened HTTP server and graceful shutdown.
//!
//! Business rules live in the services; this crate knows no customer and no invoice.

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod http;
pub mod id;
pub mod idempotency;
pub mod metadata;
pub mod mongo;
pub mod openapi;
pub mod pagination;
pub mod probe;
pub mod rate_limit;
pub mod seed;
pub mod server;
pub mod shutdown;
pub mod sqlite;
pub mod store;
pub mod telemetry;
pub mod time;

pub use error::{ApiError, FieldError};
pub use extract::{JsonBody, ObjectIdParam, QueryParams};
pub use metadata::Metadata;
pub use pagination::{Cursor, Limit, Page};
pub use server::App;
pub use store::StoreError;
