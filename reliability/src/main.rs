//! `reliability`: the fault suite (run by `scripts/test reliability`).
//!
//! ```text
//! reliability                                   # every row, CI-sized soak
//! RELIABILITY_SOAK_REQUESTS=200000 reliability  # the full-length soak
//! reliability --rows redis-killed,soak          # some rows (the baseline always runs)
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use reliability::procs::Binaries;
use reliability::report;
use reliability::suite::{self, Settings};

#[derive(Debug, Parser)]
#[command(about = "Faults under load, and nothing lost: the reliability fault suite")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The load driver, started by the suite as its second process.
    #[command(hide = true)]
    Drive {
        #[arg(long)]
        spec: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// `mongod` or `nx-27017` (default: `mongod` on PATH, else .venv/bin/nx-27017).
    #[arg(long, env = "MONGO_SERVER_BIN")]
    mongo_bin: Option<PathBuf>,
    #[arg(long, env = "REDIS_SERVER_BIN", default_value = "redis-server")]
    redis_bin: PathBuf,
    /// Where `customer-service` and `invoice-service` are (default: beside this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Data of the servers it starts (emptied first).
    #[arg(long, default_value = ".test-run/reliability")]
    run_dir: PathBuf,
    /// Logs of every process, and the drives' specs and reports.
    #[arg(long, default_value = ".test-run/logs/reliability")]
    logs: PathBuf,
    /// The results as JSON.
    #[arg(long, default_value = ".test-run/reliability.json")]
    output: PathBuf,
    /// Requests per second of the loaded rows (80% reads, 20% writes).
    #[arg(long, env = "RELIABILITY_RATE", default_value_t = 200.0)]
    rate: f64,
    /// Requests of the soak (a full-length soak is 200000; CI runs fewer).
    #[arg(long, env = "RELIABILITY_SOAK_REQUESTS", default_value_t = 20_000)]
    soak_requests: u64,
    /// Requests per second of the soak.
    #[arg(long, env = "RELIABILITY_SOAK_RATE", default_value_t = 400.0)]
    soak_rate: f64,
    /// Only these rows, comma-separated (the baseline always runs).
    #[arg(long, env = "RELIABILITY_ROWS", value_delimiter = ',')]
    rows: Vec<String>,
    /// RUST_LOG of the services.
    #[arg(long, env = "RELIABILITY_RUST_LOG", default_value = "warn")]
    rust_log: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Drive { spec, out }) = &cli.command {
        return reliability::drive::main(spec, out);
    }
    let settings = settings(cli.run)?;
    let output = settings.output.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        tokio::select! {
            result = suite::run(settings) => Some(result),
            () = bench::signal::ctrl_c_or_sigterm() => None,
        }
    });
    // Every process the suite started is killed as the runtime drops its future.
    drop(runtime);
    let Some(result) = result else {
        eprintln!("reliability: interrupted; every process it started has been stopped");
        std::process::exit(130);
    };
    let report = result?;
    print!("{}", report::table(&report));
    report::write_json(&report, &output)?;
    let passed = report.rows.iter().filter(|r| r.pass).count();
    println!(
        "reliability: {passed} of {} rows passed in {:.0} s; results in {}",
        report.rows.len(),
        report.seconds,
        output.display()
    );
    if !report.pass {
        std::process::exit(1);
    }
    Ok(())
}

/// `name` itself if it has a directory part, else where it is on PATH.
fn on_path(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return name.exists().then(|| name.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn settings(args: RunArgs) -> anyhow::Result<Settings> {
    let driver = std::env::current_exe().context("cannot tell where this binary is")?;
    let services = match args.bin_dir {
        Some(dir) => dir,
        None => driver
            .parent()
            .context("this binary has no directory")?
            .to_path_buf(),
    };
    for name in ["customer-service", "invoice-service"] {
        anyhow::ensure!(
            services.join(name).is_file(),
            "{} does not exist: build the workspace first (scripts/test build)",
            services.join(name).display()
        );
    }
    let mongo = match args.mongo_bin {
        Some(bin) => on_path(&bin).with_context(|| format!("{} not found", bin.display()))?,
        None => on_path(Path::new("mongod"))
            .or_else(|| {
                let venv = PathBuf::from(".venv/bin/nx-27017");
                venv.is_file().then_some(venv)
            })
            .context(
                "no MongoDB server: set MONGO_SERVER_BIN, put mongod on PATH, or run scripts/test tools",
            )?,
    };
    let redis = on_path(&args.redis_bin)
        .with_context(|| format!("{} not found", args.redis_bin.display()))?;
    Ok(Settings {
        binaries: Binaries {
            mongo: std::path::absolute(mongo)?,
            redis,
            services,
        },
        driver,
        run_dir: std::path::absolute(args.run_dir)?,
        logs: std::path::absolute(args.logs)?,
        output: args.output,
        rate: args.rate,
        soak_requests: args.soak_requests,
        soak_rate: args.soak_rate,
        rows: args.rows,
        rust_log: args.rust_log,
    })
}
