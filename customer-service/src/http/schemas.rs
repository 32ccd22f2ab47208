//! The schemas of request fields, stating the limits the domain enforces so that a client
//! (or a generator such as schemathesis) can tell what the service accepts.

use service_kit::openapi::{code_pattern, non_blank_text, nullable, plain_text};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, OneOfBuilder, Ref, RefOr};

use crate::domain::{MAX_ADDRESS_LINE_CHARS, MAX_EMAIL_CHARS, MAX_NAME_CHARS, MAX_PHONE_CHARS};

/// `name`: not blank, at most 200 characters, no control characters.
pub fn name() -> Schema {
    non_blank_text(MAX_NAME_CHARS, true)
        .examples(["Acme Widgets Inc."])
        .build()
        .into()
}

/// `email`: a valid address with a dotted domain, unique case-insensitively.
pub fn email() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(MAX_EMAIL_CHARS))
        .description(Some(
            "A valid email address whose domain has a dot; unique among customers, compared \
             case-insensitively (`409 email_taken`).",
        ))
        .examples(["billing@acme-widgets.example"])
        .build()
        .into()
}

/// `phone`: digits, spaces and `+ - ( ) .`, at least one digit; `null` for none.
pub fn phone() -> Schema {
    nullable(
        ObjectBuilder::new()
            .max_length(Some(MAX_PHONE_CHARS))
            .pattern(Some(r"^[0-9+\-(). ]*[0-9][0-9+\-(). ]*$"))
            .examples(["+1 415 555 0132"]),
        Type::String,
    )
}

/// `address` in a request: the address, or `null` for none.
pub fn address() -> Schema {
    OneOfBuilder::new()
        .item(RefOr::Ref(Ref::from_schema_name("Address")))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// One line of an address: at most 200 characters, no control characters; `null` for none.
pub fn address_line() -> Schema {
    nullable(plain_text(MAX_ADDRESS_LINE_CHARS), Type::String)
}

/// `address.country`: an ISO 3166-1 alpha-2 code in any case (stored upper-case).
pub fn country() -> Schema {
    nullable(
        ObjectBuilder::new()
            .pattern(Some(code_pattern(
                isocountry::CountryCode::iter().map(|c| c.alpha2()),
            )))
            .description(Some(
                "An ISO 3166-1 alpha-2 country code such as `US` or `DE`, in any case; stored \
                 upper-case.",
            ))
            .examples(["US"]),
        Type::String,
    )
}
