use reqwest::StatusCode;

use crate::helpers::{browser, spawn_console, spawn_console_without_services};

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let console = spawn_console().await;
    console.sign_in().await;
    for path in [
        "/sign-in",
        "/customers",
        "/customers/new",
        "/status",
        "/nowhere",
    ] {
        let response = console.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.starts_with("<!doctype html>\n<html lang=\"en\">"),
            "{path}"
        );
        assert!(html.contains(" · Billing console</title>"), "{path}");
        assert!(
            html.contains("<a class=\"skip-link\" href=\"#content\">Skip to content</a>"),
            "{path}"
        );
        assert!(html.contains("<nav aria-label=\"Main\">"), "{path}");
        assert!(html.contains("<main id=\"content\""), "{path}");
        assert!(!html.contains("<script>"), "{path}: no inline script");
        assert_eq!(html.matches("<h1").count(), 1, "{path}");
    }
}

#[tokio::test]
async fn assets_are_served_with_their_type_and_cached_for_long() {
    let console = spawn_console().await;
    for (path, content_type) in [
        ("/assets/console.css", "text/css; charset=utf-8"),
        ("/assets/htmx.min.js", "text/javascript; charset=utf-8"),
    ] {
        let response = console.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        let cache = response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cache.contains("max-age=31536000"), "{path}: {cache}");
    }
    assert_eq!(
        console.get("/assets/other.js").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_service_that_cannot_be_reached_gets_a_503_page_naming_it() {
    let (base, _console) = spawn_console_without_services().await;
    let browser = browser();
    let html = browser
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::helpers::hidden(&html, "csrf");
    let response = browser
        .post(format!("{base}/sign-in"))
        .form(&[("csrf", csrf.as_str()), ("api_key", "any-key-at-all-here")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("customer-service cannot be reached"),
        "{html}"
    );
}
