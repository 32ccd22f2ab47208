//! API keys: `API_KEYS` holds comma-separated keys; only their SHA-256 digests are kept.
//! Business routes need `Authorization: Bearer <key>`. A missing and a wrong key get the
//! same 401, and a presented key is compared with every configured one in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
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
    pub fn anonymous() -> Self {
        Self(Arc::from("anonymous"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The configured keys, as digests.
#[derive(Clone)]
pub struct ApiKeys {
    digests: Arc<[[u8; 32]]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
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
            digests: keys.iter().map(|k| digest(k)).collect(),
        })
    }

    /// The principal a presented key belongs to. Every configured digest is compared, so
    /// the time taken does not tell which (or whether one) matched.
    pub fn identify(&self, presented: &str) -> Option<Principal> {
        let presented = digest(presented);
        let mut found: Option<&[u8; 32]> = None;
        for known in self.digests.iter() {
            if bool::from(known.ct_eq(&presented)) {
                found = Some(known);
            }
        }
        found.map(|d| Principal(Arc::from(format!("key_{}", hex::encode(&d[..6])))))
    }
}

/// The auth layer's state: `None` runs open.
pub type AuthState = Option<ApiKeys>;

/// Middleware for business routes: puts the caller's [`Principal`] in the request
/// extensions, or answers 401.
pub async fn require_api_key(
    State(keys): State<AuthState>,
    mut req: Request,
    next: Next,
) -> Response {
    let principal = match &keys {
        None => Principal::anonymous(),
        Some(keys) => match bearer_token(&req).and_then(|token| keys.identify(token)) {
            Some(principal) => principal,
            None => return unauthorized(),
        },
    };
    req.extensions_mut().insert(principal);
    next.run(req).await
}

fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized() -> Response {
    let mut response = ApiError::from(codes::UNAUTHORIZED).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
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
