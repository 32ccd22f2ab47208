//! HAProxy in front of two instances of each service: one frontend per service on a free
//! port, health checks on `/ready`, and its runtime API on a Unix socket to drain a server
//! before it is restarted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::procs::{Launch, Proc, free_port, wait_for_port};

/// One backend: the service's name and the ports of its instances (`a`, `b`, ...).
pub struct Backend {
    pub name: &'static str,
    pub servers: Vec<(&'static str, u16)>,
}

/// A running HAProxy.
pub struct Balancer {
    proc: Proc,
    socket: PathBuf,
    /// The frontend port of each backend, by name.
    pub ports: Vec<(&'static str, u16)>,
}

/// The configuration: connection failures are retried on another server for every request;
/// a `GET` (safe to send twice) is also retried when a server closed without an answer. A
/// server is taken out after two failed checks 250 ms apart and back after two good ones.
fn config(backends: &[Backend], ports: &[(&'static str, u16)], socket: &Path) -> String {
    let mut text = format!(
        "global\n    maxconn 4096\n    stats socket {} mode 600 level admin\n    \
         log stdout format raw local0\n\n\
         defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 1s\n    timeout client 30s\n    \
         timeout server 30s\n    timeout http-keep-alive 10s\n    retries 3\n    \
         option redispatch 1\n    retry-on conn-failure empty-response\n    http-reuse always\n\n",
        socket.display()
    );
    for (backend, (_, port)) in backends.iter().zip(ports) {
        let name = backend.name;
        let _ = write!(
            text,
            "frontend {name}\n    bind 127.0.0.1:{port}\n    default_backend {name}\n\n\
             backend {name}\n    balance roundrobin\n    option httpchk GET /ready\n    \
             http-check expect status 200\n    \
             http-request disable-l7-retry unless METH_GET\n    \
             default-server inter 250ms fall 2 rise 2\n"
        );
        for (server, server_port) in &backend.servers {
            let _ = writeln!(text, "    server {server} 127.0.0.1:{server_port} check");
        }
        text.push('\n');
    }
    text
}

impl Balancer {
    /// Writes the configuration under `dir` and starts `haproxy` (`HAPROXY_BIN`, else on
    /// `PATH`) in the foreground, logging to `<logs>/haproxy.log`.
    pub async fn start(backends: &[Backend], dir: &Path, logs: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let ports = backends
            .iter()
            .map(|b| Ok((b.name, free_port()?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let socket = dir.join("haproxy.sock");
        let _ = std::fs::remove_file(&socket);
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, config(backends, &ports, &socket))
            .with_context(|| format!("cannot write {}", file.display()))?;
        let program = std::env::var_os("HAPROXY_BIN").map_or_else(|| "haproxy".into(), Into::into);
        let mut proc = Proc::new(Launch {
            name: "haproxy".into(),
            program,
            args: vec!["-db".into(), "-f".into(), file.into()],
            env: Vec::new(),
            log: logs.join("haproxy.log"),
        });
        proc.start()?;
        for (_, port) in &ports {
            wait_for_port(&mut proc, *port, Duration::from_secs(10)).await?;
        }
        Ok(Self {
            proc,
            socket,
            ports,
        })
    }

    /// `http://127.0.0.1:<port>` of the frontend of `backend`.
    pub fn url(&self, backend: &str) -> String {
        let port = self
            .ports
            .iter()
            .find(|(name, _)| *name == backend)
            .map_or(0, |(_, port)| *port);
        format!("http://127.0.0.1:{port}")
    }

    /// One command of the runtime API, and its answer.
    pub async fn command(&self, command: &str) -> anyhow::Result<String> {
        let mut stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .with_context(|| format!("cannot reach {}", self.socket.display()))?;
        stream.write_all(format!("{command}\n").as_bytes()).await?;
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
            .await
            .context("the runtime API did not answer within 5 s")??;
        Ok(answer)
    }

    /// The status (`UP`, `DOWN`, `MAINT`, ...) and sessions in use of `backend/server`.
    pub async fn server(&self, backend: &str, server: &str) -> anyhow::Result<(String, u64)> {
        let stats = self.command("show stat").await?;
        let header: Vec<&str> = stats
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (Some(status), Some(current)) = (column("status"), column("scur")) else {
            bail!("no status or scur column in `show stat`");
        };
        for line in stats.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            if fields.first() == Some(&backend) && fields.get(1) == Some(&server) {
                let sessions = fields
                    .get(current)
                    .and_then(|f| f.parse().ok())
                    .unwrap_or(0);
                return Ok((fields.get(status).unwrap_or(&"").to_string(), sessions));
            }
        }
        bail!("no server {backend}/{server} in `show stat`")
    }

    /// Waits until `backend/server` reports a status that starts with `status`.
    pub async fn wait_status(
        &self,
        backend: &str,
        server: &str,
        status: &str,
        within: Duration,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            let (now, _) = self.server(backend, server).await?;
            if now.starts_with(status) {
                return Ok(started.elapsed());
            }
            if started.elapsed() > within {
                bail!("{backend}/{server} is {now}, not {status}, after {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Takes `backend/server` out of rotation and waits (up to `within`) for the requests
    /// it holds to finish: no new request goes to it, those in flight complete.
    pub async fn drain(&self, backend: &str, server: &str, within: Duration) -> anyhow::Result<()> {
        self.command(&format!("set server {backend}/{server} state maint"))
            .await?;
        let started = Instant::now();
        while self.server(backend, server).await?.1 > 0 && started.elapsed() < within {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Puts `backend/server` back; it takes requests once its checks pass.
    pub async fn ready(&self, backend: &str, server: &str) -> anyhow::Result<()> {
        self.command(&format!("set server {backend}/{server} state ready"))
            .await
            .map(drop)
    }

    pub fn stop(&mut self) {
        self.proc.kill();
    }
}
