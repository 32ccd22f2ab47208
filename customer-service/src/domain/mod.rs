//! Customers as the business sees them. Requests arrive as raw DTOs (`CreateCustomer`,
//! `UpdateCustomer`) and become `NewCustomer` / `CustomerChanges` only once every rule holds;
//! nothing past that point checks again.

mod customer;

pub use customer::{
    Address, CreateCustomer, Customer, CustomerChanges, Email, MAX_ADDRESS_LINE_CHARS,
    MAX_EMAIL_CHARS, MAX_NAME_CHARS, MAX_PHONE_CHARS, NewCustomer, UpdateCustomer,
};
