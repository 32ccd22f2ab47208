use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode, redirect};
use secrecy::SecretString;
use serde_json::{Value, json};
use test_support::{Backend, Client, Running, scratch_dir};

/// The services' one API key.
pub const KEY: &str = "operator-key-for-the-console-tests";

/// Both services and the console in front of them, each on a free port.
pub struct TestConsole {
    pub base: String,
    /// A browser: keeps the session cookie, follows no redirect.
    pub browser: reqwest::Client,
    /// customer-service's API, with the key.
    pub customers: Client,
    /// invoice-service's API, with the key.
    pub invoices: Client,
    _running: Vec<Running>,
    _data_dirs: Vec<tempfile::TempDir>,
}

/// Services with API keys.
pub async fn spawn_console() -> TestConsole {
    spawn(Some(KEY)).await
}

/// Services without API keys.
pub async fn spawn_open_console() -> TestConsole {
    spawn(None).await
}

async fn spawn(key: Option<&str>) -> TestConsole {
    test_support::debug_logs("console");
    let api_keys = key.map(|k| service_kit::auth::ApiKeys::parse(k).unwrap());
    let backend = Backend::from_env();

    let customers_dir = scratch_dir();
    let mut common = backend.common("console_customers", customers_dir.path());
    common.api_keys = api_keys.clone();
    let customers = customer_service::build(customer_service::Settings { common })
        .await
        .expect("customer-service builds");
    let customers = test_support::run(customers);

    let invoices_dir = scratch_dir();
    let mut common = backend.common("console_invoices", invoices_dir.path());
    common.api_keys = api_keys;
    let settings = invoice_service::Settings {
        common,
        redis_url: backend.redis_url(),
        cache_ttl: std::time::Duration::from_secs(3600),
        cache_key_prefix: format!("{}:", test_support::unique_name("console")),
        customer_service_url: customers.base.clone(),
        customer_service_api_key: key.map(|k| SecretString::from(k.to_owned())),
        public_url: Some("http://invoices.test".to_owned()),
        seller: invoice_service::documents::Seller {
            name: "Northwind Billing GmbH".to_owned(),
            address: vec!["Hauptstraße 5".to_owned()],
            tax_id: None,
            footer: None,
            logo: None,
        },
        before_cache_fill: None,
    };
    let invoices = invoice_service::build(settings)
        .await
        .expect("invoice-service builds");
    let invoices = test_support::run(invoices);

    for service in [&customers, &invoices] {
        wait_until_ready(&service.base).await;
    }
    let console = console::build(console::Settings::local(&customers.base, &invoices.base))
        .await
        .expect("console builds");
    let console = test_support::run(console);

    TestConsole {
        base: console.base.clone(),
        browser: browser(),
        customers: api_client(&customers.base, key),
        invoices: api_client(&invoices.base, key),
        _running: vec![customers, invoices, console],
        _data_dirs: vec![customers_dir, invoices_dir],
    }
}

/// Waits for `/ready` (the store answering: a new MongoDB database can take a moment).
async fn wait_until_ready(base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let http = reqwest::Client::new();
    while std::time::Instant::now() < deadline {
        let ready = http.get(format!("{base}/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{base} is not ready after 20 s");
}

/// A console in front of services that do not answer.
pub async fn spawn_console_without_services() -> (String, Running) {
    let nowhere = format!("http://127.0.0.1:{}", test_support::free_port());
    let console = console::build(console::Settings::local(&nowhere, &nowhere))
        .await
        .expect("console builds");
    let running = test_support::run(console);
    (running.base.clone(), running)
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

fn api_client(base: &str, key: Option<&str>) -> Client {
    let mut headers = HeaderMap::new();
    if let Some(key) = key {
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
        );
    }
    Client {
        base: base.to_owned(),
        http: reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap(),
    }
}

/// The value of the first hidden input named `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

/// The few entities askama writes.
pub fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl TestConsole {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.browser.get(self.url(path)).send().await.unwrap()
    }

    /// GET `path`: status and body.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        (response.status(), response.text().await.unwrap())
    }

    /// POSTs `fields` as a form, as they are (no CSRF token added).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.browser
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of the session, from a page that carries one.
    pub async fn csrf(&self) -> String {
        let (_, html) = self.page("/sign-in").await;
        hidden(&html, "csrf")
    }

    /// POSTs `fields` with the session's CSRF token, as a form drawn by `form_page` would.
    pub async fn submit(&self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let (_, html) = self.page(form_page).await;
        let csrf = hidden(&html, "csrf");
        let mut fields = fields.to_vec();
        fields.push(("csrf", &csrf));
        self.post_form(path, &fields).await
    }

    pub async fn sign_in_with(&self, key: &str) -> Response {
        let csrf = self.csrf().await;
        self.post_form("/sign-in", &[("csrf", &csrf), ("api_key", key)])
            .await
    }

    pub async fn sign_in(&self) {
        let response = self.sign_in_with(KEY).await;
        let (status, place) = (response.status(), location(&response));
        let html = response.text().await.unwrap();
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        assert_eq!(place, "/customers");
    }

    /// A customer made through the API; its id.
    pub async fn create_customer(&self, name: &str, email: &str) -> String {
        let response = self
            .customers
            .post("/customers", &json!({"name": name, "email": email}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// The console path of a new one-line EUR draft for a new customer, made through the API.
    pub async fn draft_page(&self) -> String {
        let customer = self
            .create_customer("Ada Lovelace", "ada@example.com")
            .await;
        let body = json!({"customer_id": customer, "currency": "eur",
            "items": [{"description": "Hosting", "quantity": 1, "unit_amount": 100}]});
        let response = self.invoices.post("/invoices", &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        format!("/invoices/{}", body["id"].as_str().unwrap())
    }

    /// The customers whose email is `email`, through the API.
    pub async fn customers_with_email(&self, email: &str) -> Vec<Value> {
        let response = self
            .customers
            .get(&format!("/customers?email={email}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["data"].as_array().unwrap().clone()
    }
}
