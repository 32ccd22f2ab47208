//! A TCP proxy on 127.0.0.1 that can be stalled: while stalled it forwards no byte either
//! way but keeps every connection open, as a Redis that stops answering one client would.

use std::io::ErrorKind;

use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The bytes one direction holds at most: while stalled, TCP pushes back on the sender.
const CHUNK: usize = 16 * 1024;

pub(super) struct StallProxy {
    pub(super) port: u16,
    stalled: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl StallProxy {
    /// Listens on a free port and forwards every connection to `upstream`.
    pub(super) async fn start(upstream: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (stalled, gate) = watch::channel(false);
        let task = tokio::spawn(async move {
            // Dropped with the accept loop, so aborting it ends every connection too.
            let mut connections = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                while connections.try_join_next().is_some() {}
                connections.spawn(forward(client, upstream, gate.clone()));
            }
        });
        Ok(Self {
            port,
            stalled,
            task,
        })
    }

    pub(super) fn stall(&self) {
        self.stalled.send_replace(true);
    }

    pub(super) fn resume(&self) {
        self.stalled.send_replace(false);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection, both ways, until either side closes it.
async fn forward(client: TcpStream, upstream: u16, gate: watch::Receiver<bool>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pump(client_read, server_write, gate.clone()) => {}
        () = pump(server_read, client_write, gate) => {}
    }
}

/// Copies `from` to `to`, each chunk held while the gate says stalled. Dropping `to` at
/// the end shuts its direction down.
async fn pump(from: OwnedReadHalf, to: OwnedWriteHalf, mut gate: watch::Receiver<bool>) {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let read = match from.try_read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if from.readable().await.is_err() {
                    return;
                }
                continue;
            }
            Err(_) => return,
        };
        if gate.wait_for(|stalled| !stalled).await.is_err() {
            return;
        }
        let mut sent = 0;
        while sent < read {
            match to.try_write(&buffer[sent..read]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if to.writable().await.is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpStream;

    use super::*;

    async fn send(stream: &TcpStream, bytes: &[u8]) {
        stream.writable().await.ok();
        assert_eq!(stream.try_write(bytes).ok(), Some(bytes.len()));
    }

    async fn receive(stream: &TcpStream, within: Duration) -> Option<Vec<u8>> {
        let mut buffer = [0u8; 64];
        tokio::time::timeout(within, async {
            loop {
                stream.readable().await.ok()?;
                match stream.try_read(&mut buffer) {
                    Ok(n) => return Some(buffer[..n].to_vec()),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => return None,
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    #[tokio::test]
    async fn a_stalled_proxy_holds_the_bytes_and_the_connection_until_resumed() {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = StallProxy::start(upstream.local_addr().unwrap().port())
            .await
            .unwrap();
        let client = TcpStream::connect(("127.0.0.1", proxy.port)).await.unwrap();
        let (server, _) = upstream.accept().await.unwrap();
        send(&client, b"ping").await;
        let forwarded = receive(&server, Duration::from_secs(2)).await;
        assert_eq!(forwarded.as_deref(), Some(&b"ping"[..]));

        proxy.stall();
        send(&server, b"pong").await;
        assert_eq!(receive(&client, Duration::from_millis(200)).await, None);
        proxy.resume();
        let held = receive(&client, Duration::from_secs(2)).await;
        assert_eq!(held.as_deref(), Some(&b"pong"[..]));
    }
}
