//! The bare reference servers: for each kind of work the services do, the least an axum
//! handler can do for it, so that every service figure can also be read as a fraction of
//! what this machine can do at all.
//!
//! - `GET /static`: the bytes of an invoice cache hit, from memory.
//! - `GET /redis/{key}`: one Redis `GET` through a `ConnectionManager`; the value as it is.
//! - `GET /mongo/{id}`: one MongoDB `find_one` by `_id`; the document as JSON.
//! - `POST /mongo`: one MongoDB `insert_one` of the JSON object sent (a customer-like
//!   document) into a collection with the same indexes as the customers collection.
//! - `POST /mongo/invoice`: the store calls of an invoice creation: one `find_one` of the
//!   customer named by the body's `customer_id`, then one `insert_one` of the body with the
//!   customer's name and email copied in, into a collection indexed as the invoices one.
//!
//! At start it writes what the reads read: [`REDIS_KEYS`] keys holding the cache-hit bytes,
//! and [`MONGO_IDS`] customer documents. No middleware, no timeouts, no validation.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bson::oid::ObjectId;
use bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::net::TcpListener;

/// What `GET /invoices/{id}` of invoice-service answers on a cache hit for a sample
/// invoice, byte for byte (captured from the service).
pub const INVOICE_CACHE_HIT: &[u8] = include_bytes!("invoice-cache-hit.json");
/// How many Redis keys and MongoDB documents the references read, in turn.
pub const REDIS_KEYS: usize = 16;
pub const MONGO_IDS: usize = 16;
/// The database the references own.
pub const DEFAULT_DATABASE: &str = "bench_reference";

/// The `n`th key `GET /redis/{key}` reads (`0 <= n < REDIS_KEYS`).
pub fn redis_key(n: usize) -> String {
    format!("bench:reference:{n}")
}

/// The `n`th `_id` `GET /mongo/{id}` reads (`0 <= n < MONGO_IDS`), as 24 hex digits.
pub fn mongo_id(n: usize) -> String {
    format!("67f{n:021x}")
}

/// Where the reference server listens and what it talks to.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// `None`: the `/mongo` routes answer 503.
    pub mongodb_uri: Option<String>,
    pub mongodb_db: String,
    /// `None`: the `/redis` route answers 503.
    pub redis_url: Option<String>,
}

#[derive(Clone)]
struct AppState {
    redis: Option<ConnectionManager>,
    mongo: Option<MongoCollections>,
}

#[derive(Clone)]
struct MongoCollections {
    /// Read by `GET /mongo/{id}`.
    customers: Collection<Document>,
    /// Written by `POST /mongo`.
    new_customers: Collection<Document>,
    /// Written by `POST /mongo/invoice`.
    invoices: Collection<Document>,
}

/// A reference server bound to its port.
pub struct ReferenceServer {
    listener: TcpListener,
    router: Router,
}

impl ReferenceServer {
    /// Connects to Redis and MongoDB (when configured), writes the data the reads read,
    /// and binds.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let redis = match &settings.redis_url {
            Some(url) => Some(connect_redis(url).await?),
            None => None,
        };
        let mongo = match &settings.mongodb_uri {
            Some(uri) => Some(connect_mongo(uri, &settings.mongodb_db).await?),
            None => None,
        };
        let router = Router::new()
            .route("/health", get(health))
            .route("/static", get(get_static))
            .route("/redis/{key}", get(get_redis))
            .route("/mongo/{id}", get(get_mongo))
            .route("/mongo", axum::routing::post(post_mongo))
            .route("/mongo/invoice", axum::routing::post(post_mongo_invoice))
            .with_state(AppState { redis, mongo });
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", settings.host, settings.port))?;
        Ok(Self { listener, router })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}

async fn connect_redis(url: &str) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url).context("REDIS_URL is not a Redis URL")?;
    let mut connection = ConnectionManager::new(client)
        .await
        .context("cannot connect to Redis")?;
    for n in 0..REDIS_KEYS {
        let () = connection
            .set(redis_key(n), INVOICE_CACHE_HIT)
            .await
            .context("cannot write the reference keys to Redis")?;
    }
    Ok(connection)
}

async fn connect_mongo(uri: &str, database: &str) -> anyhow::Result<MongoCollections> {
    let client = mongodb::Client::with_uri_str(uri)
        .await
        .context("MONGODB_URI is not a MongoDB connection string")?;
    let database = client.database(database);
    database
        .drop()
        .await
        .context("cannot reset the reference database")?;
    let customers = database.collection::<Document>("customers");
    let new_customers = database.collection::<Document>("new_customers");
    // The indexes customer-service keeps on its customers: a unique one on the email, one
    // on the name.
    let indexes = [
        IndexModel::builder()
            .keys(doc! {"email": 1})
            .options(IndexOptions::builder().unique(true).build())
            .build(),
        IndexModel::builder().keys(doc! {"name": 1}).build(),
    ];
    new_customers
        .create_indexes(indexes)
        .await
        .context("cannot index the reference collection")?;
    let invoices = database.collection::<Document>("invoices");
    // The indexes invoice-service keeps on its invoices.
    let indexes = [
        IndexModel::builder().keys(doc! {"customer_id": 1}).build(),
        IndexModel::builder().keys(doc! {"status": 1}).build(),
        IndexModel::builder().keys(doc! {"number_seq": 1}).build(),
        IndexModel::builder()
            .keys(doc! {"number": 1})
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .partial_filter_expression(doc! {"number": {"$type": "string"}})
                    .build(),
            )
            .build(),
    ];
    invoices
        .create_indexes(indexes)
        .await
        .context("cannot index the reference invoices")?;
    let now = bson::DateTime::now();
    let documents: Vec<Document> = (0..MONGO_IDS)
        .map(|n| {
            let id = ObjectId::parse_str(mongo_id(n)).context("reference id")?;
            anyhow::Ok(doc! {
                "_id": id,
                "name": format!("Reference Customer {n}"),
                "email": format!("reference-{n}@example.com"),
                "phone": "+1 415 555 0100",
                "address": {
                    "line1": "500 Market Street",
                    "line2": "Suite 1200",
                    "city": "San Francisco",
                    "state": "CA",
                    "postal_code": "94105",
                    "country": "US",
                },
                "metadata": {"segment": "enterprise", "crm_id": format!("CRM-{n}")},
                "created_at": now,
                "updated_at": now,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    customers
        .insert_many(documents)
        .await
        .context("cannot write the reference documents")?;
    Ok(MongoCollections {
        customers,
        new_customers,
        invoices,
    })
}

async fn health() -> Response {
    json(StatusCode::OK, &br#"{"status":"ok"}"#[..])
}

async fn get_static() -> Response {
    json(StatusCode::OK, INVOICE_CACHE_HIT)
}

async fn get_redis(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    let Some(redis) = &state.redis else {
        return unavailable("no REDIS_URL");
    };
    let mut connection = redis.clone();
    match connection.get::<_, Option<Vec<u8>>>(key).await {
        Ok(Some(value)) => json(StatusCode::OK, value),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => unavailable(&error.to_string()),
    }
}

async fn get_mongo(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(mongo) = &state.mongo else {
        return unavailable("no MONGODB_URI");
    };
    let Ok(id) = ObjectId::parse_str(&id) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match mongo.customers.find_one(doc! {"_id": id}).await {
        Ok(Some(document)) => match serde_json::to_vec(&document) {
            Ok(body) => json(StatusCode::OK, body),
            Err(error) => unavailable(&error.to_string()),
        },
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => unavailable(&error.to_string()),
    }
}

async fn post_mongo(State(state): State<AppState>, body: Bytes) -> Response {
    let Some(mongo) = &state.mongo else {
        return unavailable("no MONGODB_URI");
    };
    let Ok(mut document) = serde_json::from_slice::<Document>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let now = bson::DateTime::now();
    document.insert("created_at", now);
    document.insert("updated_at", now);
    created(mongo.new_customers.insert_one(document).await)
}

async fn post_mongo_invoice(State(state): State<AppState>, body: Bytes) -> Response {
    let Some(mongo) = &state.mongo else {
        return unavailable("no MONGODB_URI");
    };
    let Ok(mut document) = serde_json::from_slice::<Document>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(customer_id) = document
        .get_str("customer_id")
        .ok()
        .and_then(|id| ObjectId::parse_str(id).ok())
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let customer = match mongo.customers.find_one(doc! {"_id": customer_id}).await {
        Ok(Some(customer)) => customer,
        Ok(None) => return StatusCode::UNPROCESSABLE_ENTITY.into_response(),
        Err(error) => return unavailable(&error.to_string()),
    };
    for field in ["name", "email"] {
        if let Some(value) = customer.get(field) {
            document.insert(format!("customer_{field}"), value.clone());
        }
    }
    let now = bson::DateTime::now();
    document.insert("status", "draft");
    document.insert("created_at", now);
    document.insert("updated_at", now);
    created(mongo.invoices.insert_one(document).await)
}

/// `201 {"id"}` for an insert, `409` for a duplicate key.
fn created(inserted: mongodb::error::Result<mongodb::results::InsertOneResult>) -> Response {
    match inserted {
        Ok(inserted) => {
            let id = inserted
                .inserted_id
                .as_object_id()
                .map(|id| id.to_hex())
                .unwrap_or_default();
            json(StatusCode::CREATED, format!(r#"{{"id":"{id}"}}"#))
        }
        Err(error) if service_kit::mongo::is_duplicate_key(&error) => {
            StatusCode::CONFLICT.into_response()
        }
        Err(error) => unavailable(&error.to_string()),
    }
}

fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn unavailable(cause: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, cause.to_owned()).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reference_ids_are_object_ids() {
        for n in 0..super::MONGO_IDS {
            assert!(bson::oid::ObjectId::parse_str(super::mongo_id(n)).is_ok());
        }
    }

    #[test]
    fn the_static_answer_is_an_invoice_cache_hit() {
        let value: serde_json::Value = serde_json::from_slice(super::INVOICE_CACHE_HIT).unwrap();
        assert_eq!(value["source"], "cache");
        assert!(value["invoice"]["id"].is_string());
    }
}
