//! What `/proc` tells: a running process's memory and the size of its binary, and how busy
//! the machine is.

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most it has been resident since it started.
    pub peak_rss_kib: u64,
}

/// Reads `/proc/PID/status`.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    parse_status(&status).with_context(|| format!("{path} has no VmRSS or VmHWM"))
}

fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
        })
    };
    Some(Memory {
        rss_kib: field("VmRSS")?,
        peak_rss_kib: field("VmHWM")?,
    })
}

/// The size in bytes of the executable process `pid` runs.
pub fn binary_size(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/exe");
    Ok(std::fs::metadata(&path)
        .with_context(|| format!("cannot stat {path}"))?
        .len())
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them (empty if it cannot
/// be read).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_lines_give_rss_and_peak() {
        let status = "Name:\tinvoice-service\nVmPeak:\t  300000 kB\nVmHWM:\t   21040 kB\nVmRSS:\t   12020 kB\n";
        let memory = super::parse_status(status).unwrap();
        assert_eq!(memory.rss_kib, 12020);
        assert_eq!(memory.peak_rss_kib, 21040);
    }

    #[test]
    fn this_process_can_be_read() {
        let pid = std::process::id();
        assert!(super::memory(pid).unwrap().rss_kib > 0);
        assert!(super::binary_size(pid).unwrap() > 0);
    }
}
