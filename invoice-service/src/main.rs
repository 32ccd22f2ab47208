use invoice_service::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init();
    let settings = Settings::from_env()?;
    if std::env::args().any(|a| a == "--healthcheck") {
        let healthy = service_kit::probe::healthy(settings.port).await;
        std::process::exit(if healthy { 0 } else { 1 });
    }
    let app = invoice_service::build(settings).await?;
    app.run_until(service_kit::shutdown::signal()).await
}
