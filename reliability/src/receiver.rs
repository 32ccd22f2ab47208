//! The webhook endpoint of the webhook rows: an HTTP server inside the suite process, on a
//! port of 127.0.0.1 that stays its own while it is closed and opened again. It answers as
//! the row tells it (200, at once or slowly, or 503), records every request it gets, and
//! checks each one's `webhook-signature` with the secret of the endpoint it was sent to.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::outcome::unix_ms;

/// How the receiver answers a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `200` after the delay.
    Ok(Duration),
    /// `503` at once, without `Retry-After`: the sender's schedule decides the retry.
    Unavailable,
}

/// One request the receiver answered.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// The order it arrived in, from 0.
    pub number: u64,
    /// The path it was sent to, which tells the endpoint.
    pub path: String,
    pub arrived_ms: u64,
    /// `webhook-id`.
    pub event_id: String,
    pub object_id: String,
    pub sequence: i64,
    pub kind: String,
    pub status: u16,
    /// The signature checks with the endpoint's secret, and the body is the event
    /// `webhook-id` names.
    pub verified: bool,
}

impl Receipt {
    pub fn delivered(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

struct Shared {
    answer: Mutex<Answer>,
    /// The signing secret of each path's endpoint.
    secrets: Mutex<BTreeMap<String, String>>,
    receipts: Mutex<Vec<Receipt>>,
    /// Requests arrived but not answered yet, by number.
    in_flight: Mutex<BTreeMap<u64, Arrival>>,
    arrived: AtomicU64,
}

/// A request that has arrived and is not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub path: String,
    /// `webhook-id`.
    pub event_id: String,
    pub arrived_ms: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running receiver; stops listening when dropped.
pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    serving: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on 127.0.0.1:`port`, answering `200` at once.
    pub async fn start(port: u16) -> anyhow::Result<Self> {
        let mut receiver = Self {
            port,
            shared: Arc::new(Shared {
                answer: Mutex::new(Answer::Ok(Duration::ZERO)),
                secrets: Mutex::new(BTreeMap::new()),
                receipts: Mutex::new(Vec::new()),
                in_flight: Mutex::new(BTreeMap::new()),
                arrived: AtomicU64::new(0),
            }),
            serving: None,
        };
        receiver.open().await?;
        Ok(receiver)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Checks what arrives at `path` with `secret`.
    pub fn trust(&self, path: &str, secret: &str) {
        lock(&self.shared.secrets).insert(path.to_owned(), secret.to_owned());
    }

    pub fn answer(&self, answer: Answer) {
        *lock(&self.shared.answer) = answer;
    }

    /// Stops listening and drops every open connection, requests in flight included: a
    /// sender then finds nothing listening.
    pub async fn close(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
            let _ = serving.await;
        }
    }

    /// Listens again, on the same port.
    pub async fn open(&mut self) -> anyhow::Result<()> {
        if self.serving.is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .with_context(|| format!("the receiver cannot listen on 127.0.0.1:{}", self.port))?;
        self.serving = Some(tokio::spawn(serve(listener, self.shared.clone())));
        Ok(())
    }

    /// Every request answered so far, in the order they arrived.
    pub fn receipts(&self) -> Vec<Receipt> {
        let mut receipts = lock(&self.shared.receipts).clone();
        receipts.sort_by_key(|r| r.number);
        receipts
    }

    /// How many requests have arrived so far: the number the next one gets.
    pub fn arrived(&self) -> u64 {
        self.shared.arrived.load(Ordering::SeqCst)
    }

    /// The requests to `path` that have arrived and are not answered.
    pub fn in_flight(&self, path: &str) -> Vec<Arrival> {
        lock(&self.shared.in_flight)
            .values()
            .filter(|a| a.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
        }
    }
}

/// Accepts until aborted; the connections are its tasks, so aborting it drops them all.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        answer(shared.clone(), request)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Takes a request out of the in-flight ones however its answer ends, sent or dropped.
struct InFlight {
    shared: Arc<Shared>,
    number: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.shared.in_flight).remove(&self.number);
    }
}

async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let number = shared.arrived.fetch_add(1, Ordering::SeqCst);
    let arrived_ms = unix_ms();
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let event_id = header(&headers, "webhook-id");
    let arrival = Arrival {
        path: path.clone(),
        event_id: event_id.clone(),
        arrived_ms,
    };
    lock(&shared.in_flight).insert(number, arrival);
    let in_flight = InFlight {
        shared: shared.clone(),
        number,
    };
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let secret = lock(&shared.secrets).get(&path).cloned();
    let signed = secret.is_some_and(|secret| {
        standardwebhooks::Webhook::new(&secret)
            .is_ok_and(|hook| hook.verify(&body, &headers).is_ok())
    });
    let answer = *lock(&shared.answer);
    let status = match answer {
        Answer::Ok(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK
        }
        Answer::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
    let receipt = Receipt {
        number,
        path,
        arrived_ms,
        verified: signed && event["id"].as_str() == Some(event_id.as_str()),
        event_id,
        object_id: text("object_id"),
        sequence: event["sequence"].as_i64().unwrap_or(0),
        kind: text("type"),
        status: status.as_u16(),
    };
    lock(&shared.receipts).push(receipt);
    drop(in_flight);
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    Ok(response)
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &str = r#"{"id":"evt1","type":"invoice.updated","object_id":"o1","sequence":2}"#;

    async fn send(url: &str, id: &str, secret: &str) -> reqwest::Result<u16> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = standardwebhooks::Webhook::new(secret)
            .and_then(|hook| hook.sign(id, timestamp, BODY.as_bytes()))
            .unwrap_or_default();
        let response = reqwest::Client::new()
            .post(url)
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(BODY)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    #[tokio::test]
    async fn the_receiver_checks_signatures_answers_as_told_and_closes_its_port() {
        let port = crate::procs::free_port().unwrap();
        let mut receiver = Receiver::start(port).await.unwrap();
        receiver.trust("/hook", SECRET);
        let url = receiver.url("/hook");
        assert_eq!(send(&url, "evt1", SECRET).await.unwrap(), 200);
        let stranger = "whsec_c2VjcmV0IG9mIHNvbWVib2R5IGVsc2UgZW50aXJlbHk=";
        assert_eq!(send(&url, "evt1", stranger).await.unwrap(), 200);
        assert_eq!(send(&url, "evt2", SECRET).await.unwrap(), 200);
        receiver.answer(Answer::Unavailable);
        assert_eq!(send(&url, "evt1", SECRET).await.unwrap(), 503);
        receiver.close().await;
        assert!(send(&url, "evt1", SECRET).await.is_err());
        receiver.answer(Answer::Ok(Duration::ZERO));
        receiver.open().await.unwrap();
        assert_eq!(send(&url, "evt1", SECRET).await.unwrap(), 200);

        let receipts = receiver.receipts();
        let verified: Vec<bool> = receipts.iter().map(|r| r.verified).collect();
        // The second is signed with another secret, the third names another event.
        assert_eq!(verified, [true, false, false, true, true]);
        let statuses: Vec<u16> = receipts.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 200, 200, 503, 200]);
        assert_eq!(
            (receipts[0].sequence, receipts[0].object_id.as_str()),
            (2, "o1")
        );
        assert!(receiver.in_flight("/hook").is_empty());
    }
}
