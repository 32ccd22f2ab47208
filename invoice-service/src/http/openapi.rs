//! invoice-service's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the DTOs' `ToSchema` derives, and served at `GET /openapi.json` with
//! Swagger UI at `GET /docs`.

use service_kit::openapi::{EventRoutes, Shared};
use utoipa::OpenApi;

use super::dto::LineItemInput;
use super::{documents, invoices, ready};

/// The events and webhook-endpoint routes, with the invoice event types.
const EVENTS: EventRoutes = EventRoutes(crate::app::EVENT_TYPES);

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
        documents::get_invoice_pdf,
        ready::ready,
    ),
    components(schemas(LineItemInput)),
    modifiers(&Shared, &EVENTS),
    tags(
        (name = "invoices", description = "Invoices: drafts, their lifecycle draft → open → paid | void | uncollectible, and lists."),
        (name = "operations", description = "Health, readiness, metrics and this document; never behind an API key."),
    ),
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use test_support::openapi::{Expected, accepted_by, assert_document};

    use super::*;
    use crate::http::schemas::{currency, currency_codes, description};

    fn document() -> serde_json::Value {
        test_support::openapi::document(&ApiDoc::openapi())
    }

    #[test]
    fn the_document_has_every_route_closed_bodies_the_invoice_as_written_and_the_key() {
        let invoice = service_kit::seed::parse::<crate::domain::Invoice>(crate::seed::SAMPLE)
            .unwrap()
            .remove(0);
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
                    ("/invoices/{id}/pdf", &["get"]),
                    ("/events", &["get"]),
                    ("/events/{id}", &["get"]),
                    ("/events/{id}/redeliver", &["post"]),
                    ("/webhook_endpoints", &["get", "post"]),
                    ("/webhook_endpoints/{id}", &["get", "patch", "delete"]),
                    ("/webhook_endpoints/{id}/rotate_secret", &["post"]),
                    ("/webhook_endpoints/{id}/attempts", &["get"]),
                    ("/webhook_endpoints/{id}/recover", &["post"]),
                ],
                closed: &[
                    "CreateInvoice",
                    "UpdateInvoice",
                    "LineItemInput",
                    "CreateWebhookEndpoint",
                    "UpdateWebhookEndpoint",
                    "RedeliverEvent",
                    "RecoverWebhookEndpoint",
                ],
                describes: ("Invoice", serde_json::to_value(invoice).unwrap()),
                guarded: ("/invoices", "post"),
            },
        );
    }

    #[test]
    fn events_and_webhook_endpoints_name_the_invoice_event_types_and_need_the_key() {
        let doc = document();
        test_support::openapi::assert_event_routes(&doc, crate::app::EVENT_TYPES);
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
