//! The layers every service wears: request id, request log span, metrics, body limit,
//! timeout, and the contract's answers for unknown routes and methods.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{OnResponse, TraceLayer};

use crate::error::{ApiError, codes};
use crate::extract::MAX_BODY_BYTES;
use crate::telemetry::AccessLog;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How long one request may take before it is answered with an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Lines a service appends to `/metrics` from its own per-instance counters.
pub type ExtraMetrics = Arc<dyn Fn(&mut String) + Send + Sync>;

/// A service's whole router: its business routes behind `guards`, its `open` routes, `GET
/// /ready`, its OpenAPI document and Swagger UI (never behind an API key), then what
/// [`finish`] adds.
#[allow(clippy::too_many_arguments)]
pub fn service_router<S>(
    service: &'static str,
    business: Router<S>,
    open: Router<S>,
    ready: axum::routing::MethodRouter<S>,
    document: utoipa::openapi::OpenApi,
    guards: Guards,
    state: S,
    extra_metrics: Option<ExtraMetrics>,
) -> Router
where
    S: Clone + Send + Sync + 'static,
{
    let router = guard(business, guards)
        .merge(open)
        .route("/ready", ready)
        .merge(crate::openapi::docs_routes(document))
        .with_state(state);
    finish(router, service, extra_metrics)
}

/// Adds `/health` and `/metrics`, then wraps every route in the common layers.
pub fn finish(
    router: Router,
    service: &'static str,
    extra_metrics: Option<ExtraMetrics>,
) -> Router {
    let metrics = metrics_handle().clone();
    let render = move || {
        let mut text = metrics.render();
        if let Some(extra) = &extra_metrics {
            extra(&mut text);
        }
        std::future::ready(text)
    };
    router
        .route("/health", get(health))
        .route("/metrics", get(render))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(move |req, next| {
            bounded_and_measured(service, req, next)
        }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let request_id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    let span = tracing::info_span!(
                        "request",
                        service,
                        method = %req.method(),
                        route,
                        request_id,
                        otel.name = tracing::field::Empty,
                        otel.kind = tracing::field::Empty,
                    );
                    crate::telemetry::continue_trace(&span, req.headers(), || {
                        format!("{} {route}", req.method())
                    });
                    span
                })
                .on_request(())
                .on_response(LogResponse),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId))
}

/// The access log line of an answered request, as `ACCESS_LOG` chooses, inside the request's
/// span (so it carries the route and the request id).
#[derive(Clone, Copy)]
struct LogResponse;

impl<B> OnResponse<B> for LogResponse {
    fn on_response(self, response: &axum::http::Response<B>, latency: Duration, _: &tracing::Span) {
        let status = response.status();
        if AccessLog::current().logs(status, latency) {
            tracing::info!(
                status = status.as_u16(),
                latency_ms = %format_args!("{:.3}", latency.as_secs_f64() * 1000.0),
                "finished processing request"
            );
        }
    }
}

/// A random UUID for a request that brings no `X-Request-Id`, written straight into the
/// header's bytes (no intermediate `String`).
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
        HeaderValue::from_str(id).ok().map(RequestId::new)
    }
}

/// Answers a request that takes longer than [`REQUEST_TIMEOUT`] with a 503 in the
/// contract's shape (the work behind it is dropped), and counts and times every answer. One
/// middleware for both: each `from_fn` layer costs a clone of the services below it.
async fn bounded_and_measured(service: &'static str, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("http_request_timeouts_total").increment(1);
            ApiError::saying(
                codes::DEPENDENCY_UNAVAILABLE,
                "The request took too long to answer; try again shortly.",
            )
            .into_response()
        }
    };
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    RequestMetrics::with(service, &method, route, response.status(), |metrics| {
        metrics.count.increment(1);
        metrics.duration.record(started.elapsed().as_secs_f64());
    });
    response
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn route_not_found() -> ApiError {
    ApiError::from(codes::ROUTE_NOT_FOUND)
}

async fn method_not_allowed() -> ApiError {
    ApiError::from(codes::METHOD_NOT_ALLOWED)
}

/// How often recorded histogram samples are folded into their buckets.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);
const UPKEEP_THREAD: &str = "metrics-upkeep";

/// The process-wide Prometheus recorder (both services share it in the all-in-one run).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // `build_recorder` spawns no upkeep: histogram samples pile up until the next render
        // of /metrics, without bound when nothing scrapes it. Drain them on a timer.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name(UPKEEP_THREAD.to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(METRICS_UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "metrics upkeep thread not started; histograms drain on scrape only");
        }
        // Another recorder may already be installed (tests build many apps in one process):
        // then this handle renders nothing new, which only matters to that process.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The handles of `http_requests_total` and `http_request_duration_seconds` for one service,
/// method, route and status, resolved once per thread: a request then builds no label strings
/// and makes no registry lookup, only a map lookup that allocates nothing.
struct RequestMetrics {
    count: metrics::Counter,
    duration: metrics::Histogram,
}

type ByRoute = HashMap<String, HashMap<(&'static str, &'static str, StatusCode), RequestMetrics>>;

thread_local! {
    static RESOLVED: RefCell<ByRoute> = RefCell::new(HashMap::new());
}

impl RequestMetrics {
    fn with(
        service: &'static str,
        method: &Method,
        route: &str,
        status: StatusCode,
        record: impl FnOnce(&RequestMetrics),
    ) {
        let method = method_label(method);
        RESOLVED.with_borrow_mut(|resolved| {
            if !resolved.contains_key(route) {
                resolved.insert(route.to_owned(), HashMap::new());
            }
            let Some(by_route) = resolved.get_mut(route) else {
                return;
            };
            let metrics = by_route
                .entry((service, method, status))
                .or_insert_with(|| Self::resolve(service, method, route, status));
            record(metrics);
        });
    }

    fn resolve(
        service: &'static str,
        method: &'static str,
        route: &str,
        status: StatusCode,
    ) -> Self {
        let labels = [
            ("service", service.to_owned()),
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_str().to_owned()),
        ];
        Self {
            count: metrics::counter!("http_requests_total", &labels),
            duration: metrics::histogram!("http_request_duration_seconds", &labels),
        }
    }
}

/// The `method` label: a standard method's name, `other` for anything a client made up, so
/// that requests cannot grow the metrics without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// What guards business routes: API keys, the per-key rate limit, idempotent POSTs.
#[derive(Clone)]
pub struct Guards {
    pub api_keys: crate::auth::AuthState,
    pub rate_limit: Option<crate::rate_limit::KeyedLimiter>,
    pub idempotency: crate::idempotency::Idempotency,
}

/// Wraps business routes in their guards. A request passes authentication first, then the
/// rate limit of its key, then the idempotency check. One middleware for the three: each
/// `from_fn` layer clones the services below it for every request, so nested ones cost a
/// deep clone each.
pub fn guard<S>(business: Router<S>, guards: Guards) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    business.route_layer(middleware::from_fn_with_state(
        Arc::new(guards),
        check_guards,
    ))
}

async fn check_guards(State(guards): State<Arc<Guards>>, mut req: Request, next: Next) -> Response {
    let principal = match crate::auth::authenticate(&guards.api_keys, &req) {
        Ok(principal) => principal,
        Err(refused) => return refused.into_response(),
    };
    if let Err(refused) = crate::rate_limit::admit(guards.rate_limit.as_ref(), &principal) {
        return refused.into_response();
    }
    req.extensions_mut().insert(principal);
    crate::idempotency::idempotent_posts(State(guards.idempotency.clone()), req, next).await
}

#[cfg(test)]
mod tests {
    /// Histogram samples are drained on a timer, not only when /metrics is scraped: without
    /// it they pile up for as long as nothing scrapes, and memory grows without bound.
    #[test]
    fn the_recorder_keeps_its_histograms_drained_without_a_scrape() {
        let _ = super::metrics_handle();
        // A new thread names itself once it runs: look for a moment.
        let mut threads = Vec::new();
        for _ in 0..100 {
            threads = std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect();
            if threads.iter().any(|name| name == super::UPKEEP_THREAD) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("no upkeep thread among {threads:?}");
    }
}
