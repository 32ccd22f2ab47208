//! The processes of one run: redis-server, the MongoDB wire server and both services, each
//! on a free port of 127.0.0.1 with its output in a log file of its own.
//!
//! Every process is a child of this one and is killed when its [`Proc`] is dropped, on
//! success, on error and on Ctrl-C alike (a stopped process is continued first, so the kill
//! lands). Signals go through `kill(1)`: the workspace forbids `unsafe`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::outcome::Service;

/// A port nobody listens on now, and that this run has not handed out before.
pub fn free_port() -> anyhow::Result<u16> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut given = GIVEN
            .lock()
            .map_err(|_| anyhow::anyhow!("port registry poisoned"))?;
        if given.insert(port) {
            return Ok(port);
        }
    }
    bail!("no free port on 127.0.0.1")
}

/// How to start one process.
#[derive(Debug, Clone)]
pub struct Launch {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// The environment is cleared but for `PATH`, `HOME` and `LANG`, then these are set.
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

/// A child process that can be started again with the same command line.
pub struct Proc {
    launch: Launch,
    child: Option<Child>,
    exit: Option<ExitStatus>,
}

impl Proc {
    pub fn new(launch: Launch) -> Self {
        Self {
            launch,
            child: None,
            exit: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.launch.name
    }

    pub fn log_path(&self) -> &Path {
        &self.launch.log
    }

    /// Starts it (again), its output appended to its log.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("{} is already running", self.launch.name);
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.launch.log)
            .with_context(|| format!("cannot open {}", self.launch.log.display()))?;
        let mut command = Command::new(&self.launch.program);
        command
            .args(&self.launch.args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for name in ["PATH", "HOME", "LANG"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        for (name, value) in &self.launch.env {
            command.env(name, value);
        }
        let child = command.spawn().with_context(|| {
            format!(
                "cannot start {} ({})",
                self.launch.name,
                self.launch.program.display()
            )
        })?;
        self.child = Some(child);
        self.exit = None;
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                self.exit = Some(status);
                self.child = None;
                false
            }
            Err(_) => false,
        }
    }

    /// How it exited, once it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`, ...) to the running process.
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("{} is not running", self.launch.name))?;
        let status = Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            bail!("kill -s {signal} {pid} ({}) failed", self.launch.name);
        }
        Ok(())
    }

    /// SIGKILL, and waits for it. A stopped process is continued first.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-s", "CONT", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            self.exit = child.wait().ok();
        }
    }

    /// SIGTERM, then waits up to `within` for the exit; SIGKILL after that. Returns how long
    /// the exit took, or `None` if it had to be killed.
    pub async fn terminate(&mut self, within: Duration) -> anyhow::Result<Option<Duration>> {
        let sent = Instant::now();
        self.signal("TERM")?;
        while sent.elapsed() < within {
            if !self.is_running() {
                return Ok(Some(sent.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.kill();
        Ok(None)
    }

    /// The last `lines` lines of its log, to tell why it failed.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.launch.log, lines)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of a file (empty if it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits until something accepts TCP connections on `port`, while `proc` runs.
pub async fn wait_for_port(proc: &mut Proc, port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        ensure_running(proc, &format!("listening on {port}"), 20)?;
        if Instant::now() >= deadline {
            bail!(
                "{}: nothing listens on 127.0.0.1:{port} after {within:?}; its log ends:\n{}",
                proc.name(),
                proc.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An error if `proc` exited before `awaited` happened: how it exited, and the last
/// `lines` of its log.
fn ensure_running(proc: &mut Proc, awaited: &str, lines: usize) -> anyhow::Result<()> {
    if !proc.is_running() {
        bail!(
            "{} exited ({:?}) before {awaited}; its log ends:\n{}",
            proc.name(),
            proc.exit_status(),
            proc.log_tail(lines)
        );
    }
    Ok(())
}

/// The services' webhook retries: seconds apart rather than the default's minutes and
/// hours, so that a row sees an endpoint's backlog delivered; 36 s in all before one fails.
pub const WEBHOOK_RETRY_SCHEDULE: &str = "1s,1s,2s,2s,5s,5s,5s,5s,5s,5s";

/// Where the servers come from.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `mongod` or `nx-27017`.
    pub mongo: PathBuf,
    pub redis: PathBuf,
    /// Where `customer-service` and `invoice-service` are (target/debug).
    pub services: PathBuf,
}

/// One process of the [`Cluster`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Mongo,
    Redis,
    Customers,
    Invoices,
}

impl Member {
    /// Every member, in dependency order (the order they start in).
    pub const ALL: [Member; 4] = [
        Member::Mongo,
        Member::Redis,
        Member::Customers,
        Member::Invoices,
    ];
}

impl From<Service> for Member {
    fn from(service: Service) -> Self {
        match service {
            Service::Customers => Member::Customers,
            Service::Invoices => Member::Invoices,
        }
    }
}

/// The whole system under test.
pub struct Cluster {
    pub mongo: Proc,
    pub mongo_port: u16,
    pub redis: Proc,
    pub redis_port: u16,
    pub customers: Proc,
    pub customers_port: u16,
    pub invoices: Proc,
    pub invoices_port: u16,
    pub customer_db: String,
    pub invoice_db: String,
}

impl Cluster {
    /// Sets up (without starting) every process under `dir` (data) and `logs`.
    pub fn new(
        binaries: &Binaries,
        dir: &Path,
        logs: &Path,
        rust_log: &str,
    ) -> anyhow::Result<Self> {
        let mongo_port = free_port()?;
        let redis_port = free_port()?;
        let customers_port = free_port()?;
        let invoices_port = free_port()?;
        let mongo_dir = dir.join("mongo");
        let redis_dir = dir.join("redis");
        for d in [
            &mongo_dir,
            &redis_dir,
            &dir.join("data-customers"),
            &dir.join("data-invoices"),
        ] {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        let mongo_args: Vec<OsString> = if binaries.mongo.file_name().is_some_and(|n| n == "mongod")
        {
            vec![
                "--bind_ip".into(),
                "127.0.0.1".into(),
                "--port".into(),
                mongo_port.to_string().into(),
                "--dbpath".into(),
                mongo_dir.into(),
            ]
        } else {
            vec![
                "--host".into(),
                "127.0.0.1".into(),
                "-p".into(),
                mongo_port.to_string().into(),
                "--data-dir".into(),
                mongo_dir.join("data").into(),
                "--pid-file".into(),
                mongo_dir.join("nx.pid").into(),
                "--log-file".into(),
                logs.join("nx-27017.log").into(),
            ]
        };
        let mongo = Proc::new(Launch {
            name: "mongo".into(),
            program: binaries.mongo.clone(),
            args: mongo_args,
            env: Vec::new(),
            log: logs.join("mongo.log"),
        });
        let redis = Proc::new(Launch {
            name: "redis-server".into(),
            program: binaries.redis.clone(),
            args: redis_args(redis_port, &redis_dir),
            env: Vec::new(),
            log: logs.join("redis.log"),
        });
        let mongodb_uri = format!("mongodb://127.0.0.1:{mongo_port}");
        let customer_db = "reliability_customers".to_owned();
        let invoice_db = "reliability_invoices".to_owned();
        let common = |port: u16, db: &str, data: &str| {
            vec![
                ("HOST".to_owned(), "127.0.0.1".to_owned()),
                ("PORT".to_owned(), port.to_string()),
                ("MONGODB_URI".to_owned(), mongodb_uri.clone()),
                ("MONGODB_DB".to_owned(), db.to_owned()),
                ("DATA_DIR".to_owned(), dir.join(data).display().to_string()),
                ("SEED_SAMPLE_DATA".to_owned(), "false".to_owned()),
                ("RUST_LOG".to_owned(), rust_log.to_owned()),
                ("NO_COLOR".to_owned(), "1".to_owned()),
                // The webhook rows' receiver listens on 127.0.0.1.
                ("WEBHOOK_ALLOW_LOOPBACK".to_owned(), "true".to_owned()),
                (
                    "WEBHOOK_RETRY_SCHEDULE".to_owned(),
                    WEBHOOK_RETRY_SCHEDULE.to_owned(),
                ),
            ]
        };
        let customers = Proc::new(Launch {
            name: "customer-service".into(),
            program: binaries.services.join("customer-service"),
            args: Vec::new(),
            env: common(customers_port, &customer_db, "data-customers"),
            log: logs.join("customer-service.log"),
        });
        let mut invoice_env = common(invoices_port, &invoice_db, "data-invoices");
        invoice_env.push((
            "REDIS_URL".into(),
            format!("redis://127.0.0.1:{redis_port}"),
        ));
        invoice_env.push((
            "CUSTOMER_SERVICE_URL".into(),
            format!("http://127.0.0.1:{customers_port}"),
        ));
        let invoices = Proc::new(Launch {
            name: "invoice-service".into(),
            program: binaries.services.join("invoice-service"),
            args: Vec::new(),
            env: invoice_env,
            log: logs.join("invoice-service.log"),
        });
        Ok(Self {
            mongo,
            mongo_port,
            redis,
            redis_port,
            customers,
            customers_port,
            invoices,
            invoices_port,
            customer_db,
            invoice_db,
        })
    }

    pub fn mongodb_uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.mongo_port)
    }

    pub fn customer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.customers_port)
    }

    pub fn invoice_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.invoices_port)
    }

    pub async fn start_mongo(&mut self) -> anyhow::Result<()> {
        self.mongo.start()?;
        wait_for_port(&mut self.mongo, self.mongo_port, Duration::from_secs(30)).await
    }

    pub async fn start_redis(&mut self) -> anyhow::Result<()> {
        self.redis.start()?;
        wait_for_port(&mut self.redis, self.redis_port, Duration::from_secs(10)).await
    }

    /// Starts customer-service and waits for its `/health`.
    pub async fn start_customers(&mut self) -> anyhow::Result<()> {
        self.customers.start()?;
        let url = format!("{}/health", self.customer_url());
        wait_for_health(&mut self.customers, &url).await
    }

    /// Starts invoice-service and waits for its `/health`.
    pub async fn start_invoices(&mut self) -> anyhow::Result<()> {
        self.invoices.start()?;
        let url = format!("{}/health", self.invoice_url());
        wait_for_health(&mut self.invoices, &url).await
    }

    /// Another invoice-service beside the cluster's, on its MongoDB database and with its
    /// environment, but on `port`, reaching Redis at `redis_url`, logging to `<name>.log`.
    pub fn invoice_instance(&self, name: &str, port: u16, redis_url: &str) -> Proc {
        self.instance(
            Member::Invoices,
            name,
            &[
                ("PORT", port.to_string()),
                ("REDIS_URL", redis_url.to_owned()),
            ],
        )
    }

    /// Another process of `member` (a service) with its environment but for `overrides`,
    /// logging to `<name>.log`.
    pub fn instance(&self, member: Member, name: &str, overrides: &[(&str, String)]) -> Proc {
        let mut launch = match member {
            Member::Mongo => self.mongo.launch.clone(),
            Member::Redis => self.redis.launch.clone(),
            Member::Customers => self.customers.launch.clone(),
            Member::Invoices => self.invoices.launch.clone(),
        };
        for (key, value) in &mut launch.env {
            if let Some((_, new)) = overrides.iter().find(|(k, _)| k == key) {
                value.clone_from(new);
            }
        }
        launch.log = launch.log.with_file_name(format!("{name}.log"));
        launch.name = name.to_owned();
        Proc::new(launch)
    }

    /// The process of `member`.
    pub fn proc(&mut self, member: Member) -> &mut Proc {
        match member {
            Member::Mongo => &mut self.mongo,
            Member::Redis => &mut self.redis,
            Member::Customers => &mut self.customers,
            Member::Invoices => &mut self.invoices,
        }
    }

    /// Starts `member` and waits until it serves.
    pub async fn start(&mut self, member: Member) -> anyhow::Result<()> {
        match member {
            Member::Mongo => self.start_mongo().await,
            Member::Redis => self.start_redis().await,
            Member::Customers => self.start_customers().await,
            Member::Invoices => self.start_invoices().await,
        }
    }

    /// Everything, in dependency order.
    pub async fn start_all(&mut self) -> anyhow::Result<()> {
        for member in Member::ALL {
            self.start(member).await?;
        }
        Ok(())
    }

    /// Every process, for a last check that none is left.
    pub fn kill_all(&mut self) {
        for member in Member::ALL.into_iter().rev() {
            self.proc(member).kill();
        }
    }
}

/// A redis-server in the foreground on 127.0.0.1:`port`, persisting nothing, in `dir`.
pub fn redis_args(port: u16, dir: &Path) -> Vec<OsString> {
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ]
    .iter()
    .map(OsString::from)
    .chain(["--dir".into(), dir.into()])
    .collect()
}

/// Waits up to 60 s for `url` to answer 200 while `proc` runs.
pub async fn wait_for_health(proc: &mut Proc, url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        ensure_running(proc, &format!("{url} answered"), 30)?;
        if Instant::now() >= deadline {
            bail!("{url} did not answer 200 within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
