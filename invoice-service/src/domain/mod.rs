//! Invoices as the business sees them: money in integer minor units with checked
//! arithmetic, and the lifecycle draft → open → paid | void | uncollectible.

mod invoice;
mod money;

pub use invoice::{
    CreateInvoice, CustomerSnapshot, Invoice, InvoiceChanges, InvoiceError, LineItem,
    LineItemInput, MAX_DESCRIPTION_CHARS, MAX_ITEMS, MAX_QUANTITY, MAX_TAX_RATE_BPS,
    MAX_UNIT_AMOUNT, NewInvoice, Status, Transition, UpdateInvoice,
};
pub use money::{Totals, compute_totals};
