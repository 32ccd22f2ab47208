//! One request on a worker's keep-alive connection, read whole; and [`fetch`], one request
//! on a fresh connection for the checks before and after a load.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::plan::{Endpoint, split_url};
use super::report::{Answer, Failure};

/// Sends one request on the worker's connection to `endpoint` (opening one when there is
/// none or the server closed it) and reads the whole answer.
pub(super) async fn exchange(
    slot: &mut Option<SendRequest<Full<Bytes>>>,
    endpoint: &Endpoint,
    request: Request<Full<Bytes>>,
) -> Result<Answer, Failure> {
    let mut sender = match slot.take() {
        Some(mut sender) => match sender.ready().await {
            Ok(()) => sender,
            // Closed by the server since the last answer (keep-alive ended): not an error.
            Err(_) => connect(endpoint).await?,
        },
        None => connect(endpoint).await?,
    };
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| Failure::Io(format!("{}: {e}", endpoint.authority)))?;
    let status = response.status();
    let mut body = response.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::Io(format!("{}: {e}", endpoint.authority)))?;
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
        }
    }
    *slot = Some(sender);
    Ok(Answer { status, bytes })
}

async fn connect(endpoint: &Endpoint) -> Result<SendRequest<Full<Bytes>>, Failure> {
    let failed =
        |e: &dyn std::fmt::Display| Failure::Connect(format!("{}: {e}", endpoint.authority));
    let stream = TcpStream::connect(&endpoint.addresses[..])
        .await
        .map_err(|e| failed(&e))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed(&e))?;
    tokio::spawn(async move {
        // Ends when the server closes the connection or the sender is dropped.
        let _ = connection.await;
    });
    sender.ready().await.map_err(|e| failed(&e))?;
    Ok(sender)
}

/// One answer, read whole.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends one request on a fresh connection and reads the whole answer, within 10 s: for
/// checks before and after a load.
pub async fn fetch(
    method: Method,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> anyhow::Result<Fetched> {
    let (authority, path) = split_url(url)?;
    let endpoint = Endpoint::resolve(&authority).await?;
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = path;
    *request.headers_mut() = headers.clone();
    if !request.headers().contains_key(HOST) {
        request
            .headers_mut()
            .insert(HOST, HeaderValue::from_str(&authority)?);
    }
    let exchange = async {
        let mut sender = connect(&endpoint).await.map_err(Failure::into_error)?;
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        anyhow::Ok(Fetched {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .with_context(|| format!("{url}: no answer within 10 s"))?
        .with_context(|| format!("{url}: request failed"))
}
