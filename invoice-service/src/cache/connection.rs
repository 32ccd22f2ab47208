//! The one connection the Redis cache speaks through: a single server or a Redis Cluster,
//! named by `REDIS_URL`.
//!
//! Both kinds connect lazily (the service starts while Redis is down), reconnect by themselves
//! and bound each call to [`COMMAND_TIMEOUT`]; the cache above them cannot tell them apart
//! except by [`Connection::is_cluster`].

use std::ops::RangeInclusive;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value, from_redis_value_ref};

use super::redis::COMMAND_TIMEOUT;

/// The scheme of a cluster's `REDIS_URL`: `redis+cluster://host1:port1,host2:port2,...`.
const CLUSTER_SCHEME: &str = "redis+cluster://";

/// What `REDIS_URL` names. Its `Debug` shows no URL: they may hold a password.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// One server, as the redis crate reads its URL (`redis://`, `redis+unix://`, ...).
    Server(String),
    /// A cluster's seed nodes, each as a `redis://` URL; the client learns the rest.
    Cluster(Vec<String>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Server(_) => f.write_str("Target::Server(..)"),
            Self::Cluster(nodes) => write!(f, "Target::Cluster({} nodes)", nodes.len()),
        }
    }
}

/// Reads `REDIS_URL`: `redis+cluster://[user:password@]host:port,host:port,...` is a cluster
/// (the credentials apply to every node), anything else one server.
pub fn parse_url(url: &str) -> anyhow::Result<Target> {
    let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) else {
        url.into_connection_info().map_err(|e| {
            let hint = if url.contains(',') {
                format!(" (a Redis Cluster is {CLUSTER_SCHEME}host:port,host:port,...)")
            } else {
                String::new()
            };
            anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {e}{hint}")
        })?;
        return Ok(Target::Server(url.to_owned()));
    };
    let invalid = |why: String| {
        anyhow::anyhow!(
            "REDIS_URL is not a valid Redis Cluster URL \
             ({CLUSTER_SCHEME}host:port,host:port,...): {why}"
        )
    };
    // The last `@` ends the credentials: a host holds none.
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (Some(credentials), hosts),
        None => (None, rest),
    };
    if credentials.is_some_and(|c| c.contains(',')) {
        return Err(invalid(
            "the credentials go once, before the first node, and apply to all".into(),
        ));
    }
    if hosts.contains(['/', '?', '#']) {
        return Err(invalid("a cluster has no database, path or options".into()));
    }
    let mut nodes = Vec::new();
    for node in hosts.split(',') {
        if node.is_empty() {
            return Err(invalid("a node address is empty".into()));
        }
        let Some((host, port)) = node.rsplit_once(':') else {
            return Err(invalid(format!("`{node}` is not host:port")));
        };
        if host.is_empty() {
            return Err(invalid(format!("`{node}` has no host")));
        }
        if !port.parse::<u16>().is_ok_and(|port| port > 0) {
            return Err(invalid(format!("`{node}` has no valid port")));
        }
        let node_url = match credentials {
            Some(credentials) => format!("redis://{credentials}@{node}"),
            None => format!("redis://{node}"),
        };
        node_url
            .as_str()
            .into_connection_info()
            .map_err(|e| invalid(format!("`{node}`: {e}")))?;
        nodes.push(node_url);
    }
    Ok(Target::Cluster(nodes))
}

/// A single server's connection manager or a cluster's connection; clones share it.
#[derive(Clone)]
pub enum Connection {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    /// Connects lazily to what `url` names. Only a malformed URL is an error.
    pub fn open(url: &str) -> anyhow::Result<Self> {
        match parse_url(url)? {
            Target::Server(url) => {
                let client = redis::Client::open(url)
                    .map_err(|e| anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {e}"))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(COMMAND_TIMEOUT))
                    .set_response_timeout(Some(COMMAND_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                Ok(Self::Server(ConnectionManager::new_lazy_with_config(
                    client, config,
                )?))
            }
            Target::Cluster(nodes) => {
                // Every attempt and the whole call (redirects and reconnects included) are
                // bounded by COMMAND_TIMEOUT; the retries cover a MOVED or ASK after a
                // reshard and a node that came back, and wait milliseconds, not the crate's
                // default seconds.
                let client = ClusterClientBuilder::new(nodes)
                    .connection_timeout(COMMAND_TIMEOUT)
                    .response_timeout(COMMAND_TIMEOUT)
                    .retries(2)
                    .min_retry_wait(5)
                    .max_retry_wait(50)
                    .build()
                    .map_err(|e| {
                        anyhow::anyhow!("REDIS_URL is not a valid Redis Cluster URL: {e}")
                    })?;
                // Pending: the nodes are dialled in the background, and a call before any
                // answers fails (the cache is bypassed) and dials them again.
                let config = ClusterConfig::new()
                    .set_connection_timeout(COMMAND_TIMEOUT)
                    .set_response_timeout(COMMAND_TIMEOUT);
                Ok(Self::Cluster(
                    client.get_pending_async_connection_with_config(config),
                ))
            }
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// A cluster's slot ranges, each with the `host:port` of the master that serves it, as
    /// one node answers `CLUSTER SLOTS`.
    pub async fn slot_ranges(&mut self) -> redis::RedisResult<Vec<SlotRange>> {
        let reply: Vec<Vec<Value>> = redis::cmd("CLUSTER").arg("SLOTS").query_async(self).await?;
        Ok(parse_slot_ranges(&reply))
    }
}

/// Slots `first..=last` and the master that serves them.
pub type SlotRange = (RangeInclusive<u16>, String);

/// `CLUSTER SLOTS`: `[first, last, [master host, port, id, ...], replicas...]` per range;
/// an entry of another shape is left out.
fn parse_slot_ranges(reply: &[Vec<Value>]) -> Vec<SlotRange> {
    reply
        .iter()
        .filter_map(|entry| {
            let first: u16 = from_redis_value_ref(entry.first()?).ok()?;
            let last: u16 = from_redis_value_ref(entry.get(1)?).ok()?;
            let master: Vec<Value> = from_redis_value_ref(entry.get(2)?).ok()?;
            let host: String = from_redis_value_ref(master.first()?).ok()?;
            let port: u16 = from_redis_value_ref(master.get(1)?).ok()?;
            Some((first..=last, format!("{host}:{port}")))
        })
        .collect()
}

/// The cluster connection routes each command by its first key's hash slot (EVALSHA and
/// EVAL by their first key), keyless ones such as PING to every master.
impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::{Target, parse_slot_ranges, parse_url};

    #[test]
    fn cluster_slots_name_each_ranges_master() {
        let node = |host: &str, port: i64| {
            Value::Array(vec![
                Value::BulkString(host.into()),
                Value::Int(port),
                Value::BulkString(b"0123abcd".to_vec()),
                Value::Array(vec![]),
            ])
        };
        let reply = vec![
            vec![Value::Int(0), Value::Int(5460), node("10.0.0.1", 7000)],
            vec![
                Value::Int(5461),
                Value::Int(10922),
                node("10.0.0.2", 7001),
                node("10.0.0.4", 7003),
            ],
            vec![Value::Int(10923), Value::Int(16383), node("10.0.0.1", 7000)],
            vec![Value::Int(1)],
        ];
        assert_eq!(
            parse_slot_ranges(&reply),
            vec![
                (0..=5460, "10.0.0.1:7000".to_owned()),
                (5461..=10922, "10.0.0.2:7001".to_owned()),
                (10923..=16383, "10.0.0.1:7000".to_owned()),
            ]
        );
    }

    #[test]
    fn a_plain_url_is_one_server() {
        assert_eq!(
            parse_url("redis://127.0.0.1:6379/2").unwrap(),
            Target::Server("redis://127.0.0.1:6379/2".into())
        );
    }

    #[test]
    fn a_cluster_url_lists_its_seed_nodes() {
        assert_eq!(
            parse_url("redis+cluster://10.0.0.1:7000,redis-b:7001,[::1]:7002").unwrap(),
            Target::Cluster(vec![
                "redis://10.0.0.1:7000".into(),
                "redis://redis-b:7001".into(),
                "redis://[::1]:7002".into(),
            ])
        );
        assert_eq!(
            parse_url("redis+cluster://h:7000").unwrap(),
            Target::Cluster(vec!["redis://h:7000".into()])
        );
    }

    #[test]
    fn cluster_credentials_apply_to_every_node() {
        assert_eq!(
            parse_url("redis+cluster://app:s3cret@a:7000,b:7001").unwrap(),
            Target::Cluster(vec![
                "redis://app:s3cret@a:7000".into(),
                "redis://app:s3cret@b:7001".into(),
            ])
        );
    }

    #[test]
    fn a_target_shows_no_password_in_debug() {
        let target = parse_url("redis+cluster://app:s3cret@a:7000,b:7001").unwrap();
        assert!(!format!("{target:?}").contains("s3cret"));
        let target = parse_url("redis://:s3cret@a:6379").unwrap();
        assert!(!format!("{target:?}").contains("s3cret"));
    }

    #[test]
    fn malformed_urls_are_refused_with_the_reason() {
        let error = |url: &str| parse_url(url).unwrap_err().to_string();
        assert!(error("not a url").starts_with("REDIS_URL is not a valid Redis URL: "));
        assert!(
            error("redis://a:7000,b:7001")
                .ends_with("(a Redis Cluster is redis+cluster://host:port,host:port,...)")
        );
        for (url, why) in [
            ("redis+cluster://", "a node address is empty"),
            ("redis+cluster://a:7000,", "a node address is empty"),
            ("redis+cluster://a:7000,b", "`b` is not host:port"),
            ("redis+cluster://a:7000,:7001", "`:7001` has no host"),
            ("redis+cluster://a:0", "`a:0` has no valid port"),
            ("redis+cluster://a:70000", "`a:70000` has no valid port"),
            ("redis+cluster://a:x", "`a:x` has no valid port"),
            (
                "redis+cluster://u:p@a:7000,u:p@b:7001",
                "the credentials go once, before the first node",
            ),
            ("redis+cluster://a:7000/1", "no database, path or options"),
            (
                "redis+cluster://a:7000?timeout=1",
                "no database, path or options",
            ),
        ] {
            let message = error(url);
            assert!(
                message.starts_with("REDIS_URL is not a valid Redis Cluster URL"),
                "{url}: {message}"
            );
            assert!(message.contains(why), "{url}: {message}");
        }
    }
}
