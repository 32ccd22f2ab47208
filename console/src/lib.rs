//! The operator console: server-rendered pages over customer-service's and
//! invoice-service's public HTTP APIs, signed in with an API key that stays in an encrypted
//! cookie. It keeps no data of its own.

pub mod api;
pub mod assets;
pub mod format;
pub mod forms;
pub mod pages;
pub mod session;
pub mod settings;

use axum::Router;
use axum::extract::{FromRef, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum_extra::extract::cookie::Key;
use service_kit::App;
pub use settings::Settings;

use crate::api::Api;
use crate::pages::{customers, events, invoices, sign_in, status, webhooks};

pub const SERVICE: &str = "console";

/// What every handler shares: the services' client and the cookie key.
#[derive(Clone)]
pub struct Console {
    pub api: Api,
    pub key: Key,
}

impl FromRef<Console> for Key {
    fn from_ref(console: &Console) -> Key {
        console.key.clone()
    }
}

/// Builds the console on its configured port; it runs when the caller calls
/// [`App::run_until`]. Starts whether or not the services answer.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    settings.check()?;
    let console = Console {
        api: Api::new(&settings)?,
        key: session::key(settings.session_key.as_ref())?,
    };
    App::bind(SERVICE, &settings.host, settings.port, router(console)).await
}

/// Every route, behind the CSRF check and the error pages, in the kit's common layers
/// (request id, request span, metrics, body limit, timeout), with the security headers.
pub fn router(console: Console) -> Router {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/customers") }))
        .route(
            "/sign-in",
            get(sign_in::show_sign_in).post(sign_in::sign_in),
        )
        .route("/sign-out", post(sign_in::sign_out))
        .route("/customers", get(customers::list_customers))
        .route(
            "/customers/new",
            get(customers::new_customer).post(customers::create_customer),
        )
        .route("/customers/{id}", get(customers::show_customer))
        .route(
            "/customers/{id}/edit",
            get(customers::edit_customer).post(customers::update_customer),
        )
        .route("/customers/{id}/delete", post(customers::delete_customer))
        .route("/invoices", get(invoices::list_invoices))
        .route(
            "/invoices/new",
            get(invoices::new_invoice).post(invoices::create_invoice),
        )
        .route("/invoices/{id}", get(invoices::show_invoice))
        .route(
            "/invoices/{id}/edit",
            get(invoices::edit_invoice).post(invoices::update_invoice),
        )
        .route("/invoices/{id}/delete", post(invoices::delete_invoice))
        .route("/invoices/{id}/pdf", get(invoices::invoice_pdf))
        .route(
            "/invoices/{id}/{action}",
            post(invoices::transition_invoice),
        )
        .route("/status", get(status::show_status))
        .route("/events", get(events::list_events))
        .route(
            "/webhooks",
            get(webhooks::list_endpoints).post(webhooks::create_endpoint),
        )
        .route(
            "/webhooks/{service}/{id}/delete",
            post(webhooks::delete_endpoint),
        )
        .route("/assets/{name}", get(assets::serve))
        .route("/ready", get(ready))
        .route("/{*path}", any(pages::not_found))
        .layer(middleware::from_fn_with_state(
            console.clone(),
            session::check_csrf,
        ))
        .layer(middleware::from_fn_with_state(
            console.clone(),
            pages::draw_error_pages,
        ))
        .with_state(console);
    service_kit::http::finish(pages, SERVICE, None).layer(middleware::from_fn(security_headers))
}

/// `GET /ready`: the console serves whether or not the services answer (its pages say
/// when they do not), so it is ready once it listens. `--healthcheck` asks this.
async fn ready() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ready"}))
}

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The headers every answer carries; pages are never stored (they hold a CSRF token and
/// the operator's data), assets set their own caching. A PDF gets no CSP, which would stop
/// the browser's viewer.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let is_pdf = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/pdf"));
    let headers = response.headers_mut();
    if !is_pdf {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The binary's main, the services' skeleton with the console's settings: telemetry,
/// `--healthcheck`, then serve until SIGTERM or Ctrl-C.
pub fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let _telemetry = service_kit::telemetry::init(SERVICE)?;
            let settings = Settings::from_env()?;
            if std::env::args().any(|a| a == "--healthcheck") {
                let ready = service_kit::probe::ready(settings.port).await;
                std::process::exit(if ready { 0 } else { 1 });
            }
            build(settings)
                .await?
                .run_until(service_kit::shutdown::signal())
                .await
        })
}
