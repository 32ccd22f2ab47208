use customer_service::Settings;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use test_support::{Backend, scratch_dir, unique_name};

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    _data_dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Settings for a fresh app on a free port with a database of its own.
pub fn test_settings() -> (Settings, tempfile::TempDir) {
    let data_dir = scratch_dir();
    let mongodb_uri = match Backend::from_env() {
        Backend::Mongo { uri, .. } => Some(uri),
        Backend::Embedded => None,
    };
    let settings = Settings {
        host: "127.0.0.1".into(),
        port: 0,
        mongodb_uri,
        mongodb_db: unique_name("customers"),
        data_dir: data_dir.path().to_path_buf(),
        seed_sample_data: false,
        api_keys: None,
        rate_limit: Default::default(),
    };
    (settings, data_dir)
}

pub async fn spawn_app() -> TestApp {
    let (settings, data_dir) = test_settings();
    spawn_app_with(settings, data_dir).await
}

pub async fn spawn_app_with(settings: Settings, data_dir: tempfile::TempDir) -> TestApp {
    if std::env::var_os("RUST_LOG").is_some() {
        // Logs to read while debugging; tests export no traces, so the guard can go.
        let _ = service_kit::telemetry::init("customer-service");
    }
    let app = customer_service::build(settings).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        base,
        http: reqwest::Client::new(),
        _data_dir: data_dir,
        _shutdown: tx,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.http
            .patch(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.http
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.http
            .delete(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a customer and returns it.
    pub async fn create_customer(&self, name: &str, email: &str) -> Value {
        let response = self
            .post("/customers", &json!({"name": name, "email": email}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        body["customer"].clone()
    }
}

/// Reads a response as (status, JSON body).
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
