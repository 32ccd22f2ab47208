use serde::{Deserialize, Serialize};
use service_kit::FieldError;

pub const MAX_EMAIL_CHARS: usize = 254;

/// A syntactically valid email address with a dotted domain, as given (trimmed). Only
/// [`Email::parse`] makes one, so every `Email` holds a valid address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let address = raw.trim();
        if address.chars().count() > MAX_EMAIL_CHARS
            || !email_address::EmailAddress::is_valid(address)
            || !address
                .rsplit('@')
                .next()
                .is_some_and(|domain| domain.contains('.'))
        {
            return Err(FieldError::new("email", "must be a valid email address"));
        }
        Ok(Self(address.to_owned()))
    }

    /// Lower-cased and trimmed: two addresses with the same key are the same customer.
    pub fn key_of(address: &str) -> String {
        address.trim().to_lowercase()
    }

    pub fn key(&self) -> String {
        Self::key_of(&self.0)
    }
}

service_kit::validated_string!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_a_dotted_domain() {
        for bad in ["a@b", "@b.co", "a@", "a b@c.de", ""] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse("first.last+tag@sub.example.org").is_ok());
    }

    #[test]
    fn the_key_ignores_case_and_surrounding_space() {
        let email = Email::parse(" Zoe@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Zoe@Example.COM");
        assert_eq!(email.key(), "zoe@example.com");
    }
}
