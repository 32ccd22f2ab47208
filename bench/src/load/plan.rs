//! The fixed part of a load: its targets resolved once, and which request is sent when.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::Full;
use hyper::header::{HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, Uri};
use tokio::time::Instant;

use super::LoadConfig;
use super::report::empty_histogram;

/// The fixed part of a load, resolved once.
pub(super) struct Plan {
    method: Method,
    targets: Vec<Target>,
    pub(super) endpoints: Vec<Endpoint>,
    bodies: Vec<Bytes>,
    pub(super) connections: usize,
    pub(super) timeout: Duration,
    pub(super) rate: Option<f64>,
    /// Time between two intended send times, with a rate.
    pub(super) interval: Option<Duration>,
    started: Instant,
    pub(super) measured_from: Instant,
    pub(super) measured_until: Option<Instant>,
    pub(super) empty_histogram: Histogram<u64>,
}

/// One URL, ready to send to.
struct Target {
    endpoint: usize,
    /// Origin form (`/path?query`), as HTTP/1.1 sends it.
    path: Uri,
    headers: HeaderMap,
}

/// One `host:port`, the unit a connection is open to.
pub(super) struct Endpoint {
    pub(super) authority: String,
    pub(super) addresses: Vec<SocketAddr>,
}

impl Plan {
    pub(super) async fn new(config: LoadConfig) -> anyhow::Result<Self> {
        if config.urls.is_empty() {
            bail!("no URL to load");
        }
        if config.connections == 0 {
            bail!("at least one connection is needed");
        }
        let interval = match config.rate {
            Some(rate) if rate.is_finite() && rate > 0.0 => {
                Some(Duration::from_secs_f64(1.0 / rate))
            }
            Some(rate) => {
                bail!("the rate must be a positive number of requests per second, not {rate}")
            }
            None => None,
        };
        let mut endpoints: Vec<Endpoint> = Vec::new();
        let mut targets = Vec::with_capacity(config.urls.len());
        for url in &config.urls {
            let (authority, path) = split_url(url)?;
            let endpoint = match endpoints.iter().position(|e| e.authority == authority) {
                Some(index) => index,
                None => {
                    endpoints.push(Endpoint::resolve(&authority).await?);
                    endpoints.len() - 1
                }
            };
            let mut headers = config.headers.clone();
            if !headers.contains_key(HOST) {
                let host = HeaderValue::from_str(&authority)
                    .with_context(|| format!("{url}: the host is not a valid header value"))?;
                headers.insert(HOST, host);
            }
            targets.push(Target {
                endpoint,
                path,
                headers,
            });
        }
        let empty_histogram = empty_histogram()?;
        let started = Instant::now();
        let measured_from = started + config.warmup;
        Ok(Self {
            method: config.method,
            targets,
            endpoints,
            bodies: config.bodies,
            connections: config.connections,
            timeout: config.timeout,
            rate: config.rate,
            interval,
            started,
            measured_from,
            measured_until: config.duration.map(|d| measured_from + d),
            empty_histogram,
        })
    }

    /// When request `sequence` is due, with a rate.
    pub(super) fn due(&self, sequence: u64) -> Option<Instant> {
        let interval = self.interval?;
        let nanos = interval.as_nanos().saturating_mul(u128::from(sequence));
        let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        Some(self.started + offset)
    }

    /// Request `sequence` and the endpoint it goes to: URLs and bodies are taken in turn.
    pub(super) fn request(&self, sequence: u64) -> (usize, Request<Full<Bytes>>) {
        let target = &self.targets[pick(sequence, self.targets.len())];
        let body = if self.bodies.is_empty() {
            Bytes::new()
        } else {
            self.bodies[pick(sequence, self.bodies.len())].clone()
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = target.path.clone();
        *request.headers_mut() = target.headers.clone();
        (target.endpoint, request)
    }

    pub(super) fn is_after_end(&self, at: Instant) -> bool {
        self.measured_until.is_some_and(|end| at >= end)
    }
}

fn pick(sequence: u64, len: usize) -> usize {
    // `len` is a non-zero length, so the remainder fits in usize.
    usize::try_from(sequence % len as u64).unwrap_or(0)
}

/// `http://host:port/path?query` → (`host:port`, `/path?query`).
pub(super) fn split_url(url: &str) -> anyhow::Result<(String, Uri)> {
    let uri: Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => bail!("{url}: only http:// is supported, not {other}://"),
        None => bail!("{url}: an absolute http:// URL is needed"),
    }
    let authority = uri
        .authority()
        .with_context(|| format!("{url} names no host"))?;
    let authority = match authority.port_u16() {
        Some(_) => authority.as_str().to_owned(),
        None => format!("{}:80", authority.host()),
    };
    let path = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .with_context(|| format!("{url}: bad path"))?;
    Ok((authority, path))
}

impl Endpoint {
    pub(super) async fn resolve(authority: &str) -> anyhow::Result<Self> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host(authority)
            .await
            .with_context(|| format!("cannot resolve {authority}"))?
            .collect();
        if addresses.is_empty() {
            bail!("{authority} resolves to no address");
        }
        Ok(Self {
            authority: authority.to_owned(),
            addresses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_origin_form() {
        let (authority, path) = split_url("http://127.0.0.1:5001/invoices?customer_id=1").unwrap();
        assert_eq!(authority, "127.0.0.1:5001");
        assert_eq!(path, "/invoices?customer_id=1");
        let (authority, path) = split_url("http://localhost").unwrap();
        assert_eq!(authority, "localhost:80");
        assert_eq!(path, "/");
        assert!(split_url("https://example.com/").is_err());
        assert!(split_url("/relative").is_err());
    }
}
