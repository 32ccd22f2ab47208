//! The cache promise of API.md, with the figures of the invoice-service issue.

use std::sync::{Arc, Mutex};

use bson::oid::ObjectId;
use futures::FutureExt;
use futures::stream::{self, StreamExt};
use invoice_service::cache::BeforeFill;
use reqwest::StatusCode;
use serde_json::json;
use test_support::{Client, join_tasks};
use tokio::sync::oneshot;

use crate::helpers::{Draft, Options, spawn_app, spawn_app_with, status_and_json, store_reads};

/// Writes `bps` as the tax rate of the invoice at `path`; the write succeeds.
pub(crate) async fn set_tax_rate(client: &Client, path: &str, bps: i64) {
    let (status, _) =
        status_and_json(client.patch(path, &json!({"tax_rate_bps": bps})).await).await;
    assert_eq!(status, StatusCode::OK);
}

/// Reads that showed a tax rate other than the one just written.
#[derive(Default)]
pub(crate) struct StaleReads(u32);

impl StaleReads {
    /// Reads the invoice at `path`: a tax rate other than `bps` is a stale read.
    pub(crate) async fn read(&mut self, client: &Client, path: &str, bps: i64) {
        let (_, read) = status_and_json(client.get(path).await).await;
        if read["invoice"]["tax_rate_bps"] != bps {
            self.0 += 1;
        }
    }

    pub(crate) fn assert_none(&self, what: &str) {
        assert_eq!(self.0, 0, "{what}");
    }
}

#[tokio::test]
async fn no_stale_read_in_1000_write_then_read_rounds() {
    let app = spawn_app().await;
    let Draft { path, .. } = app.draft_for("Writer", "writer@example.com").await;
    app.get(&path).await;
    let mut stale = StaleReads::default();
    for round in 0..1000_i64 {
        let bps = round % 10_001;
        set_tax_rate(&app, &path, bps).await;
        stale.read(&app, &path, bps).await;
    }
    stale.assert_none("stale reads");
}

#[tokio::test]
async fn no_stale_read_when_another_instance_wrote() {
    let app = spawn_app().await;
    if app.settings.redis_url.is_none() {
        return; // the in-process cache serves one instance only
    }
    let second = app.second_instance().await;
    let other = Client::new(&second.base);
    let Draft { path, .. } = app.draft_for("Shared", "shared@example.com").await;
    let mut stale = StaleReads::default();
    for round in 0..200_i64 {
        let (writer, reader) = if round % 2 == 0 {
            (&*app, &other)
        } else {
            (&other, &*app)
        };
        reader.get(&path).await;
        set_tax_rate(writer, &path, round).await;
        stale.read(reader, &path, round).await;
    }
    stale.assert_none("stale reads across instances");
}

#[tokio::test]
async fn a_write_its_instance_could_not_publish_is_published_by_another() {
    let app = spawn_app().await;
    if app.settings.redis_url.is_none() {
        return; // the in-process cache serves one instance only
    }
    // Nothing listens on port 1: this instance cannot reach Redis at all.
    let cut_off = app
        .instance_with_redis(Some("redis://127.0.0.1:1".into()))
        .await;
    let writer = Client::new(&cut_off.base);
    let Draft { path, .. } = app.draft_for("Cut off", "cut-off@example.com").await;
    app.get(&path).await;
    assert_eq!(
        x_cache(&app, &path).await,
        "HIT",
        "the old state is in Redis"
    );

    set_tax_rate(&writer, &path, 1234).await;
    let written = tokio::time::Instant::now();
    loop {
        let response = app.get(&path).await;
        let hit = response.headers()["x-cache"] == "HIT";
        let (_, read) = status_and_json(response).await;
        if read["invoice"]["tax_rate_bps"] == 1234 {
            assert!(hit, "the new state is served from Redis");
            break;
        }
        assert!(
            written.elapsed() < std::time::Duration::from_secs(5),
            "the write is still unseen through Redis after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub(crate) async fn x_cache(client: &Client, path: &str) -> String {
    let response = client.get(path).await;
    let value = response.headers()["x-cache"].to_str().unwrap();
    value.to_owned()
}

/// The id to pause, how the reader says it paused, and what releases it.
pub(crate) type Armed = (ObjectId, oneshot::Sender<()>, oneshot::Receiver<()>);

/// Pauses the reader of one armed id between its store read and its cache fill.
#[derive(Default)]
pub(crate) struct Gate {
    pub(crate) armed: Mutex<Option<Armed>>,
}

impl Gate {
    pub(crate) fn hook(self: &Arc<Self>) -> BeforeFill {
        let gate = self.clone();
        Arc::new(move |id| {
            let armed = {
                let mut slot = gate.armed.lock().unwrap();
                match slot.take() {
                    Some((armed_id, paused, release)) if armed_id == id => Some((paused, release)),
                    other => {
                        *slot = other;
                        None
                    }
                }
            };
            async move {
                if let Some((paused, release)) = armed {
                    let _ = paused.send(());
                    let _ = release.await;
                }
            }
            .boxed()
        })
    }
}

#[tokio::test]
async fn a_reader_paused_before_its_fill_never_puts_back_an_older_state_in_1000_runs() {
    let gate = Arc::new(Gate::default());
    let app = spawn_app_with(Options {
        before_fill: Some(gate.hook()),
        ..Options::default()
    })
    .await;
    let customer_id = app.create_customer("Paused", "paused@example.com").await;
    let mut stale = StaleReads::default();
    for run in 0..1000_i64 {
        let invoice = app.create_invoice(&customer_id).await;
        let id = ObjectId::parse_str(invoice["id"].as_str().unwrap()).unwrap();
        let path = format!("/invoices/{id}");
        let (paused_tx, paused_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *gate.armed.lock().unwrap() = Some((id, paused_tx, release_rx));

        let reader = {
            let (http, url) = (app.http.clone(), app.url(&path));
            tokio::spawn(async move { http.get(url).send().await.unwrap().status() })
        };
        paused_rx.await.expect("the reader reached its fill");
        let bps = 1 + run % 10_000;
        set_tax_rate(&app, &path, bps).await;
        release_tx.send(()).unwrap();
        assert_eq!(reader.await.unwrap(), StatusCode::OK);

        stale.read(&app, &path, bps).await;
    }
    stale.assert_none("stale reads after a paused fill");
}

#[tokio::test]
async fn five_hundred_concurrent_reads_of_a_cold_id_make_at_most_one_store_read() {
    let app = spawn_app().await;
    let draft = app.draft_for("Stampede", "stampede@example.com").await;
    let url = app.url(&draft.path);
    let before = store_reads(&app.http, &app.base).await;
    let reads = (0..500).map(|_| {
        let (http, url) = (app.http.clone(), url.clone());
        tokio::spawn(async move { http.get(url).send().await.unwrap().status() })
    });
    for status in join_tasks(reads).await {
        assert_eq!(status, StatusCode::OK);
    }
    let made = store_reads(&app.http, &app.base).await - before;
    assert!(
        made <= 1,
        "{made} store reads for 500 concurrent cold reads"
    );
}

#[tokio::test]
async fn ten_thousand_reads_of_a_thousand_absent_ids_make_at_most_a_thousand_store_reads() {
    let app = spawn_app().await;
    let absent: Vec<String> = (0..1000).map(|_| ObjectId::new().to_hex()).collect();
    let before = store_reads(&app.http, &app.base).await;
    let statuses: Vec<StatusCode> = stream::iter(0..10_000)
        .map(|i| {
            let url = app.url(&format!("/invoices/{}", absent[i % absent.len()]));
            let http = app.http.clone();
            async move { http.get(url).send().await.unwrap().status() }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == StatusCode::NOT_FOUND));
    let made = store_reads(&app.http, &app.base).await - before;
    assert!(
        made <= 1000,
        "{made} store reads for 10,000 reads of 1,000 absent ids"
    );
}
