//! Checks over many requests that both suites make: refusals that must all be fast, and
//! requests raced in spawned tasks.

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use crate::Client;

/// A series of requests that must each be refused with a 4xx; keeps the slowest answer.
#[derive(Debug, Default)]
pub struct Refusals {
    slowest: Duration,
}

impl Refusals {
    /// Sends `request` and asserts a 4xx; `what` names the request in a failure.
    pub async fn check(&mut self, request: RequestBuilder, what: &str) {
        let started = Instant::now();
        let status = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request not sent: {e}"))
            .status();
        let took = started.elapsed();
        assert!(status.is_client_error(), "{what} answered {status}");
        self.slowest = self.slowest.max(took);
    }

    /// Sends each of `bodies` as JSON with each `(method, path)` of `routes`.
    pub async fn check_bodies(
        &mut self,
        client: &Client,
        bodies: &[Value],
        routes: &[(Method, &str)],
    ) {
        for body in bodies {
            for (method, path) in routes {
                let url = client.url(path);
                let what = format!("{method} {url} {body}");
                let request = client.http.request(method.clone(), &url).json(body);
                self.check(request, &what).await;
            }
        }
    }

    /// GETs `path?query` for each of `queries`.
    pub async fn check_queries(&mut self, client: &Client, path: &str, queries: &[&str]) {
        for query in queries {
            let url = client.url(&format!("{path}?{query}"));
            self.check(client.http.get(url), query).await;
        }
    }

    /// Asserts that every refusal so far answered in less than `limit`.
    pub fn assert_faster_than(&self, limit: Duration) {
        let slowest = self.slowest;
        assert!(slowest < limit, "slowest refusal took {slowest:?}");
    }
}

/// Waits for every task (all spawned before the first is awaited) and returns what each
/// gave, in order; a task that panicked fails the test.
pub async fn join_tasks<T>(tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let tasks: Vec<_> = tasks.into_iter().collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| panic!("a task failed: {e}")));
    }
    results
}
