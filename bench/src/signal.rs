//! Waiting for the signal that stops a long-running binary.

/// Resolves on Ctrl-C or SIGTERM, whichever comes first.
pub async fn ctrl_c_or_sigterm() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            // No SIGTERM handler to be had: Ctrl-C alone stops it.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
