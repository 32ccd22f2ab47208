//! The orchestrator's side of a drive: the load driver as a child process, its start
//! instant, its ticks, and its report.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::time::Instant;

use crate::drive::{DriveReport, DriveSpec, Tick};
use crate::outcome::unix_ms;
use crate::procs::tail;

/// A running `reliability drive`; killed when dropped.
pub struct Driver {
    child: Child,
    stdin: Option<ChildStdin>,
    /// When its load started (unix ms), as it reported.
    pub started_ms: u64,
    ticks: Arc<Mutex<Vec<Tick>>>,
    out: PathBuf,
    log: PathBuf,
}

impl Driver {
    /// Starts `exe drive` on `spec` and waits for its load to start.
    pub async fn spawn(
        exe: &Path,
        dir: &Path,
        name: &str,
        spec: &DriveSpec,
    ) -> anyhow::Result<Self> {
        let spec_path = dir.join(format!("drive-{name}.spec.json"));
        std::fs::write(&spec_path, serde_json::to_vec_pretty(spec)?)
            .with_context(|| format!("cannot write {}", spec_path.display()))?;
        let out = dir.join(format!("drive-{name}.report.json"));
        let _ = std::fs::remove_file(&out);
        let log = dir.join(format!("drive-{name}.log"));
        let mut child = Command::new(exe)
            .arg("drive")
            .arg("--spec")
            .arg(&spec_path)
            .arg("--out")
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("cannot start {} drive", exe.display()))?;
        let stdout = child.stdout.take().context("the driver has no stdout")?;
        let stdin = child.stdin.take();
        let ticks = Arc::new(Mutex::new(Vec::new()));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let seen = ticks.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(started) = value["started_ms"].as_u64() {
                    let _ = started_tx.send(started);
                } else if let Ok(tick) = serde_json::from_value::<Tick>(value) {
                    seen.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(tick);
                }
            }
        });
        let mut driver = Self {
            child,
            stdin,
            started_ms: 0,
            ticks,
            out,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(started) = started_rx.try_recv() {
                driver.started_ms = started;
                return Ok(driver);
            }
            if let Some(status) = driver.child.try_wait()? {
                bail!(
                    "the load driver exited ({status}) before starting:\n{}",
                    tail(&driver.log, 20)
                );
            }
            if Instant::now() >= deadline {
                bail!("the load driver did not start within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The instant `seconds` after its load started.
    pub fn at(&self, seconds: f64) -> Instant {
        let target = self.started_ms as f64 + seconds * 1000.0;
        let wait = (target - unix_ms() as f64).max(0.0) / 1000.0;
        Instant::now() + Duration::from_secs_f64(wait)
    }

    /// Sleeps until `seconds` after its load started.
    pub async fn until(&self, seconds: f64) {
        tokio::time::sleep_until(self.at(seconds)).await;
    }

    pub fn ticks(&self) -> Vec<Tick> {
        self.ticks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Ends its last phase now.
    pub fn stop(&mut self) {
        if let Some(stdin) = &mut self.stdin {
            let _ = stdin.write_all(b"stop\n");
            let _ = stdin.flush();
        }
    }

    /// True once it has exited.
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `within` for it to end, and reads its report.
    pub async fn finish(mut self, within: Duration) -> anyhow::Result<DriveReport> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!(
                        "the load driver failed ({status}):\n{}",
                        tail(&self.log, 20)
                    );
                }
                break;
            }
            if Instant::now() >= deadline {
                bail!("the load driver did not end within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let text = std::fs::read_to_string(&self.out)
            .with_context(|| format!("cannot read {}", self.out.display()))?;
        serde_json::from_str(&text).context("unreadable drive report")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
