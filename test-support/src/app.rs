//! A service under test: the real app on a free port, a client that speaks to it, and the
//! contract's error assertions.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

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

    /// A POST of `body` as it is, with `content_type` if there is one.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Response {
        let mut request = self.http.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.send(request).await
    }

    /// A POST of `body` under `idempotency-key: key`.
    pub async fn post_idempotent(&self, path: &str, key: &str, body: &Value) -> Response {
        let request = self.http.post(self.url(path)).json(body);
        self.send(request.header("idempotency-key", key)).await
    }

    /// A POST without a body under `idempotency-key: key`.
    pub async fn post_empty_idempotent(&self, path: &str, key: &str) -> Response {
        let request = self.http.post(self.url(path));
        self.send(request.header("idempotency-key", key)).await
    }

    /// Asserts that DELETE `path` answers 200 with `message` and that the resource is gone
    /// afterwards: GET and a second DELETE are 404 `not_found`.
    /// The events of `object_id`, once there are `count` of them (the relay copies them
    /// into the log just after the write) or 20 s have passed.
    pub async fn events_of(&self, object_id: &str, count: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let path = format!("/events?object_id={object_id}&limit=100");
            let (status, page) = status_and_json(self.get(&path).await).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let events = page["data"].as_array().cloned().unwrap_or_default();
            if events.len() >= count || std::time::Instant::now() >= deadline {
                return events;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn assert_deletes(&self, path: &str, message: &str) {
        let (status, body) = status_and_json(self.delete(path).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["message"], message);
        let (status, body) = status_and_json(self.get(path).await).await;
        assert_not_found(status, &body);
        let (status, body) = status_and_json(self.delete(path).await).await;
        assert_not_found(status, &body);
    }

    /// GETs `path?query` for each of `queries`; each is a 422 `validation_failed`.
    pub async fn assert_queries_refused(&self, path: &str, queries: &[&str]) {
        for query in queries {
            let (status, body) = status_and_json(self.get(&format!("{path}?{query}")).await).await;
            assert_validation_failed(status, &body);
        }
    }

    /// POSTs each `(case, body, field)` to `path`; each is refused with a 422
    /// `validation_failed` whose details name `field`, and nothing half-written stays
    /// behind: the list at `path`, empty before, is empty after.
    pub async fn assert_refused_fields(&self, path: &str, cases: Vec<(&str, Value, String)>) {
        for (case, body, field) in cases {
            let (status, answer) = status_and_json(self.post(path, &body).await).await;
            assert_validation_failed(status, &answer);
            let fields: Vec<&str> = answer["details"]
                .as_array()
                .unwrap_or_else(|| panic!("{case}: no details in {answer}"))
                .iter()
                .filter_map(|d| d["field"].as_str())
                .collect();
            assert!(
                fields.contains(&field.as_str()),
                "{case}: expected {field} in {answer}"
            );
        }
        let (_, list) = status_and_json(self.get(path).await).await;
        assert_eq!(list["data"], json!([]), "nothing half-written stays behind");
    }
}

/// `body` with `key` set to `value`.
pub fn with_field(body: &Value, key: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[key] = value;
    body
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

/// Asserts the contract's 422 `validation_failed`.
pub fn assert_validation_failed(status: StatusCode, body: &Value) {
    assert_error(
        status,
        body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
}

/// Asserts the contract's 404 `not_found`.
pub fn assert_not_found(status: StatusCode, body: &Value) {
    assert_error(status, body, StatusCode::NOT_FOUND, "not_found");
}
