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

    /// Digits after the decimal point of its minor unit: USD 2, JPY 0, KWD 3.
    pub fn exponent(&self) -> u32 {
        iso_currency::Currency::from_code(&self.0)
            .and_then(|c| c.exponent())
            .map_or(0, u32::from)
    }

    /// The symbol written before an amount, where one symbol means this currency alone;
    /// `None` where only the code is unambiguous (`$` is also CAD's, `kr` SEK's and NOK's).
    pub fn symbol(&self) -> Option<&'static str> {
        Some(match self.0.as_str() {
            "USD" => "$",
            "EUR" => "€",
            "GBP" => "£",
            "JPY" => "¥",
            "INR" => "₹",
            "KRW" => "₩",
            "ILS" => "₪",
            "NGN" => "₦",
            "PHP" => "₱",
            "UAH" => "₴",
            "VND" => "₫",
            "TRY" => "₺",
            _ => return None,
        })
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

    #[test]
    fn exponents_come_from_iso_4217() {
        let exponent = |code| Currency::parse(code).unwrap().exponent();
        assert_eq!(
            (exponent("USD"), exponent("JPY"), exponent("KWD")),
            (2, 0, 3)
        );
    }
}
