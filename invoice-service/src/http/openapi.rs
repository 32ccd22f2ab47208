//! invoice-service's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the DTOs' `ToSchema` derives, and served at `GET /openapi.json` with
//! Swagger UI at `GET /docs`.

use service_kit::codes::{
    BY_ID, CONTENDED, DEPENDENCY_UNAVAILABLE, GUARDED, IDEMPOTENT, JSON_BODY, QUERY,
};
use service_kit::error_responses;
use service_kit::openapi::{ID_PATTERN, Shared, code_pattern, non_blank_text, nullable};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, Ref};
use utoipa::{OpenApi, ToSchema};

use super::dto::LineItemInput;
use super::{invoices, ready};
use crate::domain::{
    MAX_DESCRIPTION_CHARS, MAX_ITEMS, MAX_QUANTITY, MAX_TAX_RATE_BPS, MAX_UNIT_AMOUNT,
};
use crate::error::{CUSTOMER_NOT_FOUND, INVALID_TRANSITION};

error_responses! {
    /// Reading one invoice.
    pub ReadErrors = [GUARDED, BY_ID];
    /// Creating a draft.
    pub CreateErrors = [GUARDED, JSON_BODY, IDEMPOTENT, &[CUSTOMER_NOT_FOUND]];
    /// Editing a draft.
    pub EditErrors = [GUARDED, BY_ID, JSON_BODY, CONTENDED, &[INVALID_TRANSITION]];
    /// A lifecycle transition.
    pub TransitionErrors = [GUARDED, BY_ID, IDEMPOTENT, CONTENDED, &[INVALID_TRANSITION]];
    /// Deleting a draft.
    pub DeleteErrors = [GUARDED, BY_ID, CONTENDED, &[INVALID_TRANSITION]];
    /// Listing invoices.
    pub ListErrors = [GUARDED, QUERY];
    /// `GET /ready`.
    pub ReadyErrors = [&[DEPENDENCY_UNAVAILABLE]];
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "invoice-service",
        description = "Invoices of the billing system, read through a cache. JSON in, JSON out; \
            money is an integer in the currency's minor unit; every error is \
            `{\"error\", \"code\", \"details\"?}`. Business routes need \
            `Authorization: Bearer <key>` when the service has API keys configured.",
    ),
    paths(
        invoices::create_invoice,
        invoices::list_invoices,
        invoices::get_invoice,
        invoices::update_invoice,
        invoices::delete_invoice,
        invoices::finalize_invoice,
        invoices::pay_invoice,
        invoices::void_invoice,
        invoices::mark_invoice_uncollectible,
        ready::ready,
    ),
    components(schemas(LineItemInput)),
    modifiers(&Shared),
    tags(
        (name = "invoices", description = "Invoices: drafts, their lifecycle draft → open → paid | void | uncollectible, and lists."),
        (name = "operations", description = "Health, readiness, metrics and this document; never behind an API key."),
    ),
)]
pub struct ApiDoc;

// ---------------------------------------------------------------- request fields

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
        .items(Ref::from_schema_name(LineItemInput::name()))
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

/// `items[].quantity`: an integer from 1 to 1,000,000.
pub fn quantity() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(MAX_QUANTITY))
        .examples([3])
        .build()
        .into()
}

/// `items[].unit_amount`: minor units from 0 to 10^10.
pub fn unit_amount() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(0))
        .maximum(Some(MAX_UNIT_AMOUNT as f64))
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

#[cfg(test)]
mod tests {
    use test_support::openapi::{Expected, accepted_by, assert_document};

    use super::*;

    fn document() -> serde_json::Value {
        test_support::openapi::document(&ApiDoc::openapi())
    }

    #[test]
    fn the_document_has_every_route_closed_bodies_the_invoice_as_written_and_the_key() {
        let invoice = crate::seed::sample_invoices().unwrap().remove(0);
        assert_document(
            &ApiDoc::openapi(),
            Expected {
                routes: &[
                    ("/invoices", &["get", "post"]),
                    ("/invoices/{id}", &["get", "patch", "delete"]),
                    ("/invoices/{id}/finalize", &["post"]),
                    ("/invoices/{id}/pay", &["post"]),
                    ("/invoices/{id}/void", &["post"]),
                    ("/invoices/{id}/mark_uncollectible", &["post"]),
                ],
                closed: &["CreateInvoice", "UpdateInvoice", "LineItemInput"],
                describes: ("Invoice", serde_json::to_value(invoice).unwrap()),
                guarded: ("/invoices", "post"),
            },
        );
    }

    #[test]
    fn creates_and_transitions_take_an_idempotency_key() {
        let doc = document();
        for (path, method) in [
            ("/invoices", "post"),
            ("/invoices/{id}/finalize", "post"),
            ("/invoices/{id}/pay", "post"),
            ("/invoices/{id}/void", "post"),
            ("/invoices/{id}/mark_uncollectible", "post"),
        ] {
            let parameters = doc["paths"][path][method]["parameters"].as_array().unwrap();
            assert!(
                parameters.iter().any(|p| p["name"] == "Idempotency-Key"),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn currency_codes_are_the_iso_4217_table() {
        let codes = currency_codes();
        assert!(codes.len() > 150, "{}", codes.len());
        for code in ["USD", "EUR", "JPY", "CHF"] {
            assert!(codes.iter().any(|c| c == code), "{code}");
        }
    }

    /// Whether the domain takes a new invoice with this `currency` and item `description`.
    fn accepted_by_the_domain(currency: &str, description: &str) -> bool {
        let body = serde_json::json!({
            "customer_id": "65f000000000000000000001", "currency": currency,
            "items": [{"description": description, "quantity": 1, "unit_amount": 1}],
        });
        let raw: super::super::dto::CreateInvoice = serde_json::from_value(body).unwrap();
        crate::domain::NewInvoice::parse(raw.into()).is_ok()
    }

    #[test]
    fn the_documented_currency_pattern_accepts_exactly_what_the_domain_accepts() {
        let documented = accepted_by(currency());
        let mut samples = vec![
            String::new(),
            "US".to_owned(),
            "USDD".to_owned(),
            "U SD".to_owned(),
            "ÜSD".to_owned(),
        ];
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = format!("{}{}X", a as char, b as char);
                samples.push(code.clone());
                samples.push(format!(" {} ", code.to_lowercase()));
            }
        }
        for code in currency_codes() {
            samples.push(format!("\u{a0}{}\u{3000}", code.to_lowercase()));
            samples.push(code);
        }
        for sample in samples {
            assert_eq!(
                documented(&sample),
                accepted_by_the_domain(&sample, "x"),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn the_documented_description_pattern_accepts_exactly_what_the_domain_accepts() {
        let documented = accepted_by(description());
        let mut samples: Vec<String> = [
            "",
            " ",
            "x",
            " x ",
            "\t\n",
            "\u{85}",
            "\u{a0}",
            "\u{3000}x",
            "\u{1c}",
            "\u{feff}",
            "a\u{7}b",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        samples.extend([500, 501].map(|n| "é".repeat(n)));
        for sample in samples {
            assert_eq!(
                documented(&sample),
                accepted_by_the_domain("usd", &sample),
                "{sample:?}"
            );
        }
    }
}
