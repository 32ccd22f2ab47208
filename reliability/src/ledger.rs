//! The consistency check run after every fault: what the clients were told against what
//! the stores hold, and what the API reads back.
//!
//! - every acknowledged write is present (creates by id and tag, the last acknowledged patch
//!   of each invoice, the number of each acknowledged finalize);
//! - nothing the client was told failed is present (a create answered 4xx/5xx or refused,
//!   a patch answered 4xx/5xx, a finalize answered 4xx/5xx);
//! - no create was made twice (per tag, and per `Idempotency-Key`);
//! - invoice numbers are unique and gapless: `INV-000001` up to the highest, each once;
//! - every invoice the run touched reads back (through the cache) as the store holds it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use anyhow::Context;
use bson::{Bson, Document, doc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::Value;

use crate::outcome::{Op, Outcome, Told};

/// Problems listed per kind, at most this many each (the counts stay exact).
const LISTED: usize = 10;

/// Everything the clients were told so far, the setup included.
#[derive(Debug, Default)]
pub struct Ledger {
    outcomes: Vec<Outcome>,
}

impl Ledger {
    pub fn add(&mut self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.outcomes.extend(outcomes);
        self.outcomes.sort_by_key(|o| (o.sent_ms, o.seq));
    }

    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }
}

/// An invoice as MongoDB holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvoice {
    pub id: String,
    pub number: Option<String>,
    pub status: String,
    pub metadata: BTreeMap<String, String>,
    pub updated_ms: i64,
}

/// A customer as MongoDB holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCustomer {
    pub id: String,
    pub email: String,
    pub metadata: BTreeMap<String, String>,
}

/// Both stores, read at one moment.
#[derive(Debug, Default)]
pub struct StoreView {
    pub invoices: Vec<StoredInvoice>,
    pub customers: Vec<StoredCustomer>,
}

/// What the check found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Consistency {
    /// Acknowledged writes compared with the store.
    pub acknowledged_checked: u64,
    pub failed_checked: u64,
    pub missing: u64,
    pub failed_but_present: u64,
    pub duplicates: u64,
    /// Numbered invoices in the store, and how many numbers are missing or repeated.
    pub numbered: u64,
    pub number_problems: u64,
    /// Invoices read back through the API, and how many differ from the store.
    pub reads_checked: u64,
    pub reads_from_cache: u64,
    pub stale_reads: u64,
    /// The first problems of each kind, to tell what went wrong.
    pub examples: Vec<String>,
}

impl Consistency {
    pub fn passed(&self) -> bool {
        self.missing == 0
            && self.failed_but_present == 0
            && self.duplicates == 0
            && self.number_problems == 0
            && self.stale_reads == 0
    }

    fn note(&mut self, problem: String) {
        if self.examples.len() < 4 * LISTED {
            self.examples.push(problem);
        }
    }

    /// One line for the table.
    pub fn summary(&self) -> String {
        format!(
            "{} acked / {} failed checked; missing {}, failed-present {}, dup {}, number gaps {} (of {}); stale reads {} of {}",
            self.acknowledged_checked,
            self.failed_checked,
            self.missing,
            self.failed_but_present,
            self.duplicates,
            self.number_problems,
            self.numbered,
            self.stale_reads,
            self.reads_checked
        )
    }
}

fn text(document: &Document, key: &str) -> Option<String> {
    match document.get(key) {
        Some(Bson::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn string_map(document: &Document, key: &str) -> BTreeMap<String, String> {
    match document.get(key) {
        Some(Bson::Document(map)) => map
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn id_of(document: &Document) -> String {
    match document.get("_id") {
        Some(Bson::ObjectId(id)) => id.to_hex(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Reads every invoice and customer straight from MongoDB.
pub async fn read_store(
    client: &mongodb::Client,
    invoice_db: &str,
    customer_db: &str,
) -> anyhow::Result<StoreView> {
    let invoices: Vec<Document> = client
        .database(invoice_db)
        .collection::<Document>("invoices")
        .find(doc! {})
        .await
        .context("cannot read the invoices")?
        .try_collect()
        .await
        .context("cannot read the invoices")?;
    let customers: Vec<Document> = client
        .database(customer_db)
        .collection::<Document>("customers")
        .find(doc! {})
        .await
        .context("cannot read the customers")?
        .try_collect()
        .await
        .context("cannot read the customers")?;
    Ok(StoreView {
        invoices: invoices
            .iter()
            .map(|d| StoredInvoice {
                id: id_of(d),
                number: text(d, "number"),
                status: text(d, "status").unwrap_or_default(),
                metadata: string_map(d, "metadata"),
                updated_ms: d
                    .get_datetime("updated_at")
                    .map_or(0, |t| t.timestamp_millis()),
            })
            .collect(),
        customers: customers
            .iter()
            .map(|d| StoredCustomer {
                id: id_of(d),
                email: text(d, "email").unwrap_or_default(),
                metadata: string_map(d, "metadata"),
            })
            .collect(),
    })
}

/// Ids of the documents whose `metadata[key]` is each value.
fn by_tag<'a>(
    documents: impl Iterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
    key: &str,
) -> HashMap<String, Vec<String>> {
    let mut index: HashMap<String, Vec<String>> = HashMap::new();
    for (id, metadata) in documents {
        if let Some(tag) = metadata.get(key) {
            index.entry(tag.clone()).or_default().push(id.to_owned());
        }
    }
    index
}

/// Compares the ledger with the stores (no API reads: see [`check_reads`]).
pub fn check_store(ledger: &Ledger, store: &StoreView) -> Consistency {
    let mut report = Consistency::default();
    let invoices: HashMap<&str, &StoredInvoice> =
        store.invoices.iter().map(|i| (i.id.as_str(), i)).collect();
    let customers: HashMap<&str, &StoredCustomer> =
        store.customers.iter().map(|c| (c.id.as_str(), c)).collect();
    let invoice_tags = |key| {
        by_tag(
            store.invoices.iter().map(|i| (i.id.as_str(), &i.metadata)),
            key,
        )
    };
    let customer_tags = |key| {
        by_tag(
            store.customers.iter().map(|c| (c.id.as_str(), &c.metadata)),
            key,
        )
    };
    let (invoice_rk, invoice_ik) = (invoice_tags("rk"), invoice_tags("ik"));
    let (customer_rk, customer_ik) = (customer_tags("rk"), customer_tags("ik"));

    let mut patches: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    let mut finalizes: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    let mut keyed: BTreeMap<(Op, &str), Vec<&Outcome>> = BTreeMap::new();
    let mut plain_creates: BTreeSet<(Op, &str)> = BTreeSet::new();
    for outcome in ledger.outcomes() {
        let (Some(value), target) = (outcome.value.as_deref(), outcome.target.as_deref()) else {
            if let (Op::Finalize, Some(target)) = (outcome.op, outcome.target.as_deref()) {
                finalizes.entry(target).or_default().push(outcome);
            }
            continue;
        };
        match outcome.op {
            Op::Patch => {
                if let Some(target) = target {
                    patches.entry(target).or_default().push(outcome);
                }
            }
            Op::CreateInvoice | Op::CreateCustomer => {
                plain_creates.insert((outcome.op, value));
                let (tags, exists): (&HashMap<String, Vec<String>>, bool) =
                    if outcome.op == Op::CreateInvoice {
                        let id = outcome.created_id.as_deref().unwrap_or_default();
                        (
                            &invoice_rk,
                            invoices.get(id).is_some_and(|i| {
                                i.metadata.get("rk").map(String::as_str) == Some(value)
                            }),
                        )
                    } else {
                        let id = outcome.created_id.as_deref().unwrap_or_default();
                        (
                            &customer_rk,
                            customers.get(id).is_some_and(|c| {
                                c.metadata.get("rk").map(String::as_str) == Some(value)
                            }),
                        )
                    };
                match outcome.told() {
                    Told::Acknowledged => {
                        report.acknowledged_checked += 1;
                        if !exists {
                            report.missing += 1;
                            report.note(format!(
                                "acknowledged {:?} {value} (id {:?}) is not in the store",
                                outcome.op, outcome.created_id
                            ));
                        }
                    }
                    Told::Failed => {
                        report.failed_checked += 1;
                        if tags.get(value).is_some_and(|ids| !ids.is_empty()) {
                            report.failed_but_present += 1;
                            report.note(format!(
                                "{:?} {value} was answered {:?} {:?} but is in the store",
                                outcome.op, outcome.status, outcome.failure
                            ));
                        }
                    }
                    Told::Unknown => {}
                }
            }
            Op::IdempotentInvoice | Op::IdempotentCustomer => {
                keyed.entry((outcome.op, value)).or_default().push(outcome);
            }
            Op::Finalize | Op::ReadInvoice | Op::ReadCustomer | Op::ListInvoices => {}
        }
    }

    for (op, value) in &plain_creates {
        let tags = if *op == Op::CreateInvoice {
            &invoice_rk
        } else {
            &customer_rk
        };
        if let Some(ids) = tags.get(*value)
            && ids.len() > 1
        {
            report.duplicates += 1;
            report.note(format!(
                "{op:?} {value} is in the store {} times",
                ids.len()
            ));
        }
    }

    for ((op, key), attempts) in &keyed {
        let (stored, tags) = if *op == Op::IdempotentInvoice {
            (
                invoice_ik.get(*key).cloned().unwrap_or_default(),
                &invoice_ik,
            )
        } else {
            (
                customer_ik.get(*key).cloned().unwrap_or_default(),
                &customer_ik,
            )
        };
        let acknowledged: BTreeSet<&str> = attempts
            .iter()
            .filter(|a| a.is_success())
            .filter_map(|a| a.created_id.as_deref())
            .collect();
        if stored.len() > 1 || acknowledged.len() > 1 {
            report.duplicates += 1;
            report.note(format!(
                "key {key}: {} in the store, answered with {} different ids",
                stored.len(),
                acknowledged.len()
            ));
        }
        if let Some(id) = acknowledged.iter().next() {
            report.acknowledged_checked += 1;
            if !stored.iter().any(|s| s == id) {
                report.missing += 1;
                report.note(format!(
                    "key {key}: acknowledged id {id} is not in the store"
                ));
            }
        } else if attempts.iter().all(|a| a.told() == Told::Failed) {
            report.failed_checked += 1;
            if tags.get(*key).is_some_and(|ids| !ids.is_empty()) {
                report.failed_but_present += 1;
                let last = attempts.last();
                report.note(format!(
                    "key {key}: every attempt failed (last {:?} {:?}) but it is in the store",
                    last.and_then(|a| a.status),
                    last.and_then(|a| a.code.clone())
                ));
            }
        }
    }

    for (target, writes) in &patches {
        let stored = invoices
            .get(target)
            .and_then(|i| i.metadata.get("rw").cloned());
        // What the store may hold: the last acknowledged value (or the state before any
        // patch), or a later one whose outcome is unknown.
        let mut allowed: Vec<Option<&str>> = vec![None];
        let mut refused: BTreeSet<&str> = BTreeSet::new();
        let mut last_acknowledged = None;
        for write in writes {
            let value = write.value.as_deref();
            match write.told() {
                Told::Acknowledged => {
                    allowed = vec![value];
                    last_acknowledged = value;
                }
                Told::Unknown => allowed.push(value),
                Told::Failed => {
                    if let Some(value) = value {
                        refused.insert(value);
                    }
                }
            }
        }
        if last_acknowledged.is_some() {
            report.acknowledged_checked += 1;
        }
        report.failed_checked += refused.len() as u64;
        let stored = stored.as_deref();
        if stored.is_some_and(|s| refused.contains(s)) {
            report.failed_but_present += 1;
            report.note(format!(
                "invoice {target}: holds patch {stored:?}, which was answered as failed"
            ));
        } else if !allowed.contains(&stored) {
            report.missing += 1;
            report.note(format!(
                "invoice {target}: holds {stored:?}, the last acknowledged patch is {last_acknowledged:?}"
            ));
        }
    }

    let mut acknowledged_numbers: BTreeMap<&str, &str> = BTreeMap::new();
    for (target, attempts) in &finalizes {
        let stored = invoices.get(target);
        for attempt in attempts {
            match attempt.told() {
                Told::Acknowledged => {
                    report.acknowledged_checked += 1;
                    let number = attempt.number.as_deref().unwrap_or_default();
                    if let Some(other) = acknowledged_numbers.insert(number, target) {
                        report.duplicates += 1;
                        report.note(format!(
                            "number {number} was acknowledged for {other} and {target}"
                        ));
                    }
                    if stored.and_then(|s| s.number.as_deref()) != Some(number) {
                        report.missing += 1;
                        report.note(format!(
                            "invoice {target}: finalize acknowledged {number}, store has {:?}",
                            stored.map(|s| s.number.clone())
                        ));
                    }
                }
                Told::Failed => {
                    report.failed_checked += 1;
                    let acknowledged_later = attempts.iter().any(|a| a.is_success());
                    if !acknowledged_later && stored.is_some_and(|s| s.number.is_some()) {
                        report.failed_but_present += 1;
                        report.note(format!(
                            "invoice {target}: finalize answered {:?} but it has a number",
                            attempt.status
                        ));
                    }
                }
                Told::Unknown => {}
            }
        }
    }

    let mut sequences: Vec<i64> = Vec::new();
    for invoice in &store.invoices {
        if let Some(number) = &invoice.number {
            match number
                .strip_prefix("INV-")
                .and_then(|n| n.parse::<i64>().ok())
            {
                Some(n) => sequences.push(n),
                None => {
                    report.number_problems += 1;
                    report.note(format!("invoice {}: malformed number {number}", invoice.id));
                }
            }
        }
    }
    sequences.sort_unstable();
    report.numbered = sequences.len() as u64;
    let mut expected = 1;
    for n in sequences {
        if n == expected {
            expected += 1;
        } else if n < expected {
            report.number_problems += 1;
            report.note(format!("number INV-{n:06} is given twice"));
        } else {
            report.number_problems += u64::try_from(n - expected).unwrap_or(1);
            report.note(format!(
                "numbers INV-{expected:06}..INV-{:06} are missing",
                n - 1
            ));
            expected = n + 1;
        }
    }
    report
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;

    fn told(op: Op, target: Option<&str>, value: &str, status: Option<u16>) -> Outcome {
        Outcome {
            op,
            seq: 0,
            target: target.map(str::to_owned),
            value: Some(value.to_owned()),
            due_ms: 0,
            sent_ms: 0,
            latency_ms: 1.0,
            corrected_ms: 1.0,
            status,
            code: None,
            failure: status.is_none().then_some(Failure::Timeout),
            created_id: None,
            number: None,
            replayed: false,
            attempt: 1,
        }
    }

    fn invoice(id: &str, tags: &[(&str, &str)], number: Option<&str>) -> StoredInvoice {
        StoredInvoice {
            id: id.to_owned(),
            number: number.map(str::to_owned),
            status: if number.is_some() { "open" } else { "draft" }.to_owned(),
            metadata: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            updated_ms: 0,
        }
    }

    fn ledger(outcomes: Vec<Outcome>) -> Ledger {
        let mut ledger = Ledger::default();
        for (seq, mut outcome) in outcomes.into_iter().enumerate() {
            outcome.sent_ms = seq as u64;
            ledger.add([outcome]);
        }
        ledger
    }

    #[test]
    fn the_last_acknowledged_patch_must_be_what_the_store_holds() {
        let writes = vec![
            told(Op::Patch, Some("a"), "w1", Some(200)),
            told(Op::Patch, Some("a"), "w2", Some(200)),
            told(Op::Patch, Some("a"), "w3", Some(503)),
        ];
        let good = StoreView {
            invoices: vec![invoice("a", &[("rw", "w2")], None)],
            ..StoreView::default()
        };
        assert!(check_store(&ledger(writes.clone()), &good).passed());
        let lost = StoreView {
            invoices: vec![invoice("a", &[("rw", "w1")], None)],
            ..StoreView::default()
        };
        assert_eq!(check_store(&ledger(writes.clone()), &lost).missing, 1);
        let failed_present = StoreView {
            invoices: vec![invoice("a", &[("rw", "w3")], None)],
            ..StoreView::default()
        };
        assert_eq!(
            check_store(&ledger(writes), &failed_present).failed_but_present,
            1
        );
    }

    #[test]
    fn a_patch_without_an_answer_may_or_may_not_be_there() {
        let writes = vec![
            told(Op::Patch, Some("a"), "w1", Some(200)),
            told(Op::Patch, Some("a"), "w2", None),
        ];
        for held in ["w1", "w2"] {
            let store = StoreView {
                invoices: vec![invoice("a", &[("rw", held)], None)],
                ..StoreView::default()
            };
            assert!(check_store(&ledger(writes.clone()), &store).passed());
        }
    }

    #[test]
    fn creates_must_be_there_once_if_acknowledged_and_absent_if_failed() {
        let mut created = told(Op::CreateInvoice, None, "c1", Some(201));
        created.created_id = Some("x".into());
        let refused = told(Op::CreateInvoice, None, "c2", Some(503));
        let outcomes = vec![created, refused];
        let good = StoreView {
            invoices: vec![invoice("x", &[("rk", "c1")], None)],
            ..StoreView::default()
        };
        assert!(check_store(&ledger(outcomes.clone()), &good).passed());
        let bad = StoreView {
            invoices: vec![
                invoice("y", &[("rk", "c1")], None),
                invoice("z", &[("rk", "c2")], None),
                invoice("w", &[("rk", "c2")], None),
            ],
            ..StoreView::default()
        };
        let report = check_store(&ledger(outcomes), &bad);
        assert_eq!(report.missing, 1);
        assert_eq!(report.failed_but_present, 1);
        assert_eq!(report.duplicates, 1);
    }

    #[test]
    fn a_key_retried_until_acknowledged_is_created_once() {
        let first = told(Op::IdempotentInvoice, None, "k1", Some(503));
        let mut second = told(Op::IdempotentInvoice, None, "k1", Some(201));
        second.created_id = Some("x".into());
        let outcomes = vec![first, second];
        let once = StoreView {
            invoices: vec![invoice("x", &[("ik", "k1")], None)],
            ..StoreView::default()
        };
        assert!(check_store(&ledger(outcomes.clone()), &once).passed());
        let twice = StoreView {
            invoices: vec![
                invoice("x", &[("ik", "k1")], None),
                invoice("y", &[("ik", "k1")], None),
            ],
            ..StoreView::default()
        };
        assert_eq!(check_store(&ledger(outcomes), &twice).duplicates, 1);
    }

    #[test]
    fn numbers_must_run_from_one_without_gaps_or_repeats() {
        let store = |numbers: &[&str]| StoreView {
            invoices: numbers
                .iter()
                .enumerate()
                .map(|(i, n)| invoice(&i.to_string(), &[], Some(n)))
                .collect(),
            ..StoreView::default()
        };
        let empty = Ledger::default();
        assert!(check_store(&empty, &store(&["INV-000002", "INV-000001"])).passed());
        assert_eq!(
            check_store(&empty, &store(&["INV-000001", "INV-000003"])).number_problems,
            1
        );
        assert_eq!(
            check_store(&empty, &store(&["INV-000001", "INV-000001"])).number_problems,
            1
        );
    }

    #[test]
    fn an_acknowledged_finalize_must_keep_its_number() {
        let mut finalized = told(Op::Finalize, Some("a"), "", Some(200));
        finalized.value = None;
        finalized.number = Some("INV-000001".into());
        let good = StoreView {
            invoices: vec![invoice("a", &[], Some("INV-000001"))],
            ..StoreView::default()
        };
        assert!(check_store(&ledger(vec![finalized.clone()]), &good).passed());
        let bad = StoreView {
            invoices: vec![invoice("a", &[], None)],
            ..StoreView::default()
        };
        assert_eq!(check_store(&ledger(vec![finalized]), &bad).missing, 1);
    }
}
