//! Opening a service's backend: MongoDB when `MONGODB_URI` is set, else the embedded SQLite
//! store under `DATA_DIR`; the idempotency keys are kept beside the service's own data.

use std::path::Path;
use std::sync::Arc;

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
                    client.database(&settings.mongodb_db),
                    settings.mongodb_max_in_flight,
                );
                Self {
                    idempotency_keys: Arc::new(MongoIdempotencyStore::new(&database)),
                    store: (opener.mongo)(database),
                    name: "MongoDB",
                    mongo: Some(client),
                }
            }
            None => {
                tracing::info!(dir = %settings.data_dir.display(), "data in the embedded store");
                let (store, database) = (opener.embedded)(&settings.data_dir)?;
                Self {
                    idempotency_keys: Arc::new(EmbeddedIdempotencyStore::new(database).await?),
                    store,
                    name: "embedded store",
                    mongo: None,
                }
            }
        })
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
        let app = App::bind(service, &settings.host, settings.port, router).await?;
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
