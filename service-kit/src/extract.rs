//! Request extractors whose rejections answer in the contract's error shape.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use bson::oid::ObjectId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::{ApiError, FieldError, codes};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON object body, deserialized into `T` (which should `deny_unknown_fields`).
///
/// Wrong content type → 415, body too large → 413, not JSON or not an object → 400
/// `invalid_json`, JSON of the wrong shape → 422 `validation_failed` naming the field.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(&req) {
            return Err(codes::UNSUPPORTED_MEDIA_TYPE.into());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json_object(&bytes).map(JsonBody)
    }
}

fn is_json_content_type(req: &Request) -> bool {
    let Some(value) = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence[..essence.len() - 5].contains('/')
            && essence.to_ascii_lowercase().ends_with("+json"))
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        codes::PAYLOAD_TOO_LARGE.into()
    } else {
        ApiError::invalid_json("The body could not be read.")
    }
}

/// Parses `bytes` as one JSON object into `T`.
pub fn parse_json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first != Some(b'{') {
        return Err(ApiError::invalid_json("The body must be a JSON object."));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_data() {
            data_error(&field, &inner)
        } else {
            ApiError::invalid_json(format!("The body is not valid JSON: {inner}."))
        }
    })?;
    deserializer
        .end()
        .map_err(|_| ApiError::invalid_json("The body has content after the JSON object."))?;
    Ok(value)
}

/// Names the offending field: serde reports an unknown field against its parent's path.
fn data_error(path: &str, error: &serde_json::Error) -> ApiError {
    let message = error.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_owned();
    let field = match unknown_field_name(&message) {
        Some(name) if path == "." => name.to_owned(),
        Some(name) if path.ends_with(name) => path.to_owned(),
        Some(name) => format!("{path}.{name}"),
        None => path.to_owned(),
    };
    ApiError::validation(vec![FieldError::new(field, message)])
}

/// The field serde names in "unknown field `x`" or "missing field `x`".
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?;
    rest.split('`').next()
}

/// Query parameters deserialized into `T`; anything it does not accept is a 422.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let message = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_owned();
                let field = unknown_field_name(&message)
                    .or_else(|| message.split(':').next().filter(|f| !f.contains(' ')))
                    .unwrap_or("query")
                    .to_owned();
                Err(ApiError::validation(vec![FieldError::new(field, message)]))
            }
        }
    }
}

/// The `{id}` path segment, which must be a 24-hex ObjectId (400 `invalid_id` otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectIdParam(pub ObjectId);

impl<S> FromRequestParts<S> for ObjectIdParam
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::from(codes::INVALID_ID))?;
        parse_object_id(&raw)
            .map(ObjectIdParam)
            .ok_or(codes::INVALID_ID.into())
    }
}

/// The 24-hex id a query parameter or body field named `field` gives; `422` naming the field
/// otherwise.
pub fn object_id_field(field: &str, raw: &str) -> Result<ObjectId, ApiError> {
    parse_object_id(raw)
        .ok_or_else(|| ApiError::invalid_field(field, "must be a 24-character hexadecimal id"))
}

/// Parses a 24-hex id, the only form the contract accepts.
pub fn parse_object_id(raw: &str) -> Option<ObjectId> {
    if raw.len() != 24 {
        return None;
    }
    ObjectId::parse_str(raw).ok()
}

/// For optional fields of a merge update: absent → `None`, `null` → `Some(None)`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A nested struct read from a JSON object only. serde's derive also reads a struct from
/// an array of its fields in order (`"address": [null, "x"]`), which the contract does not
/// allow: a body and everything in it is made of objects. Use with `deserialize_with`
/// (and [`optional_object`], [`double_option_object`], [`objects`],
/// [`double_option_objects`] for the wrapped forms).
pub fn object<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Object::<T>::deserialize(deserializer).map(|o| o.0)
}

/// [`object`] for an optional field: absent or `null` → `None`.
pub fn optional_object<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<Object<T>>::deserialize(deserializer).map(|o| o.map(|o| o.0))
}

/// [`object`] for an optional field of a merge update: absent → `None`, `null` →
/// `Some(None)`.
pub fn double_option_object<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    optional_object(deserializer).map(Some)
}

/// A list of nested structs, each read from a JSON object only.
pub fn objects<'de, T, D>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Vec::<Object<T>>::deserialize(deserializer).map(|v| v.into_iter().map(|o| o.0).collect())
}

/// [`objects`] for an optional field of a merge update.
pub fn double_option_objects<'de, T, D>(deserializer: D) -> Result<Option<Option<Vec<T>>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<Vec<Object<T>>>::deserialize(deserializer)
        .map(|v| Some(v.map(|v| v.into_iter().map(|o| o.0).collect())))
}

/// An integer field that also takes an integral number written with a fraction or an
/// exponent (`3.0`, `1e3`): JSON Schema's `integer` is a value, not a spelling, and so is
/// the contract's. A fraction (`1.5`), or a non-integer spelling past 2^53 (where a double
/// no longer tells integers apart), is refused.
pub fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_i64(IntegerVisitor)
}

/// [`integer`] for an optional field: absent or `null` → `None`.
pub fn optional_integer<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    Option::<Integer>::deserialize(deserializer).map(|o| o.map(|i| i.0))
}

/// [`integer`] for an optional field of a merge update: absent → `None`, `null` →
/// `Some(None)`.
pub fn double_option_integer<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<i64>>, D::Error> {
    optional_integer(deserializer).map(Some)
}

/// Largest integer a double holds exactly, with every smaller one.
const MAX_EXACT_DOUBLE: f64 = 9_007_199_254_740_992.0;

struct Integer(i64);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        integer(deserializer).map(Integer)
    }
}

struct IntegerVisitor;

impl serde::de::Visitor<'_> for IntegerVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v.abs() <= MAX_EXACT_DOUBLE {
            // Integral and within ±2^53: the conversion is exact.
            Ok(v as i64)
        } else {
            Err(E::invalid_type(serde::de::Unexpected::Float(v), &self))
        }
    }
}

/// `T`, read through [`ObjectOnly`].
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(ObjectOnly(deserializer)).map(Object)
    }
}

/// A deserializer that reads a struct as a map only, never as a sequence. Everything else
/// goes to the wrapped deserializer as it is (so error paths stay exact).
struct ObjectOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: String,
    }

    #[test]
    fn non_objects_are_invalid_json() {
        for body in [&b"[]"[..], b"\"x\"", b"12", b"", b"  null"] {
            let error = parse_json_object::<Body>(body).unwrap_err();
            assert_eq!(error.code, "invalid_json", "{body:?}");
        }
    }

    #[test]
    fn truncated_json_is_invalid_json() {
        let error = parse_json_object::<Body>(br#"{"name": "a"#).unwrap_err();
        assert_eq!(error.code, "invalid_json");
    }

    #[test]
    fn trailing_content_is_invalid_json() {
        let error = parse_json_object::<Body>(br#"{"name": "a"} {}"#).unwrap_err();
        assert_eq!(error.code, "invalid_json");
    }

    #[test]
    fn unknown_fields_name_the_field() {
        let error = parse_json_object::<Body>(br#"{"name": "a", "$where": "1"}"#).unwrap_err();
        assert_eq!(error.code, "validation_failed");
        assert_eq!(error.details[0].field, "$where");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let error = parse_json_object::<Body>(br#"{"name": {"$gt": ""}}"#).unwrap_err();
        assert_eq!(error.code, "validation_failed");
        assert_eq!(error.details[0].field, "name");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nested {
        #[serde(default, deserialize_with = "optional_object")]
        one: Option<Body>,
        #[serde(default, deserialize_with = "double_option_objects")]
        many: Option<Option<Vec<Body>>>,
    }

    #[test]
    fn nested_structs_are_read_from_objects_only() {
        let ok: Nested =
            parse_json_object(br#"{"one": {"name": "a"}, "many": [{"name": "b"}]}"#).unwrap();
        assert_eq!(ok.one.unwrap().name, "a");
        assert_eq!(ok.many.unwrap().unwrap()[0].name, "b");
        let cleared: Nested = parse_json_object(br#"{"one": null, "many": null}"#).unwrap();
        assert!(cleared.one.is_none());
        assert!(matches!(cleared.many, Some(None)));
        for body in [&br#"{"one": ["a"]}"#[..], br#"{"many": [["b"]]}"#] {
            let error = parse_json_object::<Nested>(body).unwrap_err();
            assert_eq!(error.code, "validation_failed", "{body:?}");
        }
        let error =
            parse_json_object::<Nested>(br#"{"many": [{"name": "b"}, {"name": 1}]}"#).unwrap_err();
        assert_eq!(error.details[0].field, "many[1].name");
    }

    #[test]
    fn object_ids_must_be_24_hex() {
        assert!(parse_object_id("65f000000000000000000001").is_some());
        assert!(parse_object_id("65f00000000000000000000").is_none());
        assert!(parse_object_id("zzzzzzzzzzzzzzzzzzzzzzzz").is_none());
        assert!(parse_object_id("").is_none());
    }
}
