//! What a run found: the JSON it writes (so runs can be compared), the targets it is
//! checked against (ratios to the references, p99 spread, errors, memory), and the table it
//! prints.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::cases::RATIOS;
use crate::load::LoadReport;

/// A service route's p99 may be at most this many times its p50.
pub const MAX_P99_OVER_P50: f64 = 3.0;
/// Resident memory limits per service, in MiB.
pub const MAX_RSS_UNDER_LOAD_MIB: f64 = 30.0;
pub const MAX_RSS_IDLE_MIB: f64 = 15.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResults {
    pub started_at: String,
    pub finished_at: String,
    pub machine: Machine,
    pub settings: RunSettings,
    pub cases: Vec<CaseResult>,
    pub ratios: Vec<RatioResult>,
    pub services: Vec<ServiceResult>,
    pub targets: Vec<TargetCheck>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_kib: u64,
    pub kernel: String,
    /// `/proc/loadavg` when the run started: how busy the machine already was.
    pub load_average_at_start: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSettings {
    pub seconds: f64,
    pub warmup_seconds: f64,
    pub connections: usize,
    pub loadgen_threads: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    pub name: String,
    pub label: String,
    /// `customer-service`, `invoice-service` or `reference`.
    pub server: String,
    pub report: LoadReport,
    /// The highest `VmRSS` of each service sampled while this case ran, in KiB.
    pub service_rss_kib: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RatioResult {
    pub case: String,
    pub reference: String,
    /// Requests per second of the case over those of the reference.
    pub ratio: f64,
    pub target: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceResult {
    pub name: String,
    pub pid: u32,
    pub binary_bytes: u64,
    /// `VmRSS` after start-up and sample data, before any load.
    pub idle_rss_kib: u64,
    /// `VmHWM` at the end: the peak over the whole run.
    pub peak_rss_kib: u64,
    /// `VmRSS` a moment after the last case.
    pub rss_after_load_kib: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetCheck {
    pub target: String,
    pub value: String,
    pub met: bool,
}

impl BenchResults {
    pub fn case(&self, name: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.name == name)
    }

    /// The ratios of [`RATIOS`] whose two cases both ran.
    pub fn compute_ratios(&mut self) {
        self.ratios = RATIOS
            .iter()
            .filter_map(|r| {
                let case = self.case(r.case)?;
                let reference = self.case(r.reference)?;
                let base = reference.report.requests_per_second;
                Some(RatioResult {
                    case: r.case.to_owned(),
                    reference: r.reference.to_owned(),
                    ratio: if base > 0.0 {
                        case.report.requests_per_second / base
                    } else {
                        0.0
                    },
                    target: r.target,
                })
            })
            .collect();
    }

    /// Every target against what was measured: each ratio that has one, p99 <= 3 x p50
    /// and no errors per service case, and each service's RSS under load and idle.
    pub fn check_targets(&mut self) {
        let mut checks = Vec::new();
        for ratio in &self.ratios {
            if let Some(target) = ratio.target {
                checks.push(TargetCheck {
                    target: format!("{} >= {target:.2} x {}", ratio.case, ratio.reference),
                    value: format!("{:.2}", ratio.ratio),
                    met: ratio.ratio >= target,
                });
            }
        }
        for case in self.cases.iter().filter(|c| c.server != "reference") {
            let latency = &case.report.latency;
            let spread = if latency.p50_ms > 0.0 {
                latency.p99_ms / latency.p50_ms
            } else {
                f64::INFINITY
            };
            checks.push(TargetCheck {
                target: format!("{}: p99 <= {MAX_P99_OVER_P50} x p50", case.name),
                value: format!("{spread:.1}x"),
                met: spread <= MAX_P99_OVER_P50,
            });
            let failures = case.report.failures();
            checks.push(TargetCheck {
                target: format!("{}: no errors", case.name),
                value: failures.to_string(),
                met: failures == 0 && case.report.requests > 0,
            });
        }
        for service in &self.services {
            let peak = mib(service.peak_rss_kib);
            checks.push(TargetCheck {
                target: format!(
                    "{}: RSS under load <= {MAX_RSS_UNDER_LOAD_MIB} MiB",
                    service.name
                ),
                value: format!("{peak:.1} MiB"),
                met: peak <= MAX_RSS_UNDER_LOAD_MIB,
            });
            let idle = mib(service.idle_rss_kib.max(service.rss_after_load_kib));
            checks.push(TargetCheck {
                target: format!("{}: RSS idle <= {MAX_RSS_IDLE_MIB} MiB", service.name),
                value: format!("{idle:.1} MiB"),
                met: idle <= MAX_RSS_IDLE_MIB,
            });
        }
        self.targets = checks;
    }

    /// The table `scripts/bench` prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let s = &self.settings;
        let _ = writeln!(
            out,
            "\n{} connections, {} s per case after {} s of warm-up; load generator on {} thread(s) of the same machine",
            s.connections, s.seconds, s.warmup_seconds, s.loadgen_threads
        );
        let _ = writeln!(
            out,
            "machine: {} CPU(s), {}, {:.1} GiB, Linux {}, load average at start {}\n",
            m.cpus,
            m.cpu_model,
            m.memory_kib as f64 / 1024.0 / 1024.0,
            m.kernel,
            m.load_average_at_start
        );
        let _ = writeln!(
            out,
            "{:<34} {:>10} {:>8} {:>8} {:>8} {:>8}  {:>7}",
            "case", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
        );
        for case in &self.cases {
            let r = &case.report;
            let _ = writeln!(
                out,
                "{:<34} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.1}  {:>7}",
                case.label,
                r.requests_per_second,
                r.latency.p50_ms,
                r.latency.p90_ms,
                r.latency.p99_ms,
                r.latency.max_ms,
                r.failures()
            );
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(out, "\n{:<60} {:>6}  target", "ratio of req/s", "value");
            for ratio in &self.ratios {
                let label = |name: &str| {
                    self.case(name)
                        .map_or_else(|| name.to_owned(), |c| c.label.clone())
                };
                let target = match ratio.target {
                    Some(t) if ratio.ratio >= t => format!(">= {t:.2}  met"),
                    Some(t) => format!(">= {t:.2}  MISSED"),
                    None => "-".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "{:<60} {:>6.2}  {target}",
                    format!("{} / {}", label(&ratio.case), label(&ratio.reference)),
                    ratio.ratio
                );
            }
        }
        if !self.services.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<18} {:>12} {:>14} {:>16} {:>16}",
                "service", "binary MiB", "idle RSS MiB", "peak RSS MiB", "after load MiB"
            );
            for service in &self.services {
                let _ = writeln!(
                    out,
                    "{:<18} {:>12.1} {:>14.1} {:>16.1} {:>16.1}",
                    service.name,
                    service.binary_bytes as f64 / 1024.0 / 1024.0,
                    mib(service.idle_rss_kib),
                    mib(service.peak_rss_kib),
                    mib(service.rss_after_load_kib)
                );
            }
        }
        let missed: Vec<&TargetCheck> = self.targets.iter().filter(|t| !t.met).collect();
        let _ = writeln!(
            out,
            "\ntargets: {} met, {} missed",
            self.targets.len() - missed.len(),
            missed.len()
        );
        for check in missed {
            let _ = writeln!(out, "  missed: {} (measured {})", check.target, check.value);
        }
        for case in self.cases.iter().filter(|c| c.report.failures() > 0) {
            let r = &case.report;
            let first_error = r.first_error.as_deref().unwrap_or("-");
            let _ = writeln!(
                out,
                "errors in {}: status {:?}, no answer {:?}; first error: {first_error}",
                case.name, r.status, r.errors
            );
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        out
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
