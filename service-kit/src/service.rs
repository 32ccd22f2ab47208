//! The binary's main, the same for every service: telemetry, settings, `--healthcheck`
//! (the container health check), then build and serve until SIGTERM or Ctrl-C.

use std::future::Future;

use crate::App;
use crate::settings::Common;

/// Runs a service binary. `build` binds the service from its settings.
pub fn main<S, F, Fut>(
    name: &'static str,
    from_env: fn() -> anyhow::Result<S>,
    build: F,
) -> anyhow::Result<()>
where
    S: AsRef<Common>,
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = anyhow::Result<App>>,
{
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let _telemetry = crate::telemetry::init(name)?;
            let settings = from_env()?;
            if std::env::args().any(|a| a == "--healthcheck") {
                let ready = crate::probe::ready(settings.as_ref().port).await;
                std::process::exit(if ready { 0 } else { 1 });
            }
            if settings.as_ref().api_keys.is_none() {
                tracing::warn!(
                    "API_KEYS is not set: business routes are open to anyone who can reach this port"
                );
            }
            let app = build(settings).await?;
            app.run_until(crate::shutdown::signal()).await
        })
}
