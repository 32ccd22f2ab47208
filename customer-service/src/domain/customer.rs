use std::collections::BTreeMap;

use bson::oid::ObjectId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::extract::{double_option, double_option_object, optional_object};
use service_kit::{FieldError, Metadata};
use utoipa::ToSchema;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_PHONE_CHARS: usize = 32;
pub const MAX_ADDRESS_LINE_CHARS: usize = 200;

/// A stored customer, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    #[serde(with = "service_kit::id::hex")]
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    pub id: ObjectId,
    pub name: String,
    #[schema(examples("billing@acme-widgets.example"))]
    pub email: String,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Customer {
    /// The key that makes emails unique regardless of case and surrounding space.
    pub fn email_key(&self) -> String {
        Email::key_of(&self.email)
    }

    /// The key the `q=` name-prefix filter searches.
    pub fn name_key(&self) -> String {
        self.name.to_lowercase()
    }

    /// This customer with `changes` merged in.
    pub fn apply(&mut self, changes: &CustomerChanges) {
        if let Some(name) = &changes.name {
            self.name.clone_from(name);
        }
        if let Some(email) = &changes.email {
            self.email.clone_from(&email.address);
        }
        if let Some(phone) = &changes.phone {
            self.phone.clone_from(phone);
        }
        if let Some(address) = &changes.address {
            self.address.clone_from(address);
        }
        if let Some(metadata) = &changes.metadata {
            self.metadata.clone_from(metadata);
        }
        self.updated_at = changes.updated_at;
    }
}

/// A postal address. Every line is optional; `country` is ISO 3166-1 alpha-2, upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default)]
    #[schema(schema_with = crate::openapi::address_line)]
    pub line1: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::openapi::address_line)]
    pub line2: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::openapi::address_line)]
    pub city: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::openapi::address_line)]
    pub state: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::openapi::address_line)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, in any case and stored upper-case.
    #[serde(default)]
    #[schema(schema_with = crate::openapi::country)]
    pub country: Option<String>,
}

impl Address {
    fn parse(mut self, errors: &mut Vec<FieldError>) -> Self {
        let lines = [
            ("address.line1", &self.line1),
            ("address.line2", &self.line2),
            ("address.city", &self.city),
            ("address.state", &self.state),
            ("address.postal_code", &self.postal_code),
        ];
        for (field, value) in lines {
            if let Some(value) = value {
                check_text(field, value, MAX_ADDRESS_LINE_CHARS, errors);
            }
        }
        if let Some(country) = &self.country {
            let code = country.trim().to_ascii_uppercase();
            if isocountry::CountryCode::for_alpha2(&code).is_ok() {
                self.country = Some(code);
            } else {
                errors.push(FieldError::new(
                    "address.country",
                    "must be an ISO 3166-1 alpha-2 country code, such as US or DE",
                ));
            }
        }
        self
    }
}

/// A syntactically valid email address, as given (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub address: String,
}

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
        Ok(Self {
            address: address.to_owned(),
        })
    }

    /// Lower-cased and trimmed: two addresses with the same key are the same customer.
    pub fn key_of(address: &str) -> String {
        address.trim().to_lowercase()
    }

    pub fn key(&self) -> String {
        Self::key_of(&self.address)
    }
}

/// `POST /customers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    #[schema(schema_with = crate::openapi::name)]
    pub name: String,
    #[schema(schema_with = crate::openapi::email)]
    pub email: String,
    #[serde(default)]
    #[schema(schema_with = crate::openapi::phone)]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "optional_object")]
    #[schema(schema_with = crate::openapi::address)]
    pub address: Option<Address>,
    #[serde(default)]
    #[schema(schema_with = service_kit::openapi::metadata_input)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A customer ready to be stored.
#[derive(Debug, Clone)]
pub struct NewCustomer(pub Customer);

impl NewCustomer {
    pub fn parse(raw: CreateCustomer, now: DateTime<Utc>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_name(&raw.name, &mut errors);
        let email = Email::parse(&raw.email).map_err(|e| errors.push(e)).ok();
        if let Some(phone) = &raw.phone {
            check_phone(phone, &mut errors);
        }
        let address = raw.address.map(|a| a.parse(&mut errors));
        let metadata = Metadata::parse_optional(raw.metadata, &mut errors);
        match email {
            Some(email) if errors.is_empty() => Ok(Self(Customer {
                id: ObjectId::new(),
                name: raw.name,
                email: email.address,
                phone: raw.phone,
                address,
                metadata,
                created_at: now,
                updated_at: now,
            })),
            _ => Err(errors),
        }
    }
}

/// `PUT` / `PATCH /customers/{id}`: the given fields are merged; `null` clears an optional
/// one (`phone`, `address`, `metadata`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::openapi::name)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::openapi::email)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::openapi::phone)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option_object")]
    #[schema(schema_with = crate::openapi::address)]
    pub address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = service_kit::openapi::metadata_input)]
    pub metadata: Option<Option<BTreeMap<String, String>>>,
}

/// Validated changes to a customer. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerChanges {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Option<String>>,
    pub address: Option<Option<Address>>,
    pub metadata: Option<Metadata>,
    pub updated_at: DateTime<Utc>,
}

impl CustomerChanges {
    pub fn parse(raw: UpdateCustomer, now: DateTime<Utc>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = required(raw.name, "name", &mut errors);
        if let Some(name) = &name {
            check_name(name, &mut errors);
        }
        let email = match required(raw.email, "email", &mut errors).map(|e| Email::parse(&e)) {
            Some(Ok(email)) => Some(email),
            Some(Err(error)) => {
                errors.push(error);
                None
            }
            None => None,
        };
        if let Some(Some(phone)) = &raw.phone {
            check_phone(phone, &mut errors);
        }
        let address = raw
            .address
            .map(|address| address.map(|a| a.parse(&mut errors)));
        let metadata = raw
            .metadata
            .map(|metadata| Metadata::parse_optional(metadata, &mut errors));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            name,
            email,
            phone: raw.phone,
            address,
            metadata,
            updated_at: now,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.email.is_none()
            && self.phone.is_none()
            && self.address.is_none()
            && self.metadata.is_none()
    }
}

/// A required field may be left out of an update, but not cleared with `null`.
fn required(
    value: Option<Option<String>>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match value {
        Some(None) => {
            errors.push(FieldError::new(field, "is required and cannot be null"));
            None
        }
        other => other.flatten(),
    }
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    if name.trim().is_empty() {
        errors.push(FieldError::new("name", "must not be blank"));
    } else {
        check_text("name", name, MAX_NAME_CHARS, errors);
    }
}

fn check_text(field: &str, value: &str, max_chars: usize, errors: &mut Vec<FieldError>) {
    if value.chars().count() > max_chars {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    } else if value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
}

fn check_phone(phone: &str, errors: &mut Vec<FieldError>) {
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | '.' | ' ');
    if phone.chars().count() > MAX_PHONE_CHARS {
        errors.push(FieldError::new("phone", "must be at most 32 characters"));
    } else if !phone.chars().all(allowed) || !phone.chars().any(|c| c.is_ascii_digit()) {
        errors.push(FieldError::new(
            "phone",
            "must be a phone number: digits, spaces and + - ( ) .",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: serde_json::Value) -> Result<NewCustomer, Vec<FieldError>> {
        let raw: CreateCustomer = serde_json::from_value(json).unwrap();
        NewCustomer::parse(raw, service_kit::time::now())
    }

    fn failed_fields(json: serde_json::Value) -> Vec<String> {
        create(json)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_full_customer_parses_and_upper_cases_the_country() {
        let customer = create(serde_json::json!({
            "name": "Zoë Müller GmbH", "email": " Zoe@Example.COM ", "phone": "+49 30 1234567",
            "address": {"line1": "Hauptstraße 1", "city": "Berlin", "country": "de"},
            "metadata": {"crm_id": "42"}
        }))
        .unwrap()
        .0;
        assert_eq!(customer.name, "Zoë Müller GmbH");
        assert_eq!(customer.email, "Zoe@Example.COM");
        assert_eq!(customer.email_key(), "zoe@example.com");
        assert_eq!(customer.address.unwrap().country.as_deref(), Some("DE"));
    }

    #[test]
    fn bad_fields_are_all_reported() {
        let fields = failed_fields(serde_json::json!({
            "name": " ", "email": "not-an-email", "phone": "call me",
            "address": {"country": "XX"}, "metadata": {"$where": "1"}
        }));
        assert_eq!(
            fields,
            [
                "name",
                "email",
                "phone",
                "address.country",
                "metadata.$where"
            ]
        );
    }

    #[test]
    fn limits_are_enforced() {
        let long_name = "n".repeat(201);
        assert_eq!(
            failed_fields(serde_json::json!({"name": long_name, "email": "a@b.co"})),
            ["name"]
        );
        assert!(create(serde_json::json!({"name": "n".repeat(200), "email": "a@b.co"})).is_ok());
        assert_eq!(
            failed_fields(
                serde_json::json!({"name": "n", "email": "a@b.co", "phone": "1".repeat(33)})
            ),
            ["phone"]
        );
    }

    #[test]
    fn emails_need_a_dotted_domain() {
        for bad in ["a@b", "@b.co", "a@", "a b@c.de", ""] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse("first.last+tag@sub.example.org").is_ok());
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let raw: UpdateCustomer =
            serde_json::from_value(serde_json::json!({"phone": null, "name": "New"})).unwrap();
        let changes = CustomerChanges::parse(raw, service_kit::time::now()).unwrap();
        assert_eq!(changes.phone, Some(None));
        assert_eq!(changes.address, None);
        assert_eq!(changes.name.as_deref(), Some("New"));
    }

    #[test]
    fn required_fields_cannot_be_cleared() {
        let raw: UpdateCustomer =
            serde_json::from_value(serde_json::json!({"name": null, "email": null})).unwrap();
        let errors = CustomerChanges::parse(raw, service_kit::time::now()).unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
