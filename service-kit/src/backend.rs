//! Opening a service's backend: MongoDB when `MONGODB_URI` is set, else the embedded SQLite
//! store under `DATA_DIR`; the idempotency keys are kept beside the service's own data.

use std::path::Path;
use std::sync::Arc;

use crate::events::delivery::Sender;
use crate::events::relay::{self, Worker};
use crate::events::{
    EmbeddedEventStore, EmbeddedOutbox, EventStore, Events, MongoEventStore, MongoOutbox, Outbox,
    Projection,
};
use crate::http::Guards;
use crate::idempotency::{
    EmbeddedIdempotencyStore, Idempotency, IdempotencyStore, MongoIdempotencyStore,
};
use crate::rate_limit::KeyedLimiter;
use crate::settings::Common;
use crate::sqlite::EmbeddedDb;
use crate::{App, mongo};

/// A service's store, where its idempotency keys are kept, and the MongoDB client to close
/// at shutdown.
pub struct Backend<S: ?Sized> {
    pub store: Arc<S>,
    pub idempotency_keys: Arc<dyn IdempotencyStore>,
    /// The store's name as `/ready` and 503s give it.
    pub name: &'static str,
    mongo: Option<mongodb::Client>,
    database: Database,
    /// Stops the event loops, before the MongoDB client is closed.
    stop_events: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
}

/// Where the backend keeps its data, for the stores kept beside the service's own.
#[derive(Clone)]
enum Database {
    Mongo(mongo::Database),
    Embedded(EmbeddedDb),
}

/// How a service makes its store on either backend.
pub struct Opener<M, E> {
    /// The store on a MongoDB database.
    pub mongo: M,
    /// The store in a data directory, and its database for the tables kept beside it.
    pub embedded: E,
}

impl<S: ?Sized> Backend<S> {
    /// Opens the backend `settings` choose. Does not connect: the service starts while
    /// MongoDB is down.
    pub async fn open<M, E>(
        service: &'static str,
        settings: &Common,
        opener: Opener<M, E>,
    ) -> anyhow::Result<Self>
    where
        M: FnOnce(mongo::Database) -> Arc<S>,
        E: FnOnce(&Path) -> anyhow::Result<(Arc<S>, EmbeddedDb)>,
    {
        Ok(match &settings.mongodb_uri {
            Some(uri) => {
                let client = mongo::client(uri, service).await?;
                tracing::info!(db = %settings.mongodb_db, "data in MongoDB");
                let database = mongo::Database::new(
                    client.driver.database(&settings.mongodb_db),
                    settings.mongodb_max_in_flight,
                    client.pool_size,
                );
                Self {
                    idempotency_keys: Arc::new(MongoIdempotencyStore::new(&database)),
                    store: (opener.mongo)(database.clone()),
                    name: "MongoDB",
                    mongo: Some(client.driver),
                    database: Database::Mongo(database),
                    stop_events: None,
                }
            }
            None => {
                tracing::info!(dir = %settings.data_dir.display(), "data in the embedded store");
                let (store, database) = (opener.embedded)(&settings.data_dir)?;
                Self {
                    idempotency_keys: Arc::new(
                        EmbeddedIdempotencyStore::new(database.clone()).await?,
                    ),
                    store,
                    name: "embedded store",
                    mongo: None,
                    database: Database::Embedded(database),
                    stop_events: None,
                }
            }
        })
    }

    /// Starts relaying the events the service's writes leave in `records` (its collection
    /// of records), feeding them to `projection` and delivering them; the use cases of its
    /// events and webhooks, which emit `types`. The loops stop when the service does.
    pub fn events(
        &mut self,
        settings: &Common,
        records: &str,
        projection: Option<Arc<dyn Projection>>,
        types: &'static [&'static str],
    ) -> anyhow::Result<Events> {
        let (store, outbox): (Arc<dyn EventStore>, Arc<dyn Outbox>) = match &self.database {
            Database::Mongo(database) => (
                Arc::new(MongoEventStore::new(database)),
                Arc::new(MongoOutbox::new(database, records)),
            ),
            Database::Embedded(database) => (
                Arc::new(EmbeddedEventStore::new(database.clone())?),
                Arc::new(EmbeddedOutbox::new(database.clone())?),
            ),
        };
        let worker = Arc::new(Worker {
            store: store.clone(),
            outbox,
            sender: Sender::new(
                settings.events.url_policy(),
                settings.events.attempt_timeout,
            )?,
            settings: settings.events.clone(),
            projection,
            written: tokio::sync::Notify::new(),
            owed: tokio::sync::Notify::new(),
        });
        self.stop_events = Some(Box::pin(relay::start(worker.clone())));
        Ok(Events::new(store, worker, types, self.name))
    }

    /// The guards of business routes: API keys, rate limit, and idempotent POSTs whose keys
    /// this backend keeps.
    pub fn guards(&self, settings: &Common) -> Guards {
        Guards {
            api_keys: settings.api_keys.clone(),
            rate_limit: KeyedLimiter::new(settings.rate_limit),
            idempotency: Idempotency {
                store: self.idempotency_keys.clone(),
                dependency: self.name,
            },
        }
    }

    /// Binds `router` on the configured address; the MongoDB client is closed once the
    /// server has drained.
    pub async fn bind(
        self,
        service: &'static str,
        settings: &Common,
        router: axum::Router,
    ) -> anyhow::Result<App> {
        let mut app = App::bind(service, &settings.host, settings.port, router).await?;
        if let Some(stop) = self.stop_events {
            app = app.on_stop(stop);
        }
        Ok(match self.mongo {
            Some(client) => app.on_stop(mongo::shut_down(client)),
            None => app,
        })
    }
}

/// Opens the backend of a store trait from its two implementations, given as
/// `MongoStore | EmbeddedStore => dyn StoreTrait`: `MongoStore::new(database)` and
/// `EmbeddedStore::open(dir)` with its `database()` (a macro because each must become the
/// trait object, which no generic function can name).
#[macro_export]
macro_rules! open_backend {
    ($service:expr, $settings:expr, $mongo:ty | $embedded:ty => $store:ty) => {
        $crate::Backend::<$store>::open(
            $service,
            $settings,
            $crate::Opener {
                mongo: |database| {
                    ::std::sync::Arc::new(<$mongo>::new(database)) as ::std::sync::Arc<$store>
                },
                embedded: |dir: &::std::path::Path| {
                    let store = <$embedded>::open(dir)?;
                    let database = store.database();
                    Ok((
                        ::std::sync::Arc::new(store) as ::std::sync::Arc<$store>,
                        database,
                    ))
                },
            },
        )
        .await
    };
}
