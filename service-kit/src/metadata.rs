//! `metadata`: the free-form string map any resource may carry, as Stripe's API has it.
//! At most 50 keys of `[A-Za-z0-9_-]{1,40}`, values of at most 500 characters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

pub const MAX_KEYS: usize = 50;
pub const MAX_KEY_CHARS: usize = 40;
pub const MAX_VALUE_CHARS: usize = 500;

/// A validated metadata map. Keys are plain names, so none can be read as a MongoDB
/// operator or a dotted path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Checks `raw` against the rules, naming every offending key under `field`.
    pub fn parse(field: &str, raw: BTreeMap<String, String>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if raw.len() > MAX_KEYS {
            errors.push(FieldError::new(
                field,
                format!("at most {MAX_KEYS} keys are allowed"),
            ));
        }
        for (key, value) in &raw {
            let key_ok = (1..=MAX_KEY_CHARS).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !key_ok {
                errors.push(FieldError::new(
                    format!("{field}.{key}"),
                    "keys must be 1 to 40 characters of A-Z, a-z, 0-9, _ or -",
                ));
            }
            if value.chars().count() > MAX_VALUE_CHARS {
                errors.push(FieldError::new(
                    format!("{field}.{key}"),
                    "values must be at most 500 characters",
                ));
            }
        }
        if errors.is_empty() {
            Ok(Self(raw))
        } else {
            Err(errors)
        }
    }

    /// An optional `metadata` field of a request: absent is empty; errors go to `errors`.
    pub fn parse_optional(
        raw: Option<BTreeMap<String, String>>,
        errors: &mut Vec<FieldError>,
    ) -> Self {
        match raw.map(|map| Self::parse("metadata", map)) {
            Some(Ok(metadata)) => metadata,
            Some(Err(mut found)) => {
                errors.append(&mut found);
                Self::default()
            }
            None => Self::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn accepts_plain_keys() {
        assert!(Metadata::parse("metadata", map(&[("plan", "pro"), ("crm-id_2", "")])).is_ok());
    }

    #[test]
    fn rejects_operator_and_dotted_keys() {
        for key in ["$where", "a.b", "", "é", &"k".repeat(41)] {
            let errors = Metadata::parse("metadata", map(&[(key, "v")])).unwrap_err();
            assert_eq!(errors.len(), 1, "{key}");
        }
    }

    #[test]
    fn rejects_long_values_and_too_many_keys() {
        assert!(Metadata::parse("metadata", map(&[("k", &"v".repeat(501))])).is_err());
        let many: BTreeMap<_, _> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(Metadata::parse("metadata", many).is_err());
    }
}
