//! The skeleton both billing services share: settings, opening the backend (MongoDB or the
//! embedded store), the binary's main, the code table of errors and the contract's error
//! body, extractors that answer in it, pagination, auth, rate limit, idempotency, load
//! shedding, the hardened HTTP server, telemetry, webhook signing and the OpenAPI pieces.
//!
//! Business rules live in the services; this crate knows no customer and no invoice.

pub mod auth;
pub mod backend;
pub mod bulkhead;
pub mod conditional;
pub mod config;
pub mod error;
pub mod events;
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
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod sqlite;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod validated;
pub mod webhook_signing;

pub use backend::{Backend, Opener};
pub use error::{ApiError, ErrorCode, FieldError, codes};
pub use extract::{JsonBody, ObjectIdParam, QueryParams};
pub use metadata::Metadata;
/// The allocator every service binary installs: `#[global_allocator] static A: Allocator = Allocator;`.
pub use mimalloc::MiMalloc as Allocator;
pub use pagination::{Cursor, Limit, Page};
pub use server::App;
pub use settings::Common;
pub use store::StoreError;
