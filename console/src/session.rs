//! The operator's session: one private (AES-GCM encrypted and authenticated) cookie holding
//! the API key, a CSRF token and the sign-in time, so the key is never in a page, a URL or
//! the console's memory between requests; and the CSRF check every POST passes first.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::{Cookie, Key, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::Console;
use crate::api::Caller;
use crate::pages::{PageError, Section, Shell};

pub const COOKIE: &str = "console_session";
/// A sign-in lasts this long.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// The largest form the console reads (invoice lines included).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The cookie key: derived from `CONSOLE_SESSION_KEY` (SHA-512 gives the 64 bytes the
/// cookie crate splits into its keys), or random, so that sessions end with the process.
pub fn key(secret: Option<&SecretString>) -> anyhow::Result<Key> {
    match secret {
        Some(secret) => {
            let bytes = Sha512::digest(secret.expose_secret().as_bytes());
            Key::try_from(bytes.as_slice()).map_err(|e| anyhow::anyhow!("session key: {e}"))
        }
        None => {
            tracing::warn!(
                "CONSOLE_SESSION_KEY is not set: a random session key was made, so sessions \
                 end when the console restarts"
            );
            Key::try_generate().ok_or_else(|| anyhow::anyhow!("no randomness for a session key"))
        }
    }
}

/// What the cookie holds.
#[derive(Clone)]
pub struct Session {
    pub csrf: String,
    api_key: Option<SecretString>,
    /// Unix seconds; `None` until signed in.
    signed_in_at: Option<i64>,
    /// The services had no API keys when this session signed in.
    pub open: bool,
}

/// The cookie's JSON.
#[derive(Serialize, Deserialize)]
struct Stored {
    csrf: String,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    signed_in_at: Option<i64>,
    #[serde(default)]
    open: bool,
}

impl Session {
    /// A visitor's session: a CSRF token, no key.
    pub fn new() -> Self {
        Self {
            csrf: new_token(),
            api_key: None,
            signed_in_at: None,
            open: false,
        }
    }

    /// The session in `jar`, if its cookie is there and this console's.
    pub fn load(jar: &PrivateCookieJar) -> Option<Self> {
        let stored: Stored = serde_json::from_str(jar.get(COOKIE)?.value()).ok()?;
        Some(Self {
            csrf: stored.csrf,
            api_key: stored.api_key.map(SecretString::from),
            signed_in_at: stored.signed_in_at,
            open: stored.open,
        })
    }

    /// The session of a request's cookie header.
    pub fn from_headers(headers: &HeaderMap, key: &Key) -> Option<Self> {
        Self::load(&PrivateCookieJar::from_headers(headers, key.clone()))
    }

    /// Signed in with `api_key` (none in open mode), with a fresh CSRF token.
    pub fn signed_in(api_key: Option<SecretString>, open: bool) -> Self {
        Self {
            csrf: new_token(),
            api_key,
            signed_in_at: Some(chrono::Utc::now().timestamp()),
            open,
        }
    }

    pub fn is_signed_in(&self) -> bool {
        let lifetime = i64::try_from(LIFETIME.as_secs()).unwrap_or(i64::MAX);
        self.signed_in_at
            .is_some_and(|at| chrono::Utc::now().timestamp() - at < lifetime)
    }

    /// `jar` with this session as its cookie.
    pub fn save(&self, jar: PrivateCookieJar) -> PrivateCookieJar {
        let stored = Stored {
            csrf: self.csrf.clone(),
            api_key: self.api_key.as_ref().map(|k| k.expose_secret().to_owned()),
            signed_in_at: self.signed_in_at,
            open: self.open,
        };
        let value = serde_json::to_string(&stored).unwrap_or_default();
        let cookie = Cookie::build((COOKIE, value))
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Strict)
            .path("/");
        jar.add(cookie)
    }

    /// Whether `presented` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        !self.csrf.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("signed_in", &self.is_signed_in())
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes, base64url.
fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Refuses every POST whose `csrf` field is not the session's token, before any handler
/// reads the form or anything is sent to a service.
pub async fn check_csrf(State(console): State<Console>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let session = Session::from_headers(request.headers(), &console.key);
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return PageError::FormRefused.into_response();
    };
    let presented = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned());
    let accepted = session
        .zip(presented)
        .is_some_and(|(session, presented)| session.csrf_matches(&presented));
    if !accepted {
        return PageError::FormRefused.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A signed-in operator: the services called with their key, and what the page header
/// needs. Any page without one sends the visitor to sign in.
pub struct SignedIn {
    pub api: Caller,
    pub csrf: String,
    pub open: bool,
}

impl SignedIn {
    /// The header and banner of a page titled `title` in `section`.
    pub fn shell(&self, title: impl Into<String>, section: Section) -> Shell {
        Shell::new(title, section, Some(self.csrf.clone()), self.open)
    }
}

impl<S> FromRequestParts<S> for SignedIn
where
    Console: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let console = Console::from_ref(state);
        let session = Session::from_headers(&parts.headers, &console.key)
            .filter(Session::is_signed_in)
            .ok_or(PageError::SignIn)?;
        let request_id = parts
            .headers
            .get(&service_kit::http::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self {
            api: console.api.caller(session.api_key.clone(), request_id),
            csrf: session.csrf,
            open: session.open,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csrf_token_matches_only_itself() {
        let session = Session::new();
        let token = session.csrf.clone();
        assert!(session.csrf_matches(&token));
        assert!(!session.csrf_matches(""));
        assert!(!session.csrf_matches(&token[1..]));
        assert!(!session.csrf_matches(&Session::new().csrf));
    }

    #[test]
    fn a_token_is_32_random_bytes_in_base64url() {
        let token = new_token();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&token).map(|b| b.len()).ok(),
            Some(32)
        );
        assert_ne!(token, new_token());
    }

    #[test]
    fn the_same_session_key_gives_the_same_cookie_key() {
        let secret = SecretString::from("a session key of more than 32 characters");
        let (a, b) = (key(Some(&secret)), key(Some(&secret)));
        assert!(matches!((a, b), (Ok(a), Ok(b)) if a.master() == b.master()));
    }

    #[test]
    fn a_session_signed_in_long_ago_has_ended() {
        let mut session = Session::signed_in(None, true);
        assert!(session.is_signed_in());
        session.signed_in_at = Some(chrono::Utc::now().timestamp() - 13 * 60 * 60);
        assert!(!session.is_signed_in());
        assert!(!Session::new().is_signed_in());
    }
}
