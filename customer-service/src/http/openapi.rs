//! customer-service's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the DTOs' `ToSchema` derives, and served at `GET /openapi.json` with
//! Swagger UI at `GET /docs`.

use service_kit::openapi::Shared;
use utoipa::OpenApi;

use super::{customers, ready};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "customer-service",
        description = "Customers of the billing system. JSON in, JSON out; every error is \
            `{\"error\", \"code\", \"details\"?}`. Business routes need \
            `Authorization: Bearer <key>` when the service has API keys configured.",
    ),
    paths(
        customers::create_customer,
        customers::list_customers,
        customers::get_customer,
        customers::update_customer,
        customers::delete_customer,
        ready::ready,
    ),
    modifiers(&Shared),
    tags(
        (name = "customers", description = "Customers: create, read, update, delete, list."),
        (name = "operations", description = "Health, readiness, metrics and this document; never behind an API key."),
    ),
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use test_support::openapi::{Expected, accepted_by, assert_document};

    use super::*;
    use crate::http::schemas::{address_line, country, name, phone};

    #[test]
    fn the_document_has_every_route_closed_bodies_the_customer_as_written_and_the_key() {
        let customer = service_kit::seed::parse::<crate::domain::Customer>(crate::seed::SAMPLE)
            .unwrap()
            .remove(0);
        assert_document(
            &ApiDoc::openapi(),
            Expected {
                routes: &[
                    ("/customers", &["get", "post"]),
                    ("/customers/{id}", &["get", "put", "patch", "delete"]),
                ],
                closed: &["CreateCustomer", "UpdateCustomer", "Address"],
                describes: ("Customer", serde_json::to_value(customer).unwrap()),
                guarded: ("/customers", "post"),
            },
        );
    }

    /// Whether the domain takes a new customer whose `field` (`a.b` for nested) is `value`.
    fn accepted_by_the_domain(field: &str, value: &str) -> bool {
        let mut body = serde_json::json!({"name": "Ada", "email": "ada@example.com"});
        match field.split_once('.') {
            Some((outer, inner)) => body[outer] = serde_json::json!({ inner: value }),
            None => body[field] = serde_json::json!(value),
        }
        let raw: super::super::dto::CreateCustomer = serde_json::from_value(body).unwrap();
        crate::domain::NewCustomer::parse(raw.into(), service_kit::time::now()).is_ok()
    }

    fn samples() -> Vec<String> {
        let mut samples: Vec<String> = [
            "",
            " ",
            "a",
            " a ",
            "\t\n",
            "a\u{7}b",
            "\u{85}",
            "\u{a0}",
            "\u{a0}x",
            "x\u{2028}",
            "\u{3000}",
            "\u{feff}",
            "\u{1c}",
            "Zoë Müller GmbH",
            "日本",
            "+1 415 555 0132",
            "(030) 1234-56.7",
            "call me",
            "()",
            "+",
            "1",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for n in [32, 33, 200, 201] {
            samples.push("é".repeat(n));
            samples.push("1".repeat(n));
        }
        for code in isocountry::CountryCode::iter().map(|c| c.alpha2()) {
            samples.push(code.to_owned());
            samples.push(format!(" {} ", code.to_lowercase()));
            samples.push(format!("\u{a0}{code}\u{3000}"));
        }
        samples.extend(["XX", "USA", "u", "d e", "D\u{1c}E", "ÜS"].map(str::to_owned));
        samples
    }

    #[test]
    fn the_documented_patterns_accept_exactly_what_the_domain_accepts() {
        for (field, schema) in [
            ("name", name()),
            ("phone", phone()),
            ("address.line1", address_line()),
            ("address.country", country()),
        ] {
            let documented = accepted_by(schema);
            for sample in samples() {
                assert_eq!(
                    documented(&sample),
                    accepted_by_the_domain(field, &sample),
                    "{field}: {sample:?}"
                );
            }
        }
    }
}
