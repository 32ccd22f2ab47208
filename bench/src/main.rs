//! `bench`: the benchmark runner behind `scripts/bench`. It expects both services and the
//! reference server to be running (scripts/bench starts them) and drives every case
//! against them; see `bench::runner` and `bench --help`.

use bench::runner::{self, Args};
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The load generator shares the machine with the servers it measures: its thread count
    // is a setting of the run.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.loadgen_threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(runner::run(args))
}
