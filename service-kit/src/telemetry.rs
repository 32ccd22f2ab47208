//! Logs, and OpenTelemetry traces when a collector is configured.
//!
//! Variables:
//! - `RUST_LOG`: the filter for logs and exported spans alike (default `info`).
//! - `LOG_FORMAT=json`: structured logs instead of human-readable lines.
//! - `ACCESS_LOG`: which requests get a log line when they are answered: `all` (default),
//!   `errors` (4xx, 5xx and any slower than a second) or `off`. Metrics count every request
//!   whatever this says.
//! - `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL of an OTLP/HTTP collector, for example
//!   `http://otel-collector:4318`. When set, request spans are exported as protobuf to
//!   `<endpoint>/v1/traces` in batches, and W3C `traceparent` is read from incoming requests
//!   and passed on to customer-service, so one trace spans both services. `http://` only:
//!   this build carries no TLS. Unset or blank: no exporter, no propagation, logs as before.
//! - `OTEL_SERVICE_NAME`: the `service.name` of exported spans (default: the binary's
//!   service name; `billing-system` for the all-in-one run).
//! - `OTEL_EXPORTER_OTLP_TIMEOUT`: milliseconds one export may take, retries included
//!   (default 10000); it also bounds the final flush at shutdown.
//! - Read by the OpenTelemetry SDK itself: `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,...`,
//!   for a collector that wants a token), `OTEL_RESOURCE_ATTRIBUTES`, and batching with
//!   `OTEL_BSP_SCHEDULE_DELAY` (ms, default 5000), `OTEL_BSP_MAX_QUEUE_SIZE` (2048),
//!   `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (512).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::http::HeaderMap;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HeaderExtractor, HeaderInjector, HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{BatchConfigBuilder, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::field::MakeExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{optional, parse_or};

/// Whether spans are being exported, and so trace context read and passed on.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Which answered requests get an access log line (`ACCESS_LOG`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessLog {
    All,
    /// 4xx, 5xx, and answers slower than [`SLOW_REQUEST`].
    Errors,
    Off,
}

/// An answer this slow is logged under `ACCESS_LOG=errors` too.
pub const SLOW_REQUEST: Duration = Duration::from_secs(1);

static ACCESS_LOG: AtomicU8 = AtomicU8::new(0);

impl AccessLog {
    fn parse(value: Option<&str>) -> anyhow::Result<Self> {
        match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("all") => Ok(Self::All),
            Some("errors") => Ok(Self::Errors),
            Some("off") => Ok(Self::Off),
            Some(other) => bail!("ACCESS_LOG={other:?} is not valid: use all, errors or off"),
        }
    }

    /// The setting in force.
    pub fn current() -> Self {
        match ACCESS_LOG.load(Ordering::Relaxed) {
            1 => Self::Errors,
            2 => Self::Off,
            _ => Self::All,
        }
    }

    /// Whether an answer with `status` after `latency` gets a line.
    pub fn logs(self, status: axum::http::StatusCode, latency: Duration) -> bool {
        match self {
            Self::All => true,
            Self::Errors => {
                status.is_client_error() || status.is_server_error() || latency >= SLOW_REQUEST
            }
            Self::Off => false,
        }
    }
}

/// What [`init_with`] sets up.
#[derive(Clone, Debug)]
pub struct TelemetrySettings {
    /// `RUST_LOG`; `None` or a filter that does not parse means `info`.
    pub filter: Option<String>,
    /// `LOG_FORMAT=json`.
    pub json_logs: bool,
    /// `ACCESS_LOG`.
    pub access_log: AccessLog,
    /// Base URL of the OTLP/HTTP collector; `None` exports nothing.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// The bound on one export, retries included.
    pub export_timeout: Duration,
    /// How long finished spans wait to be sent in a batch; `None` leaves it to
    /// `OTEL_BSP_SCHEDULE_DELAY` or the SDK's 5 s.
    pub batch_delay: Option<Duration>,
}

impl TelemetrySettings {
    /// From the environment; `default_service_name` unless `OTEL_SERVICE_NAME` says otherwise.
    pub fn from_env(default_service_name: &str) -> anyhow::Result<Self> {
        Ok(Self {
            filter: optional("RUST_LOG"),
            json_logs: optional("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
            access_log: AccessLog::parse(optional("ACCESS_LOG").as_deref())?,
            otlp_endpoint: optional("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name: optional("OTEL_SERVICE_NAME")
                .unwrap_or_else(|| default_service_name.to_owned()),
            export_timeout: Duration::from_millis(parse_or("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000)?),
            batch_delay: None,
        })
    }
}

/// Keeps trace export running; dropping it sends the spans still queued and stops export.
/// Mains hold it until they return.
#[must_use = "dropping it stops trace export"]
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    /// Log lines are written by a background thread, never by a request; dropping this
    /// writes out what is still queued.
    _log_writer: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("exporting", &self.provider.is_some())
            .finish()
    }
}

impl Telemetry {
    /// Sends every span that has ended so far, waiting for the collector's answer.
    pub async fn flush(&self) -> anyhow::Result<()> {
        let Some(provider) = self.provider.clone() else {
            return Ok(());
        };
        // The SDK blocks until its batch task, which runs on this runtime, has exported.
        tokio::task::spawn_blocking(move || provider.force_flush())
            .await
            .context("the flush task failed")?
            .context("flushing spans to the OTLP collector failed")
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            EXPORTING.store(false, Ordering::Relaxed);
            shut_down(provider);
        }
    }
}

/// Sends what is queued and stops the batch task.
fn shut_down(provider: SdkTracerProvider) {
    let current_thread_runtime = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
    if current_thread_runtime {
        // Waiting here would stall the one thread the batch task needs to finish.
        std::thread::spawn(move || provider.shutdown());
    } else if let Err(error) = provider.shutdown() {
        tracing::warn!(%error, "the last spans could not be sent to the OTLP collector");
    }
}

/// Installs the global subscriber once, configured from the environment; later calls change
/// nothing. Call it inside the tokio runtime: trace export runs there.
pub fn init(default_service_name: &str) -> anyhow::Result<Telemetry> {
    init_with(TelemetrySettings::from_env(default_service_name)?)
}

/// [`init`] with settings given rather than read.
pub fn init_with(settings: TelemetrySettings) -> anyhow::Result<Telemetry> {
    let traces_url = settings
        .otlp_endpoint
        .as_deref()
        .map(traces_url)
        .transpose()?;
    if tracing::dispatcher::has_been_set() {
        return Ok(Telemetry::default());
    }
    let access_log = match settings.access_log {
        AccessLog::All => 0,
        AccessLog::Errors => 1,
        AccessLog::Off => 2,
    };
    ACCESS_LOG.store(access_log, Ordering::Relaxed);
    let provider = traces_url
        .map(|url| tracer_provider(url, &settings))
        .transpose()?;

    let filter = settings
        .filter
        .as_deref()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (writer, log_writer) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stdout());
    let logs = if settings.json_logs {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(writer)
            .boxed()
    } else if ansi {
        tracing_subscriber::fmt::layer()
            .with_ansi(true)
            .with_writer(writer)
            .boxed()
    } else {
        // Plain `name=value` fields: the default formatter styles every field name, which
        // costs a fifth of a request's instructions even when the styles are empty.
        let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
            if field.name() == "message" {
                write!(writer, "{value:?}")
            } else {
                write!(writer, "{}={value:?}", field.name())
            }
        })
        .delimited(" ");
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .fmt_fields(fields)
            .with_writer(writer)
            .boxed()
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer("billing-system"))
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init()
        .is_ok();

    let log_writer = installed.then_some(log_writer);
    let Some(provider) = provider else {
        return Ok(Telemetry {
            provider: None,
            _log_writer: log_writer,
        });
    };
    if !installed {
        // Another subscriber won the race: this provider has nothing to export.
        shut_down(provider);
        return Ok(Telemetry::default());
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    EXPORTING.store(true, Ordering::Relaxed);
    tracing::info!(
        endpoint = settings.otlp_endpoint.as_deref().unwrap_or_default(),
        service_name = %settings.service_name,
        "exporting traces over OTLP/HTTP"
    );
    Ok(Telemetry {
        provider: Some(provider),
        _log_writer: log_writer,
    })
}

/// Where spans go: `<endpoint>/v1/traces`, over plain HTTP.
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let endpoint = endpoint.trim_end_matches('/');
    if !endpoint.starts_with("http://") {
        bail!(
            "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint:?} is not valid: use an http:// URL \
             (this build has no TLS)"
        );
    }
    let url = format!("{endpoint}/v1/traces");
    url.parse::<axum::http::Uri>()
        .with_context(|| format!("OTEL_EXPORTER_OTLP_ENDPOINT={endpoint:?} is not valid"))?;
    Ok(url)
}

fn tracer_provider(
    traces_url: String,
    settings: &TelemetrySettings,
) -> anyhow::Result<SdkTracerProvider> {
    if tokio::runtime::Handle::try_current().is_err() {
        bail!("trace export needs a tokio runtime: call telemetry::init inside it");
    }
    let http = reqwest::Client::builder()
        .timeout(settings.export_timeout)
        .build()
        .context("the OTLP HTTP client cannot be built")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url)
        .with_timeout(settings.export_timeout)
        .with_http_client(OtlpHttp(http))
        .build()
        .context("the OTLP trace exporter cannot be built")?;
    let mut batch = BatchConfigBuilder::default();
    if let Some(delay) = settings.batch_delay {
        batch = batch.with_scheduled_delay(delay);
    }
    let processor = BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio)
        .with_batch_config(batch.build())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .build(),
        )
        .build())
}

/// The services' own async reqwest client, carrying OTLP requests: `opentelemetry-http`
/// implements its client trait only for reqwest 0.13, which this workspace does not build.
#[derive(Debug)]
struct OtlpHttp(reqwest::Client);

#[async_trait::async_trait]
impl HttpClient for OtlpHttp {
    async fn send_bytes(
        &self,
        request: axum::http::Request<Bytes>,
    ) -> Result<axum::http::Response<Bytes>, HttpError> {
        let response = self.0.execute(request.try_into()?).await?;
        let mut answer = axum::http::Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            headers.extend(response.headers().clone());
        }
        Ok(answer.body(response.bytes().await?)?)
    }
}

/// The current span's W3C trace context (`traceparent`, `tracestate`) as headers for a call
/// to another service; empty when traces are not exported.
pub fn trace_context_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    if EXPORTING.load(Ordering::Relaxed) {
        let context = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(&mut headers));
        });
    }
    headers
}

/// Makes `span` a child of the trace context the caller sent in `headers`, if any, and names
/// it for the trace view. Does nothing when traces are not exported.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap, name: impl FnOnce() -> String) {
    if !EXPORTING.load(Ordering::Relaxed) {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Fails only when the span is disabled by the filter: then there is nothing to export.
    let _ = span.set_parent(parent);
    span.record("otel.name", name());
    span.record("otel.kind", "server");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_errors_keeps_failures_and_slow_answers_only() {
        use axum::http::StatusCode;
        let quick = Duration::from_millis(3);
        let errors = AccessLog::parse(Some("Errors")).unwrap();
        assert!(!errors.logs(StatusCode::OK, quick));
        assert!(errors.logs(StatusCode::OK, SLOW_REQUEST));
        assert!(errors.logs(StatusCode::NOT_FOUND, quick));
        assert!(errors.logs(StatusCode::SERVICE_UNAVAILABLE, quick));
        assert!(AccessLog::parse(None).unwrap().logs(StatusCode::OK, quick));
        assert!(
            !AccessLog::parse(Some("off"))
                .unwrap()
                .logs(StatusCode::BAD_GATEWAY, quick)
        );
        let refused = AccessLog::parse(Some("some")).unwrap_err().to_string();
        assert!(refused.contains("use all, errors or off"), "{refused}");
    }

    #[test]
    fn no_trace_context_is_passed_on_when_traces_are_not_exported() {
        assert!(trace_context_headers().is_empty());
    }

    #[test]
    fn an_https_collector_is_refused_with_a_clear_sentence() {
        let error = traces_url("https://collector:4318").unwrap_err();
        assert!(error.to_string().contains("use an http:// URL"), "{error}");
    }

    #[test]
    fn spans_go_to_the_traces_path_of_the_collector() {
        let url = traces_url("http://collector:4318/").unwrap();
        assert_eq!(url, "http://collector:4318/v1/traces");
    }
}
