//! The bare reference servers of the benchmark (see `bench::reference`).
//!
//! Environment: `PORT` (default 5002; 0 picks a free one), `HOST` (default 127.0.0.1),
//! `MONGODB_URI`, `MONGODB_DB` (default `bench_reference`), `REDIS_URL`. Each is also a
//! command-line option (`--help`).

use bench::reference::{DEFAULT_DATABASE, ReferenceServer, Settings};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Bare axum handlers the benchmark measures the services against")]
struct Args {
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: String,
    #[arg(long, env = "PORT", default_value_t = 5002)]
    port: u16,
    #[arg(long, env = "MONGODB_URI")]
    mongodb_uri: Option<String>,
    #[arg(long, env = "MONGODB_DB", default_value = DEFAULT_DATABASE)]
    mongodb_db: String,
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Settings {
        host: args.host,
        port: args.port,
        mongodb_uri: args.mongodb_uri,
        mongodb_db: args.mongodb_db,
        redis_url: args.redis_url,
    };
    let server = ReferenceServer::build(&settings).await?;
    println!("reference server listening on {}", server.local_addr()?);
    server.run_until(bench::signal::ctrl_c_or_sigterm()).await
}
