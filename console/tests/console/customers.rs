use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{hidden, location, spawn_console, unescape};

#[tokio::test]
async fn a_customer_created_with_the_form_is_visible_through_the_api() {
    let console = spawn_console().await;
    console.sign_in().await;
    let fields = [
        ("name", "Grace Hopper"),
        ("email", "grace@example.com"),
        ("phone", "+1 555 0100"),
        ("line1", "1 Navy Way"),
        ("city", "Arlington"),
        ("country", "us"),
    ];
    let response = console
        .submit("/customers/new", "/customers/new", &fields)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let path = location(&response);
    let id = path
        .strip_prefix("/customers/")
        .and_then(|rest| rest.split('?').next())
        .unwrap()
        .to_owned();
    let (status, html) = console.page(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<div role=\"status\" class=\"notice\">Customer created.</div>"),
        "{html}"
    );
    assert!(html.contains("<h1>Grace Hopper</h1>"), "{html}");

    let response = console.customers.get(&format!("/customers/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let customer: Value = response.json().await.unwrap();
    assert_eq!(customer["name"], "Grace Hopper");
    assert_eq!(customer["phone"], "+1 555 0100");
    assert_eq!(customer["address"]["city"], "Arlington");
    assert_eq!(customer["address"]["country"], "US");
}

#[tokio::test]
async fn a_taken_email_is_shown_next_to_the_email_input_with_what_was_typed() {
    let console = spawn_console().await;
    console.create_customer("First", "taken@example.com").await;
    console.sign_in().await;
    let fields = [("name", "Second"), ("email", "taken@example.com")];
    let response = console
        .submit("/customers/new", "/customers/new", &fields)
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("aria-invalid=\"true\" aria-describedby=\"email-error\""),
        "{html}"
    );
    assert!(
        html.contains("<p class=\"field-error\" id=\"email-error\">A customer with this email already exists.</p>"),
        "{html}"
    );
    assert!(html.contains("value=\"Second\""), "{html}");
    assert_eq!(
        console
            .customers_with_email("taken@example.com")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn an_invalid_field_is_shown_next_to_its_input() {
    let console = spawn_console().await;
    console.sign_in().await;
    let fields = [
        ("name", "Bad Email"),
        ("email", "not-an-address"),
        ("country", "Narnia"),
    ];
    let response = console
        .submit("/customers/new", "/customers/new", &fields)
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"email-error\""), "{html}");
    assert!(html.contains("id=\"country-error\""), "{html}");
    assert!(html.contains("value=\"not-an-address\""), "{html}");
}

#[tokio::test]
async fn a_stale_edit_gets_the_changed_by_someone_else_form_with_the_typed_values() {
    let console = spawn_console().await;
    let id = console
        .create_customer("Original Name", "stale@example.com")
        .await;
    console.sign_in().await;
    let edit = format!("/customers/{id}/edit");
    let (status, html) = console.page(&edit).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Edit customer</h1>"), "{html}");
    let version = hidden(&html, "version");
    let csrf = hidden(&html, "csrf");
    assert!(!version.is_empty(), "the form keeps the customer's ETag");

    let response = console
        .customers
        .patch(
            &format!("/customers/{id}"),
            &json!({"name": "Changed Elsewhere"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let current_version = response.headers()["etag"].to_str().unwrap().to_owned();

    let typed = [
        ("csrf", csrf.as_str()),
        ("version", version.as_str()),
        ("name", "Typed By Me"),
        ("email", "stale@example.com"),
        ("phone", "+44 20 0000"),
    ];
    let response = console.post_form(&edit, &typed).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("This customer was changed by someone else"),
        "{html}"
    );
    let alert = &html[html.find("role=\"alert\"").unwrap()..];
    assert!(alert.contains("Changed Elsewhere"), "{html}");
    assert!(html.contains("value=\"Typed By Me\""), "{html}");
    assert!(html.contains("value=\"+44 20 0000\""), "{html}");
    assert_eq!(hidden(&html, "version"), current_version);
    let customer: Value = console
        .customers
        .get(&format!("/customers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        customer["name"], "Changed Elsewhere",
        "nothing was overwritten"
    );

    let again = [
        ("csrf", csrf.as_str()),
        ("version", current_version.as_str()),
        ("name", "Typed By Me"),
        ("email", "stale@example.com"),
    ];
    let response = console.post_form(&edit, &again).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("/customers/{id}?notice=customer_saved")
    );
    let customer: Value = console
        .customers
        .get(&format!("/customers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(customer["name"], "Typed By Me");
}

#[tokio::test]
async fn deleting_a_customer_goes_back_to_the_list_with_a_notice() {
    let console = spawn_console().await;
    let id = console
        .create_customer("Short Lived", "gone@example.com")
        .await;
    console.sign_in().await;
    let page = format!("/customers/{id}");
    let (_, html) = console.page(&page).await;
    let (csrf, version) = (hidden(&html, "csrf"), hidden(&html, "version"));
    let response = console
        .post_form(
            &format!("{page}/delete"),
            &[("csrf", &csrf), ("version", &version)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = console.page(&location(&response)).await;
    assert!(html.contains("Customer deleted."), "{html}");
    assert_eq!(
        console.customers.get(&page).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_id_that_is_not_24_hex_is_a_404_page() {
    let console = spawn_console().await;
    console.sign_in().await;
    for path in [
        "/customers/abc",
        "/customers/66f00000000000000000000z/edit",
        "/invoices/..%2F..%2Fcustomers",
        "/invoices/66f0000000000000000000001",
    ] {
        let (status, html) = console.page(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("<h1>Not found</h1>"), "{path}: {html}");
    }
    let (status, _) = console.page("/customers/66f000000000000000000099").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_search_finds_by_name_prefix_or_email_and_answers_htmx_with_the_table_alone() {
    let console = spawn_console().await;
    console
        .create_customer("Alice Archer", "alice@example.com")
        .await;
    console
        .create_customer("Bob Baker", "bob@example.com")
        .await;
    console.sign_in().await;
    let (_, html) = console.page("/customers?search=ali").await;
    assert!(
        html.contains("Alice Archer") && !html.contains("Bob Baker"),
        "{html}"
    );
    let (_, html) = console.page("/customers?search=BOB%40example.com").await;
    assert!(
        html.contains("Bob Baker") && !html.contains("Alice Archer"),
        "{html}"
    );

    let response = console
        .browser
        .get(console.url("/customers?search=bob"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let fragment = unescape(&response.text().await.unwrap());
    assert!(
        fragment
            .trim_start()
            .starts_with("<div id=\"customer-results\">"),
        "{fragment}"
    );
    assert!(!fragment.contains("<html"), "{fragment}");
    assert!(fragment.contains("Bob Baker"), "{fragment}");
}

#[tokio::test]
async fn an_edit_whose_form_lost_its_version_is_refused_as_stale_and_changes_nothing() {
    let console = spawn_console().await;
    let id = console
        .create_customer("Original Name", "versionless@example.com")
        .await;
    console.sign_in().await;
    let edit = format!("/customers/{id}/edit");
    let (_, html) = console.page(&edit).await;
    let csrf = hidden(&html, "csrf");
    for version in ["", "not a tag\u{7f}"] {
        let typed = [
            ("csrf", csrf.as_str()),
            ("version", version),
            ("name", "Written Blind"),
            ("email", "versionless@example.com"),
        ];
        let response = console.post_form(&edit, &typed).await;
        assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
        let html = response.text().await.unwrap();
        assert!(html.contains("value=\"Written Blind\""), "{html}");
    }
    let customer: Value = console
        .customers
        .get(&format!("/customers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        customer["name"], "Original Name",
        "nothing was written blind"
    );
}
