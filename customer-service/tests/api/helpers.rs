use std::ops::Deref;

use customer_service::Settings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::{Backend, Client, Running, scratch_dir};
pub use test_support::{
    assert_error, assert_not_found, assert_validation_failed, status_and_json, with_field,
};

/// customer-service on a free port, with a database of its own.
pub struct TestApp {
    client: Client,
    _running: Running,
    _data_dir: tempfile::TempDir,
}

impl Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Settings for a fresh app on a free port with a database of its own.
pub fn test_settings() -> (Settings, tempfile::TempDir) {
    let data_dir = scratch_dir();
    let common = Backend::from_env().common("customers", data_dir.path());
    (Settings { common }, data_dir)
}

pub async fn spawn_app() -> TestApp {
    let (settings, data_dir) = test_settings();
    spawn_app_with(settings, data_dir).await
}

pub async fn spawn_app_with(settings: Settings, data_dir: tempfile::TempDir) -> TestApp {
    test_support::debug_logs(customer_service::SERVICE);
    let app = customer_service::build(settings).await.expect("app builds");
    let running = test_support::run(app);
    TestApp {
        client: Client::new(&running.base),
        _running: running,
        _data_dir: data_dir,
    }
}

/// The path of `customer`, as the API wrote it.
pub fn customer_path(customer: &Value) -> String {
    let id = customer["id"].as_str().expect("customer id");
    format!("/customers/{id}")
}

impl TestApp {
    /// POSTs a customer `name <email>`: (status, body), whatever the answer.
    pub async fn post_customer(&self, name: &str, email: &str) -> (StatusCode, Value) {
        let body = json!({"name": name, "email": email});
        status_and_json(self.post("/customers", &body).await).await
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
