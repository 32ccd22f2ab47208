//! The stylesheet and htmx, built into the binary and served under `/assets/`. Pages link
//! them with a digest of their bytes in the query, so they can be cached for a year and a
//! new build is still fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::pages::PageError;

const CSS: &str = include_str!("../assets/console.css");
/// htmx 2.0.4 (Zero-Clause BSD, `assets/htmx.LICENSE`), as `npm pack htmx.org@2.0.4`
/// ships it in `dist/htmx.min.js`.
const HTMX: &str = include_str!("../assets/htmx.min.js");

const CACHE_FOR_A_YEAR: &str = "public, max-age=31536000, immutable";

fn href(name: &str, bytes: &str) -> String {
    let digest = Sha256::digest(bytes.as_bytes());
    format!("/assets/{name}?v={}", &hex(&digest[..6]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

static CSS_HREF: LazyLock<String> = LazyLock::new(|| href("console.css", CSS));
static JS_HREF: LazyLock<String> = LazyLock::new(|| href("htmx.min.js", HTMX));

pub fn css_href() -> &'static str {
    &CSS_HREF
}

pub fn js_href() -> &'static str {
    &JS_HREF
}

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Result<Response, PageError> {
    let (body, content_type) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        _ => return Err(PageError::NotFound),
    };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_FOR_A_YEAR),
        ),
    ];
    Ok((headers, body).into_response())
}
