//! Invoices as the business sees them: no HTTP, no OpenAPI, no database. Money is integer
//! minor units with checked arithmetic; a [`Currency`] holds only an ISO 4217 code; the
//! lifecycle is draft → open → paid | void | uncollectible, and [`Transition`] says which
//! moves are allowed.

mod currency;
mod invoice;
mod line_item;
mod money;
mod request;

pub use currency::Currency;
pub use invoice::{CustomerSnapshot, Invoice, InvoiceError, Status, Transition};
pub use line_item::{
    LineItem, LineItemFields, MAX_DESCRIPTION_CHARS, MAX_ITEMS, MAX_QUANTITY, MAX_UNIT_AMOUNT,
};
pub use money::{Totals, compute_totals, format_money};
pub use request::{InvoiceChanges, InvoiceFields, InvoiceUpdate, MAX_TAX_RATE_BPS, NewInvoice};
