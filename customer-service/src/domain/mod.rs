//! Customers as the business sees them: no HTTP, no OpenAPI, no database. A
//! [`NewCustomer`] or [`CustomerChanges`] exists only once every rule holds, and an
//! [`Email`] only holds a valid address; nothing past that point checks again.

mod customer;
mod email;

pub use customer::{
    Address, Customer, CustomerChanges, CustomerFields, CustomerUpdate, MAX_ADDRESS_LINE_CHARS,
    MAX_NAME_CHARS, MAX_PHONE_CHARS, NewCustomer, is_valid_phone,
};
pub use email::{Email, MAX_EMAIL_CHARS};
