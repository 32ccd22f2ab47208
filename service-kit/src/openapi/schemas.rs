//! Schemas every service shares: the error body, metadata, the list envelope and its
//! parameters, and the readiness answer.

use std::borrow::Cow;

use serde_json::json;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::text::{ID_PATTERN, nullable};
use crate::error::FieldError;
use crate::metadata::{MAX_KEY_CHARS, MAX_KEYS, MAX_VALUE_CHARS, Metadata};
use crate::pagination::{Cursor, Limit, Page};

impl PartialSchema for FieldError {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("One field that failed validation."))
            .property(
                "field",
                text(
                    "Where in the request: a body path such as `items[0].quantity`, or a query parameter.",
                ),
            )
            .required("field")
            .property("message", text("What is wrong with it, for a person."))
            .required("message")
            .into()
    }
}

impl ToSchema for FieldError {}

/// A string property, described.
fn text(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

/// The error body every error answers with: `{"error", "code", "details"?}`.
pub struct ErrorBody;

impl PartialSchema for ErrorBody {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "Every error: a sentence for a person, a stable snake_case code for a program, \
                 and for validation errors the fields at fault.",
            ))
            .property("error", text("What went wrong, for a person."))
            .required("error")
            .property(
                "code",
                text("What went wrong, for a program.").pattern(Some("^[a-z][a-z0-9_]*$")),
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

/// `{"status": "<value>"}`: what the probes answer, before anything else they say.
pub(super) fn status_is(value: &'static str) -> ObjectBuilder {
    let status = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([value]));
    ObjectBuilder::new()
        .property("status", status)
        .required("status")
}

impl PartialSchema for Readiness {
    fn schema() -> RefOr<Schema> {
        status_is("ready")
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
