//! What a client asks for, checked: a new invoice before it has its customer, and edits to
//! a draft.

use std::collections::BTreeMap;

use bson::oid::ObjectId;
use chrono::{DateTime, NaiveDate, Utc};
use service_kit::{FieldError, Metadata};

use super::currency::Currency;
use super::invoice::{CustomerSnapshot, Invoice, InvoiceError, Status, overflow};
use super::line_item::{LineItem, LineItemFields, parse_items};
use super::money::{Totals, compute_totals};

pub const MAX_TAX_RATE_BPS: u32 = 10_000;

/// What a new invoice is made of, as given.
#[derive(Debug, Clone)]
pub struct InvoiceFields {
    pub customer_id: String,
    pub currency: String,
    pub items: Vec<LineItemFields>,
    pub tax_rate_bps: Option<i64>,
    pub due_date: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A checked create request, waiting for its customer: only [`NewInvoice::parse`] makes
/// one.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    customer_id: ObjectId,
    currency: Currency,
    items: Vec<LineItem>,
    tax_rate_bps: u32,
    due_date: Option<NaiveDate>,
    metadata: Metadata,
    totals: Totals,
}

impl NewInvoice {
    /// Checks every field, reporting all that are at fault.
    pub fn parse(fields: InvoiceFields) -> Result<Self, InvoiceError> {
        let mut errors = Vec::new();
        let customer_id = service_kit::extract::parse_object_id(&fields.customer_id);
        if customer_id.is_none() {
            errors.push(FieldError::new(
                "customer_id",
                "must be a 24-character hexadecimal id",
            ));
        }
        let currency = Currency::parse(&fields.currency)
            .map_err(|e| errors.push(e))
            .ok();
        let items = parse_items(&fields.items, &mut errors);
        let tax_rate_bps = parse_tax_rate(fields.tax_rate_bps.unwrap_or(0), &mut errors);
        let due_date = fields
            .due_date
            .as_deref()
            .and_then(|d| parse_due_date(d, &mut errors));
        let metadata = Metadata::parse_optional(fields.metadata, &mut errors);
        let totals = compute_totals(&items, tax_rate_bps).ok_or_else(overflow)?;
        match (customer_id, currency) {
            (Some(customer_id), Some(currency)) if errors.is_empty() => Ok(Self {
                customer_id,
                currency,
                items,
                tax_rate_bps,
                due_date,
                metadata,
                totals,
            }),
            _ => Err(InvoiceError::Invalid(errors)),
        }
    }

    /// The customer the invoice is for.
    pub fn customer_id(&self) -> ObjectId {
        self.customer_id
    }

    /// The draft, issued to `customer` as it is now, under the id reserved for it (an
    /// idempotent create) or a new one.
    pub fn into_draft(
        self,
        customer: CustomerSnapshot,
        reserved_id: Option<ObjectId>,
        now: DateTime<Utc>,
    ) -> Invoice {
        Invoice {
            id: reserved_id.unwrap_or_default(),
            number: None,
            customer_id: self.customer_id,
            customer_name: customer.name,
            customer_email: customer.email,
            currency: self.currency,
            items: self.items,
            subtotal: self.totals.subtotal,
            tax_rate_bps: self.tax_rate_bps,
            tax: self.totals.tax,
            total: self.totals.total,
            amount_paid: 0,
            amount_due: self.totals.total,
            status: Status::Draft,
            due_date: self.due_date,
            metadata: self.metadata,
            created_at: now,
            updated_at: now,
            finalized_at: None,
            paid_at: None,
            voided_at: None,
            hosted_invoice_url: None,
            version: 1,
        }
    }
}

/// Edits to a draft, as given: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct InvoiceUpdate {
    pub items: Option<Option<Vec<LineItemFields>>>,
    pub tax_rate_bps: Option<Option<i64>>,
    pub due_date: Option<Option<String>>,
    pub metadata: Option<Option<BTreeMap<String, String>>>,
}

/// Checked edits to a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceChanges {
    pub(super) items: Option<Vec<LineItem>>,
    pub(super) tax_rate_bps: Option<u32>,
    pub(super) due_date: Option<Option<NaiveDate>>,
    pub(super) metadata: Option<Metadata>,
    pub(super) updated_at: DateTime<Utc>,
}

impl InvoiceChanges {
    /// Checks every given field; `items` may be left out but not cleared.
    pub fn parse(update: InvoiceUpdate, now: DateTime<Utc>) -> Result<Self, InvoiceError> {
        let mut errors = Vec::new();
        let items = match update.items {
            Some(None) => {
                errors.push(FieldError::new("items", "is required and cannot be null"));
                None
            }
            Some(Some(items)) => Some(parse_items(&items, &mut errors)),
            None => None,
        };
        let tax_rate_bps = update
            .tax_rate_bps
            .map(|rate| parse_tax_rate(rate.unwrap_or(0), &mut errors));
        let due_date = update
            .due_date
            .map(|date| date.and_then(|d| parse_due_date(&d, &mut errors)));
        let metadata = update
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

impl Invoice {
    /// This draft with `changes` merged in and its totals recomputed, one version later.
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
        next.version = self.version + 1;
        Ok(next)
    }
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
