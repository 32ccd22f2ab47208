//! Invoice documents as a customer gets them: PDFs read back with poppler's `pdftotext`,
//! hosted links opened without an API key.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};
use service_kit::auth::ApiKeys;

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with, status_and_json};

/// The text a reader sees in `pdf`, in the order it is drawn, by poppler's `pdftotext`
/// (`scripts/test` installs it), with runs of spaces and no-break spaces as one space.
fn pdf_text(pdf: &[u8]) -> String {
    let mut child = Command::new("pdftotext")
        .args(["-raw", "-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext (Debian's poppler-utils) is installed");
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "pdftotext reads the PDF");
    let text = String::from_utf8(output.stdout)
        .unwrap()
        .replace('\u{a0}', " ");
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn pdf_of(app: &TestApp, id: &str) -> (String, Vec<u8>) {
    let response = app.get(&format!("/invoices/{id}/pdf")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/pdf");
    let etag = response.headers()[ETAG].to_str().unwrap().to_owned();
    let bytes = response.bytes().await.unwrap().to_vec();
    assert!(bytes.starts_with(b"%PDF-"));
    (etag, bytes)
}

async fn create(app: &TestApp, customer_id: &str, currency: &str, items: Value) -> String {
    let body = json!({
        "customer_id": customer_id, "currency": currency, "items": items,
        "tax_rate_bps": 850, "due_date": "2026-12-31"
    });
    let (status, answer) = status_and_json(app.post("/invoices", &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

async fn transition(app: &TestApp, id: &str, action: &str) -> Value {
    let (status, answer) =
        status_and_json(app.post_empty(&format!("/invoices/{id}/{action}")).await).await;
    assert_eq!(status, StatusCode::OK, "{action}: {answer}");
    answer["invoice"].clone()
}

/// The invoice's PDF, read back, shows each of `expected`.
async fn assert_pdf_shows(app: &TestApp, id: &str, expected: &[&str]) {
    assert_shows(&pdf_text(&pdf_of(app, id).await.1), expected);
}

fn assert_shows(text: &str, expected: &[&str]) {
    for wanted in expected {
        assert!(text.contains(wanted), "the PDF shows {wanted:?}:\n{text}");
    }
}

#[tokio::test]
async fn every_status_is_printed_with_the_number_names_lines_and_totals() {
    let app = spawn_app().await;
    let customer = app
        .create_customer("Zoë Müller GmbH", "zoe@example.com")
        .await;
    let items = json!([
        {"description": "Beratung (Stunden)", "quantity": 3, "unit_amount": 1999},
        {"description": "Reisekosten Berlin–München", "quantity": 2, "unit_amount": 500}
    ]);
    let id = create(&app, &customer, "eur", items.clone()).await;
    let lines = [
        "Zoë Müller GmbH",
        "zoe@example.com",
        "Northwind Billing GmbH",
        "Hauptstraße 5",
        "Tax ID: DE123456789",
        "Payment within 30 days.",
        "Beratung (Stunden) 3 €19.99 €59.97",
        "Reisekosten Berlin–München 2 €5.00 €10.00",
        "Subtotal €69.97",
        "Tax (8.5%) €5.95",
        "Total €75.92",
        "Due: 31 December 2026",
    ];

    let (_, draft) = pdf_of(&app, &id).await;
    let text = pdf_text(&draft);
    assert_shows(&text, &lines);
    assert_shows(&text, &["DRAFT", "Amount due €75.92"]);

    let open = transition(&app, &id, "finalize").await;
    let number = open["number"].as_str().unwrap();
    let text = pdf_text(&pdf_of(&app, &id).await.1);
    assert_shows(&text, &lines);
    assert_shows(
        &text,
        &[number, "OPEN", "Amount paid €0.00", "Amount due €75.92"],
    );
    assert!(!text.contains("DRAFT"), "{text}");

    transition(&app, &id, "pay").await;
    let text = pdf_text(&pdf_of(&app, &id).await.1);
    assert_shows(
        &text,
        &[number, "PAID", "Amount paid €75.92", "Amount due €0.00"],
    );

    let other = create(&app, &customer, "eur", items).await;
    transition(&app, &other, "finalize").await;
    transition(&app, &other, "mark_uncollectible").await;
    assert_pdf_shows(&app, &other, &["UNCOLLECTIBLE"]).await;
    transition(&app, &other, "void").await;
    assert_pdf_shows(&app, &other, &["VOID", "Amount due €0.00"]).await;
}

#[tokio::test]
async fn amounts_follow_each_currencys_exponent_and_names_keep_their_script() {
    let app = spawn_app().await;
    let customer = app
        .create_customer("株式会社テスト", "keiri@example.jp")
        .await;
    let yen = create(
        &app,
        &customer,
        "JPY",
        json!([{"description": "ソフトウェアライセンス（年間）", "quantity": 2, "unit_amount": 150000}]),
    )
    .await;
    assert_pdf_shows(
        &app,
        &yen,
        &[
            "株式会社テスト",
            "ソフトウェアライセンス（年間） 2 ¥150,000 ¥300,000",
            "Total ¥325,500",
        ],
    )
    .await;

    let greek = app
        .create_customer("Αθηνά Παπαδοπούλου", "athina@example.gr")
        .await;
    let dinar = create(
        &app,
        &greek,
        "kwd",
        json!([
            {"description": "Консультация", "quantity": 1, "unit_amount": 1250},
            {"description": "Tłumaczenie – Łódź, Gdańsk", "quantity": 2, "unit_amount": 5}
        ]),
    )
    .await;
    assert_pdf_shows(
        &app,
        &dinar,
        &[
            "Αθηνά Παπαδοπούλου",
            "Консультация 1 KWD 1.250 KWD 1.250",
            "Tłumaczenie – Łódź, Gdańsk 2 KWD 0.005 KWD 0.010",
            "Tax (8.5%) KWD 0.107",
        ],
    )
    .await;

    let rupees = create(
        &app,
        &customer,
        "INR",
        json!([{"description": "導入サポート and onboarding", "quantity": 1, "unit_amount": 123456789}]),
    )
    .await;
    assert_pdf_shows(
        &app,
        &rupees,
        &["導入サポート and onboarding 1 ₹1,234,567.89 ₹1,234,567.89"],
    )
    .await;
}

#[tokio::test]
async fn one_version_gives_the_same_bytes_and_a_change_gives_a_new_document() {
    let app = spawn_app().await;
    let draft = app.draft_for("Same Bytes", "same@example.com").await;
    let id = draft.invoice["id"].as_str().unwrap();

    let (etag, first) = pdf_of(&app, id).await;
    let (again_etag, again) = pdf_of(&app, id).await;
    assert_eq!(etag, again_etag);
    assert_eq!(first, again, "the same version gives the same bytes");

    let http = reqwest::Client::new();
    let not_modified = http
        .get(app.url(&format!("/invoices/{id}/pdf")))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.headers()[ETAG].to_str().unwrap(), etag);
    assert!(not_modified.bytes().await.unwrap().is_empty());

    let edit =
        json!({"items": [{"description": "Edited line", "quantity": 1, "unit_amount": 4200}]});
    let (status, _) = status_and_json(app.patch(&draft.path, &edit).await).await;
    assert_eq!(status, StatusCode::OK);
    let (edited_etag, edited) = pdf_of(&app, id).await;
    assert_ne!(edited_etag, etag);
    assert_shows(&pdf_text(&edited), &["Edited line 1 $42.00 $42.00"]);

    transition(&app, id, "finalize").await;
    let (final_etag, finalized) = pdf_of(&app, id).await;
    assert_ne!(final_etag, edited_etag);
    assert_ne!(finalized, edited);
    assert_shows(&pdf_text(&finalized), &["OPEN"]);
    let stale = http
        .get(app.url(&format!("/invoices/{id}/pdf")))
        .header(IF_NONE_MATCH, &edited_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stale.status(),
        StatusCode::OK,
        "an old tag gets the new document"
    );
}

#[tokio::test]
async fn a_missing_invoice_has_no_pdf() {
    let app = spawn_app().await;
    let response = app.get("/invoices/66f0000000000000000000ff/pdf").await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
}

const KEY: &str = "ik_documents_0123456789";

#[tokio::test]
async fn a_finalized_invoice_opens_from_its_hosted_link_without_a_key_and_nothing_else_does() {
    let app = spawn_app_with(Options {
        api_keys: Some(ApiKeys::parse(KEY).unwrap()),
        ..Options::default()
    })
    .await;
    let http = reqwest::Client::new();
    let keyed = |method: reqwest::Method, path: &str| {
        http.request(method, app.url(path))
            .header(AUTHORIZATION, format!("Bearer {KEY}"))
    };
    let customer = app
        .create_customer("Zoë Müller GmbH", "hosted@example.com")
        .await;
    let body = crate::helpers::invoice_body(&customer);
    let created: Value = keyed(reqwest::Method::POST, "/invoices")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["invoice"]["hosted_invoice_url"],
        Value::Null,
        "a draft has no link"
    );

    let unkeyed = http
        .get(app.url(&format!("/invoices/{id}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(unkeyed.status(), StatusCode::UNAUTHORIZED);

    let finalized: Value = keyed(reqwest::Method::POST, &format!("/invoices/{id}/finalize"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = finalized["invoice"]["hosted_invoice_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = url
        .strip_prefix("http://invoices.test")
        .expect("under PUBLIC_URL")
        .to_owned();
    let token = path.rsplit('/').next().unwrap().to_owned();
    assert!(path.starts_with(&format!("/i/{id}/")), "{path}");
    assert_eq!(token.len(), 64, "256 random bits");

    let page = http.get(app.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let page_etag = page.headers()[ETAG].clone();
    let html = page.text().await.unwrap();
    let again = http
        .get(app.url(&path))
        .header(IF_NONE_MATCH, page_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let number = finalized["invoice"]["number"].as_str().unwrap();
    for wanted in [
        number,
        "Zoë Müller GmbH",
        "Northwind Billing GmbH",
        "Hosting",
        "$75.92",
        "Download PDF",
    ] {
        assert!(html.contains(wanted), "the page shows {wanted}");
    }
    assert!(!html.contains(KEY));

    let pdf = http
        .get(app.url(&format!("{path}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()[CONTENT_TYPE], "application/pdf");
    assert_shows(
        &pdf_text(&pdf.bytes().await.unwrap()),
        &[number, "Zoë Müller GmbH"],
    );

    for font in ["invoice-sans.ttf", "invoice-sans-cjk.otf"] {
        let response = http
            .get(app.url(&format!("/i/assets/{font}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{font}");
    }

    let mut wrong = token.clone().into_bytes();
    wrong[0] = if wrong[0] == b'a' { b'b' } else { b'a' };
    let wrong = String::from_utf8(wrong).unwrap();
    for probe in [
        format!("/i/{id}/{wrong}"),
        format!("/i/{id}/{wrong}/pdf"),
        format!("/i/{id}/{}", &token[..63]),
        format!("/i/66f0000000000000000000ff/{token}"),
        format!("/i/not-an-id/{token}"),
        format!("/i/{id}"),
        format!("/i/{id}/{token}/pdf/more"),
        "/i/assets/secrets.txt".to_owned(),
        "/i".to_owned(),
    ] {
        let response = http.get(app.url(&probe)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{probe}");
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8",
            "{probe}"
        );
        assert_eq!(response.text().await.unwrap(), "Not Found\n", "{probe}");
    }
}

/// A 48 × 24 blue PNG.
const LOGO_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAADAAAAAYCAIAAAAzn+mLAAAALElEQVR42u3OAQkAAAgDsCcxi42taA3BwQIs1XNKhISEhISEhISEhISEfoUWASW6vbOmqZwAAAAASUVORK5CYII=";

#[tokio::test]
async fn the_sellers_logo_is_on_both_documents() {
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(LOGO_PNG)
        .unwrap();
    let app = spawn_app_with(Options {
        seller_logo: Some(invoice_service::documents::Logo::parse(png).unwrap()),
        ..Options::default()
    })
    .await;
    let draft = app.draft_for("Logo", "logo@example.com").await;
    let id = draft.invoice["id"].as_str().unwrap();
    let finalized = transition(&app, id, "finalize").await;

    let pdf = app
        .get(&format!("/invoices/{id}/pdf"))
        .await
        .bytes()
        .await
        .unwrap();
    let images = pdf_images(&pdf);
    assert!(
        images.contains(" 48 ") && images.contains(" 24 "),
        "{images}"
    );

    let url = finalized["hosted_invoice_url"].as_str().unwrap();
    let path = url.strip_prefix("http://invoices.test").unwrap();
    let html = app.get(path).await.text().await.unwrap();
    assert!(
        html.contains("src=\"data:image/png;base64,iVBORw0KGgo"),
        "the page shows the logo"
    );
}

/// `pdfimages -list` of `pdf`: one line per image with its width and height.
fn pdf_images(pdf: &[u8]) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pdf).unwrap();
    let output = Command::new("pdfimages")
        .arg("-list")
        .arg(file.path())
        .output()
        .expect("pdfimages (Debian's poppler-utils) is installed");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}
