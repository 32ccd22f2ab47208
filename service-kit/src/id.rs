//! Ids on the wire: ObjectIds written as 24-hex strings.

/// `#[serde(with = "service_kit::id::hex")]` for an `ObjectId` field.
pub mod hex {
    use bson::oid::ObjectId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &ObjectId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&id.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectId, D::Error> {
        let raw = String::deserialize(deserializer)?;
        crate::extract::parse_object_id(&raw)
            .ok_or_else(|| serde::de::Error::custom("must be a 24-character hexadecimal id"))
    }
}
