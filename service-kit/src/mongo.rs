//! A MongoDB client that fails fast: short server selection and connect timeouts, and every
//! call bounded, so a server that is down turns into a 503 within about two seconds.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;
use tokio::sync::Semaphore;

use crate::bulkhead::Bulkhead;
use crate::events::Event;
use crate::events::mongo::{replace_with_event, with_event};
use crate::store::StoreError;

/// The bound on every MongoDB call.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(2000);

/// The connections a client opens to the server unless `MONGODB_URI` says `maxPoolSize`.
pub const POOL_SIZE: u32 = 10;

/// A client, and how many connections its pool opens to the server.
pub struct Client {
    pub driver: mongodb::Client,
    pub pool_size: usize,
}

/// Builds a client without connecting: the service starts while MongoDB is down.
pub async fn client(uri: &str, app_name: &str) -> anyhow::Result<Client> {
    let mut options = ClientOptions::parse(uri).await.map_err(|e| {
        anyhow::anyhow!("MONGODB_URI is not a valid MongoDB connection string: {e}")
    })?;
    options
        .server_selection_timeout
        .get_or_insert(Duration::from_millis(1500));
    options
        .connect_timeout
        .get_or_insert(Duration::from_millis(1500));
    // The driver drops the calls queued for a connection only when its monitor finds the
    // server gone: checked every second, a frozen server is found within about 2.5 s.
    options
        .heartbeat_freq
        .get_or_insert(Duration::from_millis(1000));
    options.app_name.get_or_insert_with(|| app_name.to_owned());
    let pool_size = match *options.max_pool_size.get_or_insert(POOL_SIZE) {
        0 => anyhow::bail!("MONGODB_URI: maxPoolSize must be at least 1"),
        n => usize::try_from(n).unwrap_or(usize::MAX),
    };
    Ok(Client {
        driver: mongodb::Client::with_options(options)?,
        pool_size,
    })
}

/// Closes `client` before the process exits (an [`crate::App::on_stop`] hook): ends its
/// sessions and stops its background workers. Left to the drop of its last handle, that
/// work is spawned as the runtime shuts down, and the teardown can cut it off half-way,
/// which panics inside the driver.
pub async fn shut_down(client: mongodb::Client) {
    if tokio::time::timeout(CALL_TIMEOUT, client.shutdown().immediate(true))
        .await
        .is_err()
    {
        tracing::warn!("MongoDB client not shut down within {CALL_TIMEOUT:?}");
    }
}

/// The default bound on the MongoDB calls in flight from one service (`MONGODB_MAX_IN_FLIGHT`).
/// Well above what a healthy server has outstanding (a call takes about a millisecond), and
/// reached within a second of load when it stops answering: past it, calls fail at once
/// instead of waiting out [`CALL_TIMEOUT`].
pub const MAX_IN_FLIGHT: usize = 256;

/// A service's database, and the bounds on its calls shared by every collection the
/// service keeps there.
#[derive(Clone)]
pub struct Database {
    database: mongodb::Database,
    in_flight: Arc<Bulkhead>,
    /// One turn per pooled connection: a call waits for its turn here rather than in the
    /// driver, whose wait queue keeps the requests of calls that gave up and serves them one
    /// per pool event, so after a freeze new calls would wait behind every call that timed out.
    /// The driver keeps one pool per server it talks to: through several mongos this allows
    /// one pool's worth of calls in all, so raise `maxPoolSize` with the number of routers.
    turns: Arc<Semaphore>,
}

impl Database {
    pub fn new(database: mongodb::Database, max_in_flight: usize, pool_size: usize) -> Self {
        Self {
            database,
            in_flight: Arc::new(Bulkhead::new("MongoDB", max_in_flight)),
            turns: Arc::new(Semaphore::new(pool_size.max(1))),
        }
    }

    pub fn collection<T: Send + Sync>(&self, name: &str) -> mongodb::Collection<T> {
        self.database.collection(name)
    }

    /// [`bounded`], refused at once (load shedding) when the bound is reached.
    pub async fn call<T>(
        &self,
        call: impl IntoFuture<Output = mongodb::error::Result<T>>,
    ) -> Result<T, StoreError> {
        let Some(_admitted) = self.in_flight.try_enter() else {
            return Err(StoreError::Unavailable(
                "MongoDB has as many calls in flight as this service allows".into(),
            ));
        };
        self.in_turn(call).await
    }

    /// Answers when MongoDB does; never shed, so that `/ready` tells the truth.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.in_turn(self.database.run_command(bson::doc! {"ping": 1}))
            .await?;
        Ok(())
    }

    /// [`bounded`], the wait for a turn included; never shed.
    pub async fn in_turn<T>(
        &self,
        call: impl IntoFuture<Output = mongodb::error::Result<T>>,
    ) -> Result<T, StoreError> {
        bounded(async {
            // Acquiring fails only once the semaphore is closed, which it never is.
            let _turn = self.turns.acquire().await.ok();
            call.into_future().await
        })
        .await
    }
}

/// Runs one MongoDB call within [`CALL_TIMEOUT`], classifying its failure.
pub async fn bounded<T>(
    call: impl IntoFuture<Output = mongodb::error::Result<T>>,
) -> Result<T, StoreError> {
    let started = std::time::Instant::now();
    let result = match tokio::time::timeout(CALL_TIMEOUT, call.into_future()).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(classify(error)),
        Err(_) => Err(StoreError::Unavailable("MongoDB timed out".into())),
    };
    static CALL_DURATION: std::sync::LazyLock<metrics::Histogram> =
        std::sync::LazyLock::new(|| metrics::histogram!("mongodb_call_duration_seconds"));
    CALL_DURATION.record(started.elapsed().as_secs_f64());
    if let Err(error) = &result {
        let kind = match error {
            StoreError::Duplicate => "duplicate",
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Internal(_) => "internal",
        };
        metrics::counter!("mongodb_errors_total", "kind" => kind).increment(1);
    }
    result
}

/// Duplicate keys are conflicts; malformed documents are our bug; the rest means the
/// database cannot be reached or cannot answer now.
pub fn classify(error: mongodb::error::Error) -> StoreError {
    if is_duplicate_key(&error) {
        return StoreError::Duplicate;
    }
    match *error.kind {
        ErrorKind::BsonDeserialization(_)
        | ErrorKind::BsonSerialization(_)
        | ErrorKind::InvalidArgument { .. } => StoreError::Internal(error.to_string()),
        _ => StoreError::Unavailable(error.to_string()),
    }
}

/// Whether MongoDB refused a write on a unique index (code 11000).
pub fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    const DUPLICATE_KEY: i32 = 11000;
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// `#[serde(with = "service_kit::mongo::opt_datetime")]`: an optional time as a BSON date
/// (or null).
pub mod opt_datetime {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.map(bson::DateTime::from_chrono).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<bson::DateTime>::deserialize(deserializer)?.map(bson::DateTime::to_chrono))
    }
}

/// Inserts `documents` when `collection` is empty, skipping any a concurrent seeder already
/// inserted; how many this call inserted.
pub async fn insert_all_if_empty<T>(
    database: &Database,
    collection: &mongodb::Collection<T>,
    documents: Vec<T>,
) -> Result<usize, StoreError>
where
    T: serde::Serialize + Send + Sync,
{
    if database.call(collection.estimated_document_count()).await? > 0 {
        return Ok(0);
    }
    let mut inserted = 0;
    for document in documents {
        match database.call(collection.insert_one(document)).await {
            Ok(_) => inserted += 1,
            Err(StoreError::Duplicate) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(inserted)
}

/// A collection's indexes, created on first use and retried on later calls while MongoDB
/// is away (the service starts before its database).
pub struct Indexes {
    collection: mongodb::Collection<bson::Document>,
    models: Vec<mongodb::IndexModel>,
    ready: std::sync::atomic::AtomicBool,
}

impl Indexes {
    pub fn new<T: Send + Sync>(
        collection: &mongodb::Collection<T>,
        models: Vec<mongodb::IndexModel>,
    ) -> Self {
        Self {
            collection: collection.clone_with_type(),
            models,
            ready: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub async fn ensure(&self, database: &Database) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        database
            .in_turn(self.collection.create_indexes(self.models.clone()))
            .await?;
        self.ready.store(true, Ordering::Release);
        tracing::info!(collection = self.collection.name(), "indexes ready");
        Ok(())
    }
}

/// An index on `keys` called `name`.
pub fn index(keys: bson::Document, name: &str) -> mongodb::IndexModel {
    let options = mongodb::options::IndexOptions::builder()
        .name(name.to_owned())
        .build();
    mongodb::IndexModel::builder()
        .keys(keys)
        .options(options)
        .build()
}

/// A unique index on `keys` called `name`, over the documents `partial` selects (all when
/// `None`).
pub fn unique_index(
    keys: bson::Document,
    name: &str,
    partial: Option<bson::Document>,
) -> mongodb::IndexModel {
    let options = mongodb::options::IndexOptions::builder()
        .name(name.to_owned())
        .unique(true)
        .partial_filter_expression(partial)
        .build();
    mongodb::IndexModel::builder()
        .keys(keys)
        .options(options)
        .build()
}

/// One page of a list: up to `limit` documents matching `filter` with ids after `after`,
/// in id order.
pub async fn find_page<T>(
    database: &Database,
    collection: &mongodb::Collection<T>,
    mut filter: bson::Document,
    after: Option<bson::oid::ObjectId>,
    limit: usize,
) -> Result<Vec<T>, StoreError>
where
    T: serde::de::DeserializeOwned + Send + Sync,
{
    use futures::TryStreamExt;
    if let Some(after) = after {
        filter.insert("_id", bson::doc! {"$gt": after});
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    database
        .call(async {
            collection
                .find(filter)
                .sort(bson::doc! {"_id": 1})
                .limit(limit)
                .await?
                .try_collect()
                .await
        })
        .await
}

/// One collection of a service's documents, with the calls every store makes on it: each
/// bounded in time and in number, and the indexes made before the first write.
pub struct Documents<D: Send + Sync> {
    database: Database,
    collection: mongodb::Collection<D>,
    /// The same collection as raw documents, for the outbox fields beside `D`'s.
    raw: mongodb::Collection<bson::Document>,
    indexes: Indexes,
}

/// Selects the live records of a filter: not the tombstones deleted ones leave until their
/// last event is relayed.
fn live(mut filter: bson::Document) -> bson::Document {
    filter.insert("deleted", bson::doc! {"$ne": true});
    filter
}

fn to_document<D: serde::Serialize>(document: &D) -> Result<bson::Document, StoreError> {
    bson::to_document(document).map_err(|e| StoreError::Internal(e.to_string()))
}

impl<D> Documents<D>
where
    D: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + Unpin,
{
    pub fn new(database: &Database, name: &str, mut indexes: Vec<mongodb::IndexModel>) -> Self {
        // The relay looks for the records whose outbox holds events.
        indexes.push(index(bson::doc! {"pending": 1}, "pending"));
        let collection = database.collection(name);
        Self {
            indexes: Indexes::new(&collection, indexes),
            database: database.clone(),
            raw: collection.clone_with_type(),
            collection,
        }
    }

    /// Answers when MongoDB does and the indexes are there.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.database.ping().await?;
        self.indexes.ensure(&self.database).await
    }

    /// Inserts a new record with its creation's `event` in its outbox.
    pub async fn insert(&self, document: &D, event: &Event) -> Result<(), StoreError> {
        self.indexes.ensure(&self.database).await?;
        let document = with_event(to_document(document)?, event)?;
        self.database.call(self.raw.insert_one(document)).await?;
        Ok(())
    }

    pub async fn find(&self, id: bson::oid::ObjectId) -> Result<Option<D>, StoreError> {
        self.find_one(bson::doc! {"_id": id}).await
    }

    pub async fn find_one(&self, filter: bson::Document) -> Result<Option<D>, StoreError> {
        self.database
            .call(self.collection.find_one(live(filter)))
            .await
    }

    /// The document `filter` selects, first by `sort`.
    pub async fn first(
        &self,
        filter: bson::Document,
        sort: bson::Document,
    ) -> Result<Option<D>, StoreError> {
        self.database
            .call(self.collection.find_one(live(filter)).sort(sort))
            .await
    }

    /// Replaces the document `unchanged` selects, with `event` added to its outbox; `false`
    /// when it selects none. A whole document keeps every field's BSON type and lets unique
    /// indexes refuse the write.
    pub async fn replace(
        &self,
        unchanged: bson::Document,
        next: &D,
        event: &Event,
    ) -> Result<bool, StoreError> {
        self.indexes.ensure(&self.database).await?;
        replace_with_event(
            &self.database,
            &self.raw,
            unchanged,
            to_document(next)?,
            event,
        )
        .await
    }

    /// Deletes the record `unchanged` selects, leaving a tombstone at `version` with
    /// `fields` (values that free its unique keys) until `event` is relayed; `false` when
    /// it selects none.
    pub async fn delete(
        &self,
        unchanged: bson::Document,
        version: i64,
        fields: bson::Document,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let mut tombstone = fields;
        if let Some(id) = unchanged.get("_id") {
            tombstone.insert("_id", id.clone());
        }
        tombstone.insert("version", version);
        tombstone.insert("deleted", true);
        replace_with_event(&self.database, &self.raw, unchanged, tombstone, event).await
    }

    /// See [`find_page`].
    pub async fn page(
        &self,
        filter: bson::Document,
        after: Option<bson::oid::ObjectId>,
        limit: usize,
    ) -> Result<Vec<D>, StoreError> {
        find_page(&self.database, &self.collection, live(filter), after, limit).await
    }

    /// See [`insert_all_if_empty`]; each document with its creation's event.
    pub async fn seed(&self, documents: Vec<(D, Event)>) -> Result<usize, StoreError> {
        self.indexes.ensure(&self.database).await?;
        let documents = documents
            .iter()
            .map(|(document, event)| with_event(to_document(document)?, event))
            .collect::<Result<Vec<_>, _>>()?;
        insert_all_if_empty(&self.database, &self.raw, documents).await
    }
}
