//! The bodies and queries clients send, as they arrive: unknown fields are refused (which
//! keeps MongoDB operators out), then each becomes its domain type, which checks the rules.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use service_kit::extract::{
    double_option, double_option_integer, double_option_objects, integer, objects, optional_integer,
};
use service_kit::{ApiError, Cursor, Limit, Page};
use utoipa::{IntoParams, ToSchema};

use crate::app::InvoiceQuery;
use crate::domain::{InvoiceFields, InvoiceUpdate, LineItemFields, Status};

/// A line item as a client sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItemInput {
    #[schema(schema_with = super::schemas::description)]
    pub description: String,
    #[serde(deserialize_with = "integer")]
    #[schema(schema_with = super::schemas::quantity)]
    pub quantity: i64,
    #[serde(deserialize_with = "integer")]
    #[schema(schema_with = super::schemas::unit_amount)]
    pub unit_amount: i64,
}

impl From<LineItemInput> for LineItemFields {
    fn from(i: LineItemInput) -> Self {
        LineItemFields {
            description: i.description,
            quantity: i.quantity,
            unit_amount: i.unit_amount,
        }
    }
}

fn line_items(items: Vec<LineItemInput>) -> Vec<LineItemFields> {
    items.into_iter().map(LineItemFields::from).collect()
}

/// `POST /invoices`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvoice {
    #[schema(schema_with = super::schemas::customer_id)]
    pub customer_id: String,
    #[schema(schema_with = super::schemas::currency)]
    pub currency: String,
    #[serde(deserialize_with = "objects")]
    #[schema(schema_with = super::schemas::items)]
    pub items: Vec<LineItemInput>,
    #[serde(default, deserialize_with = "optional_integer")]
    #[schema(schema_with = super::schemas::tax_rate_bps)]
    pub tax_rate_bps: Option<i64>,
    #[serde(default)]
    #[schema(schema_with = super::schemas::due_date)]
    pub due_date: Option<String>,
    #[serde(default)]
    #[schema(schema_with = service_kit::openapi::metadata_input)]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl From<CreateInvoice> for InvoiceFields {
    fn from(c: CreateInvoice) -> Self {
        InvoiceFields {
            customer_id: c.customer_id,
            currency: c.currency,
            items: line_items(c.items),
            tax_rate_bps: c.tax_rate_bps,
            due_date: c.due_date,
            metadata: c.metadata,
        }
    }
}

/// `PATCH /invoices/{id}` on a draft. `null` clears `due_date` and `metadata`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInvoice {
    #[serde(default, deserialize_with = "double_option_objects")]
    #[schema(schema_with = super::schemas::items)]
    pub items: Option<Option<Vec<LineItemInput>>>,
    #[serde(default, deserialize_with = "double_option_integer")]
    #[schema(schema_with = super::schemas::tax_rate_bps)]
    pub tax_rate_bps: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = super::schemas::due_date)]
    pub due_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = service_kit::openapi::metadata_input)]
    pub metadata: Option<Option<BTreeMap<String, String>>>,
}

impl From<UpdateInvoice> for InvoiceUpdate {
    fn from(u: UpdateInvoice) -> Self {
        InvoiceUpdate {
            items: u.items.map(|items| items.map(line_items)),
            tax_rate_bps: u.tax_rate_bps,
            due_date: u.due_date,
            metadata: u.metadata,
        }
    }
}

/// `GET /invoices` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListInvoices {
    #[serde(default)]
    #[param(inline)]
    limit: Limit,
    #[param(inline)]
    after: Option<Cursor>,
    /// Only the invoices of this customer.
    #[param(pattern = "^[0-9a-fA-F]{24}$")]
    customer_id: Option<String>,
    /// Only the invoices in this status.
    #[param(inline, value_type = Option<StatusSchema>)]
    status: Option<Status>,
}

impl TryFrom<ListInvoices> for InvoiceQuery {
    type Error = ApiError;

    fn try_from(q: ListInvoices) -> Result<Self, ApiError> {
        let customer_id = q
            .customer_id
            .as_deref()
            .map(|raw| service_kit::extract::object_id_field("customer_id", raw))
            .transpose()?;
        Ok(InvoiceQuery {
            customer_id,
            status: q.status,
            after: q.after.map(|c| c.0),
            limit: q.limit,
        })
    }
}

// ---------------------------------------------------------------- the invoice
// The document's names for the domain types, describing their serialisation; a test keeps
// the two alike.

/// Where an invoice is in its life.
#[derive(Serialize, ToSchema)]
#[schema(as = Status)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum StatusSchema {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

/// One line of an invoice. `amount` = `quantity` × `unit_amount`.
#[derive(ToSchema)]
#[schema(as = LineItem)]
#[allow(dead_code)]
pub struct LineItemSchema {
    description: String,
    quantity: u32,
    unit_amount: i64,
    amount: i64,
}

/// A stored invoice, as the API returns it.
#[derive(ToSchema)]
#[schema(as = Invoice)]
#[allow(dead_code)]
pub struct InvoiceSchema {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    id: String,
    /// `INV-000001`…: given at finalize, unique and gapless; null while draft.
    #[schema(pattern = "^INV-[0-9]{6,}$")]
    number: Option<String>,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    customer_id: String,
    customer_name: String,
    customer_email: String,
    /// ISO 4217, upper-case.
    #[schema(pattern = "^[A-Z]{3}$", examples("USD"))]
    currency: String,
    items: Vec<LineItemSchema>,
    subtotal: i64,
    tax_rate_bps: u32,
    tax: i64,
    total: i64,
    amount_paid: i64,
    amount_due: i64,
    status: StatusSchema,
    due_date: Option<NaiveDate>,
    #[schema(value_type = service_kit::Metadata)]
    metadata: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finalized_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    voided_at: Option<DateTime<Utc>>,
    /// The customer's page for this invoice (HTML, with a link to its PDF), opened without
    /// an API key; given at finalize, null while draft.
    #[schema(format = "uri")]
    hosted_invoice_url: Option<String>,
}

/// An invoice's PDF document, as bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct InvoicePdf(Vec<u8>);

/// A page of invoices.
pub type InvoiceList = Page<InvoiceSchema>;

// ---------------------------------------------------------------- answers
// The handlers write these bodies from already-serialised invoice JSON; these types only
// describe them.

/// `201` of `POST /invoices`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InvoiceCreated {
    #[schema(examples("Invoice created"))]
    pub message: String,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    pub id: String,
    pub invoice: InvoiceSchema,
}

/// Where `GET /invoices/{id}` read the invoice from.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadSource {
    Cache,
    Database,
}

/// `200` of `GET /invoices/{id}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InvoiceRead {
    pub source: ReadSource,
    pub invoice: InvoiceSchema,
}

/// `200` of an edit or a transition.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InvoiceEnvelope {
    pub invoice: InvoiceSchema,
}

/// `200` of `DELETE /invoices/{id}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InvoiceDeleted {
    #[schema(examples("Invoice deleted"))]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{
        CustomerSnapshot, Invoice, InvoiceChanges, InvoiceError, InvoiceUpdate, NewInvoice, Status,
        Transition,
    };

    fn create(body: serde_json::Value) -> Result<NewInvoice, InvoiceError> {
        NewInvoice::parse(
            serde_json::from_value::<CreateInvoice>(body)
                .unwrap()
                .into(),
        )
    }

    fn ada() -> CustomerSnapshot {
        CustomerSnapshot {
            name: "Ada".into(),
            email: "ada@example.com".into(),
        }
    }

    fn draft() -> Invoice {
        create(json!({
            "customer_id": "65f000000000000000000001", "currency": "usd",
            "items": [{"description": "Hosting", "quantity": 3, "unit_amount": 1999}],
            "tax_rate_bps": 850
        }))
        .unwrap()
        .into_draft(ada(), None, service_kit::time::now())
    }

    #[test]
    fn a_draft_has_exact_totals_and_upper_case_currency() {
        let invoice = draft();
        assert_eq!(invoice.currency.as_str(), "USD");
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
            open.edited(
                &InvoiceChanges::parse(
                    InvoiceUpdate {
                        tax_rate_bps: Some(Some(0)),
                        ..InvoiceUpdate::default()
                    },
                    now
                )
                .unwrap()
            )
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
.into_draft(ada(), None, service_kit::time::now());
        assert_eq!(invoice.subtotal, 1_000_000_000_000_000_000);
        assert_eq!(invoice.tax, 900_000_000_000_000_000);
        assert_eq!(invoice.total, 1_900_000_000_000_000_000);
    }

    #[test]
    fn integral_numbers_are_integers_however_written() {
        let invoice = create(json!({
            "customer_id": "65f000000000000000000001", "currency": "EUR",
            "items": [{"description": "x", "quantity": 3.0, "unit_amount": 1.999e3}],
            "tax_rate_bps": 850.0
        }))
        .unwrap()
        .into_draft(ada(), None, service_kit::time::now());
        assert_eq!(
            (invoice.items[0].quantity, invoice.items[0].unit_amount),
            (3, 1_999)
        );
        assert_eq!(invoice.tax_rate_bps, 850);
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
}
