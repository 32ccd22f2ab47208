//! Schemas for strings that state the limits the code enforces, as patterns a generator
//! such as schemathesis can read: what is blank, what is a control character, a code table.

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

/// A 24-hex ObjectId, as every id of the contract is.
pub const ID_PATTERN: &str = "^[0-9a-fA-F]{24}$";

/// The characters `str::trim` removes (Unicode `White_Space`), as a regex class body.
/// Spelled out because `\s` means a little more in Python and in ECMAScript.
pub const SPACE_CLASS: &str =
    r"\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The characters `char::is_control` finds (Unicode `Cc`), as a regex class body.
pub const CONTROL_CLASS: &str = r"\x00-\x1F\x7F-\x9F";

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
