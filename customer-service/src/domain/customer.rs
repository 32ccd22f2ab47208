use std::collections::BTreeMap;

use bson::oid::ObjectId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::{FieldError, Metadata};

use super::email::Email;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_PHONE_CHARS: usize = 32;
pub const MAX_ADDRESS_LINE_CHARS: usize = 200;

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    #[serde(with = "service_kit::id::hex")]
    pub id: ObjectId,
    pub name: String,
    pub email: Email,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every write; a write succeeds only on the version it read.
    #[serde(skip, default = "service_kit::store::first_version")]
    pub version: i64,
}

impl service_kit::store::Versioned for Customer {
    fn version_mut(&mut self) -> &mut i64 {
        &mut self.version
    }
}

impl Customer {
    /// The key the `q=` name-prefix filter searches.
    pub fn name_key(&self) -> String {
        self.name.to_lowercase()
    }

    /// This customer with `changes` merged in, one version later.
    pub fn changed(&self, changes: &CustomerChanges) -> Self {
        let mut next = self.clone();
        if let Some(name) = &changes.name {
            next.name.clone_from(name);
        }
        if let Some(email) = &changes.email {
            next.email = email.clone();
        }
        if let Some(phone) = &changes.phone {
            next.phone.clone_from(phone);
        }
        if let Some(address) = &changes.address {
            next.address.clone_from(address);
        }
        if let Some(metadata) = &changes.metadata {
            next.metadata.clone_from(metadata);
        }
        next.updated_at = changes.updated_at;
        next.version = self.version + 1;
        next
    }
}

/// A postal address. Every line is optional; `country` is ISO 3166-1 alpha-2, upper-case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl Address {
    /// The address with its country upper-cased, or the fields at fault added to `errors`.
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

/// What a new customer is made of, as given.
#[derive(Debug, Clone, Default)]
pub struct CustomerFields {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A customer ready to be stored: only [`NewCustomer::parse`] makes one.
#[derive(Debug, Clone)]
pub struct NewCustomer(Customer);

impl NewCustomer {
    /// Checks every field, reporting all that are at fault.
    pub fn parse(fields: CustomerFields, now: DateTime<Utc>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_name(&fields.name, &mut errors);
        let email = Email::parse(&fields.email).map_err(|e| errors.push(e)).ok();
        if let Some(phone) = &fields.phone {
            check_phone(phone, &mut errors);
        }
        let address = fields.address.map(|a| a.parse(&mut errors));
        let metadata = Metadata::parse_optional(fields.metadata, &mut errors);
        match email {
            Some(email) if errors.is_empty() => Ok(Self(Customer {
                id: ObjectId::new(),
                name: fields.name,
                email,
                phone: fields.phone,
                address,
                metadata,
                created_at: now,
                updated_at: now,
                version: 1,
            })),
            _ => Err(errors),
        }
    }

    /// The customer, under the id reserved for it (an idempotent create) or a new one.
    pub fn into_customer(self, reserved_id: Option<ObjectId>) -> Customer {
        let mut customer = self.0;
        if let Some(id) = reserved_id {
            customer.id = id;
        }
        customer
    }
}

/// Changes to a customer, as given: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct CustomerUpdate {
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub address: Option<Option<Address>>,
    pub metadata: Option<Option<BTreeMap<String, String>>>,
}

/// Validated changes to a customer. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerChanges {
    name: Option<String>,
    email: Option<Email>,
    phone: Option<Option<String>>,
    address: Option<Option<Address>>,
    metadata: Option<Metadata>,
    updated_at: DateTime<Utc>,
}

impl CustomerChanges {
    /// Checks every given field; `name` and `email` may be left out but not cleared.
    pub fn parse(update: CustomerUpdate, now: DateTime<Utc>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = required(update.name, "name", &mut errors);
        if let Some(name) = &name {
            check_name(name, &mut errors);
        }
        let email = required(update.email, "email", &mut errors)
            .and_then(|e| Email::parse(&e).map_err(|e| errors.push(e)).ok());
        if let Some(Some(phone)) = &update.phone {
            check_phone(phone, &mut errors);
        }
        let address = update
            .address
            .map(|address| address.map(|a| a.parse(&mut errors)));
        let metadata = update
            .metadata
            .map(|metadata| Metadata::parse_optional(metadata, &mut errors));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            name,
            email,
            phone: update.phone,
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

/// Digits, spaces and `+ - ( ) .`, with at least one digit.
pub fn is_valid_phone(phone: &str) -> bool {
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | '.' | ' ');
    phone.chars().all(allowed) && phone.chars().any(|c| c.is_ascii_digit())
}

fn check_phone(phone: &str, errors: &mut Vec<FieldError>) {
    if phone.chars().count() > MAX_PHONE_CHARS {
        errors.push(FieldError::new("phone", "must be at most 32 characters"));
    } else if !is_valid_phone(phone) {
        errors.push(FieldError::new(
            "phone",
            "must be a phone number: digits, spaces and + - ( ) .",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str, email: &str) -> CustomerFields {
        CustomerFields {
            name: name.into(),
            email: email.into(),
            ..CustomerFields::default()
        }
    }

    fn failed_fields(fields: CustomerFields) -> Vec<String> {
        NewCustomer::parse(fields, service_kit::time::now())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_full_customer_parses_and_upper_cases_the_country() {
        let customer = NewCustomer::parse(
            CustomerFields {
                phone: Some("+49 30 1234567".into()),
                address: Some(Address {
                    line1: Some("Hauptstraße 1".into()),
                    city: Some("Berlin".into()),
                    country: Some("de".into()),
                    ..Address::default()
                }),
                metadata: Some([("crm_id".to_owned(), "42".to_owned())].into()),
                ..fields("Zoë Müller GmbH", " Zoe@Example.COM ")
            },
            service_kit::time::now(),
        )
        .unwrap()
        .into_customer(None);
        assert_eq!(customer.name, "Zoë Müller GmbH");
        assert_eq!(customer.email.as_str(), "Zoe@Example.COM");
        assert_eq!(customer.email.key(), "zoe@example.com");
        assert_eq!(customer.address.unwrap().country.as_deref(), Some("DE"));
    }

    #[test]
    fn bad_fields_are_all_reported() {
        let bad = CustomerFields {
            phone: Some("call me".into()),
            address: Some(Address {
                country: Some("XX".into()),
                ..Address::default()
            }),
            metadata: Some([("$where".to_owned(), "1".to_owned())].into()),
            ..fields(" ", "not-an-email")
        };
        assert_eq!(
            failed_fields(bad),
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
        assert_eq!(failed_fields(fields(&"n".repeat(201), "a@b.co")), ["name"]);
        assert!(
            NewCustomer::parse(fields(&"n".repeat(200), "a@b.co"), service_kit::time::now())
                .is_ok()
        );
        let long_phone = CustomerFields {
            phone: Some("1".repeat(33)),
            ..fields("n", "a@b.co")
        };
        assert_eq!(failed_fields(long_phone), ["phone"]);
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let update = CustomerUpdate {
            phone: Some(None),
            name: Some(Some("New".into())),
            ..CustomerUpdate::default()
        };
        let changes = CustomerChanges::parse(update, service_kit::time::now()).unwrap();
        assert_eq!(changes.phone, Some(None));
        assert_eq!(changes.address, None);
        assert_eq!(changes.name.as_deref(), Some("New"));
    }

    #[test]
    fn required_fields_cannot_be_cleared() {
        let update = CustomerUpdate {
            name: Some(None),
            email: Some(None),
            ..CustomerUpdate::default()
        };
        let errors = CustomerChanges::parse(update, service_kit::time::now()).unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
