//! With an OTLP endpoint configured, request spans are exported over OTLP/HTTP protobuf, and
//! the W3C trace context goes from invoice-service to customer-service, so an invoice
//! creation and the customer lookup it makes are one trace.
//!
//! Its own test binary: the exporter hangs off the process's only global subscriber. The
//! collector is a small axum server on a free port that decodes what it is sent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test should panic

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use service_kit::telemetry::TelemetrySettings;

use crate::helpers::{invoice_body, spawn_app, status_and_json};

/// One span as the collector received it.
#[derive(Clone, Debug)]
struct ReceivedSpan {
    service_name: String,
    name: String,
    kind: i32,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    attributes: HashMap<String, String>,
}

/// What arrived at `POST /v1/traces`.
#[derive(Clone, Default)]
struct Collector {
    content_types: Arc<Mutex<Vec<String>>>,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

impl Collector {
    /// Listens on a free port; the returned URL is what `OTEL_EXPORTER_OTLP_ENDPOINT` takes.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/v1/traces", post(receive_traces))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        endpoint
    }

    fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }
}

async fn receive_traces(
    State(collector): State<Collector>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    collector
        .content_types
        .lock()
        .unwrap()
        .push(content_type.to_owned());
    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain")],
            b"not an ExportTraceServiceRequest".to_vec(),
        );
    };
    let mut received = collector.spans.lock().unwrap();
    for resource_spans in export.resource_spans {
        let resource = resource_spans.resource.unwrap_or_default().attributes;
        let service_name = attribute(&resource, "service.name").unwrap_or_default();
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            received.push(ReceivedSpan {
                service_name: service_name.clone(),
                name: span.name,
                kind: span.kind,
                trace_id: span.trace_id,
                span_id: span.span_id,
                parent_span_id: span.parent_span_id,
                attributes: span
                    .attributes
                    .iter()
                    .filter_map(|kv| Some((kv.key.clone(), text(kv)?)))
                    .collect(),
            });
        }
    }
    let answer = ExportTraceServiceResponse::default().encode_to_vec();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        answer,
    )
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(text)
}

/// A string, integer or boolean attribute, as text.
fn text(attribute: &KeyValue) -> Option<String> {
    match attribute.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::BoolValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// The server span of `service` answering `route`, once it has arrived.
fn server_span<'a>(
    spans: &'a [ReceivedSpan],
    service: &str,
    route: &str,
) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|s| {
        s.attributes.get("service").map(String::as_str) == Some(service)
            && s.attributes.get("route").map(String::as_str) == Some(route)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoice_creation_and_its_customer_lookup_are_exported_as_one_trace() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let telemetry = service_kit::telemetry::init_with(TelemetrySettings {
        filter: Some("info".into()),
        json_logs: false,
        access_log: service_kit::telemetry::AccessLog::All,
        otlp_endpoint: Some(endpoint),
        service_name: "billing-system-under-test".into(),
        export_timeout: Duration::from_secs(2),
        batch_delay: Some(Duration::from_millis(50)),
    })
    .unwrap();

    let app = spawn_app().await;
    let customer_id = app.create_customer("Traced", "traced@example.com").await;
    let (status, body) =
        status_and_json(app.post("/invoices", &invoice_body(&customer_id)).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A server span ends when its response body is done, which can be a moment after the
    // client has read it: flush until both are in, within a bound.
    let deadline = Instant::now() + Duration::from_secs(5);
    let spans = loop {
        telemetry.flush().await.unwrap();
        let spans = collector.spans();
        if server_span(&spans, "invoice-service", "/invoices").is_some()
            && server_span(&spans, "customer-service", "/customers/{id}").is_some()
        {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "spans still missing after 5 s; received: {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let invoice = server_span(&spans, "invoice-service", "/invoices").unwrap();
    let lookup = server_span(&spans, "customer-service", "/customers/{id}").unwrap();
    assert_eq!(invoice.name, "POST /invoices");
    assert_eq!(lookup.name, "GET /customers/{id}");
    assert_eq!(invoice.kind, SpanKind::Server as i32);
    assert_eq!(lookup.kind, SpanKind::Server as i32);
    assert_eq!(invoice.service_name, "billing-system-under-test");
    assert_eq!(invoice.attributes.get("method").unwrap(), "POST");
    assert_eq!(invoice.trace_id.len(), 16);
    assert!(
        invoice.parent_span_id.is_empty(),
        "the client sent no traceparent, so the invoice span starts the trace: {invoice:#?}"
    );
    assert_eq!(
        lookup.trace_id, invoice.trace_id,
        "the lookup continues the invoice's trace"
    );
    assert_eq!(
        lookup.parent_span_id, invoice.span_id,
        "the lookup's parent is the invoice request span"
    );

    let content_types = collector.content_types.lock().unwrap().clone();
    assert!(
        content_types.iter().all(|t| t == "application/x-protobuf"),
        "{content_types:?}"
    );
}
