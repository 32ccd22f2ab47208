//! The two services as the console calls them: over their public HTTP APIs, with the
//! operator's key as `Authorization: Bearer`, the request's `X-Request-Id` passed on, and a
//! timeout, so that a page never waits on a service for longer than it may take itself.
//! Answers are decoded here, errors into [`Error`], so that pages only choose what to show.

mod resources;

use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode, header};
use bytes::Bytes;
pub use resources::{
    Address, Customer, CustomerQuery, Endpoint, Event, Invoice, InvoiceQuery, Item, Page,
    Readiness, Transition, Versioned,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::settings::Settings;

/// Each call to a service must answer within this; the console's own requests are cut off
/// at the kit's 5 s, and a page makes its calls at the same time.
pub const TIMEOUT: Duration = Duration::from_secs(4);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The service a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Customers,
    Invoices,
}

impl Service {
    pub const ALL: [Service; 2] = [Service::Customers, Service::Invoices];

    pub fn name(self) -> &'static str {
        match self {
            Service::Customers => "customer-service",
            Service::Invoices => "invoice-service",
        }
    }

    /// Its name, as the webhooks page's select sends it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A 24-hex id, checked before it is put into an upstream URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Id(String);

impl Id {
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 24 && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The contract's error body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Problem {
    pub error: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub details: Vec<Detail>,
}

/// One field a service refused, as `details` names it (`email`, `items[1].quantity`).
#[derive(Debug, Clone, Deserialize)]
pub struct Detail {
    pub field: String,
    pub message: String,
}

/// What a call can end in besides its answer.
#[derive(Debug)]
pub enum Error {
    /// No answer within the timeout, a refused connection, or an answer that is not the
    /// contract's.
    Unreachable { service: Service, url: String },
    /// `401`: the key was refused.
    Unauthorized,
    /// `404`: no such resource.
    NotFound,
    /// `412`: the resource changed since the version sent, which is now `etag` (when the
    /// service said).
    Stale {
        etag: Option<String>,
        problem: Problem,
    },
    /// Any other `4xx`: refused for the reasons in the body.
    Rejected(Problem),
    /// A `5xx`: the service answered but could not do it (one of its dependencies is down).
    Failed { service: Service, problem: Problem },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unreachable { service, url } => {
                write!(f, "{} cannot be reached at {url}", service.name())
            }
            Error::Unauthorized => f.write_str("the API key was refused"),
            Error::NotFound => f.write_str("not found"),
            Error::Stale { .. } => f.write_str("changed since the version sent"),
            Error::Rejected(problem) => write!(f, "{} ({})", problem.error, problem.code),
            Error::Failed { service, problem } => {
                write!(
                    f,
                    "{} failed: {} ({})",
                    service.name(),
                    problem.error,
                    problem.code
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// The two services' addresses and the HTTP client that calls them.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    customers: String,
    invoices: String,
}

impl Api {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            customers: settings
                .customer_service_url
                .trim_end_matches('/')
                .to_owned(),
            invoices: settings
                .invoice_service_url
                .trim_end_matches('/')
                .to_owned(),
        })
    }

    /// Where `service` is reached.
    pub fn base(&self, service: Service) -> &str {
        match service {
            Service::Customers => &self.customers,
            Service::Invoices => &self.invoices,
        }
    }

    /// Calls made for one request: with its key (none in open mode) and request id.
    pub fn caller(&self, key: Option<SecretString>, request_id: Option<String>) -> Caller {
        Caller {
            api: self.clone(),
            key,
            request_id,
        }
    }

    /// `GET /ready` (never behind a key).
    pub async fn readiness(&self, service: Service) -> Readiness {
        let answer = self.caller(None, None).get_raw(service, "/ready").await;
        match answer {
            Ok(answer) | Err(Failure::Answered(answer)) => {
                let checks = serde_json::from_slice::<ReadyBody>(&answer.body)
                    .map(|body| body.checks.into_iter().collect())
                    .unwrap_or_default();
                if answer.status == StatusCode::OK {
                    Readiness::Ready { checks }
                } else {
                    Readiness::NotReady { checks }
                }
            }
            Err(Failure::Unreachable(_)) => Readiness::Unreachable,
        }
    }

    /// `GET /metrics` as Prometheus text (never behind a key).
    pub async fn metrics(&self, service: Service) -> Option<String> {
        let answer = self
            .caller(None, None)
            .get_raw(service, "/metrics")
            .await
            .ok()?;
        String::from_utf8(answer.body.to_vec()).ok()
    }
}

#[derive(Deserialize)]
struct ReadyBody {
    #[serde(default)]
    checks: std::collections::BTreeMap<String, String>,
}

/// An answer as it came, before it is decoded.
struct Answer {
    status: StatusCode,
    etag: Option<String>,
    content_type: Option<String>,
    body: Bytes,
}

/// Why a raw call gave no 2xx answer.
enum Failure {
    Unreachable(String),
    Answered(Answer),
}

/// The services, called for one request of the console.
#[derive(Clone)]
pub struct Caller {
    api: Api,
    key: Option<SecretString>,
    request_id: Option<String>,
}

/// A request's parts besides its method and path.
#[derive(Default)]
struct Options<'a> {
    query: Vec<(&'static str, String)>,
    body: Option<&'a Value>,
    if_match: Option<&'a str>,
}

impl Caller {
    /// Whether both services take this caller's key (or, with none, are open).
    pub async fn check_key(&self) -> Result<(), Error> {
        let limit = || Options {
            query: vec![("limit", "1".to_owned())],
            ..Options::default()
        };
        let (customers, invoices) = futures::join!(
            self.call(Service::Customers, Method::GET, "/customers", limit()),
            self.call(Service::Invoices, Method::GET, "/invoices", limit()),
        );
        customers.and(invoices).map(drop)
    }

    pub async fn customers(&self, query: &CustomerQuery) -> Result<Page<Customer>, Error> {
        let options = Options {
            query: query.pairs(),
            ..Options::default()
        };
        let answer = self
            .call(Service::Customers, Method::GET, "/customers", options)
            .await?;
        decode(Service::Customers, &answer)
    }

    pub async fn customer(&self, id: &Id) -> Result<Versioned<Customer>, Error> {
        let answer = self
            .call(
                Service::Customers,
                Method::GET,
                &format!("/customers/{id}"),
                Options::default(),
            )
            .await?;
        versioned(Service::Customers, answer, |customer: Customer| customer)
    }

    pub async fn create_customer(&self, body: &Value) -> Result<Customer, Error> {
        let options = Options {
            body: Some(body),
            ..Options::default()
        };
        let answer = self
            .call(Service::Customers, Method::POST, "/customers", options)
            .await?;
        decode::<CustomerEnvelope>(Service::Customers, &answer).map(|e| e.customer)
    }

    pub async fn update_customer(
        &self,
        id: &Id,
        version: Option<&str>,
        body: &Value,
    ) -> Result<Customer, Error> {
        let options = Options {
            body: Some(body),
            if_match: version,
            ..Options::default()
        };
        let path = format!("/customers/{id}");
        let answer = self
            .call(Service::Customers, Method::PATCH, &path, options)
            .await?;
        decode::<CustomerEnvelope>(Service::Customers, &answer).map(|e| e.customer)
    }

    pub async fn delete_customer(&self, id: &Id, version: Option<&str>) -> Result<(), Error> {
        let options = Options {
            if_match: version,
            ..Options::default()
        };
        let path = format!("/customers/{id}");
        self.call(Service::Customers, Method::DELETE, &path, options)
            .await
            .map(drop)
    }

    pub async fn invoices(&self, query: &InvoiceQuery) -> Result<Page<Invoice>, Error> {
        let options = Options {
            query: query.pairs(),
            ..Options::default()
        };
        let answer = self
            .call(Service::Invoices, Method::GET, "/invoices", options)
            .await?;
        decode(Service::Invoices, &answer)
    }

    pub async fn invoice(&self, id: &Id) -> Result<Versioned<Invoice>, Error> {
        let path = format!("/invoices/{id}");
        let answer = self
            .call(Service::Invoices, Method::GET, &path, Options::default())
            .await?;
        versioned(Service::Invoices, answer, |e: InvoiceEnvelope| e.invoice)
    }

    pub async fn create_invoice(&self, body: &Value) -> Result<Invoice, Error> {
        let options = Options {
            body: Some(body),
            ..Options::default()
        };
        let answer = self
            .call(Service::Invoices, Method::POST, "/invoices", options)
            .await?;
        decode::<InvoiceEnvelope>(Service::Invoices, &answer).map(|e| e.invoice)
    }

    pub async fn update_invoice(
        &self,
        id: &Id,
        version: Option<&str>,
        body: &Value,
    ) -> Result<Invoice, Error> {
        let options = Options {
            body: Some(body),
            if_match: version,
            ..Options::default()
        };
        let path = format!("/invoices/{id}");
        let answer = self
            .call(Service::Invoices, Method::PATCH, &path, options)
            .await?;
        decode::<InvoiceEnvelope>(Service::Invoices, &answer).map(|e| e.invoice)
    }

    pub async fn delete_invoice(&self, id: &Id, version: Option<&str>) -> Result<(), Error> {
        let options = Options {
            if_match: version,
            ..Options::default()
        };
        let path = format!("/invoices/{id}");
        self.call(Service::Invoices, Method::DELETE, &path, options)
            .await
            .map(drop)
    }

    pub async fn transition(
        &self,
        id: &Id,
        transition: Transition,
        version: Option<&str>,
    ) -> Result<Invoice, Error> {
        let options = Options {
            if_match: version,
            ..Options::default()
        };
        let path = format!("/invoices/{id}/{}", transition.action());
        let answer = self
            .call(Service::Invoices, Method::POST, &path, options)
            .await?;
        decode::<InvoiceEnvelope>(Service::Invoices, &answer).map(|e| e.invoice)
    }

    /// The invoice's PDF as invoice-service draws it.
    pub async fn invoice_pdf(&self, id: &Id) -> Result<Bytes, Error> {
        let path = format!("/invoices/{id}/pdf");
        let answer = self
            .call(Service::Invoices, Method::GET, &path, Options::default())
            .await?;
        if answer.content_type.as_deref() != Some("application/pdf") {
            return Err(unreadable(Service::Invoices));
        }
        Ok(answer.body)
    }

    /// One page of `service`'s events, oldest first, of at most 100.
    pub async fn events(
        &self,
        service: Service,
        after: Option<&str>,
    ) -> Result<Page<Event>, Error> {
        let mut query = vec![("limit", "100".to_owned())];
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        let options = Options {
            query,
            ..Options::default()
        };
        let answer = self.call(service, Method::GET, "/events", options).await?;
        decode(service, &answer)
    }

    /// The first 100 of `service`'s webhook endpoints.
    pub async fn endpoints(&self, service: Service) -> Result<Page<Endpoint>, Error> {
        let options = Options {
            query: vec![("limit", "100".to_owned())],
            ..Options::default()
        };
        let answer = self
            .call(service, Method::GET, "/webhook_endpoints", options)
            .await?;
        decode(service, &answer)
    }

    /// A new endpoint, with its secret (shown this once).
    pub async fn create_endpoint(&self, service: Service, body: &Value) -> Result<Endpoint, Error> {
        let options = Options {
            body: Some(body),
            ..Options::default()
        };
        let answer = self
            .call(service, Method::POST, "/webhook_endpoints", options)
            .await?;
        decode(service, &answer)
    }

    pub async fn delete_endpoint(&self, service: Service, id: &Id) -> Result<(), Error> {
        let path = format!("/webhook_endpoints/{id}");
        self.call(service, Method::DELETE, &path, Options::default())
            .await
            .map(drop)
    }

    /// A call whose non-2xx answers become [`Error`]s.
    async fn call(
        &self,
        service: Service,
        method: Method,
        path: &str,
        options: Options<'_>,
    ) -> Result<Answer, Error> {
        match self.send(service, method, path, options).await {
            Ok(answer) => Ok(answer),
            Err(Failure::Unreachable(url)) => Err(Error::Unreachable { service, url }),
            Err(Failure::Answered(answer)) => Err(refusal(service, answer)),
        }
    }

    async fn get_raw(&self, service: Service, path: &str) -> Result<Answer, Failure> {
        self.send(service, Method::GET, path, Options::default())
            .await
    }

    async fn send(
        &self,
        service: Service,
        method: Method,
        path: &str,
        options: Options<'_>,
    ) -> Result<Answer, Failure> {
        let base = self.api.base(service);
        let url = format!("{base}{path}");
        let mut request = self.api.http.request(method, &url);
        if !options.query.is_empty() {
            request = request.query(&options.query);
        }
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose_secret());
        }
        if let Some(id) = self.request_id.as_deref().and_then(header_value) {
            request = request.header(service_kit::http::REQUEST_ID, id);
        }
        // A version that is not a header value was not made by this console: it names no
        // version, so the write is refused rather than made blind.
        if let Some(version) = options.if_match {
            let tag =
                header_value(version).unwrap_or(HeaderValue::from_static(crate::forms::NO_VERSION));
            request = request.header(header::IF_MATCH, tag);
        }
        if let Some(body) = options.body {
            request = request.json(body);
        }
        let sent = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers();
            let text = |name| {
                headers
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let etag = text(header::ETAG);
            let content_type = text(header::CONTENT_TYPE)
                .map(|t| t.split(';').next().unwrap_or_default().trim().to_owned());
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>(Answer {
                status,
                etag,
                content_type,
                body,
            })
        };
        match sent.await {
            Ok(answer) if answer.status.is_success() => Ok(answer),
            Ok(answer) => Err(Failure::Answered(answer)),
            Err(error) => {
                tracing::warn!(service = service.name(), %error, "call failed");
                Err(Failure::Unreachable(base.to_owned()))
            }
        }
    }
}

fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok().filter(|v| !v.is_empty())
}

/// A non-2xx answer as an [`Error`].
fn refusal(service: Service, answer: Answer) -> Error {
    let problem = || {
        serde_json::from_slice::<Problem>(&answer.body).unwrap_or_else(|_| Problem {
            error: format!(
                "{} answered {} without saying why.",
                service.name(),
                answer.status
            ),
            code: String::new(),
            details: Vec::new(),
        })
    };
    match answer.status {
        StatusCode::UNAUTHORIZED => Error::Unauthorized,
        StatusCode::NOT_FOUND => Error::NotFound,
        StatusCode::PRECONDITION_FAILED => Error::Stale {
            etag: answer.etag.clone(),
            problem: problem(),
        },
        status if status.is_client_error() => Error::Rejected(problem()),
        _ => Error::Failed {
            service,
            problem: problem(),
        },
    }
}

fn unreadable(service: Service) -> Error {
    Error::Failed {
        service,
        problem: Problem {
            error: format!(
                "{} answered in a form this console cannot read.",
                service.name()
            ),
            code: String::new(),
            details: Vec::new(),
        },
    }
}

fn decode<T: DeserializeOwned>(service: Service, answer: &Answer) -> Result<T, Error> {
    serde_json::from_slice(&answer.body).map_err(|error| {
        tracing::warn!(service = service.name(), %error, "answer not understood");
        unreadable(service)
    })
}

/// A resource with the `ETag` it came with.
fn versioned<E: DeserializeOwned, T>(
    service: Service,
    answer: Answer,
    unwrap: impl FnOnce(E) -> T,
) -> Result<Versioned<T>, Error> {
    let value = decode::<E>(service, &answer).map(unwrap)?;
    Ok(Versioned {
        value,
        version: answer.etag,
    })
}

#[derive(Deserialize)]
struct CustomerEnvelope {
    customer: Customer,
}

#[derive(Deserialize)]
struct InvoiceEnvelope {
    invoice: Invoice,
}

#[cfg(test)]
mod tests {
    use super::Id;

    #[test]
    fn only_24_hex_characters_make_an_id() {
        assert!(Id::parse("66f000000000000000000001").is_some());
        assert!(Id::parse("66F00000000000000000000A").is_some());
        for bad in [
            "",
            "66f00000000000000000000",
            "66f0000000000000000000011",
            "66f00000000000000000000g",
            "../../../../../../../../x",
        ] {
            assert!(Id::parse(bad).is_none(), "{bad}");
        }
    }
}
