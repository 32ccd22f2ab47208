//! A service under test: the real app on a free port, a client that speaks to it, and the
//! contract's error assertions.

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// A running service; it stops when this is dropped.
pub struct Running {
    pub base: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Runs `app` in the background until the returned handle is dropped.
pub fn run(app: service_kit::App) -> Running {
    let base = format!("http://127.0.0.1:{}", app.port());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    Running {
        base,
        _shutdown: shutdown,
    }
}

/// Turns on logs to read while debugging when `RUST_LOG` is set; tests export no traces.
pub fn debug_logs(service: &str) {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = service_kit::telemetry::init(service);
    }
}

/// Requests to one service. A request that cannot be sent fails the test.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Response {
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request not sent: {e}"))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(self.http.delete(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// A POST without a body, as the lifecycle transitions take.
    pub async fn post_empty(&self, path: &str) -> Response {
        self.send(self.http.post(self.url(path))).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send(self.http.patch(self.url(path)).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send(self.http.put(self.url(path)).json(body)).await
    }
}

/// Reads a response as (status, JSON body); a body that is not JSON is `null`.
pub async fn status_and_json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Asserts the contract's error shape and code.
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "body: {body}"
    );
}
