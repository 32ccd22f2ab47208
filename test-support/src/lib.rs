//! What the black-box tests share: real servers, each on a free port and killed when
//! dropped, the app under test with its client ([`app`]), and checks over many requests
//! ([`checks`]).
//!
//! The test command (`scripts/test`) tells the suites what to use through the environment:
//! - `TEST_BACKEND`: `mongo` or `embedded` (default `embedded`).
//! - `TEST_MONGODB_URI`, `TEST_REDIS_URL`: shared servers it started for the `mongo` run
//!   (`TEST_REDIS_URL` may name a Redis Cluster, `redis+cluster://host:port,...`).
//! - `MONGO_SERVER_BIN` (`mongod` or `nx-27017`), `REDIS_SERVER_BIN`: for tests that start,
//!   stop and pause private servers of their own ([`RedisCluster`] also runs `redis-cli`:
//!   `REDIS_CLI_BIN`, else the one beside redis-server).

pub mod app;
pub mod checks;
pub mod cluster;
pub mod openapi;
pub mod webhooks;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
pub use app::{
    Client, Running, assert_error, assert_not_found, assert_validation_failed, debug_logs, run,
    status_and_json, with_field,
};
pub use checks::{Refusals, join_tasks};
pub use cluster::RedisCluster;

/// Which store the suite runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Mongo { uri: String, redis_url: String },
    Embedded,
}

impl Backend {
    /// Reads `TEST_BACKEND`; the `mongo` run needs `TEST_MONGODB_URI` and `TEST_REDIS_URL`.
    pub fn from_env() -> Self {
        match std::env::var("TEST_BACKEND").as_deref() {
            Ok("mongo") => Backend::Mongo {
                uri: std::env::var("TEST_MONGODB_URI")
                    .unwrap_or_else(|_| panic!("TEST_BACKEND=mongo needs TEST_MONGODB_URI")),
                redis_url: std::env::var("TEST_REDIS_URL")
                    .unwrap_or_else(|_| panic!("TEST_BACKEND=mongo needs TEST_REDIS_URL")),
            },
            _ => Backend::Embedded,
        }
    }

    pub fn is_mongo(&self) -> bool {
        matches!(self, Backend::Mongo { .. })
    }

    /// The MongoDB URI of the `mongo` run; `None` runs on the embedded store.
    pub fn mongodb_uri(&self) -> Option<String> {
        match self {
            Backend::Mongo { uri, .. } => Some(uri.clone()),
            Backend::Embedded => None,
        }
    }

    /// The Redis URL of the `mongo` run; `None` uses the in-process cache.
    pub fn redis_url(&self) -> Option<String> {
        match self {
            Backend::Mongo { redis_url, .. } => Some(redis_url.clone()),
            Backend::Embedded => None,
        }
    }

    /// Settings for a service of its own on this backend: a free port, a database named
    /// `db_prefix_<unique>`, and `data_dir` for the embedded store.
    pub fn common(&self, db_prefix: &str, data_dir: &Path) -> service_kit::Common {
        service_kit::Common::local(
            self.mongodb_uri(),
            unique_name(db_prefix),
            data_dir.to_path_buf(),
        )
    }
}

/// A name no other test uses: database names, key prefixes.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos:x}", std::process::id())
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on {port} after {timeout:?}")
}

fn signal(child: &Child, name: &str) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status();
}

/// Sends `name` (`STOP`, `CONT`) to the process, when it runs.
fn signal_process(process: &Process, name: &str) {
    if let Some(child) = &process.child {
        signal(child, name);
    }
}

/// A server process this test owns.
struct Process {
    child: Option<Child>,
}

impl Process {
    /// Starts `command` with its output dropped and waits until it listens on `port`.
    fn spawn(&mut self, mut command: Command, port: u16, timeout: Duration) -> anyhow::Result<()> {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", command.get_program().to_string_lossy()))?;
        self.child = Some(child);
        wait_for_port(port, timeout)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A private MongoDB wire server whose data survives a stop and start.
pub struct MongoServer {
    port: u16,
    dir: tempfile::TempDir,
    process: Process,
}

impl MongoServer {
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut server = Self {
            port: free_port(),
            dir,
            process: Process { child: None },
        };
        server.resume()?;
        Ok(server)
    }

    /// The connection string, with a short server selection timeout.
    pub fn uri(&self) -> String {
        format!(
            "mongodb://127.0.0.1:{}/?serverSelectionTimeoutMS=1500&connectTimeoutMS=1500",
            self.port
        )
    }

    /// Stops the server; its data stays.
    pub fn stop(&mut self) {
        self.process.kill();
    }

    /// SIGSTOP: the server holds its connections but answers nothing.
    pub fn freeze(&self) {
        signal_process(&self.process, "STOP");
    }

    /// SIGCONT after [`MongoServer::freeze`].
    pub fn thaw(&self) {
        signal_process(&self.process, "CONT");
    }

    /// Starts it again on the same port and data.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let bin = std::env::var("MONGO_SERVER_BIN")
            .context("MONGO_SERVER_BIN must name mongod or nx-27017 (scripts/test sets it)")?;
        let dir = self.dir.path();
        let port = self.port.to_string();
        let mut command = Command::new(&bin);
        if Path::new(&bin).file_name().is_some_and(|n| n == "mongod") {
            command
                .args(["--bind_ip", "127.0.0.1", "--port", &port, "--dbpath"])
                .arg(dir);
        } else {
            command
                .args(["--host", "127.0.0.1", "-p", &port, "--data-dir"])
                .arg(dir.join("data"))
                .arg("--pid-file")
                .arg(dir.join("nx.pid"))
                .arg("--log-file")
                .arg(dir.join("nx.log"));
        }
        self.process
            .spawn(command, self.port, Duration::from_secs(20))
    }
}

/// A private redis-server that can be killed, paused and brought back.
pub struct RedisServer {
    port: u16,
    process: Process,
}

impl RedisServer {
    pub fn start() -> anyhow::Result<Self> {
        let mut server = Self {
            port: free_port(),
            process: Process { child: None },
        };
        server.resume()?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        self.process.kill();
    }

    pub fn resume(&mut self) -> anyhow::Result<()> {
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let mut command = Command::new(bin);
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"]);
        self.process
            .spawn(command, self.port, Duration::from_secs(10))
    }

    /// SIGSTOP: the server holds connections but answers nothing.
    pub fn pause(&self) {
        signal_process(&self.process, "STOP");
    }

    /// SIGCONT after [`RedisServer::pause`].
    pub fn unpause(&self) {
        signal_process(&self.process, "CONT");
    }
}

/// A scratch directory for an embedded store.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"))
}

pub fn path_of(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().to_path_buf()
}
