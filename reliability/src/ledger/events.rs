//! The event log against the records: no event without its change, no change without its
//! event. Each record's events in the log have the sequences 1..=its version, each exactly
//! once and none above it; an object the log has events of but the store no record of was
//! deleted, and its last event says so. Read straight from MongoDB, once the relay has
//! emptied every outbox ([`EventLog::undrained`] counts the records it has not yet).

use std::collections::BTreeMap;

use anyhow::Context;
use bson::{Bson, Document, doc};
use futures::TryStreamExt;

use super::Consistency;

/// A record as far as its events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub version: i64,
    /// A tombstone: deleted, its last event not relayed yet.
    pub deleted: bool,
    /// Its outbox still holds events the log may not have yet.
    pub pending: bool,
}

/// One event of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub id: String,
    pub object_id: String,
    pub sequence: i64,
    pub kind: String,
}

/// One service's records and event log, read at one moment.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    /// Which records: `invoices`, `customers`.
    pub records_of: String,
    pub records: Vec<Record>,
    pub events: Vec<Logged>,
}

impl EventLog {
    /// Records whose outbox the relay has not emptied yet.
    pub fn undrained(&self) -> usize {
        self.records.iter().filter(|r| r.pending).count()
    }
}

/// An integer however the server gives it back: the wire server may answer Int32, a
/// double or (after `$set`) a string.
fn int_of(document: &Document, key: &str) -> Option<i64> {
    match document.get(key)? {
        Bson::Int64(n) => Some(*n),
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Double(x) if x.fract() == 0.0 => Some(*x as i64),
        Bson::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A flag however the server gives it back: `$set` may turn a bool into an integer.
fn flag_of(document: &Document, key: &str) -> bool {
    match document.get(key) {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(n)) => *n != 0,
        Some(Bson::Int64(n)) => *n != 0,
        Some(Bson::String(s)) => s == "true",
        _ => false,
    }
}

fn hex_of(document: &Document, key: &str) -> String {
    match document.get(key) {
        Some(Bson::ObjectId(id)) => id.to_hex(),
        Some(Bson::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

async fn documents(
    client: &mongodb::Client,
    database: &str,
    collection: &str,
    projection: Document,
) -> anyhow::Result<Vec<Document>> {
    client
        .database(database)
        .collection::<Document>(collection)
        .find(doc! {})
        .projection(projection)
        .await
        .with_context(|| format!("cannot read {database}.{collection}"))?
        .try_collect()
        .await
        .with_context(|| format!("cannot read {database}.{collection}"))
}

/// The records of `database.collection`, tombstones included, without their events.
pub async fn read_records(
    client: &mongodb::Client,
    database: &str,
    collection: &str,
) -> anyhow::Result<Vec<Record>> {
    let projection = doc! {"version": 1, "deleted": 1, "pending": 1, "outbox": 1};
    let records = documents(client, database, collection, projection).await?;
    Ok(records
        .iter()
        .map(|d| {
            let deleted = flag_of(d, "deleted");
            let outbox = matches!(d.get("outbox"), Some(Bson::Array(a)) if !a.is_empty());
            Record {
                id: hex_of(d, "_id"),
                version: int_of(d, "version").unwrap_or(0),
                deleted,
                pending: deleted || outbox || flag_of(d, "pending"),
            }
        })
        .collect())
}

/// The records of `database.collection` and the `events` beside them.
pub async fn read_event_log(
    client: &mongodb::Client,
    database: &str,
    collection: &str,
) -> anyhow::Result<EventLog> {
    let records = read_records(client, database, collection).await?;
    let projection = doc! {"type": 1, "object_id": 1, "sequence": 1};
    let events = documents(client, database, "events", projection).await?;
    Ok(EventLog {
        records_of: collection.to_owned(),
        records,
        events: events
            .iter()
            .map(|d| Logged {
                id: hex_of(d, "_id"),
                object_id: hex_of(d, "object_id"),
                sequence: int_of(d, "sequence").unwrap_or(0),
                kind: d.get_str("type").unwrap_or_default().to_owned(),
            })
            .collect(),
    })
}

/// Compares `log`'s events with its records, and adds what it found to `report`.
pub fn check_event_log(log: &EventLog, report: &mut Consistency) {
    let mut by_object: BTreeMap<&str, Vec<&Logged>> = BTreeMap::new();
    for event in &log.events {
        by_object.entry(&event.object_id).or_default().push(event);
    }
    for events in by_object.values_mut() {
        events.sort_by_key(|e| e.sequence);
    }
    let what = &log.records_of;
    for record in &log.records {
        let events = by_object.remove(record.id.as_str()).unwrap_or_default();
        report.event_objects_checked += 1;
        report.events_checked += events.len() as u64;
        if record.pending {
            report.event_problems += 1;
            report.note(format!(
                "{what} {}: its outbox still holds events after the wait",
                record.id
            ));
            continue;
        }
        if let Some(problem) = sequence_problem(&events, record.version) {
            report.event_problems += 1;
            report.note(format!(
                "{what} {} at version {}: {problem}",
                record.id, record.version
            ));
        }
    }
    // What is left has no record: deleted, with the deletion as its last event.
    for (object_id, events) in &by_object {
        report.event_objects_checked += 1;
        report.events_checked += events.len() as u64;
        let last = events.last().map_or(0, |e| e.sequence);
        let problem = sequence_problem(events, last).or_else(|| {
            let deleted = events.last().is_some_and(|e| e.kind.ends_with(".deleted"));
            (!deleted).then(|| {
                format!(
                    "no record, and its last event (sequence {last}) is {}, not a deletion",
                    events.last().map_or("missing", |e| e.kind.as_str())
                )
            })
        });
        if let Some(problem) = problem {
            report.event_problems += 1;
            report.note(format!("{what} {object_id} (deleted): {problem}"));
        }
    }
}

/// What is wrong with `events` (sorted by sequence) as the events of versions 1..=`version`.
fn sequence_problem(events: &[&Logged], version: i64) -> Option<String> {
    let mut count: BTreeMap<i64, usize> = BTreeMap::new();
    for event in events {
        *count.entry(event.sequence).or_default() += 1;
    }
    let missing: Vec<i64> = (1..=version).filter(|s| !count.contains_key(s)).collect();
    let twice: Vec<i64> = count
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(s, _)| *s)
        .collect();
    let outside: Vec<i64> = count
        .keys()
        .copied()
        .filter(|s| *s < 1 || *s > version)
        .collect();
    if missing.is_empty() && twice.is_empty() && outside.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("no event for sequence {}", list(&missing)));
    }
    if !twice.is_empty() {
        parts.push(format!("sequence {} logged more than once", list(&twice)));
    }
    if !outside.is_empty() {
        parts.push(format!(
            "events beyond its version: sequence {}",
            list(&outside)
        ));
    }
    Some(parts.join("; "))
}

/// The first few of `numbers`, and how many more.
fn list(numbers: &[i64]) -> String {
    let shown: Vec<String> = numbers.iter().take(5).map(i64::to_string).collect();
    match numbers.len() {
        n if n > 5 => format!("{} (and {} more)", shown.join(", "), n - 5),
        _ => shown.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, version: i64) -> Record {
        Record {
            id: id.to_owned(),
            version,
            deleted: false,
            pending: false,
        }
    }

    fn event(object_id: &str, sequence: i64, kind: &str) -> Logged {
        Logged {
            id: format!("{object_id}-{sequence}-{kind}"),
            object_id: object_id.to_owned(),
            sequence,
            kind: kind.to_owned(),
        }
    }

    fn checked(records: Vec<Record>, events: Vec<Logged>) -> Consistency {
        let log = EventLog {
            records_of: "invoices".into(),
            records,
            events,
        };
        let mut report = Consistency::default();
        check_event_log(&log, &mut report);
        report
    }

    #[test]
    fn every_version_with_its_one_event_passes() {
        let report = checked(
            vec![record("a", 3), record("b", 1)],
            vec![
                event("a", 2, "invoice.updated"),
                event("a", 1, "invoice.created"),
                event("b", 1, "invoice.created"),
                event("a", 3, "invoice.finalized"),
                event("c", 1, "invoice.created"),
                event("c", 2, "invoice.deleted"),
            ],
        );
        assert_eq!(report.event_problems, 0, "{:?}", report.examples);
        assert_eq!(report.event_objects_checked, 3);
        assert_eq!(report.events_checked, 6);
    }

    #[test]
    fn a_gap_a_repeat_and_an_event_beyond_the_version_are_each_a_problem() {
        let report = checked(
            vec![record("gap", 3), record("twice", 2), record("beyond", 1)],
            vec![
                event("gap", 1, "invoice.created"),
                event("gap", 3, "invoice.updated"),
                event("twice", 1, "invoice.created"),
                event("twice", 2, "invoice.updated"),
                event("twice", 2, "invoice.updated"),
                event("beyond", 1, "invoice.created"),
                event("beyond", 2, "invoice.updated"),
            ],
        );
        assert_eq!(report.event_problems, 3, "{:?}", report.examples);
        assert!(report.examples[0].contains("no event for sequence 2"));
        assert!(report.examples[1].contains("more than once"));
        assert!(report.examples[2].contains("beyond its version"));
    }

    #[test]
    fn events_without_a_record_must_end_with_its_deletion() {
        let report = checked(
            vec![record("kept", 1)],
            vec![
                event("kept", 1, "customer.created"),
                event("gone", 1, "customer.created"),
                event("gone", 2, "customer.updated"),
            ],
        );
        assert_eq!(report.event_problems, 1);
        assert!(report.examples[0].contains("not a deletion"));
    }

    #[test]
    fn a_record_still_in_its_outbox_is_reported() {
        let mut pending = record("p", 2);
        pending.pending = true;
        let report = checked(vec![pending], vec![event("p", 1, "invoice.created")]);
        assert_eq!(report.event_problems, 1);
        assert!(report.examples[0].contains("outbox"));
    }

    #[test]
    fn numbers_are_read_whatever_their_width() {
        let document = doc! {"a": 3_i32, "b": 4_i64, "c": 5.0, "d": "6", "p": 1_i32};
        assert_eq!(int_of(&document, "a"), Some(3));
        assert_eq!(int_of(&document, "b"), Some(4));
        assert_eq!(int_of(&document, "c"), Some(5));
        assert_eq!(int_of(&document, "d"), Some(6));
        assert!(flag_of(&document, "p"));
        assert!(!flag_of(&document, "missing"));
    }
}
