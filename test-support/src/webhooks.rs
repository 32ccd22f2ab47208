//! A webhook receiver on a free port of 127.0.0.1, for tests of deliveries: it keeps every
//! request it gets and answers each with the status its script chooses.

#![allow(clippy::expect_used)] // a receiver that cannot work fails the test that uses it

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Chooses the answer to a request from it and every request before it.
type Script = Box<dyn FnMut(&Received, &[Received]) -> (StatusCode, Option<&'static str>) + Send>;

#[derive(Clone)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    /// Answers `204` to everything.
    pub async fn start() -> Self {
        Self::scripted(|_, _| (StatusCode::NO_CONTENT, None)).await
    }

    /// Answers what `script` says: a status and, optionally, a `Retry-After` value.
    pub async fn scripted(
        script: impl FnMut(&Received, &[Received]) -> (StatusCode, Option<&'static str>)
        + Send
        + 'static,
    ) -> Self {
        let shared = Shared {
            received: Arc::default(),
            script: Arc::new(Mutex::new(Box::new(script))),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("receiver binds");
        let port = listener.local_addr().expect("receiver address").port();
        let router = Router::new()
            .route("/hook", post(receive))
            .with_state(shared.clone());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            shared,
            _shutdown: shutdown,
        }
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("receiver lock").clone()
    }

    /// Waits until `done` holds for the requests so far, for at most `within`; the requests.
    pub async fn wait_for(
        &self,
        within: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if done(&received) || Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let request = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    };
    let mut received = shared.received.lock().expect("receiver lock");
    let (status, retry_after) = {
        let mut script = shared.script.lock().expect("receiver script lock");
        script(&request, &received)
    };
    received.push(request);
    let mut answer = HeaderMap::new();
    if let Some(value) = retry_after {
        answer.insert("retry-after", value.parse().expect("retry-after value"));
    }
    (status, answer)
}

/// How many of `requests` the Standard Webhooks reference library (Python, from the
/// project's `.venv`) verifies with `secret`.
pub fn verified_by_reference_library(secret: &str, requests: &[Received]) -> usize {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: `scripts/test tools` makes it",
        python.display()
    );
    let messages: Vec<Value> = requests
        .iter()
        .map(|r| {
            serde_json::json!({
                "body": r.body, "id": r.id, "timestamp": r.timestamp, "signature": r.signature,
            })
        })
        .collect();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
hook = Webhook(sys.argv[1])
ok = 0
for m in json.load(sys.stdin):
    headers = {"webhook-id": m["id"], "webhook-timestamp": m["timestamp"], "webhook-signature": m["signature"]}
    try:
        hook.verify(m["body"], headers)
        ok += 1
    except WebhookVerificationError:
        pass
print(ok)
"#;
    let mut child = Command::new(&python)
        .args(["-c", script, secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("python stdin");
        stdin
            .write_all(serde_json::to_string(&messages).expect("json").as_bytes())
            .expect("python reads");
    }
    let output = child.wait_with_output().expect("python ends");
    assert!(output.status.success(), "the reference library failed");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("a count")
}
