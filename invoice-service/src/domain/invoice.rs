use std::collections::BTreeMap;

use bson::oid::ObjectId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use service_kit::extract::{
    double_option, double_option_integer, double_option_objects, integer, objects, optional_integer,
};
use service_kit::{FieldError, Metadata};
use utoipa::ToSchema;

use super::money::compute_totals;

pub const MAX_ITEMS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_QUANTITY: u32 = 1_000_000;
pub const MAX_UNIT_AMOUNT: i64 = 10_000_000_000;
pub const MAX_TAX_RATE_BPS: u32 = 10_000;

/// Where an invoice is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Open => "open",
            Status::Paid => "paid",
            Status::Void => "void",
            Status::Uncollectible => "uncollectible",
        }
    }
}

/// The state-changing actions of `POST /invoices/{id}/<action>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Finalize,
    Pay,
    Void,
    MarkUncollectible,
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Transition::Finalize => "finalize",
            Transition::Pay => "pay",
            Transition::Void => "void",
            Transition::MarkUncollectible => "mark_uncollectible",
        }
    }

    /// The statuses this transition starts from, and where it leads.
    pub fn rule(self) -> (&'static [Status], Status) {
        match self {
            Transition::Finalize => (&[Status::Draft], Status::Open),
            Transition::Pay => (&[Status::Open, Status::Uncollectible], Status::Paid),
            Transition::Void => (&[Status::Open, Status::Uncollectible], Status::Void),
            Transition::MarkUncollectible => (&[Status::Open], Status::Uncollectible),
        }
    }
}

/// One line of an invoice. `amount` = `quantity` × `unit_amount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineItem {
    pub description: String,
    pub quantity: u32,
    pub unit_amount: i64,
    pub amount: i64,
}

/// A line item as a client sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItemInput {
    #[schema(schema_with = crate::openapi::description)]
    pub description: String,
    #[serde(deserialize_with = "integer")]
    #[schema(schema_with = crate::openapi::quantity)]
    pub quantity: i64,
    #[serde(deserialize_with = "integer")]
    #[schema(schema_with = crate::openapi::unit_amount)]
    pub unit_amount: i64,
}

/// The customer as it was when the invoice was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSnapshot {
    pub name: String,
    pub email: String,
}

/// A stored invoice, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Invoice {
    #[serde(with = "service_kit::id::hex")]
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    pub id: ObjectId,
    /// `INV-000001`…: given at finalize, unique and gapless; null while draft.
    #[schema(pattern = "^INV-[0-9]{6,}$")]
    pub number: Option<String>,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    pub customer_id: String,
    pub customer_name: String,
    pub customer_email: String,
    /// ISO 4217, upper-case.
    #[schema(pattern = "^[A-Z]{3}$", examples("USD"))]
    pub currency: String,
    pub items: Vec<LineItem>,
    pub subtotal: i64,
    pub tax_rate_bps: u32,
    pub tax: i64,
    pub total: i64,
    pub amount_paid: i64,
    pub amount_due: i64,
    pub status: Status,
    pub due_date: Option<NaiveDate>,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    /// Bumped by every write. Not part of the API: the stores use it for conditional
    /// writes and the cache to refuse a fill older than what it holds.
    #[serde(skip)]
    pub version: i64,
}

/// Why an invoice operation cannot be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceError {
    /// The request is not valid (422).
    Invalid(Vec<FieldError>),
    /// Not allowed in the invoice's current status (409).
    InvalidTransition {
        action: &'static str,
        status: Status,
    },
}

impl Invoice {
    /// The number an invoice gets from its sequence: `INV-000001`.
    pub fn number_for(sequence: i64) -> String {
        format!("INV-{sequence:06}")
    }

    /// The sequence behind a number, for the stores' "next number" query.
    pub fn sequence_of(number: &str) -> Option<i64> {
        number.strip_prefix("INV-")?.parse().ok()
    }

    /// This invoice after `transition`, or why not. Finalize leaves the number to the
    /// store, which assigns it atomically.
    pub fn transitioned(
        &self,
        transition: Transition,
        now: DateTime<Utc>,
    ) -> Result<Self, InvoiceError> {
        let (from, to) = transition.rule();
        if !from.contains(&self.status) {
            return Err(InvoiceError::InvalidTransition {
                action: transition.name(),
                status: self.status,
            });
        }
        let mut next = self.clone();
        next.status = to;
        next.updated_at = now;
        match transition {
            Transition::Finalize => {
                next.finalized_at = Some(now);
                next.amount_due = next.total - next.amount_paid;
            }
            Transition::Pay => {
                next.amount_paid = next.total;
                next.amount_due = 0;
                next.paid_at = Some(now);
            }
            Transition::Void => {
                next.amount_due = 0;
                next.voided_at = Some(now);
            }
            Transition::MarkUncollectible => {}
        }
        Ok(next)
    }

    /// This draft with `changes` merged in and its totals recomputed.
    pub fn edited(&self, changes: &InvoiceChanges) -> Result<Self, InvoiceError> {
        if self.status != Status::Draft {
            return Err(InvoiceError::InvalidTransition {
                action: "edit",
                status: self.status,
            });
        }
        let mut next = self.clone();
        if let Some(items) = &changes.items {
            next.items.clone_from(items);
        }
        if let Some(tax_rate_bps) = changes.tax_rate_bps {
            next.tax_rate_bps = tax_rate_bps;
        }
        if let Some(due_date) = changes.due_date {
            next.due_date = due_date;
        }
        if let Some(metadata) = &changes.metadata {
            next.metadata.clone_from(metadata);
        }
        let totals = compute_totals(&next.items, next.tax_rate_bps).ok_or_else(overflow)?;
        next.subtotal = totals.subtotal;
        next.tax = totals.tax;
        next.total = totals.total;
        next.amount_due = totals.total;
        next.updated_at = changes.updated_at;
        Ok(next)
    }

    /// Whether it may be deleted.
    pub fn check_deletable(&self) -> Result<(), InvoiceError> {
        if self.status == Status::Draft {
            Ok(())
        } else {
            Err(InvoiceError::InvalidTransition {
                action: "delete",
                status: self.status,
            })
        }
    }
}

fn overflow() -> InvoiceError {
    InvoiceError::Invalid(vec![FieldError::new(
        "items",
        "the invoice totals are too large to represent",
    )])
}

/// `POST /invoices`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvoice {
    #[schema(schema_with = crate::openapi::customer_id)]
    pub customer_id: String,
    #[schema(schema_with = crate::openapi::currency)]
    pub currency: String,
    #[serde(deserialize_with = "objects")]
    #[schema(schema_with = crate::openapi::items)]
    pub items: Vec<LineItemInput>,
    #[serde(default, deserialize_with = "optional_integer")]
    #[schema(schema_with = crate::openapi::tax_rate_bps)]
    pub tax_rate_bps: Option<i64>,
    #[serde(default)]
    #[schema(schema_with = crate::openapi::due_date)]
    pub due_date: Option<String>,
    #[serde(default)]
    #[schema(schema_with = service_kit::openapi::metadata_input)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A validated create request, waiting for its customer.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    pub customer_id: ObjectId,
    pub currency: String,
    pub items: Vec<LineItem>,
    pub tax_rate_bps: u32,
    pub due_date: Option<NaiveDate>,
    pub metadata: Metadata,
}

impl NewInvoice {
    pub fn parse(raw: CreateInvoice) -> Result<Self, InvoiceError> {
        let mut errors = Vec::new();
        let customer_id = service_kit::extract::parse_object_id(&raw.customer_id);
        if customer_id.is_none() {
            errors.push(FieldError::new(
                "customer_id",
                "must be a 24-character hexadecimal id",
            ));
        }
        let currency = raw.currency.trim().to_ascii_uppercase();
        if iso_currency::Currency::from_code(&currency).is_none() {
            errors.push(FieldError::new(
                "currency",
                "must be an ISO 4217 currency code, such as USD",
            ));
        }
        let items = parse_items(&raw.items, &mut errors);
        let tax_rate_bps = parse_tax_rate(raw.tax_rate_bps.unwrap_or(0), &mut errors);
        let due_date = raw
            .due_date
            .as_deref()
            .and_then(|d| parse_due_date(d, &mut errors));
        let metadata = Metadata::parse_optional(raw.metadata, &mut errors);
        if compute_totals(&items, tax_rate_bps).is_none() {
            return Err(overflow());
        }
        match customer_id {
            Some(customer_id) if errors.is_empty() => Ok(Self {
                customer_id,
                currency,
                items,
                tax_rate_bps,
                due_date,
                metadata,
            }),
            _ => Err(InvoiceError::Invalid(errors)),
        }
    }

    /// The draft, issued to `customer` as it is now.
    pub fn into_draft(self, customer: CustomerSnapshot, now: DateTime<Utc>) -> Invoice {
        let totals = compute_totals(&self.items, self.tax_rate_bps).unwrap_or(super::Totals {
            subtotal: 0,
            tax: 0,
            total: 0,
        });
        Invoice {
            id: ObjectId::new(),
            number: None,
            customer_id: self.customer_id.to_hex(),
            customer_name: customer.name,
            customer_email: customer.email,
            currency: self.currency,
            items: self.items,
            subtotal: totals.subtotal,
            tax_rate_bps: self.tax_rate_bps,
            tax: totals.tax,
            total: totals.total,
            amount_paid: 0,
            amount_due: totals.total,
            status: Status::Draft,
            due_date: self.due_date,
            metadata: self.metadata,
            created_at: now,
            updated_at: now,
            finalized_at: None,
            paid_at: None,
            voided_at: None,
            version: 1,
        }
    }
}

/// `PATCH /invoices/{id}` on a draft. `null` clears `due_date` and `metadata`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInvoice {
    #[serde(default, deserialize_with = "double_option_objects")]
    #[schema(schema_with = crate::openapi::items)]
    pub items: Option<Option<Vec<LineItemInput>>>,
    #[serde(default, deserialize_with = "double_option_integer")]
    #[schema(schema_with = crate::openapi::tax_rate_bps)]
    pub tax_rate_bps: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::openapi::due_date)]
    pub due_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = service_kit::openapi::metadata_input)]
    pub metadata: Option<Option<BTreeMap<String, String>>>,
}

/// Validated edits to a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceChanges {
    pub items: Option<Vec<LineItem>>,
    pub tax_rate_bps: Option<u32>,
    pub due_date: Option<Option<NaiveDate>>,
    pub metadata: Option<Metadata>,
    pub updated_at: DateTime<Utc>,
}

impl InvoiceChanges {
    pub fn parse(raw: UpdateInvoice, now: DateTime<Utc>) -> Result<Self, InvoiceError> {
        let mut errors = Vec::new();
        let items = match raw.items {
            Some(None) => {
                errors.push(FieldError::new("items", "is required and cannot be null"));
                None
            }
            Some(Some(items)) => Some(parse_items(&items, &mut errors)),
            None => None,
        };
        let tax_rate_bps = raw
            .tax_rate_bps
            .map(|rate| parse_tax_rate(rate.unwrap_or(0), &mut errors));
        let due_date = raw
            .due_date
            .map(|date| date.and_then(|d| parse_due_date(&d, &mut errors)));
        let metadata = raw
            .metadata
            .map(|m| Metadata::parse_optional(m, &mut errors));
        if !errors.is_empty() {
            return Err(InvoiceError::Invalid(errors));
        }
        Ok(Self {
            items,
            tax_rate_bps,
            due_date,
            metadata,
            updated_at: now,
        })
    }
}

fn parse_items(raw: &[LineItemInput], errors: &mut Vec<FieldError>) -> Vec<LineItem> {
    if raw.is_empty() || raw.len() > MAX_ITEMS {
        errors.push(FieldError::new("items", "must hold 1 to 100 line items"));
        return Vec::new();
    }
    let mut items = Vec::with_capacity(raw.len());
    for (i, item) in raw.iter().enumerate() {
        let chars = item.description.chars().count();
        if item.description.trim().is_empty() || chars > MAX_DESCRIPTION_CHARS {
            errors.push(FieldError::new(
                format!("items[{i}].description"),
                "must be 1 to 500 characters",
            ));
        }
        let quantity = u32::try_from(item.quantity)
            .ok()
            .filter(|q| (1..=MAX_QUANTITY).contains(q));
        if quantity.is_none() {
            errors.push(FieldError::new(
                format!("items[{i}].quantity"),
                "must be an integer from 1 to 1000000",
            ));
        }
        if !(0..=MAX_UNIT_AMOUNT).contains(&item.unit_amount) {
            errors.push(FieldError::new(
                format!("items[{i}].unit_amount"),
                "must be an integer amount in minor units from 0 to 10000000000",
            ));
        }
        if let Some(quantity) = quantity {
            // Both factors are bounded above, so the product fits.
            let amount = i64::from(quantity).saturating_mul(item.unit_amount);
            items.push(LineItem {
                description: item.description.clone(),
                quantity,
                unit_amount: item.unit_amount,
                amount,
            });
        }
    }
    items
}

fn parse_tax_rate(raw: i64, errors: &mut Vec<FieldError>) -> u32 {
    match u32::try_from(raw) {
        Ok(bps) if bps <= MAX_TAX_RATE_BPS => bps,
        _ => {
            errors.push(FieldError::new(
                "tax_rate_bps",
                "must be an integer from 0 to 10000 basis points",
            ));
            0
        }
    }
}

fn parse_due_date(raw: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let parsed = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10);
    if parsed.is_none() {
        errors.push(FieldError::new("due_date", "must be a date as YYYY-MM-DD"));
    }
    parsed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn create(body: serde_json::Value) -> Result<NewInvoice, InvoiceError> {
        NewInvoice::parse(serde_json::from_value(body).unwrap())
    }

    fn draft() -> Invoice {
        create(json!({
            "customer_id": "65f000000000000000000001", "currency": "usd",
            "items": [{"description": "Hosting", "quantity": 3, "unit_amount": 1999}],
            "tax_rate_bps": 850
        }))
        .unwrap()
        .into_draft(
            CustomerSnapshot {
                name: "Ada".into(),
                email: "ada@example.com".into(),
            },
            service_kit::time::now(),
        )
    }

    #[test]
    fn a_draft_has_exact_totals_and_upper_case_currency() {
        let invoice = draft();
        assert_eq!(invoice.currency, "USD");
        assert_eq!(invoice.items[0].amount, 5_997);
        assert_eq!(
            (invoice.subtotal, invoice.tax, invoice.total),
            (5_997, 510, 6_507)
        );
        assert_eq!((invoice.amount_paid, invoice.amount_due), (0, 6_507));
        assert_eq!(invoice.status, Status::Draft);
    }

    #[test]
    fn the_lifecycle_allows_only_its_transitions() {
        let now = service_kit::time::now();
        let open = draft().transitioned(Transition::Finalize, now).unwrap();
        assert_eq!(open.status, Status::Open);
        let paid = open.transitioned(Transition::Pay, now).unwrap();
        assert_eq!((paid.amount_paid, paid.amount_due), (6_507, 0));
        for t in [
            Transition::Finalize,
            Transition::Pay,
            Transition::Void,
            Transition::MarkUncollectible,
        ] {
            assert!(matches!(
                paid.transitioned(t, now),
                Err(InvoiceError::InvalidTransition { .. })
            ));
        }
        let uncollectible = open
            .transitioned(Transition::MarkUncollectible, now)
            .unwrap();
        let void = uncollectible.transitioned(Transition::Void, now).unwrap();
        assert_eq!(void.amount_due, 0);
        assert!(draft().transitioned(Transition::Pay, now).is_err());
        assert!(
            open.edited(&InvoiceChanges {
                items: None,
                tax_rate_bps: Some(0),
                due_date: None,
                metadata: None,
                updated_at: now
            })
            .is_err()
        );
        assert!(open.check_deletable().is_err());
    }

    #[test]
    fn bad_requests_name_their_fields() {
        let error = create(json!({
            "customer_id": "nope", "currency": "XXY",
            "items": [{"description": "", "quantity": 0, "unit_amount": -1}],
            "tax_rate_bps": 10001, "due_date": "2025-02-30", "metadata": {"$where": "1"}
        }))
        .unwrap_err();
        let InvoiceError::Invalid(details) = error else {
            panic!("{error:?}")
        };
        let fields: Vec<_> = details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "customer_id",
                "currency",
                "items[0].description",
                "items[0].quantity",
                "items[0].unit_amount",
                "tax_rate_bps",
                "due_date",
                "metadata.$where"
            ]
        );
    }

    #[test]
    fn the_largest_invoice_the_limits_allow_has_exact_totals() {
        let items: Vec<_> = (0..100)
            .map(|_| json!({"description": "x", "quantity": 1_000_000, "unit_amount": 10_000_000_000_i64}))
            .collect();
        let invoice = create(json!({
            "customer_id": "65f000000000000000000001", "currency": "EUR", "items": items, "tax_rate_bps": 9000
        }))
        .unwrap()
        .into_draft(
            CustomerSnapshot {
                name: "Ada".into(),
                email: "ada@example.com".into(),
            },
            service_kit::time::now(),
        );
        assert_eq!(invoice.subtotal, 1_000_000_000_000_000_000);
        assert_eq!(invoice.tax, 900_000_000_000_000_000);
        assert_eq!(invoice.total, 1_900_000_000_000_000_000);
    }

    #[test]
    fn integral_numbers_are_integers_however_written() {
        let new = create(json!({
            "customer_id": "65f000000000000000000001", "currency": "EUR",
            "items": [{"description": "x", "quantity": 3.0, "unit_amount": 1.999e3}],
            "tax_rate_bps": 850.0
        }))
        .unwrap();
        assert_eq!(
            (new.items[0].quantity, new.items[0].unit_amount),
            (3, 1_999)
        );
        assert_eq!(new.tax_rate_bps, 850);
        for item in [
            json!({"description": "x", "quantity": 1.5, "unit_amount": 1}),
            json!({"description": "x", "quantity": 1, "unit_amount": 9.99}),
            json!({"description": "x", "quantity": 1, "unit_amount": 1e300}),
        ] {
            let raw = serde_json::from_value::<CreateInvoice>(json!({
                "customer_id": "65f000000000000000000001", "currency": "EUR", "items": [item]
            }));
            assert!(raw.is_err(), "{item}");
        }
    }

    #[test]
    fn numbers_are_six_digits() {
        assert_eq!(Invoice::number_for(1), "INV-000001");
        assert_eq!(Invoice::sequence_of("INV-000042"), Some(42));
    }
}
