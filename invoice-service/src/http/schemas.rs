//! The schemas of request fields, stating the limits the domain enforces so that a client
//! (or a generator such as schemathesis) can tell what the service accepts.

use service_kit::openapi::{ID_PATTERN, code_pattern, non_blank_text, nullable};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, Ref};

use crate::domain::{
    MAX_DESCRIPTION_CHARS, MAX_ITEMS, MAX_QUANTITY, MAX_TAX_RATE_BPS, MAX_UNIT_AMOUNT,
};

/// `customer_id`: a 24-hex id of a customer of customer-service.
pub fn customer_id() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(ID_PATTERN))
        .description(Some(
            "The customer, who must exist in customer-service (`422 customer_not_found`).",
        ))
        .examples(["65f000000000000000000001"])
        .build()
        .into()
}

/// Every ISO 4217 code the domain accepts.
pub fn currency_codes() -> Vec<String> {
    let letters = || b'A'..=b'Z';
    let mut codes = Vec::new();
    for a in letters() {
        for b in letters() {
            for c in letters() {
                let code = String::from_utf8_lossy(&[a, b, c]).into_owned();
                if iso_currency::Currency::from_code(&code).is_some() {
                    codes.push(code);
                }
            }
        }
    }
    codes
}

/// `currency`: an ISO 4217 code in any case, stored upper-case.
pub fn currency() -> Schema {
    let codes = currency_codes();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(code_pattern(codes.iter().map(String::as_str))))
        .description(Some(
            "An ISO 4217 currency code such as `USD` or `EUR`, in any case; stored upper-case.",
        ))
        .examples(["USD"])
        .build()
        .into()
}

/// `items`: 1 to 100 line items.
pub fn items() -> Schema {
    ArrayBuilder::new()
        .items(Ref::from_schema_name("LineItemInput"))
        .min_items(Some(1))
        .max_items(Some(MAX_ITEMS))
        .build()
        .into()
}

/// `items[].description`: 1 to 500 characters, not blank.
pub fn description() -> Schema {
    non_blank_text(MAX_DESCRIPTION_CHARS, false)
        .examples(["Hosting, March"])
        .build()
        .into()
}

/// A 64-bit integer from `minimum` to `maximum`.
fn integer(minimum: f64, maximum: f64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(minimum))
        .maximum(Some(maximum))
}

/// `items[].quantity`: an integer from 1 to 1,000,000.
pub fn quantity() -> Schema {
    integer(1.0, f64::from(MAX_QUANTITY))
        .examples([3])
        .build()
        .into()
}

/// `items[].unit_amount`: minor units from 0 to 10^10.
pub fn unit_amount() -> Schema {
    integer(0.0, MAX_UNIT_AMOUNT as f64)
        .description(Some("In the currency's minor unit (cents)."))
        .examples([1999])
        .build()
        .into()
}

/// `tax_rate_bps`: basis points from 0 to 10,000; `null` (or absent) is 0.
pub fn tax_rate_bps() -> Schema {
    nullable(
        ObjectBuilder::new()
            .minimum(Some(0))
            .maximum(Some(MAX_TAX_RATE_BPS))
            .description(Some("Basis points: 850 is 8.5%. Absent or null is 0."))
            .examples([850]),
        Type::Integer,
    )
}

/// `due_date`: `YYYY-MM-DD`; `null` for none.
pub fn due_date() -> Schema {
    nullable(
        ObjectBuilder::new()
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
            .examples(["2025-04-30"]),
        Type::String,
    )
}
