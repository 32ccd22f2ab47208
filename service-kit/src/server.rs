//! Serving a router over hyper-util with the limits `axum::serve` lacks: a header-read
//! timeout (slow clients are dropped), a cap on open connections, and a graceful shutdown
//! that lets in-flight requests finish within a bound.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// A client must send its request headers within this time.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many connections are served at once; more wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 4096;
/// In-flight requests get this long to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Work run once the server has drained, before [`App::run_until`] returns.
type StopHook = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A service bound to its port, ready to run.
pub struct App {
    name: &'static str,
    listener: TcpListener,
    router: Router,
    addr: SocketAddr,
    on_stop: Vec<StopHook>,
}

impl App {
    /// Binds `host:port` (port 0 picks a free one) for `router`.
    pub async fn bind(
        name: &'static str,
        host: &str,
        port: u16,
        router: Router,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((host, port))
            .await
            .map_err(|e| anyhow::anyhow!("{name} cannot listen on {host}:{port}: {e}"))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            name,
            listener,
            router,
            addr,
            on_stop: Vec::new(),
        })
    }

    /// Runs `hook` after the server has drained, before [`App::run_until`] returns: closing
    /// clients while the runtime still runs (each hook bounds its own time).
    pub fn on_stop(mut self, hook: impl Future<Output = ()> + Send + 'static) -> Self {
        self.on_stop.push(Box::pin(hook));
        self
    }

    /// The port the service listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves, then waits for in-flight requests.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Self {
            name,
            listener,
            router,
            addr,
            on_stop,
        } = self;
        tracing::info!(service = name, %addr, "listening");
        let graceful = GracefulShutdown::new();
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true);
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = permits.clone().acquire_owned() => permit?,
            };
            let (stream, _peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(router.clone());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let watched = graceful.watch(connection);
            tokio::spawn(async move {
                let _ = watched.await;
                drop(permit);
            });
        }
        drop(listener);
        tracing::info!(service = name, "draining in-flight requests");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!(service = name, "stopped"),
            () = tokio::time::sleep(SHUTDOWN_GRACE) => {
                tracing::warn!(service = name, "grace period over; closing remaining connections");
            }
        }
        for hook in on_stop {
            hook.await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn stop_hooks_run_once_the_server_has_drained() {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let app = App::bind("test", "127.0.0.1", 0, Router::new())
            .await
            .unwrap()
            .on_stop(async move { flag.store(true, Ordering::SeqCst) });
        app.run_until(async {}).await.unwrap();
        assert!(ran.load(Ordering::SeqCst), "the stop hook did not run");
    }
}
