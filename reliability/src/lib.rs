//! The fault suite: faults under load, and nothing lost.
//!
//! `reliability` starts redis-server, the MongoDB wire server and both service binaries of
//! the debug build on free ports of 127.0.0.1, drives load at them from a second process
//! (`reliability drive`, on `bench::load`), injects one fault per row, and after every row
//! compares what the clients were told with what the stores hold. It prints a table, writes
//! JSON, and exits non-zero when a row fails. See docs/reliability.md.

pub mod balancer;
pub mod drive;
pub mod driver;
pub mod ledger;
pub mod outcome;
pub mod procs;
pub mod receiver;
pub mod report;
pub mod suite;
