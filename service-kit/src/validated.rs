//! Strings that exist only once a rule holds, such as an email address or a currency code.

/// For a newtype `$name(String)` with `fn parse(&str) -> Result<Self, FieldError>`: reads it
/// from serde through `parse` (`#[serde(try_from = "String", into = "String")]`), so a stored
/// value is checked as a request's is, and gives it `as_str`.
#[macro_export]
macro_rules! validated_string {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::convert::TryFrom<String> for $name {
            type Error = String;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw).map_err(|error| error.message)
            }
        }

        impl ::std::convert::From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}
