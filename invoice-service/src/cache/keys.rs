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
}
