//! The services' readiness, and invoice-service's cache hit ratio from its metrics.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::{PageError, Section, Shell, render};
use crate::Console;
use crate::api::{Readiness, Service};
use crate::session::SignedIn;

pub struct ServiceStatus {
    pub name: &'static str,
    pub url: String,
    /// `ready`, `not ready` or `unreachable`.
    pub readiness: &'static str,
    /// The same as a class name.
    pub state: &'static str,
    pub checks: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    shell: Shell,
    services: Vec<ServiceStatus>,
    cache: Option<String>,
}

/// `GET /status`. Asks `/ready` and `/metrics`, which need no key.
pub async fn show_status(
    signed_in: SignedIn,
    State(console): State<Console>,
) -> Result<Response, PageError> {
    let api = &console.api;
    let (customers, invoices, metrics) = futures::join!(
        api.readiness(Service::Customers),
        api.readiness(Service::Invoices),
        api.metrics(Service::Invoices),
    );
    let status = |service: Service, readiness: Readiness| {
        let (readiness, state, checks) = match readiness {
            Readiness::Ready { checks } => ("ready", "ready", checks),
            Readiness::NotReady { checks } => ("not ready", "not-ready", checks),
            Readiness::Unreachable => ("unreachable", "unreachable", Vec::new()),
        };
        ServiceStatus {
            name: service.name(),
            url: api.base(service).to_owned(),
            readiness,
            state,
            checks,
        }
    };
    let page = StatusPage {
        shell: signed_in.shell("Status", Section::Status),
        services: vec![
            status(Service::Customers, customers),
            status(Service::Invoices, invoices),
        ],
        cache: metrics.as_deref().map(cache_hit_ratio),
    };
    render(&page)
}

/// "Cache hit ratio" from Prometheus text: hits over hits, misses and bypassed reads.
fn cache_hit_ratio(metrics: &str) -> String {
    let [hits, misses, bypassed] = [
        "cache_hits_total",
        "cache_misses_total",
        "cache_bypassed_total",
    ]
    .map(|name| total(metrics, name));
    let reads = hits + misses + bypassed;
    if reads == 0.0 {
        return "no reads yet".to_owned();
    }
    format!(
        "{:.1} % (hits: {hits}, misses: {misses}, bypassed: {bypassed})",
        hits / reads * 100.0
    )
}

/// The sum of `name` over its label sets.
fn total(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let value = match rest.chars().next()? {
                '{' => rest.rsplit_once('}')?.1,
                ' ' => rest,
                _ => return None,
            };
            value.split_whitespace().next()?.parse::<f64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::cache_hit_ratio;

    #[test]
    fn the_ratio_sums_every_label_set_and_ignores_lookalike_names() {
        let metrics = "# TYPE cache_hits_total counter\n\
                       cache_hits_total{service=\"invoice-service\"} 3\n\
                       cache_hits_total{service=\"other\"} 3\n\
                       cache_hits_total_extra 100\n\
                       cache_misses_total 1\n\
                       cache_bypassed_total 1\n";
        assert_eq!(
            cache_hit_ratio(metrics),
            "75.0 % (hits: 6, misses: 1, bypassed: 1)"
        );
        assert_eq!(cache_hit_ratio(""), "no reads yet");
    }
}
