//! Parameters every service shares: the `{id}` path segment and the `Idempotency-Key`,
//! `If-Match` and `If-None-Match` headers.

use serde_json::json;
use utoipa::IntoParams;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::text::ID_PATTERN;
use crate::extract::ObjectIdParam;

/// One string parameter.
fn string_parameter(
    (name, place, required): (&str, ParameterIn, Required),
    description: &str,
    schema: ObjectBuilder,
) -> Vec<Parameter> {
    let parameter = ParameterBuilder::new()
        .name(name)
        .parameter_in(place)
        .required(required)
        .description(Some(description))
        .schema(Some(schema.schema_type(Type::String)));
    vec![parameter.build()]
}

/// The `{id}` path segment.
impl IntoParams for ObjectIdParam {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        string_parameter(
            ("id", ParameterIn::Path, Required::True),
            "A 24-character hexadecimal id; anything else is `400 invalid_id`.",
            ObjectBuilder::new()
                .pattern(Some(ID_PATTERN))
                .examples([json!("65f000000000000000000001")]),
        )
    }
}

/// The `Idempotency-Key` header of the POSTs that create or transition.
pub struct IdempotencyKeyHeader;

impl IntoParams for IdempotencyKeyHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        string_parameter(
            ("Idempotency-Key", ParameterIn::Header, Required::False),
            "Makes a retry safe: a request with a key already used by this caller with the \
             same body answers what the first one did and changes nothing more; with another \
             body it is `422 idempotency_key_reused`; while the first is still running it is \
             `409 idempotency_key_in_use`. A UUID is a good key.",
            ObjectBuilder::new()
                .min_length(Some(1))
                .max_length(Some(crate::idempotency::MAX_KEY_CHARS))
                .pattern(Some("^[\\x21-\\x7E]+$"))
                .examples([json!("5f0c7c1e-8a4b-4c8e-9a61-2b0f3d9e4a10")]),
        )
    }
}

/// The `If-Match` header of the writes to one customer or invoice.
pub struct IfMatchHeader;

impl IntoParams for IfMatchHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        string_parameter(
            ("If-Match", ParameterIn::Header, Required::False),
            "The `ETag` the change was made from: when the record is no longer at that \
             version the answer is `412 precondition_failed` and nothing changes. Strong \
             comparison; `*` and no header mean any version.",
            ObjectBuilder::new().examples([json!("\"3\"")]),
        )
    }
}

/// The `If-None-Match` header of the reads of one customer or invoice.
pub struct IfNoneMatchHeader;

impl IntoParams for IfNoneMatchHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        string_parameter(
            ("If-None-Match", ParameterIn::Header, Required::False),
            "The `ETag` of the version the client holds: `304` with no body when it is \
             still current (or with `*`).",
            ObjectBuilder::new().examples([json!("\"3\"")]),
        )
    }
}
