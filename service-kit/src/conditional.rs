//! Conditional requests (RFC 9110 §13): a record's `ETag` is its version, `If-Match` makes a
//! write happen only on the version the client read, and `If-None-Match` lets a read be
//! answered `304`.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The strong `ETag` of a record at `version`: the version in quotes, `"3"`.
pub fn etag(version: i64) -> HeaderValue {
    // Digits in quotes are always a valid header value; the fallback is never taken.
    HeaderValue::try_from(version_tag(version)).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn version_tag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Whether the request's `If-None-Match` names `etag` (quoted, as the `ETag` header carries
/// it) or is `*`: weak comparison, so `W/"3"` names `"3"` too.
pub fn none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    listed_tags(headers, header::IF_NONE_MATCH)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Whether the request's `If-None-Match` names the record at `version`.
pub fn none_match_version(headers: &HeaderMap, version: i64) -> bool {
    none_match_hits(headers, &version_tag(version))
}

fn listed_tags(headers: &HeaderMap, name: header::HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
}

/// What a write asks of the record's current version, from `If-Match`. Without the header
/// (or with `*`, the record existing being all a write needs anyway) any version will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Precondition {
    /// The versions the client would accept; `None` for any.
    versions: Option<Vec<i64>>,
}

/// The record is not at a version the client named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the record is at version {current}, not one If-Match named")]
pub struct Stale {
    pub current: i64,
}

impl Precondition {
    /// Any version will do.
    pub const fn any() -> Self {
        Self { versions: None }
    }

    /// Only `version` will do.
    pub fn version(version: i64) -> Self {
        Self {
            versions: Some(vec![version]),
        }
    }

    /// From the request's `If-Match`. Strong comparison: a weak tag, or a tag that is no
    /// version of ours, matches nothing.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        // Present but empty or unreadable is a list that names nothing, not "any".
        if !headers.contains_key(header::IF_MATCH) {
            return Self::any();
        }
        let mut versions = Vec::new();
        for tag in listed_tags(headers, header::IF_MATCH) {
            if tag == "*" {
                return Self::any();
            }
            let version = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|digits| digits.parse::<i64>().ok());
            versions.extend(version);
        }
        Self {
            versions: Some(versions),
        }
    }

    /// `Ok` when a record at `current` may be written.
    pub fn check(&self, current: i64) -> Result<(), Stale> {
        match &self.versions {
            Some(versions) if !versions.contains(&current) => Err(Stale { current }),
            _ => Ok(()),
        }
    }
}

/// `response` carrying the `ETag` of the record at `version`.
pub fn tagged(response: impl IntoResponse, version: i64) -> Response {
    let mut response = response.into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// `304` with no body, when the request's `If-None-Match` names the record at `version`.
pub fn not_modified(headers: &HeaderMap, version: i64) -> Option<Response> {
    none_match_version(headers, version)
        .then(|| tagged(axum::http::StatusCode::NOT_MODIFIED, version))
}

/// The answer to a stale `If-Match` on `what`: `412`, with the record's current `ETag`.
pub fn precondition_failed(what: &str, stale: Stale) -> Response {
    tagged(ApiError::precondition_failed(what), stale.current)
}

impl<S: Send + Sync> FromRequestParts<S> for Precondition {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_listed_tag_weak_or_strong_or_a_star_hits() {
        let none_match = |v| headers(header::IF_NONE_MATCH, v);
        assert!(none_match_hits(&none_match("\"a1\""), "\"a1\""));
        assert!(none_match_hits(&none_match("\"x\", W/\"a1\""), "\"a1\""));
        assert!(none_match_hits(&none_match("*"), "\"a1\""));
        assert!(!none_match_hits(&none_match("\"a2\""), "\"a1\""));
        assert!(!none_match_hits(&HeaderMap::new(), "\"a1\""));
        assert!(none_match_version(&none_match("\"7\""), 7));
        assert!(!none_match_version(&none_match("\"7\""), 8));
    }

    #[test]
    fn the_etag_is_the_quoted_version() {
        assert_eq!(etag(12), "\"12\"");
    }

    #[test]
    fn if_match_admits_only_the_versions_it_names_compared_strongly() {
        let if_match = |v| Precondition::from_headers(&headers(header::IF_MATCH, v));
        assert_eq!(
            Precondition::from_headers(&HeaderMap::new()).check(5),
            Ok(())
        );
        assert_eq!(if_match("*").check(5), Ok(()));
        assert_eq!(if_match("\"5\"").check(5), Ok(()));
        assert_eq!(if_match("\"4\", \"5\"").check(5), Ok(()));
        assert_eq!(if_match("\"4\"").check(5), Err(Stale { current: 5 }));
        assert_eq!(if_match("W/\"5\"").check(5), Err(Stale { current: 5 }));
        assert_eq!(if_match("\"abc\"").check(5), Err(Stale { current: 5 }));
        assert_eq!(if_match("5").check(5), Err(Stale { current: 5 }));
        assert_eq!(if_match("").check(5), Err(Stale { current: 5 }));
        assert_eq!(if_match(" , ").check(5), Err(Stale { current: 5 }));
        assert_eq!(Precondition::version(2).check(2), Ok(()));
    }
}
