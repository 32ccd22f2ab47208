//! The embedded store's database: one SQLite file on disk, used from blocking threads.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::store::StoreError;

/// A shared SQLite connection. SQLite serialises writers anyway; one connection behind a
/// mutex keeps transactions simple and is far from the bottleneck of a service.
#[derive(Clone)]
pub struct EmbeddedDb {
    connection: Arc<Mutex<Connection>>,
}

impl EmbeddedDb {
    /// Opens (creating if needed) `file` inside `dir` and runs `schema`.
    pub fn open(dir: &Path, file: &str, schema: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("DATA_DIR {} cannot be created: {e}", dir.display()))?;
        check_writable(dir)?;
        let path = dir.join(file);
        let connection = Connection::open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.busy_timeout(std::time::Duration::from_secs(2))?;
        connection.execute_batch(schema)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Answers when the database can serve.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    /// Runs `work` on a blocking thread with the connection.
    pub async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .map_err(|_| StoreError::Internal("embedded store lock poisoned".into()))?;
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("embedded store task failed: {e}")))?
    }
}

/// Fails with a sentence that names the user and the fix when this process cannot write in
/// `dir` (a root-owned bind mount, typically), instead of SQLite's "unable to open database file".
fn check_writable(dir: &Path) -> anyhow::Result<()> {
    let probe = dir.join(".write-check");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe);
    let Err(e) = written else {
        let _ = std::fs::remove_file(&probe);
        return Ok(());
    };
    // /proc/self belongs to the process's effective user: its ids without unsafe code.
    let (user, owner) = match std::fs::metadata("/proc/self") {
        Ok(me) => {
            use std::os::unix::fs::MetadataExt;
            (
                format!("uid {}, gid {}", me.uid(), me.gid()),
                format!("{}:{}", me.uid(), me.gid()),
            )
        }
        Err(_) => ("its user".to_owned(), "<uid>:<gid>".to_owned()),
    };
    anyhow::bail!(
        "DATA_DIR {} is not writable by this process ({user}): {e}. Give that user the \
         directory (for a bind mount: `chown -R {owner} <host directory>`), use a named volume, \
         or set DATA_DIR to a writable directory",
        dir.display()
    )
}

/// Encodes a value kept as JSON text in a row.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Decodes a value kept as JSON text in a row.
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Internal(e.to_string()))
}

/// A write transaction that takes the write lock at once. A deferred one that reads first
/// could not upgrade while another process writes (SQLITE_BUSY); this one waits its turn.
pub fn write_transaction(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, StoreError> {
    Ok(conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
}

impl EmbeddedDb {
    /// Adds `column` to `table` when a file made by an earlier schema lacks it.
    pub fn add_column_if_missing(
        &self,
        table: &str,
        column: &str,
        declaration: &str,
    ) -> anyhow::Result<()> {
        let connection = self
            .connection
            .lock()
            .map_err(|_| anyhow::anyhow!("embedded store lock poisoned"))?;
        let present: bool = connection.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |row| row.get(0),
        )?;
        if !present {
            connection.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
            ))?;
        }
        Ok(())
    }
}

/// A record kept as a JSON `body` with its `version` in a column of its own.
pub fn versioned<T>(body: &str, version: i64) -> Result<T, StoreError>
where
    T: serde::de::DeserializeOwned + crate::store::Versioned,
{
    let mut record: T = from_json(body)?;
    *record.version_mut() = version;
    Ok(record)
}

/// The record `sql` (selecting `body, version` by `?1`) finds for `id`.
pub fn read_versioned<T>(conn: &Connection, sql: &str, id: &str) -> Result<Option<T>, StoreError>
where
    T: serde::de::DeserializeOwned + crate::store::Versioned,
{
    use rusqlite::OptionalExtension;
    let row: Option<(String, i64)> = conn
        .query_row(sql, [id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(body, version)| versioned(&body, version))
        .transpose()
}

/// Every record the prepared `sql` (selecting `body, version`) finds with `params`.
pub fn query_versioned<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError>
where
    T: serde::de::DeserializeOwned + crate::store::Versioned,
{
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| Ok((row.get(0)?, row.get(1)?)))?;
    let mut records = Vec::new();
    for row in rows {
        let (body, version): (String, i64) = row?;
        records.push(versioned(&body, version)?);
    }
    Ok(records)
}

impl EmbeddedDb {
    /// Inserts `records` with `insert` in one transaction when `table` is empty; how many
    /// it inserted.
    pub async fn seed_if_empty<T>(
        &self,
        table: &'static str,
        records: &[T],
        insert: fn(&Connection, &T) -> Result<(), StoreError>,
    ) -> Result<usize, StoreError>
    where
        T: Clone + Send + 'static,
    {
        let records = records.to_vec();
        self.call(move |conn| {
            let tx = write_transaction(conn)?;
            let count: i64 =
                tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
            if count > 0 {
                return Ok(0);
            }
            for record in &records {
                insert(&tx, record)?;
            }
            tx.commit()?;
            Ok(records.len())
        })
        .await
    }
}

impl EmbeddedDb {
    /// Runs `sql` (a schema) at once, on the calling thread: for startup.
    pub fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        let connection = self
            .connection
            .lock()
            .map_err(|_| StoreError::Internal("embedded store lock poisoned".into()))?;
        Ok(connection.execute_batch(sql)?)
    }
}
