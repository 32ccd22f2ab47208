//! The event log, endpoints and deliveries in the service's SQLite file, and the outbox
//! table its record writes add to in their own transaction.

use async_trait::async_trait;
use bson::oid::ObjectId;
use rusqlite::{Connection, OptionalExtension, params};

use super::Event;
use super::store::{
    AttemptRecord, Delivery, DeliveryState, Endpoint, EventQuery, EventStore, Outbox, Pending,
    PendingToken,
};
use crate::sqlite::{EmbeddedDb, from_json, query_versioned, read_versioned, to_json};
use crate::store::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    body     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    object_id  TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_object_id ON events (object_id, id);
CREATE INDEX IF NOT EXISTS events_created_ms ON events (created_ms);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id      TEXT PRIMARY KEY,
    body    TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id          TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_ms     INTEGER NOT NULL,
    lease_ms    INTEGER NOT NULL,
    lease       TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_ms);
CREATE INDEX IF NOT EXISTS webhook_deliveries_object
    ON webhook_deliveries (endpoint_id, object_id, sequence);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id          TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE TABLE IF NOT EXISTS unprojected_events (
    id   TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
";

/// Adds `event` to the outbox, inside the transaction of the write that made it.
pub fn write_outbox(conn: &Connection, event: &Event) -> Result<(), StoreError> {
    conn.execute("INSERT INTO outbox (body) VALUES (?1)", [event.to_json()?])?;
    Ok(())
}

/// Runs `write` in a write transaction and, when it changed the record (`true`), adds
/// `event` to the outbox in the same transaction; `false` when it changed nothing.
pub fn write_with_event(
    conn: &mut Connection,
    event: &Event,
    write: impl FnOnce(&Connection) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    let tx = crate::sqlite::write_transaction(conn)?;
    if !write(&tx)? {
        return Ok(false);
    }
    write_outbox(&tx, event)?;
    tx.commit()?;
    Ok(true)
}

/// Makes the event tables in `db` (the file of the service's own records).
fn ensure_schema(db: &EmbeddedDb) -> Result<(), StoreError> {
    db.execute_batch(SCHEMA)
}

pub struct EmbeddedEventStore {
    db: EmbeddedDb,
}

impl EmbeddedEventStore {
    pub fn new(db: EmbeddedDb) -> Result<Self, StoreError> {
        ensure_schema(&db)?;
        Ok(Self { db })
    }
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, object_id, sequence, state, attempts, \
                                next_ms, lease_ms, lease, updated_ms";

fn delivery_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Delivery, String)> {
    let state: String = row.get(5)?;
    Ok((
        Delivery {
            id: row.get(0)?,
            endpoint_id: row.get(1)?,
            event_id: row.get(2)?,
            object_id: row.get(3)?,
            sequence: row.get(4)?,
            state: DeliveryState::Pending,
            attempts: row.get(6)?,
            next_attempt_ms: row.get(7)?,
            lease_until_ms: row.get(8)?,
            lease: row.get(9)?,
            updated_ms: row.get(10)?,
        },
        state,
    ))
}

fn with_state((mut delivery, state): (Delivery, String)) -> Result<Delivery, StoreError> {
    delivery.state = DeliveryState::parse(&state)?;
    Ok(delivery)
}

fn insert_delivery(conn: &Connection, d: &Delivery, verb: &str) -> Result<(), StoreError> {
    conn.execute(
        &format!(
            "{verb} INTO webhook_deliveries ({DELIVERY_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        params![
            d.id,
            d.endpoint_id,
            d.event_id,
            d.object_id,
            d.sequence,
            d.state.as_str(),
            d.attempts,
            d.next_attempt_ms,
            d.lease_until_ms,
            d.lease,
            d.updated_ms
        ],
    )?;
    Ok(())
}

fn bodies<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl Fn(&str) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| row.get::<_, String>(0))?;
    let mut found = Vec::new();
    for row in rows {
        found.push(decode(&row?)?);
    }
    Ok(found)
}

fn fetch_limit(fetch: usize) -> i64 {
    i64::try_from(fetch).unwrap_or(i64::MAX)
}

#[async_trait]
impl EventStore for EmbeddedEventStore {
    async fn append(&self, event: &Event) -> Result<(), StoreError> {
        let event = event.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO events (id, type, object_id, created_ms, body)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        event.id.to_hex(),
                        event.kind,
                        event.object_id.to_hex(),
                        event.created_at.timestamp_millis(),
                        event.to_json()?
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn event(&self, id: ObjectId) -> Result<Option<Event>, StoreError> {
        self.db
            .call(move |conn| {
                let body: Option<String> = conn
                    .query_row(
                        "SELECT body FROM events WHERE id = ?1",
                        [id.to_hex()],
                        |r| r.get(0),
                    )
                    .optional()?;
                body.as_deref().map(Event::from_json).transpose()
            })
            .await
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let (kind, object_id) = (query.kind.clone(), query.object_id.map(|id| id.to_hex()));
        let (after, limit) = (query.after.map(|a| a.to_hex()), fetch_limit(query.fetch));
        self.db
            .call(move |conn| {
                bodies(
                    conn,
                    "SELECT body FROM events
                     WHERE (?1 IS NULL OR type = ?1) AND (?2 IS NULL OR object_id = ?2)
                       AND (?3 IS NULL OR id > ?3)
                     ORDER BY id LIMIT ?4",
                    params![kind, object_id, after, limit],
                    Event::from_json,
                )
            })
            .await
    }

    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let endpoint = endpoint.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO webhook_endpoints (id, body, version) VALUES (?1, ?2, ?3)",
                    params![endpoint.id.to_hex(), to_json(&endpoint)?, endpoint.version],
                )?;
                Ok(())
            })
            .await
    }

    async fn endpoint(&self, id: ObjectId) -> Result<Option<Endpoint>, StoreError> {
        self.db
            .call(move |conn| {
                read_versioned(
                    conn,
                    "SELECT body, version FROM webhook_endpoints WHERE id = ?1",
                    &id.to_hex(),
                )
            })
            .await
    }

    async fn endpoints(
        &self,
        after: Option<ObjectId>,
        fetch: usize,
    ) -> Result<Vec<Endpoint>, StoreError> {
        let (after, limit) = (after.map(|a| a.to_hex()), fetch_limit(fetch));
        self.db
            .call(move |conn| {
                query_versioned(
                    conn,
                    "SELECT body, version FROM webhook_endpoints
                     WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2",
                    params![after, limit],
                )
            })
            .await
    }

    async fn replace_endpoint(&self, version: i64, next: &Endpoint) -> Result<bool, StoreError> {
        let next = next.clone();
        self.db
            .call(move |conn| {
                let changed = conn.execute(
                    "UPDATE webhook_endpoints SET body = ?3, version = ?4
                     WHERE id = ?1 AND version = ?2",
                    params![next.id.to_hex(), version, to_json(&next)?, next.version],
                )?;
                Ok(changed == 1)
            })
            .await
    }

    async fn delete_endpoint(&self, id: ObjectId) -> Result<bool, StoreError> {
        self.db
            .call(move |conn| {
                let deleted =
                    conn.execute("DELETE FROM webhook_endpoints WHERE id = ?1", [id.to_hex()])?;
                Ok(deleted == 1)
            })
            .await
    }

    async fn enqueue(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let delivery = delivery.clone();
        self.db
            .call(move |conn| insert_delivery(conn, &delivery, "INSERT OR IGNORE"))
            .await
    }

    async fn requeue(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let delivery = delivery.clone();
        self.db
            .call(move |conn| insert_delivery(conn, &delivery, "INSERT OR REPLACE"))
            .await
    }

    async fn claim(&self, now_ms: i64, lease_ms: i64) -> Result<Option<Delivery>, StoreError> {
        let lease = ObjectId::new().to_hex();
        self.db
            .call(move |conn| {
                let claimed = conn
                    .query_row(
                        &format!(
                            "UPDATE webhook_deliveries SET lease_ms = ?2, lease = ?3
                             WHERE id = (SELECT id FROM webhook_deliveries
                                         WHERE state = 'pending' AND next_ms <= ?1
                                           AND lease_ms <= ?1
                                         ORDER BY next_ms LIMIT 1)
                             RETURNING {DELIVERY_COLUMNS}"
                        ),
                        params![now_ms, now_ms + lease_ms, lease],
                        delivery_of,
                    )
                    .optional()?;
                claimed.map(with_state).transpose()
            })
            .await
    }

    async fn earlier_pending(&self, delivery: &Delivery) -> Result<Option<i64>, StoreError> {
        let d = delivery.clone();
        self.db
            .call(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT MIN(next_ms) FROM webhook_deliveries
                         WHERE endpoint_id = ?1 AND object_id = ?2 AND state = 'pending'
                           AND sequence < ?3",
                        params![d.endpoint_id, d.object_id, d.sequence],
                        |r| r.get::<_, Option<i64>>(0),
                    )
                    .optional()?
                    .flatten())
            })
            .await
    }

    async fn settle(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        let d = delivery.clone();
        self.db
            .call(move |conn| {
                let changed = conn.execute(
                    "UPDATE webhook_deliveries
                     SET state = ?3, attempts = ?4, next_ms = ?5, lease_ms = 0, updated_ms = ?6
                     WHERE id = ?1 AND lease = ?2",
                    params![
                        d.id,
                        d.lease,
                        d.state.as_str(),
                        d.attempts,
                        d.next_attempt_ms,
                        d.updated_ms
                    ],
                )?;
                Ok(changed == 1)
            })
            .await
    }

    async fn reopen_failed(
        &self,
        endpoint_id: ObjectId,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let endpoint_id = endpoint_id.to_hex();
        self.db
            .call(move |conn| {
                let reopened = conn.execute(
                    "UPDATE webhook_deliveries
                     SET state = 'pending', attempts = 0, next_ms = ?3, lease_ms = 0,
                         updated_ms = ?3
                     WHERE endpoint_id = ?1 AND state = 'failed' AND updated_ms >= ?2",
                    params![endpoint_id, since_ms, now_ms],
                )?;
                Ok(reopened as u64)
            })
            .await
    }

    async fn fail_pending(&self, endpoint_id: ObjectId, now_ms: i64) -> Result<u64, StoreError> {
        let endpoint_id = endpoint_id.to_hex();
        self.db
            .call(move |conn| {
                let failed = conn.execute(
                    "UPDATE webhook_deliveries SET state = 'failed', lease_ms = 0, updated_ms = ?2
                     WHERE endpoint_id = ?1 AND state = 'pending'",
                    params![endpoint_id, now_ms],
                )?;
                Ok(failed as u64)
            })
            .await
    }

    async fn record_attempt(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        let attempt = attempt.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO webhook_attempts (id, endpoint_id, at_ms, body)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        attempt.id.to_hex(),
                        attempt.endpoint_id.to_hex(),
                        attempt.attempted_at.timestamp_millis(),
                        to_json(&attempt)?
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn attempts(
        &self,
        endpoint_id: ObjectId,
        before: Option<ObjectId>,
        fetch: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let endpoint_id = endpoint_id.to_hex();
        let (before, limit) = (before.map(|b| b.to_hex()), fetch_limit(fetch));
        self.db
            .call(move |conn| {
                bodies(
                    conn,
                    "SELECT body FROM webhook_attempts
                     WHERE endpoint_id = ?1 AND (?2 IS NULL OR id < ?2)
                     ORDER BY id DESC LIMIT ?3",
                    params![endpoint_id, before, limit],
                    from_json,
                )
            })
            .await
    }

    async fn owe_projection(&self, events: &[Event]) -> Result<(), StoreError> {
        let rows = events
            .iter()
            .map(|event| Ok((event.id.to_hex(), event.to_json()?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.db
            .call(move |conn| {
                let tx = conn.transaction()?;
                for (id, body) in &rows {
                    tx.execute(
                        "INSERT OR IGNORE INTO unprojected_events (id, body) VALUES (?1, ?2)",
                        params![id, body],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn owed_projections(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        let limit = fetch_limit(limit);
        self.db
            .call(move |conn| {
                bodies(
                    conn,
                    "SELECT body FROM unprojected_events ORDER BY id LIMIT ?1",
                    params![limit],
                    Event::from_json,
                )
            })
            .await
    }

    async fn projected(&self, ids: &[ObjectId]) -> Result<(), StoreError> {
        let ids: Vec<String> = ids.iter().map(|id| id.to_hex()).collect();
        self.db
            .call(move |conn| {
                let tx = conn.transaction()?;
                for id in &ids {
                    tx.execute("DELETE FROM unprojected_events WHERE id = ?1", [id])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn purge(&self, before_ms: i64) -> Result<(), StoreError> {
        self.db
            .call(move |conn| {
                conn.execute("DELETE FROM events WHERE created_ms < ?1", [before_ms])?;
                conn.execute("DELETE FROM webhook_attempts WHERE at_ms < ?1", [before_ms])?;
                conn.execute(
                    "DELETE FROM webhook_deliveries WHERE state != 'pending' AND updated_ms < ?1",
                    [before_ms],
                )?;
                Ok(())
            })
            .await
    }
}

/// The outbox table of a service's SQLite file.
pub struct EmbeddedOutbox {
    db: EmbeddedDb,
}

impl EmbeddedOutbox {
    pub fn new(db: EmbeddedDb) -> Result<Self, StoreError> {
        ensure_schema(&db)?;
        Ok(Self { db })
    }
}

#[async_trait]
impl Outbox for EmbeddedOutbox {
    async fn pending(&self, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let limit = fetch_limit(limit);
        self.db
            .call(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT position, body FROM outbox ORDER BY position LIMIT ?1",
                )?;
                let rows = statement.query_map([limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })?;
                let mut found = Vec::new();
                for row in rows {
                    let (position, body) = row?;
                    found.push(Pending {
                        events: vec![Event::from_json(&body)?],
                        token: PendingToken::Rows(vec![position]),
                    });
                }
                Ok(found)
            })
            .await
    }

    async fn settle(&self, pending: &Pending) -> Result<(), StoreError> {
        let PendingToken::Rows(positions) = &pending.token else {
            return Err(StoreError::Internal("not an embedded outbox".into()));
        };
        let positions = positions.clone();
        self.db
            .call(move |conn| {
                for position in positions {
                    conn.execute("DELETE FROM outbox WHERE position = ?1", [position])?;
                }
                Ok(())
            })
            .await
    }
}
