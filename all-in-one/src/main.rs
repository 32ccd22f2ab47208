//! Both billing services in one process, for `cargo run --release` on a bare machine:
//! customer-service on :5000 and invoice-service on :5001, on the embedded store and the
//! in-process cache with the sample data, unless `MONGODB_URI` / `REDIS_URL` say otherwise;
//! and the operator console on :5002, pointed at them.

use service_kit::config::{flag, parse_or};

#[global_allocator]
static ALLOCATOR: service_kit::Allocator = service_kit::Allocator;

/// Each service's port variable in the all-in-one run, and its default.
const CUSTOMER_SERVICE_PORT: (&str, u16) = (
    "CUSTOMER_SERVICE_PORT",
    customer_service::Settings::DEFAULT_PORT,
);
const INVOICE_SERVICE_PORT: (&str, u16) = (
    "INVOICE_SERVICE_PORT",
    invoice_service::Settings::DEFAULT_PORT,
);
const CONSOLE_PORT: (&str, u16) = ("CONSOLE_PORT", console::Settings::DEFAULT_PORT);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = service_kit::telemetry::init("billing-system")?;

    let mut customers = customer_service::Settings::from_env()?;
    in_one_process(&mut customers.common, CUSTOMER_SERVICE_PORT)?;
    let customer_app = customer_service::build(customers).await?;

    let mut invoices = invoice_service::Settings::from_env()?;
    in_one_process(&mut invoices.common, INVOICE_SERVICE_PORT)?;
    invoices.customer_service_url = format!("http://127.0.0.1:{}", customer_app.port());
    // In one process invoice-service calls customer-service with the first configured key,
    // unless CUSTOMER_SERVICE_API_KEY names another.
    if invoices.customer_service_api_key.is_none() {
        invoices.customer_service_api_key = service_kit::config::optional("API_KEYS")
            .and_then(|keys| {
                keys.split(',')
                    .map(str::trim)
                    .find(|k| !k.is_empty())
                    .map(str::to_owned)
            })
            .map(secrecy::SecretString::from);
    }
    let open = invoices.common.api_keys.is_none();
    let invoice_app = invoice_service::build(invoices).await?;

    let mut console_settings = console::Settings::from_env()?;
    console_settings.port = parse_or(CONSOLE_PORT.0, CONSOLE_PORT.1)?;
    console_settings.customer_service_url = format!("http://127.0.0.1:{}", customer_app.port());
    console_settings.invoice_service_url = format!("http://127.0.0.1:{}", invoice_app.port());
    let console_app = console::build(console_settings).await?;

    print_welcome(
        customer_app.port(),
        invoice_app.port(),
        console_app.port(),
        open,
    );

    // One signal stops all three; each drains its in-flight requests.
    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    let until_stopped = |mut stopped: tokio::sync::broadcast::Receiver<()>| async move {
        let _ = stopped.recv().await;
    };
    let customers = tokio::spawn(customer_app.run_until(until_stopped(stop.subscribe())));
    let invoices = tokio::spawn(invoice_app.run_until(until_stopped(stop.subscribe())));
    let console = tokio::spawn(console_app.run_until(until_stopped(stop.subscribe())));
    service_kit::shutdown::signal().await;
    let _ = stop.send(());
    let (customers, invoices, console) = tokio::join!(customers, invoices, console);
    customers??;
    invoices??;
    console??;
    Ok(())
}

/// Each service's port from its own variable and default (`PORT` would give both the same),
/// and the sample data unless `SEED_SAMPLE_DATA` says otherwise.
fn in_one_process(
    settings: &mut service_kit::Common,
    (port_variable, default_port): (&str, u16),
) -> anyhow::Result<()> {
    settings.port = parse_or(port_variable, default_port)?;
    settings.seed_sample_data = flag("SEED_SAMPLE_DATA", true)?;
    Ok(())
}

fn print_welcome(customer_port: u16, invoice_port: u16, console_port: u16, open: bool) {
    if open {
        tracing::warn!(
            "API_KEYS is not set: every route is open to anyone who can reach these ports. \
             Set API_KEYS=<key>[,<key>...] (16+ characters each) to require Authorization: Bearer <key>."
        );
    }
    let sign_in = if open {
        "open mode: leave the API key empty"
    } else {
        "sign in with a key of API_KEYS"
    };
    println!(
        "\n  billing-system is running\n\n  \
         customer-service  http://localhost:{customer_port}   (docs: http://localhost:{customer_port}/docs)\n  \
         invoice-service   http://localhost:{invoice_port}   (docs: http://localhost:{invoice_port}/docs)\n  \
         console           http://localhost:{console_port}   ({sign_in})\n\n  \
         Try:\n    \
         curl -s localhost:{customer_port}/customers?limit=3\n    \
         curl -s localhost:{invoice_port}/invoices/66f000000000000000000001\n\n  \
         Ctrl-C stops all three.\n"
    );
}
