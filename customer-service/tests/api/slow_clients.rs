use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app;

/// 256 connections trickling one header byte every 5 s are all closed within 11 s, while
/// normal traffic beside them sees no error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_dropped_while_normal_traffic_goes_on() {
    let app = spawn_app().await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut trickles = Vec::new();
    for _ in 0..256 {
        let stream = TcpStream::connect(&address).await.expect("connects");
        trickles.push(tokio::spawn(async move {
            let (mut reader, mut writer) = stream.into_split();
            let drip = tokio::spawn(async move {
                for byte in b"GET /customers HTTP/1.1\r\nHost: localhost\r\n".iter() {
                    if writer.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            });
            let mut buffer = [0u8; 256];
            // Closed by the server: end of stream or a reset.
            while let Ok(n) = reader.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
            }
            drip.abort();
            Instant::now()
        }));
    }

    let errors = Arc::new(AtomicU64::new(0));
    let served = Arc::new(AtomicU64::new(0));
    let traffic = {
        let (http, url, errors, served) = (
            app.http.clone(),
            app.url("/customers?limit=1"),
            errors.clone(),
            served.clone(),
        );
        tokio::spawn(async move {
            while started.elapsed() < Duration::from_secs(11) {
                match http.get(&url).send().await {
                    Ok(response) if response.status() == StatusCode::OK => {
                        served.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let mut latest = Duration::ZERO;
    for trickle in trickles {
        let closed_at = tokio::time::timeout(Duration::from_secs(15), trickle)
            .await
            .expect("every slow connection is closed")
            .unwrap();
        latest = latest.max(closed_at - started);
    }
    traffic.await.unwrap();
    assert!(
        latest <= Duration::from_secs(11),
        "the last slow connection closed after {latest:?}"
    );
    assert_eq!(
        errors.load(Ordering::Relaxed),
        0,
        "errors in normal traffic"
    );
    assert!(served.load(Ordering::Relaxed) > 50);
}
