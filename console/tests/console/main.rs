//! The console against real services: customer-service and invoice-service in-process on
//! the suite's backend, with API keys, and the console in front of them, driven as a
//! browser drives it (a cookie store, no redirects followed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod customers;
mod helpers;
mod invoices;
mod pages;
mod sessions;
