//! Webhook signatures as the Standard Webhooks specification defines them: the receiver
//! checks `webhook-signature`, `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, with
//! the endpoint's secret. Signed by the specification's own library; while a rotated secret
//! is still honoured, a delivery carries one signature per secret, space-separated.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

/// How every secret's text starts.
pub const SECRET_PREFIX: &str = "whsec_";
/// The random bytes of a generated secret: as many as the HMAC-SHA256 key's block needs.
const SECRET_BYTES: usize = 32;
/// The fewest key bytes a secret given by an operator may have.
const MIN_SECRET_BYTES: usize = 24;

/// An endpoint's signing secret, `whsec_` and the base64 of its key. Never printed: its
/// `Debug` shows no part of it.
#[derive(Clone)]
pub struct Secret(SecretString);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("a webhook secret is `whsec_` and the base64 of at least {MIN_SECRET_BYTES} bytes")]
    InvalidSecret,
    #[error("a webhook body must be UTF-8")]
    BodyNotUtf8,
}

impl Secret {
    /// A new secret of random bytes from the thread's cryptographically secure generator.
    pub fn generate() -> Self {
        let mut key = [0_u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut key);
        Self(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)).into())
    }

    /// A stored secret's text; refused unless it is one [`Secret::generate`] could make.
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        let key = text
            .strip_prefix(SECRET_PREFIX)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .ok_or(SigningError::InvalidSecret)?;
        if key.len() < MIN_SECRET_BYTES {
            return Err(SigningError::InvalidSecret);
        }
        Ok(Self(text.into()))
    }

    /// The text to store, and to show its endpoint's owner once.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The `webhook-signature` value of a delivery `id` sent at `timestamp` (Unix seconds) with
/// `body`: one `v1,` signature per secret, in the order given.
pub fn signature(
    secrets: &[&Secret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SigningError> {
    let mut value = String::with_capacity(secrets.len() * 48);
    for secret in secrets {
        let signer = standardwebhooks::Webhook::new(secret.expose())
            .map_err(|_| SigningError::InvalidSecret)?;
        let signed = signer
            .sign(id, timestamp, body)
            .map_err(|_| SigningError::BodyNotUtf8)?;
        if !value.is_empty() {
            value.push(' ');
        }
        value.push_str(&signed);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::process::Command;

    use axum::http::{HeaderMap, HeaderValue};

    use super::*;

    const BODY: &[u8] =
        br#"{"id":"6650f1c2a9b8c7d6e5f40312","type":"invoice.paid","note":"caf\u00e9 \u2603"}"#;
    const ID: &str = "6650f1c2a9b8c7d6e5f40312";

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn headers(timestamp: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static(ID));
        headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    #[test]
    fn a_generated_secret_parses_and_never_shows_in_debug() {
        let secret = Secret::generate();
        assert!(secret.expose().starts_with(SECRET_PREFIX));
        assert_eq!(
            Secret::parse(secret.expose()).unwrap().expose(),
            secret.expose()
        );
        assert_eq!(format!("{secret:?}"), "Secret(..)");
        assert_ne!(Secret::generate().expose(), secret.expose());
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for text in [
            "",
            "whsec_",
            "whsec_!!!",
            "abc",
            "whsec_c2hvcnQ=",
            "sk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            assert_eq!(
                Secret::parse(text).err(),
                Some(SigningError::InvalidSecret),
                "{text}"
            );
        }
    }

    #[test]
    fn every_secret_verifies_a_signature_made_with_both() {
        let (old, new) = (Secret::generate(), Secret::generate());
        let timestamp = now();
        let value = signature(&[&new, &old], ID, timestamp, BODY).unwrap();
        assert_eq!(value.split(' ').count(), 2);
        for secret in [&old, &new] {
            let receiver = standardwebhooks::Webhook::new(secret.expose()).unwrap();
            receiver.verify(BODY, &headers(timestamp, &value)).unwrap();
        }
        let stranger = standardwebhooks::Webhook::new(Secret::generate().expose()).unwrap();
        assert!(stranger.verify(BODY, &headers(timestamp, &value)).is_err());
        let tampered = br#"{"id":"6650f1c2a9b8c7d6e5f40312","type":"invoice.voided"}"#;
        let receiver = standardwebhooks::Webhook::new(new.expose()).unwrap();
        assert!(
            receiver
                .verify(tampered, &headers(timestamp, &value))
                .is_err()
        );
    }

    /// The specification's Python reference library, from the project's virtualenv (the
    /// test command's `tools` stage installs it), checks what this module signs.
    #[test]
    fn the_reference_library_verifies_the_signatures() {
        let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
        assert!(
            python.is_file(),
            "{} is missing: `scripts/test tools` makes it",
            python.display()
        );
        let (old, new) = (Secret::generate(), Secret::generate());
        let timestamp = now();
        let value = signature(&[&new, &old], ID, timestamp, BODY).unwrap();
        let script = r#"
import sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
body, headers = sys.argv[1], {"webhook-id": sys.argv[2], "webhook-timestamp": sys.argv[3], "webhook-signature": sys.argv[4]}
for secret in sys.argv[5:7]:
    Webhook(secret).verify(body, headers)
try:
    Webhook(sys.argv[7]).verify(body, headers)
except WebhookVerificationError:
    print("verified")
else:
    sys.exit("a stranger's secret verified the signature")
"#;
        let output = Command::new(&python)
            .args(["-c", script, std::str::from_utf8(BODY).unwrap(), ID])
            .arg(timestamp.to_string())
            .arg(&value)
            .args([old.expose(), new.expose(), Secret::generate().expose()])
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "reference library refused: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "verified");
    }
}
