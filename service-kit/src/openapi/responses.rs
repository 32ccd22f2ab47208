//! Error responses made from the code table: a route lists the sets of [`ErrorCode`]s it
//! can answer with, and each status becomes one response whose `code` is one of them.

use std::collections::BTreeMap;

use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr};

use super::schemas::ErrorBody;
use crate::error::ErrorCode;

/// The responses for every code in `sets`, one per status.
pub fn for_codes(sets: &[&[ErrorCode]]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in sets.iter().flat_map(|set| set.iter()) {
        let codes = by_status.entry(code.status.as_u16()).or_default();
        if !codes.iter().any(|c| c.code == code.code) {
            codes.push(*code);
        }
    }
    by_status
        .into_iter()
        .map(|(status, codes)| (status.to_string(), one_status(status, &codes).into()))
        .collect()
}

fn one_status(status: u16, codes: &[ErrorCode]) -> Response {
    let description = codes
        .iter()
        .map(|c| format!("`{}`: {}", c.code, c.sentence))
        .collect::<Vec<_>>()
        .join(" ");
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name(ErrorBody::name()))
        .item(
            ObjectBuilder::new().property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(codes.iter().map(|c| c.code))),
            ),
        );
    let example = codes
        .first()
        .map(|c| json!({"error": c.sentence, "code": c.code}));
    let response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(schema))
            .example(example)
            .build(),
    );
    with_headers(status, response).build()
}

/// The headers some statuses carry.
fn with_headers(status: u16, response: ResponseBuilder) -> ResponseBuilder {
    match status {
        401 => response.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`Bearer`"))
                .build(),
        ),
        412 => response.header(
            "ETag",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("The record's current version, as `GET` gives it."))
                .build(),
        ),
        429 | 503 => response.header(
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

/// Declares types for `#[utoipa::path(responses(...))]`, each answering with the codes of
/// the sets it lists: `error_responses! { pub ReadErrors = [codes::GUARDED, codes::BY_ID]; }`.
#[macro_export]
macro_rules! error_responses {
    ($($(#[$doc:meta])* $vis:vis $name:ident = [$($set:expr),+ $(,)?];)+) => {
        $(
            $(#[$doc])*
            $vis struct $name;

            impl ::utoipa::IntoResponses for $name {
                fn responses() -> ::std::collections::BTreeMap<
                    ::std::string::String,
                    ::utoipa::openapi::RefOr<::utoipa::openapi::response::Response>,
                > {
                    $crate::openapi::responses::for_codes(&[$($set),+])
                }
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes;

    #[test]
    fn each_status_lists_its_codes_once() {
        let responses = for_codes(&[codes::GUARDED, codes::JSON_BODY, codes::IDEMPOTENT]);
        let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
        assert_eq!(
            statuses,
            ["400", "401", "409", "413", "415", "422", "429", "503"]
        );
        let unprocessable = serde_json::to_value(&responses["422"]).unwrap();
        let listed = &unprocessable["content"]["application/json"]["schema"]["allOf"][1]["properties"]
            ["code"]["enum"];
        assert_eq!(
            listed,
            &json!(["validation_failed", "idempotency_key_reused"])
        );
    }
}
