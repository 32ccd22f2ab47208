use bson::oid::ObjectId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use service_kit::{FieldError, Metadata};

use super::currency::Currency;
use super::line_item::LineItem;

/// Where an invoice is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// The customer as it was when the invoice was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSnapshot {
    pub name: String,
    pub email: String,
}

/// A stored invoice, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    #[serde(with = "service_kit::id::hex")]
    pub id: ObjectId,
    /// `INV-000001`…: given at finalize, unique and gapless; null while draft.
    pub number: Option<String>,
    #[serde(with = "service_kit::id::hex")]
    pub customer_id: ObjectId,
    pub customer_name: String,
    pub customer_email: String,
    pub currency: Currency,
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
    /// The customer's page for this invoice, opened without an API key: given at finalize,
    /// its last segment an unguessable token; null while draft.
    #[serde(default)]
    pub hosted_invoice_url: Option<String>,
    /// Bumped by every write. Not part of the API: a write succeeds only on the version it
    /// read, and the cache refuses a fill older than what it holds.
    #[serde(skip, default = "service_kit::store::first_version")]
    pub version: i64,
}

impl service_kit::store::Versioned for Invoice {
    fn version_mut(&mut self) -> &mut i64 {
        &mut self.version
    }
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

    /// This invoice after `transition`, one version later, or why not. Finalize leaves the number to the
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
        next.version = self.version + 1;
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

    /// The secret last segment of [`Invoice::hosted_invoice_url`], which the hosted page's
    /// link must present.
    pub fn hosted_token(&self) -> Option<&str> {
        let url = self.hosted_invoice_url.as_deref()?;
        url.rsplit_once('/')
            .map(|(_, token)| token)
            .filter(|t| !t.is_empty())
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

pub(super) fn overflow() -> InvoiceError {
    InvoiceError::Invalid(vec![FieldError::new(
        "items",
        "the invoice totals are too large to represent",
    )])
}

#[cfg(test)]
mod tests {
    use super::Invoice;

    #[test]
    fn numbers_are_six_digits() {
        assert_eq!(Invoice::number_for(1), "INV-000001");
        assert_eq!(Invoice::sequence_of("INV-000042"), Some(42));
    }
}
