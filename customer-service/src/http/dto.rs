//! The bodies and queries clients send, as they arrive: unknown fields are refused (which
//! keeps MongoDB operators out), then each becomes its domain type, which checks the rules.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::extract::{double_option, double_option_object, optional_object};
use service_kit::{Cursor, Limit, Page};
use utoipa::{IntoParams, ToSchema};

use crate::app::CustomerQuery;
use crate::domain::{Address, Customer, CustomerFields, CustomerUpdate, Email};

/// A postal address as a client sends it. Every line is optional.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Address)]
pub struct AddressInput {
    #[serde(default)]
    #[schema(schema_with = super::schemas::address_line)]
    pub line1: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::schemas::address_line)]
    pub line2: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::schemas::address_line)]
    pub city: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::schemas::address_line)]
    pub state: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::schemas::address_line)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, in any case and stored upper-case.
    #[serde(default)]
    #[schema(schema_with = super::schemas::country)]
    pub country: Option<String>,
}

impl From<AddressInput> for Address {
    fn from(a: AddressInput) -> Self {
        Address {
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            state: a.state,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
}

/// `POST /customers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    #[schema(schema_with = super::schemas::name)]
    pub name: String,
    #[schema(schema_with = super::schemas::email)]
    pub email: String,
    #[serde(default)]
    #[schema(schema_with = super::schemas::phone)]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "optional_object")]
    #[schema(schema_with = super::schemas::address)]
    pub address: Option<AddressInput>,
    #[serde(default)]
    #[schema(schema_with = service_kit::openapi::metadata_input)]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl From<CreateCustomer> for CustomerFields {
    fn from(c: CreateCustomer) -> Self {
        CustomerFields {
            name: c.name,
            email: c.email,
            phone: c.phone,
            address: c.address.map(Address::from),
            metadata: c.metadata,
        }
    }
}

/// `PUT` / `PATCH /customers/{id}`: the given fields are merged; `null` clears an optional
/// one (`phone`, `address`, `metadata`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = super::schemas::name)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = super::schemas::email)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = super::schemas::phone)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option_object")]
    #[schema(schema_with = super::schemas::address)]
    pub address: Option<Option<AddressInput>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = service_kit::openapi::metadata_input)]
    pub metadata: Option<Option<BTreeMap<String, String>>>,
}

impl From<UpdateCustomer> for CustomerUpdate {
    fn from(u: UpdateCustomer) -> Self {
        CustomerUpdate {
            name: u.name,
            email: u.email,
            phone: u.phone,
            address: u.address.map(|a| a.map(Address::from)),
            metadata: u.metadata,
        }
    }
}

/// `GET /customers` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListCustomers {
    #[serde(default)]
    #[param(inline)]
    limit: Limit,
    #[param(inline)]
    after: Option<Cursor>,
    /// Only the customer with this email (compared case-insensitively, surrounding space
    /// ignored).
    email: Option<String>,
    /// Only customers whose name starts with this (case-insensitively).
    q: Option<String>,
}

impl From<ListCustomers> for CustomerQuery {
    fn from(q: ListCustomers) -> Self {
        CustomerQuery {
            email_key: q.email.as_deref().map(Email::key_of),
            name_prefix: q.q.as_deref().map(str::to_lowercase),
            after: q.after.map(|c| c.0),
            limit: q.limit,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CustomerCreated {
    #[schema(value_type = String, examples("Customer added"))]
    pub message: &'static str,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    pub id: String,
    #[schema(value_type = CustomerSchema)]
    pub customer: Customer,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerUpdated {
    #[schema(value_type = String, examples("Customer updated"))]
    pub message: &'static str,
    #[schema(value_type = CustomerSchema)]
    pub customer: Customer,
}

#[derive(Serialize, ToSchema)]
pub struct Message {
    #[schema(value_type = String, examples("Customer deleted"))]
    pub message: &'static str,
}

/// A customer as the API returns it (the document's name for [`crate::domain::Customer`],
/// whose serialisation it describes; a test keeps the two alike).
#[derive(ToSchema)]
#[schema(as = Customer)]
#[allow(dead_code)]
pub struct CustomerSchema {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    id: String,
    name: String,
    #[schema(examples("billing@acme-widgets.example"))]
    email: String,
    phone: Option<String>,
    address: Option<AddressInput>,
    #[schema(value_type = service_kit::Metadata)]
    metadata: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A page of customers.
pub type CustomerList = Page<CustomerSchema>;
