use std::time::Duration;

use invoice_service::Settings;
use invoice_service::cache::BeforeFill;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use test_support::{Backend, scratch_dir, unique_name};

/// A running service and what keeps it alive.
pub struct Running {
    pub base: String,
    _data_dir: Option<tempfile::TempDir>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub customers: Running,
    pub settings: Settings,
    _invoices: Running,
    _data_dir: tempfile::TempDir,
}

pub async fn spawn_customer_service(mongodb_uri: Option<String>) -> Running {
    let data_dir = scratch_dir();
    let settings = customer_service::Settings {
        host: "127.0.0.1".into(),
        port: 0,
        mongodb_uri,
        mongodb_db: unique_name("customers"),
        data_dir: data_dir.path().to_path_buf(),
        seed_sample_data: false,
        api_keys: None,
        rate_limit: Default::default(),
    };
    let app = customer_service::build(settings)
        .await
        .expect("customer-service builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    Running {
        base,
        _data_dir: Some(data_dir),
        _shutdown: tx,
    }
}

/// Runs invoice-service with `settings` (whose data dir the caller keeps).
pub async fn spawn_invoice_service(settings: Settings) -> Running {
    let app = invoice_service::build(settings)
        .await
        .expect("invoice-service builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    Running {
        base,
        _data_dir: None,
        _shutdown: tx,
    }
}

/// Settings for a fresh invoice-service with a database and key prefix of its own.
pub fn invoice_settings(customer_service_url: &str, data_dir: &std::path::Path) -> Settings {
    let (mongodb_uri, redis_url) = match Backend::from_env() {
        Backend::Mongo { uri, redis_url } => (Some(uri), Some(redis_url)),
        Backend::Embedded => (None, None),
    };
    Settings {
        host: "127.0.0.1".into(),
        port: 0,
        mongodb_uri,
        mongodb_db: unique_name("invoices"),
        data_dir: data_dir.to_path_buf(),
        redis_url,
        cache_ttl: Duration::from_secs(3600),
        cache_key_prefix: format!("{}:", unique_name("test")),
        customer_service_url: customer_service_url.to_owned(),
        customer_service_api_key: None,
        seed_sample_data: false,
        api_keys: None,
        rate_limit: Default::default(),
        before_cache_fill: None,
    }
}

pub struct Options {
    pub mongodb_uri: Option<String>,
    pub redis_url: Option<String>,
    pub before_fill: Option<BeforeFill>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options {
        mongodb_uri: None,
        redis_url: None,
        before_fill: None,
    })
    .await
}

/// Both services; `options` override the backend's MongoDB and Redis.
pub async fn spawn_app_with(options: Options) -> TestApp {
    if std::env::var_os("RUST_LOG").is_some() {
        // Logs to read while debugging; tests export no traces, so the guard can go.
        let _ = service_kit::telemetry::init("billing-system");
    }
    let backend_uri = match Backend::from_env() {
        Backend::Mongo { uri, .. } => Some(uri),
        Backend::Embedded => None,
    };
    let customers = spawn_customer_service(backend_uri).await;
    let data_dir = scratch_dir();
    let mut settings = invoice_settings(&customers.base, data_dir.path());
    if options.mongodb_uri.is_some() {
        settings.mongodb_uri = options.mongodb_uri;
    }
    if options.redis_url.is_some() {
        settings.redis_url = options.redis_url;
    }
    settings.before_cache_fill = options.before_fill;
    let invoices = spawn_invoice_service(settings.clone()).await;
    TestApp {
        base: invoices.base.clone(),
        http: reqwest::Client::new(),
        customers,
        settings,
        _invoices: invoices,
        _data_dir: data_dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Another instance of invoice-service sharing this one's database and cache.
    pub async fn second_instance(&self) -> Running {
        let mut settings = self.settings.clone();
        settings.before_cache_fill = None;
        spawn_invoice_service(settings).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("sent")
    }

    pub async fn post_empty(&self, path: &str) -> Response {
        self.http.post(self.url(path)).send().await.expect("sent")
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.http
            .patch(self.url(path))
            .json(body)
            .send()
            .await
            .expect("sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.expect("sent")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.http.delete(self.url(path)).send().await.expect("sent")
    }

    pub async fn create_customer(&self, name: &str, email: &str) -> String {
        let response = self
            .http
            .post(format!("{}/customers", self.customers.base))
            .json(&json!({"name": name, "email": email}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// A draft for `customer_id`: 3 × 1999 + 2 × 500 at 8.5% tax.
    pub async fn create_invoice(&self, customer_id: &str) -> Value {
        let (status, body) =
            status_and_json(self.post("/invoices", &invoice_body(customer_id)).await).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["invoice"].clone()
    }
}

pub fn invoice_body(customer_id: &str) -> Value {
    json!({
        "customer_id": customer_id,
        "currency": "usd",
        "items": [
            {"description": "Hosting", "quantity": 3, "unit_amount": 1999},
            {"description": "Support", "quantity": 2, "unit_amount": 500}
        ],
        "tax_rate_bps": 850,
        "due_date": "2026-12-31"
    })
}

pub async fn status_and_json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "body: {body}"
    );
}

/// `invoice_instance_store_reads` from `/metrics` of the service at `base`.
pub async fn store_reads(http: &reqwest::Client, base: &str) -> u64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("invoice_instance_store_reads "))
        .and_then(|v| v.trim().parse().ok())
        .expect("store read counter in /metrics")
}
