//! Conditional requests: whether a request's `If-None-Match` names the `ETag` the answer
//! would carry (RFC 9110 §13.1.2, weak comparison), so it can be answered `304`.

use axum::http::{HeaderMap, header};

/// `etag` is quoted, as the `ETag` header carries it.
pub fn none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_listed_tag_weak_or_strong_or_a_star_hits() {
        assert!(none_match_hits(&headers("\"a1\""), "\"a1\""));
        assert!(none_match_hits(&headers("\"x\", W/\"a1\""), "\"a1\""));
        assert!(none_match_hits(&headers("*"), "\"a1\""));
        assert!(!none_match_hits(&headers("\"a2\""), "\"a1\""));
        assert!(!none_match_hits(&HeaderMap::new(), "\"a1\""));
    }
}
