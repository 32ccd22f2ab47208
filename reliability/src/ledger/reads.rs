//! The last invariant: every invoice the run touched reads back through the API (and so
//! through the cache) exactly as the store holds it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

use super::{Consistency, StoreView, StoredInvoice};

/// Reads `ids` through the API (and so through the cache) and counts those that differ
/// from the store.
pub async fn check_reads(
    http: &reqwest::Client,
    invoice_url: &str,
    ids: &BTreeSet<String>,
    store: &StoreView,
    report: &mut Consistency,
) -> anyhow::Result<()> {
    let invoices: HashMap<&str, &StoredInvoice> =
        store.invoices.iter().map(|i| (i.id.as_str(), i)).collect();
    let reads: Vec<anyhow::Result<(String, u16, bool, Value)>> =
        futures::stream::iter(ids.iter().cloned())
            .map(|id| async move {
                let response = http
                    .get(format!("{invoice_url}/invoices/{id}"))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await?;
                let status = response.status().as_u16();
                let hit = response
                    .headers()
                    .get("x-cache")
                    .is_some_and(|v| v.as_bytes() == b"HIT");
                let body: Value = response.json().await.unwrap_or(Value::Null);
                Ok((id, status, hit, body))
            })
            .buffer_unordered(8)
            .collect()
            .await;
    for read in reads {
        let (id, status, hit, body) = read?;
        report.reads_checked += 1;
        report.reads_from_cache += u64::from(hit);
        let stored = invoices.get(id.as_str());
        let problem = match stored {
            None if status == 404 => None,
            None => Some(format!("answered {status}, the store has no such invoice")),
            Some(_) if status != 200 => Some(format!("answered {status}")),
            Some(stored) => differs(stored, &body["invoice"]),
        };
        if let Some(problem) = problem {
            report.stale_reads += 1;
            report.note(format!(
                "GET /invoices/{id} ({}): {problem}",
                if hit { "cache" } else { "database" }
            ));
        }
    }
    Ok(())
}

/// How an invoice read through the API differs from the store, if it does.
fn differs(stored: &StoredInvoice, read: &Value) -> Option<String> {
    let metadata: BTreeMap<String, String> = read["metadata"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let updated_ms = read["updated_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis());
    let number = read["number"].as_str().map(str::to_owned);
    let status = read["status"].as_str().unwrap_or_default();
    if metadata != stored.metadata {
        return Some(format!(
            "metadata {metadata:?}, the store holds {:?}",
            stored.metadata
        ));
    }
    if status != stored.status || number != stored.number {
        return Some(format!(
            "{status} {number:?}, the store holds {} {:?}",
            stored.status, stored.number
        ));
    }
    if updated_ms != Some(stored.updated_ms) {
        return Some(format!(
            "updated_at {updated_ms:?} ms, the store holds {}",
            stored.updated_ms
        ));
    }
    None
}
