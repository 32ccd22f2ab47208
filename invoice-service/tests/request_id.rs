//! One request id follows a request through both services: echoed to the client, and
//! in the logs of invoice-service and of customer-service, which it is passed on to.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test should panic

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use tracing_subscriber::fmt::MakeWriter;

use crate::helpers::{invoice_body, spawn_app};

/// Log lines written while a test runs, for looking into afterwards.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Its own test binary, so the capturing subscriber can be the process's only one.
#[tokio::test]
async fn one_request_id_follows_a_request_through_both_services_logs() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(logs.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let app = spawn_app().await;
    let customer_id = app.create_customer("Traced", "traced@example.com").await;
    let request_id = "trace-7f3c9a1e-both-services";
    let response = app
        .http
        .post(app.url("/invoices"))
        .header("x-request-id", request_id)
        .json(&invoice_body(&customer_id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], request_id, "echoed");
    assert_eq!(response.status(), StatusCode::CREATED);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines_with_id: Vec<&str> = text.lines().filter(|l| l.contains(request_id)).collect();
    assert!(
        lines_with_id
            .iter()
            .any(|l| l.contains(r#""service":"invoice-service""#)),
        "{text}"
    );
    assert!(
        lines_with_id
            .iter()
            .any(|l| l.contains(r#""service":"customer-service""#)),
        "{text}"
    );

    let generated = app.get("/health").await;
    assert!(
        !generated.headers()["x-request-id"].is_empty(),
        "generated when absent"
    );
}
