//! The one place cache keys are built.

use bson::oid::ObjectId;

/// `<prefix>invoice:<24 hex>`.
pub fn invoice(prefix: &str, id: ObjectId) -> String {
    let mut key = String::with_capacity(prefix.len() + 8 + 24);
    key.push_str(prefix);
    key.push_str("invoice:");
    key.push_str(&id.to_hex());
    key
}

/// `<prefix>document:<24 hex>:<tag>`: a document is never changed, only replaced by one
/// under a new tag.
pub fn document(prefix: &str, id: ObjectId, tag: &str) -> String {
    format!("{prefix}document:{}:{}", id.to_hex(), tag.trim_matches('"'))
}

/// The number of hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The cluster hash slot of `key`, as Redis computes it: CRC16 (XMODEM) of the key, or of its
/// hash tag (the text between the first `{` and the next `}`, when not empty), mod 16384.
/// The keys above carry no tag of their own, so they spread over every slot (a
/// `CACHE_KEY_PREFIX` with a tag would put them all in one).
pub fn slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = bytes
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let tag = &bytes[open + 1..];
            let close = tag.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &tag[..close])
        })
        .unwrap_or(bytes);
    crc16::State::<crc16::XMODEM>::calculate(hashed) % SLOTS
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_prefixed_and_typed() {
        let id = bson::oid::ObjectId::parse_str("66f000000000000000000001").unwrap();
        assert_eq!(
            super::invoice("billing:", id),
            "billing:invoice:66f000000000000000000001"
        );
    }

    /// Figures of `CLUSTER KEYSLOT` on a Redis server.
    #[test]
    fn slots_are_redis_cluster_key_slots() {
        for (key, slot) in [
            ("foo", 12182),
            ("bar", 5061),
            ("123456789", 12739),
            ("{user1000}.following", 3443),
            ("user1000", 3443),
            ("foo{}{bar}", 8363),
            ("foo{{bar}}zap", 4015),
            ("{bar", 4015),
        ] {
            assert_eq!(super::slot(key), slot, "{key}");
        }
    }

    /// The slot the redis crate's cluster client routes a key by.
    #[test]
    fn slots_agree_with_the_cluster_client() {
        for key in ["billing:invoice:66f000000000000000000001", "a", "", "x{y}z"] {
            let routed = format!("{:?}", redis::cluster_routing::Slot::for_key(key));
            assert_eq!(routed, format!("Slot({})", super::slot(key)), "{key}");
        }
    }
}
