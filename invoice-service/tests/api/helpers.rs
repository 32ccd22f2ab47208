use std::ops::Deref;
use std::time::Duration;

use invoice_service::Settings;
use invoice_service::cache::BeforeFill;
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::{Backend, Client, scratch_dir};
#[allow(unused_imports)]
pub use test_support::{
    Running, assert_error, assert_not_found, assert_validation_failed, status_and_json, with_field,
};

/// invoice-service and the customer-service it asks, each on a free port with a database
/// (and cache key prefix) of its own.
pub struct TestApp {
    client: Client,
    pub customers: Running,
    pub settings: Settings,
    _invoices: Running,
    _data_dirs: [tempfile::TempDir; 2],
}

impl Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// customer-service with `settings`.
pub async fn spawn_customer_service(settings: customer_service::Settings) -> Running {
    let app = customer_service::build(settings)
        .await
        .expect("customer-service builds");
    test_support::run(app)
}

/// customer-service on the suite's backend, with a database of its own in `data_dir`.
pub fn customer_settings(data_dir: &std::path::Path) -> customer_service::Settings {
    customer_service::Settings {
        common: Backend::from_env().common("customers", data_dir),
    }
}

/// Runs invoice-service with `settings` (whose data dir the caller keeps).
pub async fn spawn_invoice_service(settings: Settings) -> Running {
    let app = invoice_service::build(settings)
        .await
        .expect("invoice-service builds");
    test_support::run(app)
}

/// Settings for a fresh invoice-service with a database and key prefix of its own.
pub fn invoice_settings(customer_service_url: &str, data_dir: &std::path::Path) -> Settings {
    let backend = Backend::from_env();
    Settings {
        common: backend.common("invoices", data_dir),
        redis_url: backend.redis_url(),
        cache_ttl: Duration::from_secs(3600),
        cache_key_prefix: format!("{}:", test_support::unique_name("test")),
        customer_service_url: customer_service_url.to_owned(),
        customer_service_api_key: None,
        public_url: Some("http://invoices.test".to_owned()),
        seller: invoice_service::documents::Seller {
            name: "Northwind Billing GmbH".to_owned(),
            address: vec!["Hauptstraße 5".to_owned(), "10115 Berlin".to_owned()],
            tax_id: Some("DE123456789".to_owned()),
            footer: Some("Payment within 30 days.".to_owned()),
            logo: None,
        },
        before_cache_fill: None,
    }
}

#[derive(Default)]
pub struct Options {
    pub mongodb_uri: Option<String>,
    pub redis_url: Option<String>,
    pub before_fill: Option<BeforeFill>,
    /// invoice-service's API keys (customer-service stays open).
    pub api_keys: Option<service_kit::auth::ApiKeys>,
    pub seller_logo: Option<invoice_service::documents::Logo>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// Both services; `options` override the backend's MongoDB and Redis, and add
/// invoice-service's keys and the seller's logo.
pub async fn spawn_app_with(options: Options) -> TestApp {
    test_support::debug_logs("billing-system");
    let customers_dir = scratch_dir();
    let customers = spawn_customer_service(customer_settings(customers_dir.path())).await;
    let data_dir = scratch_dir();
    let mut settings = invoice_settings(&customers.base, data_dir.path());
    if options.mongodb_uri.is_some() {
        settings.common.mongodb_uri = options.mongodb_uri;
    }
    if options.redis_url.is_some() {
        settings.redis_url = options.redis_url;
    }
    settings.before_cache_fill = options.before_fill;
    settings.common.api_keys = options.api_keys;
    settings.seller.logo = options.seller_logo;
    let invoices = spawn_invoice_service(settings.clone()).await;
    TestApp {
        client: Client::new(&invoices.base),
        customers,
        settings,
        _invoices: invoices,
        _data_dirs: [customers_dir, data_dir],
    }
}

impl TestApp {
    /// Another instance of invoice-service sharing this one's database and cache.
    pub async fn second_instance(&self) -> Running {
        self.instance_with_redis(self.settings.redis_url.clone())
            .await
    }

    /// Another instance of invoice-service sharing this one's database, with `redis_url`
    /// as its cache.
    pub async fn instance_with_redis(&self, redis_url: Option<String>) -> Running {
        let mut settings = self.settings.clone();
        settings.before_cache_fill = None;
        settings.redis_url = redis_url;
        spawn_invoice_service(settings).await
    }

    pub async fn create_customer(&self, name: &str, email: &str) -> String {
        let customers = Client::new(&self.customers.base);
        let response = customers
            .post("/customers", &json!({"name": name, "email": email}))
            .await;
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

    /// `count` drafts for `customer_id`; their ids, in the order made.
    pub async fn create_invoices(&self, customer_id: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            let invoice = self.create_invoice(customer_id).await;
            ids.push(invoice["id"].as_str().expect("invoice id").to_owned());
        }
        ids
    }

    /// A new customer `name <email>` with one draft ([`TestApp::create_invoice`]).
    pub async fn draft_for(&self, name: &str, email: &str) -> Draft {
        let customer_id = self.create_customer(name, email).await;
        let invoice = self.create_invoice(&customer_id).await;
        let path = invoice_path(&invoice);
        Draft {
            customer_id,
            invoice,
            path,
        }
    }
}

/// A customer's draft as [`TestApp::draft_for`] made it.
pub struct Draft {
    pub customer_id: String,
    pub invoice: Value,
    /// `/invoices/{id}`
    pub path: String,
}

/// The path of `invoice`, as the API wrote it.
pub fn invoice_path(invoice: &Value) -> String {
    let id = invoice["id"].as_str().expect("invoice id");
    format!("/invoices/{id}")
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
