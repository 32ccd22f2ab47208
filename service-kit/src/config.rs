//! Reading settings from the environment, failing fast with a clear sentence.

use std::fmt::Display;
use std::str::FromStr;

use anyhow::{Context, bail};

/// The variable's value, or `None` when it is unset or blank.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The variable parsed as `T`, or `default` when it is unset.
pub fn parse_or<T>(name: &str, default: T) -> anyhow::Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    match optional(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("{name}={raw:?} is not valid")),
    }
}

/// A boolean variable: `true/false`, `1/0`, `yes/no`, `on/off`.
pub fn flag(name: &str, default: bool) -> anyhow::Result<bool> {
    match optional(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
        Some(v) => bail!("{name}={v:?} is not valid: use true or false"),
    }
}
