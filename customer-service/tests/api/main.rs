//! customer-service, black-box over HTTP: the real app on a free port, against MongoDB
//! (`TEST_BACKEND=mongo`) or the embedded store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test should panic

mod conditional;
mod crud;
mod events;
mod faults;
mod helpers;
mod injection;
mod list;
mod races;
mod security;
mod slow_clients;
mod validation;
