use reqwest::StatusCode;

use crate::helpers::{KEY, location, spawn_console, spawn_open_console};

#[tokio::test]
async fn a_wrong_key_is_refused_with_a_401_page_and_signs_nobody_in() {
    let console = spawn_console().await;
    let response = console.sign_in_with("not-the-key-of-these-services").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("That API key was refused."), "{html}");
    assert!(
        cookies.iter().all(|c| !c.contains("not-the-key")),
        "{cookies:?}"
    );
    let response = console.get("/customers").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in");
}

#[tokio::test]
async fn the_right_key_signs_in_and_lands_on_the_customers() {
    let console = spawn_console().await;
    console.sign_in().await;
    let (status, html) = console.page("/customers").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Customers</h1>"), "{html}");
    assert!(html.contains(">Sign out</button>"), "{html}");
    assert!(!html.contains("Open mode"), "{html}");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_strict_and_secure() {
    let console = spawn_console().await;
    let csrf = console.csrf().await;
    let response = console
        .post_form("/sign-in", &[("csrf", &csrf), ("api_key", KEY)])
        .await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes[0].starts_with("console_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(
            attributes.contains(&attribute),
            "{attribute} missing in {cookie}"
        );
    }
    assert!(!cookie.contains(KEY), "{cookie}");
}

#[tokio::test]
async fn the_api_key_appears_in_no_page_and_no_redirect() {
    let console = spawn_console().await;
    let response = console.sign_in_with(KEY).await;
    assert!(!location(&response).contains(KEY));
    let id = console
        .create_customer("Ada Lovelace", "ada@example.com")
        .await;
    let paths = [
        "/sign-in".to_owned(),
        "/customers".to_owned(),
        format!("/customers/{id}"),
        format!("/customers/{id}/edit"),
        "/customers/new".to_owned(),
        "/invoices".to_owned(),
        "/invoices/new".to_owned(),
        "/events".to_owned(),
        "/webhooks".to_owned(),
        "/status".to_owned(),
    ];
    for path in paths {
        let response = console.get(&path).await;
        assert!(!location(&response).contains(KEY), "{path}");
        let (status, html) = (response.status(), response.text().await.unwrap());
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(!html.contains(KEY), "{path} shows the key");
    }
}

#[tokio::test]
async fn a_post_without_a_right_csrf_token_is_refused_and_changes_nothing() {
    let console = spawn_console().await;
    console.sign_in().await;
    let cases: [(&str, Option<&str>); 3] = [
        ("no csrf field", None),
        ("an empty token", Some("")),
        (
            "another token",
            Some("bm90LXRoZS10b2tlbi1vZi10aGlzLXNlc3Npb24"),
        ),
    ];
    for (case, token) in cases {
        let email = format!("{}@example.com", case.replace(' ', "-"));
        let mut fields = vec![("name", "Mallory"), ("email", email.as_str())];
        if let Some(token) = token {
            fields.push(("csrf", token));
        }
        let response = console.post_form("/customers/new", &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{case}");
        let html = response.text().await.unwrap();
        assert!(html.contains("<h1>Form refused</h1>"), "{case}: {html}");
        assert!(
            html.contains(
                "This form did not come from this console or has expired. Reload the page and try again."
            ),
            "{case}: {html}"
        );
        assert!(
            console.customers_with_email(&email).await.is_empty(),
            "{case}"
        );
    }
}

#[tokio::test]
async fn any_page_while_signed_out_sends_the_visitor_to_sign_in() {
    let console = spawn_console().await;
    for path in [
        "/customers",
        "/invoices",
        "/events",
        "/webhooks",
        "/status",
        "/customers/new",
    ] {
        let response = console.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/sign-in", "{path}");
    }
    let response = console.get("/").await;
    assert_eq!(location(&response), "/customers");
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let console = spawn_console().await;
    console.sign_in().await;
    let response = console.submit("/customers", "/sign-out", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in");
    let response = console.get("/customers").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in");
}

#[tokio::test]
async fn open_mode_shows_the_open_notice_and_takes_an_empty_key() {
    let console = spawn_open_console().await;
    let notice = "Open mode: the services have no API keys, so anyone who can reach them can read and change everything.";
    let (status, html) = console.page("/sign-in").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(notice), "{html}");
    let response = console.sign_in_with("").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/customers");
    let (status, html) = console.page("/customers").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(notice), "{html}");
}

#[tokio::test]
async fn health_answers_without_signing_in() {
    let console = spawn_console().await;
    let response = console.get("/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn a_key_that_cannot_travel_in_a_header_is_refused_like_a_wrong_one() {
    let console = spawn_console().await;
    for key in ["new\nline-in-the-key-0123", "ünïcödé-key-0123456789"] {
        let response = console.sign_in_with(key).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{key:?}");
    }
}
