//! The document of `/events` and `/webhook_endpoints` ([`crate::events::http`]): the same on
//! both services but for the event types each emits, which [`EventRoutes`] takes when it
//! adds the routes to a service's document.

use chrono::{DateTime, Utc};
use serde_json::json;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, RefBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{OpenApi, Ref};
use utoipa::{Modify, ToSchema};

use super::document::business_conventions;
use super::text::nullable;
use crate::Page;
use crate::error::codes::{
    BY_ID, CONTENDED, ENDPOINT_DISABLED, GUARDED, IDEMPOTENT, JSON_BODY, QUERY,
};
use crate::events::app::{MAX_DESCRIPTION_CHARS, MAX_URL_CHARS};
use crate::events::http;

/// The tag of `/events`.
pub const EVENTS_TAG: &str = "events";
/// The tag of `/webhook_endpoints`.
pub const WEBHOOK_ENDPOINTS_TAG: &str = "webhook_endpoints";

/// The name of the schema of one of the service's event types.
const EVENT_TYPE: &str = "EventType";
/// The name of the schema of what an endpoint subscribes to: an event type or `*`.
const ENABLED_EVENT: &str = "EnabledEvent";

/// Adds the events and webhook-endpoint routes to a service's document, with the event types
/// it emits: `const EVENTS: EventRoutes = EventRoutes(app::EVENT_TYPES);`, then
/// `modifiers(&Shared, &EVENTS)` (in either order: it applies the business routes'
/// conventions to its own).
pub struct EventRoutes(pub &'static [&'static str]);

impl Modify for EventRoutes {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi.merge(<http::EventsApi as utoipa::OpenApi>::openapi());
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.insert(
            EVENT_TYPE.to_owned(),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(self.0.iter().copied()))
                .description(Some("One of the event types this service emits."))
                .into(),
        );
        components.schemas.insert(
            ENABLED_EVENT.to_owned(),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(std::iter::once("*").chain(self.0.iter().copied())))
                .description(Some(
                    "An event type this service emits, or `*` for every one of them.",
                ))
                .into(),
        );
        let tags = openapi.tags.get_or_insert_with(Vec::new);
        for (name, description) in [
            (
                EVENTS_TAG,
                "The log of every change: list, read, send one to an endpoint again.",
            ),
            (
                WEBHOOK_ENDPOINTS_TAG,
                "Where events are delivered, signed: create, read, change, delete, list; rotate \
                 the secret, list the attempts, send failed deliveries again.",
            ),
        ] {
            if !tags.iter().any(|tag| tag.name == name) {
                tags.push(
                    TagBuilder::new()
                        .name(name)
                        .description(Some(description))
                        .build(),
                );
            }
        }
        business_conventions(openapi);
    }
}

crate::error_responses! {
    /// Listing events or endpoints.
    pub(crate) ListErrors = [GUARDED, QUERY];
    /// Reading an event, reading or deleting an endpoint.
    pub(crate) OneErrors = [GUARDED, BY_ID];
    /// Sending an event to an endpoint again.
    pub(crate) RedeliverErrors = [GUARDED, BY_ID, JSON_BODY, IDEMPOTENT, &[ENDPOINT_DISABLED]];
    /// Creating an endpoint.
    pub(crate) CreateErrors = [GUARDED, JSON_BODY, IDEMPOTENT];
    /// Changing an endpoint.
    pub(crate) UpdateErrors = [GUARDED, BY_ID, JSON_BODY, CONTENDED];
    /// Rotating an endpoint's secret.
    pub(crate) RotateErrors = [GUARDED, BY_ID, IDEMPOTENT, CONTENDED];
    /// Listing an endpoint's attempts.
    pub(crate) AttemptErrors = [GUARDED, BY_ID, QUERY];
    /// Sending an endpoint's failed deliveries again.
    pub(crate) RecoverErrors = [GUARDED, BY_ID, JSON_BODY, IDEMPOTENT, CONTENDED];
}

/// One DNS label: letters, digits and inner hyphens, never two together (so never an
/// `xn--` label, which must be valid Punycode).
const LABEL: &str = "[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*";
/// A label that cannot be read as a number (the last one of a name: one that can is an IPv4
/// address, or refused).
const LAST_LABEL: &str = "[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*";
/// One decimal octet, without the leading zeros that would make it octal.
const OCTET: &str = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
/// A port from 0 to 65535.
const PORT: &str =
    "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9]?[0-9]{1,3})";

/// An IPv6 address without an embedded IPv4 one, as the bracketed host of a URL.
fn ipv6() -> String {
    let h = "[0-9A-Fa-f]{1,4}";
    let forms = [
        format!("(?:{h}:){{7}}{h}"),
        format!("(?:{h}:){{1,7}}:"),
        format!("(?:{h}:){{1,6}}:{h}"),
        format!("(?:{h}:){{1,5}}(?::{h}){{1,2}}"),
        format!("(?:{h}:){{1,4}}(?::{h}){{1,3}}"),
        format!("(?:{h}:){{1,3}}(?::{h}){{1,4}}"),
        format!("(?:{h}:){{1,2}}(?::{h}){{1,5}}"),
        format!("{h}:(?::{h}){{1,6}}"),
        format!(":(?::{h}){{1,7}}"),
        "::".to_owned(),
    ];
    format!("\\[(?:{})\\]", forms.join("|"))
}

/// An absolute `http` or `https` URL with a host (a DNS name, an IPv4 address or a
/// bracketed IPv6 one), an optional port, no user name or password, then any path, query
/// and fragment without white space.
pub fn url_pattern() -> String {
    format!(
        "^[Hh][Tt][Tt][Pp][Ss]?://(?:(?:{LABEL}\\.)*{LAST_LABEL}|{OCTET}(?:\\.{OCTET}){{3}}|{})\
         (?::{PORT})?(?:[/?#][^\\s]*)?$",
        ipv6()
    )
}

fn url_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .max_length(Some(MAX_URL_CHARS))
        .pattern(Some(url_pattern()))
        .description(Some(format!(
            "Where deliveries are sent: an absolute `http` or `https` URL of at most \
             {MAX_URL_CHARS} characters, without a user name or password, whose host \
             resolves when the endpoint is saved, and none of whose addresses is private, \
             loopback, link-local, shared, multicast or reserved (the service's \
             `WEBHOOK_ALLOW_LOOPBACK=true` lets loopback through); anything else is \
             `422 validation_failed` naming `url`."
        )))
        .examples([json!("https://hooks.acme-widgets.example/billing")])
}

/// `url` of a new endpoint.
pub fn url_input() -> Schema {
    url_object().schema_type(Type::String).build().into()
}

/// `url` of a change: `null` leaves it as it is, as leaving it out does.
pub fn url_update() -> Schema {
    nullable(url_object(), Type::String)
}

fn enabled_events_array() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(Ref::from_schema_name(ENABLED_EVENT))
        .min_items(Some(1))
        .description(Some(
            "The event types to deliver, or `[\"*\"]` for all of them; at least one. A type \
             named twice is kept once.",
        ))
        .examples([json!(["*"])])
}

/// `enabled_events` of a new endpoint.
pub fn enabled_events_input() -> Schema {
    enabled_events_array().build().into()
}

/// `enabled_events` of a change: `null` leaves them as they are, as leaving them out does.
pub fn enabled_events_update() -> Schema {
    enabled_events_array()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .build()
        .into()
}

/// `enabled_events` as answered.
pub fn enabled_events() -> Schema {
    ArrayBuilder::new()
        .items(Ref::from_schema_name(ENABLED_EVENT))
        .build()
        .into()
}

/// `description` in a request: at most 500 characters; `null` for none (or, in a change,
/// clears it).
pub fn description_input() -> Schema {
    nullable(
        ObjectBuilder::new()
            .max_length(Some(MAX_DESCRIPTION_CHARS))
            .description(Some(format!(
                "For people: at most {MAX_DESCRIPTION_CHARS} characters; `null` for none."
            )))
            .examples([json!("Billing system of Acme Widgets")]),
        Type::String,
    )
}

fn status_object() -> ObjectBuilder {
    ObjectBuilder::new().enum_values(Some(["enabled", "disabled"]))
}

/// `status` as answered: deliveries go only to an `enabled` endpoint.
pub fn status() -> Schema {
    status_object()
        .schema_type(Type::String)
        .description(Some(
            "Deliveries go to an `enabled` endpoint only. One that answered `410 Gone`, or \
             whose every attempt failed for 5 days, is `disabled` (`disabled_reason` says why).",
        ))
        .build()
        .into()
}

/// `status` of a change: `disabled` gives up what the endpoint is owed; `null` leaves it as
/// it is, as leaving it out does.
pub fn status_update() -> Schema {
    nullable(
        status_object().description(Some(
            "`disabled` stops deliveries and gives up what the endpoint is still owed; \
             `enabled` starts them again (with `recover` to send what failed meanwhile).",
        )),
        Type::String,
    )
}

/// `secret`: `whsec_` and the base64 of 32 random bytes.
pub fn secret() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^whsec_[A-Za-z0-9+/]{43}=$"))
        .description(Some(
            "Signs every delivery (Standard Webhooks): `whsec_` and the base64 of 32 random \
             bytes. Only in the answers of `POST /webhook_endpoints` and `rotate_secret`; \
             never shown again.",
        ))
        .examples([json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6Ai+9ZfZS9g=")])
        .build()
        .into()
}

/// An id as answered: 24 lower-case hexadecimal digits.
pub fn id() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9a-f]{24}$"))
        .examples([json!("674d6f0e5a1b2c3d4e5f6071")])
        .build()
        .into()
}

/// An id in a request: 24 hexadecimal digits, any case.
fn id_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(super::ID_PATTERN))
        .examples([json!("674d6f0e5a1b2c3d4e5f6071")])
}

/// `endpoint_id` of `redeliver`.
pub fn endpoint_id() -> Schema {
    id_object()
        .description(Some(
            "The endpoint to send the event to: it must be enabled (`409 endpoint_disabled` otherwise).",
        ))
        .build()
        .into()
}

/// `object_id=` of `GET /events`.
pub fn object_id_filter() -> Schema {
    id_object()
        .description(Some(
            "Only the events of this record; a malformed id is `422 validation_failed`.",
        ))
        .build()
        .into()
}

/// `type` of an event.
fn event_type() -> Ref {
    Ref::from_schema_name(EVENT_TYPE)
}

/// `type=` of `GET /events`.
pub fn event_type_filter() -> Ref {
    RefBuilder::new()
        .ref_location_from_schema_name(EVENT_TYPE)
        .description(Some(
            "Only events of this type; any other value is `422 validation_failed`.",
        ))
        .build()
}

/// `since` of `recover`: an RFC 3339 date and time.
pub fn since() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some(
            "Every event whose delivery to the endpoint failed at or after this moment (RFC \
             3339) is sent again.",
        ))
        .examples([json!("2026-12-01T00:00:00Z")])
        .build()
        .into()
}

/// The whole resource an event is about.
fn any_object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

/// `data` of an event.
fn event_data() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "object",
            any_object().description(Some(
                "The whole resource after the change (as it was, for a deletion), as `GET` \
                 answers it.",
            )),
        )
        .required("object")
        .property(
            "previous_attributes",
            nullable(
                any_object().description(Some(
                    "The top-level fields the change gave new values, with their old values \
                     (`null` for a field that had none); `null` for a creation or a deletion.",
                )),
                Type::Object,
            ),
        )
        .required("previous_attributes")
        .build()
        .into()
}

/// An event as the API answers it and webhooks deliver it (the document's name for
/// [`crate::events::Event`], whose serialisation it describes; a test keeps the two alike).
#[derive(ToSchema)]
#[schema(as = Event)]
#[allow(dead_code)]
pub struct EventSchema {
    /// Stable: the same on every delivery and retry of the event (`webhook-id`).
    #[schema(schema_with = id)]
    id: String,
    #[schema(rename = "type", schema_with = event_type)]
    kind: String,
    created_at: DateTime<Utc>,
    /// The record the change was made to.
    #[schema(schema_with = id)]
    object_id: String,
    /// The version the change gave the record: 1 for its creation, then 2, 3… with no gap.
    #[schema(minimum = 1)]
    sequence: i64,
    #[schema(schema_with = event_data)]
    data: serde_json::Value,
    /// The `X-Request-Id` of the request that made the change.
    #[schema(required = true)]
    request_id: Option<String>,
    /// The non-secret id of the API key that made the change; `null` on an open service or
    /// for sample data.
    #[schema(required = true)]
    actor: Option<String>,
}

/// One try at delivering an event to an endpoint (the document's name for
/// [`crate::events::store::AttemptRecord`]; a test keeps the two alike).
#[derive(ToSchema)]
#[schema(as = DeliveryAttempt)]
#[allow(dead_code)]
pub struct AttemptSchema {
    #[schema(schema_with = id)]
    id: String,
    #[schema(schema_with = id)]
    endpoint_id: String,
    #[schema(schema_with = id)]
    event_id: String,
    attempted_at: DateTime<Utc>,
    /// The endpoint's answer; `null` when none came (refused, timed out).
    #[schema(required = true, minimum = 100, maximum = 999)]
    status_code: Option<u16>,
    latency_ms: u64,
    /// What went wrong, for a person; `null` when the endpoint answered `2xx`.
    #[schema(required = true)]
    error: Option<String>,
}

/// `202` of `POST /events/{id}/redeliver`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeliveryScheduled {
    #[schema(examples("Delivery scheduled"))]
    message: String,
}

/// `200` of `DELETE /webhook_endpoints/{id}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WebhookEndpointDeleted {
    #[schema(examples("Webhook endpoint deleted"))]
    message: String,
}

/// A page of events.
pub type EventList = Page<EventSchema>;
/// A page of an endpoint's attempts.
pub type AttemptList = Page<AttemptSchema>;

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use utoipa::Modify;

    use super::*;
    use crate::events::store::{AttemptRecord, Endpoint};
    use crate::events::{Event, Origin};

    const TYPES: &[&str] = &["thing.created", "thing.updated"];

    fn document() -> Value {
        let mut openapi = utoipa::openapi::OpenApiBuilder::new().build();
        EventRoutes(TYPES).modify(&mut openapi);
        serde_json::to_value(openapi).unwrap()
    }

    fn keys(value: &Value) -> Vec<String> {
        let mut keys: Vec<String> = value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
        &doc["components"]["schemas"][name]
    }

    #[test]
    fn every_route_needs_the_key_and_documents_every_status_it_answers() {
        let doc = document();
        let by_id = ["400", "401", "404", "429", "503"];
        let body = ["400", "401", "409", "413", "415", "422", "429", "503"];
        let cases: [(&str, &str, &str, &[&str]); 11] = [
            ("/events", "get", "200", &["401", "422", "429", "503"]),
            ("/events/{id}", "get", "200", &by_id),
            (
                "/events/{id}/redeliver",
                "post",
                "202",
                &[
                    "400", "401", "404", "409", "413", "415", "422", "429", "503",
                ],
            ),
            ("/webhook_endpoints", "post", "201", &body),
            (
                "/webhook_endpoints",
                "get",
                "200",
                &["401", "422", "429", "503"],
            ),
            ("/webhook_endpoints/{id}", "get", "200", &by_id),
            (
                "/webhook_endpoints/{id}",
                "patch",
                "200",
                &[
                    "400", "401", "404", "409", "413", "415", "422", "429", "503",
                ],
            ),
            ("/webhook_endpoints/{id}", "delete", "200", &by_id),
            (
                "/webhook_endpoints/{id}/rotate_secret",
                "post",
                "200",
                &["400", "401", "404", "409", "413", "422", "429", "503"],
            ),
            (
                "/webhook_endpoints/{id}/attempts",
                "get",
                "200",
                &["400", "401", "404", "422", "429", "503"],
            ),
            (
                "/webhook_endpoints/{id}/recover",
                "post",
                "202",
                &[
                    "400", "401", "404", "409", "413", "415", "422", "429", "503",
                ],
            ),
        ];
        for (path, method, success, errors) in cases {
            let operation = &doc["paths"][path][method];
            assert_eq!(
                operation["security"],
                json!([{"api_key": []}]),
                "{method} {path}"
            );
            let mut expected: Vec<&str> = errors.to_vec();
            expected.push(success);
            expected.sort_unstable();
            assert_eq!(keys(&operation["responses"]), expected, "{method} {path}");
            for status in errors {
                let body = &operation["responses"][status]["content"]["application/json"];
                assert_eq!(
                    body["schema"]["allOf"][0]["$ref"], "#/components/schemas/Error",
                    "{method} {path} {status}"
                );
            }
            if path.contains("{id}") {
                assert!(
                    operation["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["name"] == "id" && p["in"] == "path"),
                    "{method} {path}"
                );
            }
        }
        let created = &doc["paths"]["/webhook_endpoints"]["post"]["responses"]["201"];
        assert!(created["headers"]["Location"].is_object());
    }

    fn parameter_names(doc: &Value, path: &str, method: &str) -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn lists_page_as_the_others_do_and_posts_take_an_idempotency_key() {
        let doc = document();
        assert_eq!(
            parameter_names(&doc, "/events", "get"),
            ["type", "object_id", "after", "limit"]
        );
        assert_eq!(
            parameter_names(&doc, "/webhook_endpoints", "get"),
            ["after", "limit"]
        );
        assert_eq!(
            parameter_names(&doc, "/webhook_endpoints/{id}/attempts", "get"),
            ["id", "after", "limit"]
        );
        let limit = &doc["paths"]["/events"]["get"]["parameters"][3]["schema"];
        assert_eq!(
            (&limit["minimum"], &limit["maximum"], &limit["default"]),
            (&json!(1), &json!(100), &json!(20))
        );
        for path in [
            "/events/{id}/redeliver",
            "/webhook_endpoints",
            "/webhook_endpoints/{id}/rotate_secret",
            "/webhook_endpoints/{id}/recover",
        ] {
            assert!(
                parameter_names(&doc, path, "post")
                    .iter()
                    .any(|name| name == "Idempotency-Key"),
                "{path}"
            );
        }
    }

    #[test]
    fn event_types_are_the_services_and_an_endpoint_may_take_all_of_them() {
        let doc = document();
        assert_eq!(schema(&doc, "EventType")["enum"], json!(TYPES));
        assert_eq!(
            schema(&doc, "EnabledEvent")["enum"],
            json!(["*", "thing.created", "thing.updated"])
        );
        let filter = &doc["paths"]["/events"]["get"]["parameters"][0]["schema"];
        assert_eq!(filter["$ref"], "#/components/schemas/EventType");
        let create = schema(&doc, "CreateWebhookEndpoint");
        assert_eq!(
            create["properties"]["enabled_events"]["items"]["$ref"],
            "#/components/schemas/EnabledEvent"
        );
        assert_eq!(create["properties"]["enabled_events"]["minItems"], 1);
    }

    #[test]
    fn request_bodies_are_closed_and_state_the_limits() {
        let doc = document();
        for name in [
            "CreateWebhookEndpoint",
            "UpdateWebhookEndpoint",
            "RedeliverEvent",
            "RecoverWebhookEndpoint",
        ] {
            assert_eq!(
                schema(&doc, name)["additionalProperties"],
                Value::Bool(false),
                "{name}"
            );
        }
        let create = &schema(&doc, "CreateWebhookEndpoint")["properties"];
        assert_eq!(create["url"]["maxLength"], MAX_URL_CHARS);
        assert_eq!(create["description"]["maxLength"], MAX_DESCRIPTION_CHARS);
        assert_eq!(
            schema(&doc, "CreateWebhookEndpoint")["required"],
            json!(["url", "enabled_events"])
        );
        assert_eq!(
            schema(&doc, "RecoverWebhookEndpoint")["properties"]["since"]["format"],
            "date-time"
        );
    }

    #[test]
    fn the_schemas_have_the_fields_the_routes_answer_with() {
        let doc = document();
        let event = Event::new(
            "thing.created",
            &Origin::system(),
            bson::oid::ObjectId::new(),
            1,
            &json!({"a": 1}),
            None,
        )
        .unwrap();
        let event = serde_json::to_value(event).unwrap();
        assert_eq!(keys(&schema(&doc, "Event")["properties"]), keys(&event));
        assert_eq!(
            keys(&schema(&doc, "Event")["properties"]["data"]["properties"]),
            keys(&event["data"])
        );

        let endpoint = Endpoint::new("https://8.8.8.8/hook".into(), vec!["*".into()], None);
        let with_secret =
            serde_json::to_value(http::EndpointView::of(endpoint.clone(), true)).unwrap();
        let without = serde_json::to_value(http::EndpointView::of(endpoint, false)).unwrap();
        let answered = schema(&doc, "WebhookEndpoint");
        assert_eq!(keys(&answered["properties"]), keys(&with_secret));
        let mut required: Vec<String> =
            serde_json::from_value(answered["required"].clone()).unwrap();
        required.sort();
        assert_eq!(required, keys(&without));

        let attempt = AttemptRecord {
            id: bson::oid::ObjectId::new(),
            endpoint_id: bson::oid::ObjectId::new(),
            event_id: bson::oid::ObjectId::new(),
            attempted_at: crate::time::now(),
            status_code: None,
            latency_ms: 3,
            error: Some("connection refused".into()),
        };
        let attempt = serde_json::to_value(attempt).unwrap();
        assert_eq!(
            keys(&schema(&doc, "DeliveryAttempt")["properties"]),
            keys(&attempt)
        );
        for list in ["EventList", "WebhookEndpointList", "DeliveryAttemptList"] {
            assert_eq!(
                keys(&schema(&doc, list)["properties"]),
                ["data", "has_more", "next_cursor"],
                "{list}"
            );
        }
    }
}
