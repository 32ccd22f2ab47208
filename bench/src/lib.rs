//! The benchmark of both services: a load generator ([`load`]), the bare reference servers
//! every figure is compared with ([`reference`]), and the runner behind `scripts/bench`
//! ([`runner`]).

pub mod load;
pub mod process;
pub mod reference;
pub mod runner;
pub mod signal;
