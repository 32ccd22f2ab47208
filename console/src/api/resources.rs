//! What the services answer, as far as the console shows it. Decoding is lenient (unknown
//! fields are ignored), so a service that adds a field does not break a page.

use serde::{Deserialize, Serialize};

/// A list page.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A resource and the `ETag` it was read with (`None` while a service sends none).
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: String,
    #[serde(default)]
    pub number: Option<String>,
    pub customer_id: String,
    #[serde(default)]
    pub customer_name: String,
    #[serde(default)]
    pub customer_email: String,
    pub currency: String,
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub subtotal: i64,
    #[serde(default)]
    pub tax_rate_bps: i64,
    #[serde(default)]
    pub tax: i64,
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub amount_paid: i64,
    #[serde(default)]
    pub amount_due: i64,
    pub status: String,
    #[serde(default)]
    pub due_date: Option<String>,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub hosted_invoice_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    #[serde(default)]
    pub amount: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    pub object_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub enabled_events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// Only in the answer that made it (or rotated it).
    #[serde(default)]
    pub secret: Option<String>,
}

/// A service's answer to `GET /ready`.
#[derive(Debug, Clone)]
pub enum Readiness {
    Ready { checks: Vec<(String, String)> },
    NotReady { checks: Vec<(String, String)> },
    Unreachable,
}

/// `GET /customers` filters.
#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    pub email: Option<String>,
    pub name_prefix: Option<String>,
    pub after: Option<String>,
}

impl CustomerQuery {
    pub(super) fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("email", &self.email),
            ("q", &self.name_prefix),
            ("after", &self.after),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect()
    }
}

/// `GET /invoices` filters.
#[derive(Debug, Clone, Default)]
pub struct InvoiceQuery {
    pub status: Option<String>,
    pub customer_id: Option<String>,
    pub after: Option<String>,
    pub limit: Option<u8>,
}

impl InvoiceQuery {
    pub(super) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&'static str, String)> = [
            ("status", &self.status),
            ("customer_id", &self.customer_id),
            ("after", &self.after),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect();
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        pairs
    }
}

/// An invoice's lifecycle transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Finalize,
    Pay,
    Void,
    MarkUncollectible,
}

impl Transition {
    /// The last segment of its route.
    pub fn action(self) -> &'static str {
        match self {
            Transition::Finalize => "finalize",
            Transition::Pay => "pay",
            Transition::Void => "void",
            Transition::MarkUncollectible => "mark_uncollectible",
        }
    }

    pub fn from_action(action: &str) -> Option<Self> {
        [
            Transition::Finalize,
            Transition::Pay,
            Transition::Void,
            Transition::MarkUncollectible,
        ]
        .into_iter()
        .find(|t| t.action() == action)
    }
}
