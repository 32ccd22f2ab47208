//! Results: one row per fault, each with its criteria (measured against the limit) and its
//! figures; printed as a table and written as JSON.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ledger::Consistency;

/// One pass criterion of a row.
#[derive(Debug, Clone, Serialize)]
pub struct Criterion {
    pub name: String,
    pub measured: String,
    pub limit: String,
    pub pass: bool,
}

/// One fault and what it did.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    pub row: String,
    pub fault: String,
    pub pass: bool,
    pub seconds: f64,
    pub criteria: Vec<Criterion>,
    /// Everything measured, criteria or not.
    pub figures: Map<String, Value>,
    pub consistency: Option<Consistency>,
    /// Why the row could not finish, if it could not.
    pub error: Option<String>,
}

impl RowResult {
    pub fn new(row: &str, fault: &str) -> Self {
        Self {
            row: row.to_owned(),
            fault: fault.to_owned(),
            pass: false,
            seconds: 0.0,
            criteria: Vec::new(),
            figures: Map::new(),
            consistency: None,
            error: None,
        }
    }

    /// Adds a criterion; `pass` says whether `measured` is within `limit`.
    pub fn check(
        &mut self,
        name: &str,
        measured: impl ToString,
        limit: impl ToString,
        pass: bool,
    ) -> bool {
        self.criteria.push(Criterion {
            name: name.to_owned(),
            measured: measured.to_string(),
            limit: limit.to_string(),
            pass,
        });
        pass
    }

    pub fn figure(&mut self, name: &str, value: impl Into<Value>) {
        self.figures.insert(name.to_owned(), value.into());
    }

    /// The first of `examples` (of what went wrong), if any, as figure `name`.
    pub fn first_example(&mut self, name: &str, examples: &[impl Serialize]) {
        if let Some(example) = examples.first() {
            self.figure(name, serde_json::json!(example));
        }
    }

    /// Settles `pass` once every criterion is in.
    pub fn settle(&mut self) {
        self.pass = self.error.is_none()
            && !self.criteria.is_empty()
            && self.criteria.iter().all(|c| c.pass);
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    pub started: String,
    pub seconds: f64,
    pub pass: bool,
    pub settings: Value,
    pub rows: Vec<RowResult>,
}

/// Milliseconds with one decimal.
pub fn ms(value: f64) -> String {
    format!("{value:.1} ms")
}

/// The table every run prints.
pub fn table(report: &SuiteReport) -> String {
    let widths = [22, 46, 34, 26];
    let mut out = String::new();
    let line = |out: &mut String, cells: [&str; 4], result: &str| {
        let _ = writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {result}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
    };
    line(
        &mut out,
        ["row", "criterion", "measured", "limit"],
        "result",
    );
    let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 16));
    for row in &report.rows {
        let mut first = true;
        for criterion in &row.criteria {
            line(
                &mut out,
                [
                    if first { &row.row } else { "" },
                    &criterion.name,
                    &criterion.measured,
                    &criterion.limit,
                ],
                if criterion.pass { "pass" } else { "FAIL" },
            );
            first = false;
        }
        if let Some(error) = &row.error {
            line(
                &mut out,
                [
                    if first { &row.row } else { "" },
                    "row finished",
                    error,
                    "no error",
                ],
                "FAIL",
            );
        }
        let _ = writeln!(
            out,
            "{:<w$}  => {} in {:.0} s",
            "",
            if row.pass { "PASS" } else { "FAIL" },
            row.seconds,
            w = widths[0]
        );
    }
    out
}

pub fn write_json(report: &SuiteReport, path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
