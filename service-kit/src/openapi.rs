//! The pieces of an OpenAPI 3.1 document that every service shares: the contract's error
//! body and one reusable response per error status, the list envelope, the bearer scheme,
//! the `{id}` / `limit` / `after` parameters, the `Idempotency-Key` header, the operational
//! routes [`crate::http::finish`] adds, and the routes that serve the document itself
//! (`GET /openapi.json`) and Swagger UI (`GET /docs`).
//!
//! Schemas state the limits the code enforces, so that a generator such as schemathesis
//! can tell a request the service must accept from one it must refuse.

use std::borrow::Cow;

use axum::Router;
use serde_json::json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref, RefOr, Required};
use utoipa::{IntoParams, Modify, PartialSchema, ToResponse, ToSchema};

use crate::error::FieldError;
use crate::extract::ObjectIdParam;
use crate::metadata::{MAX_KEY_CHARS, MAX_KEYS, MAX_VALUE_CHARS, Metadata};
use crate::pagination::{Cursor, Limit, Page};

/// A 24-hex ObjectId, as every id of the contract is.
pub const ID_PATTERN: &str = "^[0-9a-fA-F]{24}$";

/// The characters `str::trim` removes (Unicode `White_Space`), as a regex class body.
/// Spelled out because `\s` means a little more in Python and in ECMAScript.
pub const SPACE_CLASS: &str =
    r"\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The characters `char::is_control` finds (Unicode `Cc`), as a regex class body.
pub const CONTROL_CLASS: &str = r"\x00-\x1F\x7F-\x9F";

/// Name of the bearer security scheme.
pub const BEARER: &str = "api_key";

/// The tag of the operational routes.
pub const OPERATIONS_TAG: &str = "operations";

/// A string of at most `max_chars` characters with at least one that is not white space
/// (so it is not blank once trimmed); `control_free` also refuses control characters.
pub fn non_blank_text(max_chars: usize, control_free: bool) -> ObjectBuilder {
    let pattern = if control_free {
        format!("^[^{CONTROL_CLASS}]*[^{SPACE_CLASS}{CONTROL_CLASS}][^{CONTROL_CLASS}]*$")
    } else {
        format!("[^{SPACE_CLASS}]")
    };
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max_chars))
        .pattern(Some(pattern))
}

/// A string of at most `max_chars` characters and no control characters (may be empty).
pub fn plain_text(max_chars: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max_chars))
        .pattern(Some(format!("^[^{CONTROL_CLASS}]*$")))
}

/// A pattern for one of `codes` (ASCII letters and digits), in any ASCII case and with
/// white space around it: what `code.trim().to_ascii_uppercase()` then a table lookup
/// accepts.
pub fn code_pattern<'a>(codes: impl IntoIterator<Item = &'a str>) -> String {
    let alternatives: Vec<String> = codes
        .into_iter()
        .map(|code| {
            code.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!(
        "^[{SPACE_CLASS}]*(?:{})[{SPACE_CLASS}]*$",
        alternatives.join("|")
    )
}

/// `nullable(schema)`: the same schema with `null` also allowed.
pub fn nullable(schema: ObjectBuilder, inner: Type) -> Schema {
    schema
        .schema_type(SchemaType::from_iter([inner, Type::Null]))
        .build()
        .into()
}

// ---------------------------------------------------------------- shared schemas

impl PartialSchema for FieldError {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("One field that failed validation."))
            .property(
                "field",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(
                        "Where in the request: a body path such as `items[0].quantity`, or a query parameter.",
                    )),
            )
            .required("field")
            .property(
                "message",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("What is wrong with it, for a person.")),
            )
            .required("message")
            .into()
    }
}

impl ToSchema for FieldError {}

/// The error body every error answers with: `{"error", "code", "details"?}`.
pub struct ErrorBody;

impl PartialSchema for ErrorBody {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "Every error: a sentence for a person, a stable snake_case code for a program, \
                 and for validation errors the fields at fault.",
            ))
            .property(
                "error",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("What went wrong, for a person.")),
            )
            .required("error")
            .property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[a-z][a-z0-9_]*$"))
                    .description(Some("What went wrong, for a program.")),
            )
            .required("code")
            .property(
                "details",
                ArrayBuilder::new()
                    .items(Ref::from_schema_name(FieldError::name()))
                    .min_items(Some(1)),
            )
            .into()
    }
}

impl ToSchema for ErrorBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Error")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((FieldError::name().into(), FieldError::schema()));
    }
}

impl PartialSchema for Metadata {
    fn schema() -> RefOr<Schema> {
        metadata_object().into()
    }
}

impl ToSchema for Metadata {}

fn metadata_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(format!(
            "Free-form string pairs for the caller's own use: at most {MAX_KEYS} keys of \
             1 to {MAX_KEY_CHARS} characters of A-Z, a-z, 0-9, `_` or `-`; values of at most \
             {MAX_VALUE_CHARS} characters."
        )))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^[A-Za-z0-9_-]{{1,{MAX_KEY_CHARS}}}$"))),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(MAX_VALUE_CHARS))
                .into(),
        ))))
        .max_properties(Some(MAX_KEYS))
        .examples([json!({"crm_id": "CRM-10422"})])
}

/// `metadata` in a request body, where `null` means none (or, in an update, clears it).
pub fn metadata_input() -> Schema {
    nullable(metadata_object(), Type::Object)
}

impl PartialSchema for Limit {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(Limit::MAX))
            .default(Some(json!(Limit::DEFAULT)))
            .description(Some("How many items a page holds."))
            .into()
    }
}

impl ToSchema for Limit {}

impl PartialSchema for Cursor {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(ID_PATTERN))
            .description(Some(
                "Where the page starts: the `next_cursor` of the previous page.",
            ))
            .into()
    }
}

impl ToSchema for Cursor {}

/// `{"data": [...], "has_more": bool, "next_cursor": "..." | null}`.
impl<T: ToSchema> PartialSchema for Page<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "One page of a list, in id order. Pass `next_cursor` as `after` for the next \
                 page; it is null on the last one.",
            ))
            .property(
                "data",
                ArrayBuilder::new().items(Ref::from_schema_name(T::name())),
            )
            .required("data")
            .property("has_more", ObjectBuilder::new().schema_type(Type::Boolean))
            .required("has_more")
            .property(
                "next_cursor",
                nullable(ObjectBuilder::new().pattern(Some(ID_PATTERN)), Type::String),
            )
            .required("next_cursor")
            .into()
    }
}

impl<T: ToSchema> ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("{}List", T::name()))
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into(), T::schema()));
        T::schemas(schemas);
    }
}

/// `GET /ready`'s answer: `{"status": "ready", "checks": {"<dependency>": "up" | "down"}}`.
pub struct Readiness;

impl PartialSchema for Readiness {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["ready"])),
            )
            .required("status")
            .property(
                "checks",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("Each dependency and whether it answered."))
                    .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["up", "down"]))
                            .into(),
                    )))),
            )
            .required("checks")
            .into()
    }
}

impl ToSchema for Readiness {}

// ---------------------------------------------------------------- parameters

/// The `{id}` path segment.
impl IntoParams for ObjectIdParam {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(
                    "A 24-character hexadecimal id; anything else is `400 invalid_id`.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(ID_PATTERN))
                        .examples([json!("65f000000000000000000001")]),
                ))
                .build(),
        ]
    }
}

/// The `Idempotency-Key` header of the POSTs that create or transition.
pub struct IdempotencyKeyHeader;

impl IntoParams for IdempotencyKeyHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Makes a retry safe: a request with a key already used by this caller \
                     with the same body answers what the first one did and changes nothing \
                     more; with another body it is `422 idempotency_key_reused`; while the \
                     first is still running it is `409 idempotency_key_in_use`. A UUID is a \
                     good key.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(crate::idempotency::MAX_KEY_CHARS))
                        .pattern(Some("^[\\x21-\\x7E]+$"))
                        .examples([json!("5f0c7c1e-8a4b-4c8e-9a61-2b0f3d9e4a10")]),
                ))
                .build(),
        ]
    }
}

// ---------------------------------------------------------------- responses

fn error_response(description: &str, codes: &[(&str, &str)]) -> ResponseBuilder {
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name(ErrorBody::name()))
        .item(
            ObjectBuilder::new().property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(codes.iter().map(|(code, _)| *code))),
            ),
        );
    let example = codes
        .first()
        .map(|(code, error)| json!({"error": error, "code": code}));
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(schema))
            .example(example)
            .build(),
    )
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident = $description:expr, [$(($code:literal, $error:literal)),+ $(,)?];)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    let response = error_response($description, &[$(($code, $error)),+]);
                    (stringify!($name), decorate(stringify!($name), response).build().into())
                }
            }
        )+

        /// Every shared error response, as (name, response) pairs.
        fn all_error_responses() -> Vec<(&'static str, RefOr<Response>)> {
            vec![$(<$name as ToResponse<'static>>::response()),+]
        }
    };
}

/// Headers some error responses carry.
fn decorate(name: &str, response: ResponseBuilder) -> ResponseBuilder {
    match name {
        "Unauthorized" => response.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`Bearer`"))
                .build(),
        ),
        "TooManyRequests" => response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds to wait before trying again."))
                .build(),
        ),
        _ => response,
    }
}

error_responses! {
    /// 400: a malformed id or a body that is not one JSON object.
    BadRequest = "The id is not 24 hexadecimal characters (`invalid_id`), or the body is not \
        one JSON object (`invalid_json`).", [
        ("invalid_id", "The id must be a 24-character hexadecimal string."),
        ("invalid_json", "The body must be a JSON object."),
    ];
    /// 401: no valid API key.
    Unauthorized = "API keys are configured and the request has no valid \
        `Authorization: Bearer <key>` (a missing and a wrong key are answered alike).", [
        ("unauthorized", "A valid API key is required: send Authorization: Bearer <key>."),
    ];
    /// 404: nothing with that id.
    NotFound = "Nothing with that id exists.", [
        ("not_found", "No customer with that id exists."),
    ];
    /// 409: the request conflicts with the current state.
    Conflict = "The request conflicts with the current state: the email belongs to another \
        customer (`email_taken`), the invoice's status does not allow it \
        (`invalid_transition`), another write won a race (`conflict`), or a request with the \
        same `Idempotency-Key` is still running (`idempotency_key_in_use`).", [
        ("email_taken", "A customer with this email already exists."),
        ("invalid_transition", "Cannot pay an invoice that is draft."),
        ("conflict", "The invoice was changed by another request at the same time; try again."),
        ("idempotency_key_in_use", "A request with this Idempotency-Key is still being processed; retry later."),
    ];
    /// 413: the body is over 1 MiB.
    PayloadTooLarge = "The body is larger than 1 MiB.", [
        ("payload_too_large", "The body is larger than 1 MiB."),
    ];
    /// 415: the body is not sent as JSON.
    UnsupportedMediaType = "The body is not sent as `Content-Type: application/json`.", [
        ("unsupported_media_type", "The body must be sent as Content-Type: application/json."),
    ];
    /// 422: the request is well-formed but not acceptable.
    UnprocessableEntity = "The request breaks a rule (`validation_failed`, with `details` \
        naming each field), names a customer that does not exist (`customer_not_found`), or \
        reuses an `Idempotency-Key` with another request (`idempotency_key_reused`).", [
        ("validation_failed", "The request is not valid; see details."),
        ("customer_not_found", "No customer with that customer_id exists."),
        ("idempotency_key_reused", "This Idempotency-Key was used with another request."),
    ];
    /// 429: over the per-key rate limit.
    TooManyRequests = "Over this API key's rate limit; `Retry-After` tells when to try again.", [
        ("rate_limited", "Too many requests for this API key; retry after the time in Retry-After."),
    ];
    /// 503: a dependency does not answer.
    ServiceUnavailable = "A dependency (the database, or customer-service) does not answer; \
        try again shortly.", [
        ("dependency_unavailable", "The customer database is unavailable; try again shortly."),
    ];
}

// ---------------------------------------------------------------- the document

/// Adds what every service's document shares: the error schema and responses, the bearer
/// scheme, and the operational routes of [`crate::http::finish`] and [`docs_routes`].
pub struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
        let mut dependencies = Vec::new();
        ErrorBody::schemas(&mut dependencies);
        components.schemas.extend(dependencies);
        for (name, response) in all_error_responses() {
            components.responses.insert(name.to_owned(), response);
        }
        components.security_schemes.insert(
            BEARER.to_owned(),
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from the service's `API_KEYS`, sent as \
                         `Authorization: Bearer <key>`. Business routes need one when keys \
                         are configured; `/health`, `/ready`, `/metrics`, `/openapi.json` and \
                         `/docs` never do.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in operational_paths() {
            openapi.paths.paths.insert(path.to_owned(), item);
        }
        unique_operation_ids(openapi);
    }
}

/// One handler may serve several methods (`PUT` and `PATCH`); operation ids must still be
/// unique, so a repeated one gets its method appended.
fn unique_operation_ids(openapi: &mut OpenApi) {
    let mut seen = std::collections::HashSet::new();
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("patch", &mut item.patch),
            ("put", &mut item.put),
            ("delete", &mut item.delete),
            ("head", &mut item.head),
            ("options", &mut item.options),
            ("trace", &mut item.trace),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let Some(id) = operation.operation_id.clone() else {
                continue;
            };
            if !seen.insert(id.clone()) {
                let unique = format!("{id}_{method}");
                seen.insert(unique.clone());
                operation.operation_id = Some(unique);
            }
        }
    }
}

fn operational_paths() -> Vec<(&'static str, PathItem)> {
    let get = |id: &str, summary: &str, response: Response| {
        PathItem::new(
            HttpMethod::Get,
            OperationBuilder::new()
                .tag(OPERATIONS_TAG)
                .operation_id(Some(id))
                .summary(Some(summary))
                .response("200", response),
        )
    };
    let health = ResponseBuilder::new()
        .description("The process is alive.")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .property(
                            "status",
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .enum_values(Some(["ok"])),
                        )
                        .required("status"),
                ))
                .build(),
        )
        .build();
    let metrics = ResponseBuilder::new()
        .description(
            "Prometheus text: requests by route and status with latency histograms, and the \
             service's own counters.",
        )
        .content(
            "text/plain",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        )
        .build();
    let document = ResponseBuilder::new()
        .description("This OpenAPI 3.1 document.")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .property("openapi", ObjectBuilder::new().schema_type(Type::String))
                        .required("openapi")
                        .property("paths", ObjectBuilder::new().schema_type(Type::Object))
                        .required("paths"),
                ))
                .build(),
        )
        .build();
    let docs = PathItem::new(
        HttpMethod::Get,
        OperationBuilder::new()
            .tag(OPERATIONS_TAG)
            .operation_id(Some("swagger_ui"))
            .summary(Some("Swagger UI for this document"))
            .description(Some("Redirects to `/docs/`, the Swagger UI page."))
            .response(
                "303",
                ResponseBuilder::new()
                    .description("See `/docs/`.")
                    .header(
                        "Location",
                        HeaderBuilder::new()
                            .schema(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .enum_values(Some(["/docs/"])),
                            )
                            .build(),
                    )
                    .build(),
            )
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The Swagger UI page (after the redirect).")
                    .content(
                        "text/html",
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                            .build(),
                    )
                    .build(),
            ),
    );
    vec![
        (
            "/health",
            get("health", "Whether the process is alive", health),
        ),
        ("/metrics", get("metrics", "Prometheus metrics", metrics)),
        (
            "/openapi.json",
            get("openapi", "This OpenAPI document", document),
        ),
        ("/docs", docs),
    ]
}

/// `GET /openapi.json` (the document) and `GET /docs` (Swagger UI, served from the copy
/// vendored in the `utoipa-swagger-ui` crate: nothing is fetched at build or run time).
/// Mount them outside any auth layer.
pub fn docs_routes<S>(document: OpenApi) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    utoipa_swagger_ui::SwaggerUi::new("/docs")
        .url("/openapi.json", document)
        .into()
}
