use serde::{Deserialize, Serialize};
use service_kit::FieldError;

/// An ISO 4217 currency code, upper-case. Only [`Currency::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// A code in any case, with space around it allowed.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let code = raw.trim().to_ascii_uppercase();
        if iso_currency::Currency::from_code(&code).is_none() {
            return Err(FieldError::new(
                "currency",
                "must be an ISO 4217 currency code, such as USD",
            ));
        }
        Ok(Self(code))
    }
}

service_kit::validated_string!(Currency);

#[cfg(test)]
mod tests {
    use super::Currency;

    #[test]
    fn codes_are_upper_cased_and_checked() {
        assert_eq!(Currency::parse(" usd ").unwrap().as_str(), "USD");
        assert!(Currency::parse("XXY").is_err());
        assert!(serde_json::from_str::<Currency>("\"ZZZ\"").is_err());
    }
}
