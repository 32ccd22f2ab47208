use invoice_service::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = service_kit::telemetry::init("invoice-service")?;
    let settings = Settings::from_env()?;
    if std::env::args().any(|a| a == "--healthcheck") {
        let healthy = service_kit::probe::healthy(settings.port).await;
        std::process::exit(if healthy { 0 } else { 1 });
    }
    if settings.api_keys.is_none() {
        tracing::warn!(
            "API_KEYS is not set: business routes are open to anyone who can reach this port"
        );
    }
    let app = invoice_service::build(settings).await?;
    app.run_until(service_kit::shutdown::signal()).await
}
