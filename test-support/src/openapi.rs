//! Checks of a service's OpenAPI document that both services make.

use serde_json::Value;

/// What a service's document must say of itself.
pub struct Expected<'a> {
    /// Every business route and its methods; the operational ones are checked too.
    pub routes: &'a [(&'a str, &'a [&'a str])],
    /// Request schemas that must refuse unknown fields.
    pub closed: &'a [&'a str],
    /// A schema and a value the service serialises as it: the two must have the same fields.
    pub describes: (&'a str, Value),
    /// A business operation (`path`, `method`) that must need the bearer key.
    pub guarded: (&'a str, &'a str),
}

/// Checks `doc` against `expected`: OpenAPI 3.1 with every route, closed request bodies,
/// the documented resource as it is written, the bearer key on business routes only.
pub fn assert_document(doc: &utoipa::openapi::OpenApi, expected: Expected<'_>) {
    let doc = document(doc);
    assert_routes(&doc, expected.routes);
    assert_closed(&doc, expected.closed);
    assert_describes(&doc, expected.describes.0, &expected.describes.1);
    assert_bearer_on(&doc, expected.guarded.0, expected.guarded.1);
}

/// The document as JSON.
pub fn document(doc: &utoipa::openapi::OpenApi) -> Value {
    serde_json::to_value(doc).unwrap_or_else(|e| panic!("document not serialisable: {e}"))
}

/// Asserts that the document is OpenAPI 3.1 and has every `(path, methods)`, plus the
/// operational routes every service has.
pub fn assert_routes(doc: &Value, business: &[(&str, &[&str])]) {
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let operational: [(&str, &[&str]); 5] = [
        ("/health", &["get"]),
        ("/ready", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
        ("/docs", &["get"]),
    ];
    for (path, methods) in business.iter().chain(operational.iter()) {
        for method in *methods {
            assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        }
    }
}

/// Asserts that each named request schema refuses unknown fields.
pub fn assert_closed(doc: &Value, schemas: &[&str]) {
    for name in schemas {
        assert_eq!(
            doc["components"]["schemas"][name]["additionalProperties"],
            Value::Bool(false),
            "{name}"
        );
    }
}

/// Asserts that schema `name` has exactly the fields of `written`, a value as the service
/// serialises it.
pub fn assert_describes(doc: &Value, name: &str, written: &Value) {
    let keys = |value: &Value| {
        let mut keys: Vec<String> = value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&doc["components"]["schemas"][name]["properties"]),
        keys(written),
        "{name}"
    );
}

/// Asserts that `operation` (`post /customers`) needs the bearer key and that the
/// operational routes do not.
pub fn assert_bearer_on(doc: &Value, path: &str, method: &str) {
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    assert!(doc["paths"][path][method]["security"].is_array());
    assert!(doc["paths"]["/ready"]["get"]["security"].is_null());
    assert!(doc["paths"]["/health"]["get"]["security"].is_null());
}

/// Asserts that the events and webhook-endpoint routes name the service's event `types` and
/// need the bearer key.
pub fn assert_event_routes(doc: &Value, types: &[&str]) {
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["EventType"]["enum"], serde_json::json!(types));
    let mut enabled = vec!["*"];
    enabled.extend(types);
    assert_eq!(schemas["EnabledEvent"]["enum"], serde_json::json!(enabled));
    for (path, method) in [
        ("/events", "get"),
        ("/webhook_endpoints", "post"),
        ("/webhook_endpoints/{id}/recover", "post"),
    ] {
        assert_bearer_on(doc, path, method);
    }
}

/// What a string schema's `pattern`, `minLength` and `maxLength` accept.
pub fn accepted_by(schema: impl serde::Serialize) -> impl Fn(&str) -> bool {
    let json = serde_json::to_value(schema).unwrap_or_default();
    let pattern = json["pattern"]
        .as_str()
        .and_then(|p| regex::Regex::new(p).ok())
        .unwrap_or_else(|| panic!("no valid pattern in {json}"));
    let min = json["minLength"].as_u64().unwrap_or(0) as usize;
    let max = json["maxLength"]
        .as_u64()
        .map_or(usize::MAX, |m| m as usize);
    move |s| pattern.is_match(s) && (min..=max).contains(&s.chars().count())
}
