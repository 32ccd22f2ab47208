//! API keys: `API_KEYS` holds comma-separated keys; only their SHA-256 digests are kept.
//! Business routes need `Authorization: Bearer <key>`. A missing and a wrong key get the
//! same 401, and a presented key is compared with every configured one in constant time.

use std::sync::{Arc, LazyLock};

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, codes};

/// Keys shorter than this are refused at startup: they would be guessable.
pub const MIN_KEY_CHARS: usize = 16;

/// Who is calling: a configured key (named by a prefix of its digest, never the key
/// itself) or, when no keys are configured, anybody.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal(Arc<str>);

impl Principal {
    /// One shared value: asked for on every request of a service without keys.
    pub fn anonymous() -> Self {
        static ANONYMOUS: LazyLock<Principal> = LazyLock::new(|| Principal(Arc::from("anonymous")));
        ANONYMOUS.clone()
    }

    pub fn is_anonymous(&self) -> bool {
        &*self.0 == "anonymous"
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The configured keys, as digests, each with the principal it names (made once, so that a
/// request allocates nothing to be identified).
#[derive(Clone)]
pub struct ApiKeys {
    keys: Arc<[([u8; 32], Principal)]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.keys.len())
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// `API_KEYS`, or `None` when it is unset or blank (the service runs open).
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        crate::config::optional("API_KEYS")
            .map(|raw| Self::parse(&raw))
            .transpose()
    }

    /// Comma-separated keys; blanks around them are ignored.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let keys: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        if keys.is_empty() {
            anyhow::bail!("API_KEYS holds no key");
        }
        if let Some(position) = keys.iter().position(|k| k.chars().count() < MIN_KEY_CHARS) {
            anyhow::bail!(
                "API_KEYS: key #{} is shorter than {MIN_KEY_CHARS} characters",
                position + 1
            );
        }
        Ok(Self {
            keys: keys
                .iter()
                .map(|k| {
                    let d = digest(k);
                    let principal = Principal(Arc::from(format!("key_{}", hex::encode(&d[..6]))));
                    (d, principal)
                })
                .collect(),
        })
    }

    /// The principal a presented key belongs to. Every configured digest is compared, so
    /// the time taken does not tell which (or whether one) matched.
    pub fn identify(&self, presented: &str) -> Option<Principal> {
        let presented = digest(presented);
        let mut found: Option<&Principal> = None;
        for (known, principal) in self.keys.iter() {
            if bool::from(known.ct_eq(&presented)) {
                found = Some(principal);
            }
        }
        found.cloned()
    }
}

/// The auth layer's state: `None` runs open.
pub type AuthState = Option<ApiKeys>;

/// The caller of a business route, or [`Unauthorized`].
pub fn authenticate(keys: &AuthState, req: &Request) -> Result<Principal, Unauthorized> {
    match keys {
        None => Ok(Principal::anonymous()),
        Some(keys) => bearer_token(req)
            .and_then(|token| keys.identify(token))
            .ok_or(Unauthorized),
    }
}

/// No key, a wrong key or another scheme: one answer for all, `401` with
/// `WWW-Authenticate: Bearer`.
#[derive(Debug, Clone, Copy)]
pub struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response = ApiError::from(codes::UNAUTHORIZED).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_by_digest() {
        let keys = ApiKeys::parse(" first-key-0123456789 , second-key-0123456789 ").unwrap();
        let first = keys.identify("first-key-0123456789").unwrap();
        let second = keys.identify("second-key-0123456789").unwrap();
        assert_ne!(first, second);
        assert!(!first.as_str().contains("first-key"));
        assert!(keys.identify("first-key-012345678").is_none());
        assert!(keys.identify("").is_none());
    }

    #[test]
    fn short_or_missing_keys_are_refused() {
        assert!(ApiKeys::parse("short").is_err());
        assert!(ApiKeys::parse(" , ").is_err());
    }

    #[test]
    fn debug_never_prints_keys() {
        let keys = ApiKeys::parse("secret-key-0123456789").unwrap();
        assert_eq!(format!("{keys:?}"), "ApiKeys(1 keys)");
    }
}
