use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{hidden, location, spawn_console};

#[tokio::test]
async fn an_invoice_error_lands_on_its_row_and_the_fixed_form_creates_the_invoice() {
    let console = spawn_console().await;
    let customer = console
        .create_customer("Ada Lovelace", "ada@example.com")
        .await;
    console.sign_in().await;
    let form_page = format!("/invoices/new?customer_id={customer}");
    let (_, html) = console.page(&form_page).await;
    assert!(
        html.contains(&format!("value=\"{customer}\"")),
        "the customer is prefilled"
    );
    assert!(
        html.contains("value=\"EUR\""),
        "EUR is the default currency"
    );
    assert!(
        html.contains("<label for=\"line-3-unit_amount\">Line 3 unit amount (minor units)</label>"),
        "{html}"
    );

    let mut fields = vec![
        ("customer_id", customer.as_str()),
        ("currency", "EUR"),
        ("tax_rate_bps", "850"),
        ("due_date", "2026-12-31"),
        ("description", "Hosting"),
        ("quantity", "3"),
        ("unit_amount", "1999"),
        ("description", "Support"),
        ("quantity", "0"),
        ("unit_amount", "500"),
        ("description", ""),
        ("quantity", ""),
        ("unit_amount", ""),
    ];
    let response = console.submit(&form_page, "/invoices/new", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("aria-describedby=\"line-2-quantity-error\""),
        "{html}"
    );
    assert!(
        html.contains("<p class=\"field-error\" id=\"line-2-quantity-error\">"),
        "{html}"
    );
    assert!(html.contains("value=\"Support\""), "{html}");

    fields[8] = ("quantity", "2");
    let response = console.submit(&form_page, "/invoices/new", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let path = location(&response);
    let (status, html) = console.page(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Invoice created."), "{html}");
    assert!(html.contains("<h1>Draft invoice</h1>"), "{html}");
    assert!(
        html.contains("EUR 75.92"),
        "the total is shown with its currency: {html}"
    );

    let id = path
        .trim_start_matches("/invoices/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = console
        .invoices
        .get(&format!("/invoices/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let items = body["invoice"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["quantity"], 2);
}

#[tokio::test]
async fn an_unknown_customer_is_shown_next_to_the_customer_id() {
    let console = spawn_console().await;
    console.sign_in().await;
    let fields = [
        ("customer_id", "66f000000000000000000099"),
        ("currency", "EUR"),
        ("description", "Hosting"),
        ("quantity", "1"),
        ("unit_amount", "100"),
    ];
    let response = console
        .submit("/invoices/new", "/invoices/new", &fields)
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"customer_id-error\""), "{html}");
}

#[tokio::test]
async fn adding_a_line_keeps_every_typed_value_and_adds_an_empty_row() {
    let console = spawn_console().await;
    console.sign_in().await;
    let fields = [
        ("action", "add_line"),
        ("customer_id", "66f000000000000000000001"),
        ("currency", "USD"),
        ("description", "Hosting"),
        ("quantity", "3"),
        ("unit_amount", "1999"),
        ("description", ""),
        ("quantity", ""),
        ("unit_amount", ""),
        ("description", ""),
        ("quantity", ""),
        ("unit_amount", ""),
    ];
    let response = console
        .submit("/invoices/new", "/invoices/new", &fields)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    for typed in ["66f000000000000000000001", "USD", "Hosting", "1999"] {
        assert!(
            html.contains(&format!("value=\"{typed}\"")),
            "{typed}: {html}"
        );
    }
    assert!(html.contains("Line 4 description"), "{html}");
    assert!(!html.contains("Line 5 description"), "{html}");
}

#[tokio::test]
async fn the_invoice_page_finalizes_and_pays_with_a_notice_each_time() {
    let console = spawn_console().await;
    let customer = console
        .create_customer("Ada Lovelace", "ada@example.com")
        .await;
    let response = console
        .invoices
        .post(
            "/invoices",
            &serde_json::json!({"customer_id": customer, "currency": "eur",
                "items": [{"description": "Hosting", "quantity": 1, "unit_amount": 123450}]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let page = format!("/invoices/{}", body["id"].as_str().unwrap());
    console.sign_in().await;

    for (action, notice, status) in [
        ("finalize", "Invoice finalized.", "open"),
        ("pay", "Invoice paid.", "paid"),
    ] {
        let (_, html) = console.page(&page).await;
        let (csrf, version) = (hidden(&html, "csrf"), hidden(&html, "version"));
        let response = console
            .post_form(
                &format!("{page}/{action}"),
                &[("csrf", &csrf), ("version", &version)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{action}");
        let (_, html) = console.page(&location(&response)).await;
        assert!(html.contains(notice), "{action}: {html}");
        let body: Value = console.invoices.get(&page).await.json().await.unwrap();
        assert_eq!(body["invoice"]["status"], status);
    }
    let (_, html) = console.page(&page).await;
    assert!(html.contains("EUR 1,234.50"), "{html}");
    assert!(html.contains("<h1>Invoice INV-"), "{html}");
}

#[tokio::test]
async fn a_transition_from_a_stale_page_shows_the_service_sentence() {
    let console = spawn_console().await;
    let page = console.draft_page().await;
    console.sign_in().await;
    let (_, html) = console.page(&page).await;
    let (csrf, version) = (hidden(&html, "csrf"), hidden(&html, "version"));
    let response = console
        .invoices
        .post_empty(&format!("{page}/finalize"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let response = console
        .post_form(
            &format!("{page}/delete"),
            &[("csrf", &csrf), ("version", &version)],
        )
        .await;
    assert!(
        [StatusCode::PRECONDITION_FAILED, StatusCode::CONFLICT].contains(&response.status()),
        "{}",
        response.status()
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert_eq!(
        console.invoices.get(&page).await.status(),
        StatusCode::OK,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn the_pdf_is_fetched_with_the_key_and_passed_on() {
    let console = spawn_console().await;
    let page = console.draft_page().await;
    console.sign_in().await;
    let response = console.get(&format!("{page}/pdf")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF"));
}

#[tokio::test]
async fn a_stale_draft_edit_gets_the_changed_by_someone_else_form_and_saving_again_wins() {
    let console = spawn_console().await;
    let page = console.draft_page().await;
    console.sign_in().await;
    let edit = format!("{page}/edit");
    let (status, html) = console.page(&edit).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Edit draft</h1>"), "{html}");
    assert!(html.contains("value=\"Hosting\""), "{html}");
    let (csrf, version) = (hidden(&html, "csrf"), hidden(&html, "version"));

    let response = console
        .invoices
        .patch(&page, &serde_json::json!({"tax_rate_bps": 2000}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let typed = |version: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("version", version.to_owned()),
            ("tax_rate_bps", "700".to_owned()),
            ("due_date", "2027-01-31".to_owned()),
            ("description", "Hosting, typed".to_owned()),
            ("quantity", "4".to_owned()),
            ("unit_amount", "250".to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let request = console.browser.post(console.url(&edit)).form(&fields);
        async move { request.send().await.unwrap() }
    };
    let response = send(typed(&version)).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("This invoice was changed by someone else"),
        "{html}"
    );
    assert!(html.contains("value=\"Hosting, typed\""), "{html}");
    assert!(html.contains("value=\"700\""), "{html}");
    let current = hidden(&html, "version");
    assert_ne!(current, version);
    let body: Value = console.invoices.get(&page).await.json().await.unwrap();
    assert_eq!(
        body["invoice"]["tax_rate_bps"], 2000,
        "nothing was overwritten"
    );

    let response = send(typed(&current)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let body: Value = console.invoices.get(&page).await.json().await.unwrap();
    assert_eq!(body["invoice"]["tax_rate_bps"], 700);
    assert_eq!(body["invoice"]["items"][0]["quantity"], 4);
}
