//! customer-service's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the DTOs' `ToSchema` derives, and served at `GET /openapi.json` with
//! Swagger UI at `GET /docs`.

use service_kit::openapi::{EventRoutes, Shared};
use utoipa::OpenApi;

use super::{customers, ready};

/// The events and webhook-endpoint routes, with the customer event types.
const EVENTS: EventRoutes = EventRoutes(crate::app::EVENT_TYPES);

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
    modifiers(&Shared, &EVENTS),
    tags(
        (name = "customers", description = "Customers: create, read, update, delete, list."),
        (name = "operations", description = "Health, readiness, metrics and this document; never behind an API key."),
    ),
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use service_kit::events::url_guard::{UrlPolicy, UrlRefused};
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
                    "CreateCustomer",
                    "UpdateCustomer",
                    "Address",
                    "CreateWebhookEndpoint",
                    "UpdateWebhookEndpoint",
                    "RedeliverEvent",
                    "RecoverWebhookEndpoint",
                ],
                describes: ("Customer", serde_json::to_value(customer).unwrap()),
                guarded: ("/customers", "post"),
            },
        );
    }

    #[test]
    fn events_and_webhook_endpoints_name_the_customer_event_types_and_need_the_key() {
        let doc = test_support::openapi::document(&ApiDoc::openapi());
        test_support::openapi::assert_event_routes(&doc, crate::app::EVENT_TYPES);
    }

    /// The URL check with loopback allowed. Every sample is an address, or is refused
    /// before its host would be looked up, so none needs a name server.
    async fn checked(url: &str) -> Result<(), UrlRefused> {
        let policy = UrlPolicy {
            allow_loopback: true,
        };
        policy.check(url).await.map(|_| ())
    }

    #[tokio::test]
    async fn the_documented_url_pattern_takes_only_urls_the_check_can_take() {
        let documented = accepted_by(service_kit::openapi::events::url_input());
        for url in [
            "http://127.0.0.1",
            "https://127.0.0.1:8443/hooks?x=1#f",
            "HTTPS://127.0.0.1/a@b",
            "http://[::1]/",
            "http://[::1]:65535/hooks",
            "https://8.8.8.8/billing",
            "http://[2606:4700::1111]:80/",
        ] {
            assert!(documented(url), "{url}");
            assert_eq!(checked(url).await, Ok(()), "{url}");
        }
        for url in [
            "http://10.0.0.1/",
            "http://169.254.169.254/",
            "http://[fd00::1]/",
        ] {
            assert!(documented(url), "{url}");
            assert_eq!(checked(url).await, Err(UrlRefused::Private), "{url}");
        }
        for url in [
            "",
            "127.0.0.1",
            "ftp://127.0.0.1/",
            "http://user:pw@127.0.0.1/",
            "http://user@127.0.0.1/",
            "http://127.0.0.1:65536/",
            "http://[::1/",
            "http://[1:2]/",
            "http://256.0.0.1/",
            "http://a b/",
            "mailto:ops@127.0.0.1",
        ] {
            assert!(!documented(url), "{url:?}");
            assert!(
                matches!(
                    checked(url).await,
                    Err(UrlRefused::NotHttp | UrlRefused::Credentials)
                ),
                "{url:?}"
            );
        }
        let longest = format!("https://127.0.0.1/{}", "a".repeat(2048 - 18));
        assert!(documented(&longest));
        assert!(!documented(&format!("{longest}a")));
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
