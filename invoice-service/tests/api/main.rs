//! invoice-service, black-box over HTTP: the real app on a free port with a real
//! customer-service beside it, against MongoDB + Redis (`TEST_BACKEND=mongo`; Redis may be a
//! cluster) or the embedded store + in-process cache. `cluster` starts Redis Clusters of its
//! own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test should panic

mod cache;
mod cluster;
mod conditional;
mod documents;
mod events;
mod faults;
mod helpers;
mod injection;
mod invoices;
mod lifecycle;
mod observability;
mod security;
mod validation;
