use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;
use test_support::join_tasks;

use crate::helpers::{
    Draft, assert_error, assert_not_found, invoice_path, spawn_app, status_and_json,
};

#[tokio::test]
async fn finalize_pay_and_the_amounts_follow() {
    let app = spawn_app().await;
    let Draft { path, .. } = app.draft_for("Payer", "payer@example.com").await;

    let (status, body) = status_and_json(app.post_empty(&format!("{path}/finalize")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let open = &body["invoice"];
    assert_eq!(open["status"], "open");
    let number = open["number"].as_str().unwrap();
    assert!(number.starts_with("INV-") && number.len() == 10, "{number}");
    assert!(open["finalized_at"].is_string());
    assert_eq!(open["amount_due"], open["total"]);

    let (status, body) = status_and_json(app.post_empty(&format!("{path}/pay")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let paid = &body["invoice"];
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["amount_paid"], paid["total"]);
    assert_eq!(paid["amount_due"], 0);
    assert!(paid["paid_at"].is_string());
    assert_eq!(paid["number"], number);

    let (_, read) = status_and_json(app.get(&path).await).await;
    assert_eq!(read["invoice"]["status"], "paid");
}

#[tokio::test]
async fn only_the_lifecycle_transitions_are_allowed() {
    let app = spawn_app().await;
    let customer_id = app.create_customer("States", "states@example.com").await;
    // (setup transitions, transition under test, expected status or 409)
    let cases: &[(&[&str], &str, Option<&str>)] = &[
        (&[], "pay", None),
        (&[], "void", None),
        (&[], "mark_uncollectible", None),
        (&["finalize"], "finalize", None),
        (&["finalize"], "mark_uncollectible", Some("uncollectible")),
        (&["finalize"], "void", Some("void")),
        (&["finalize", "mark_uncollectible"], "pay", Some("paid")),
        (&["finalize", "mark_uncollectible"], "void", Some("void")),
        (
            &["finalize", "mark_uncollectible"],
            "mark_uncollectible",
            None,
        ),
        (&["finalize", "pay"], "void", None),
        (&["finalize", "pay"], "pay", None),
        (&["finalize", "void"], "pay", None),
        (&["finalize", "void"], "finalize", None),
    ];
    for (setup, action, expected) in cases {
        let path = invoice_path(&app.create_invoice(&customer_id).await);
        for step in *setup {
            let (status, body) =
                status_and_json(app.post_empty(&format!("{path}/{step}")).await).await;
            assert_eq!(status, StatusCode::OK, "{step}: {body}");
        }
        let (status, body) =
            status_and_json(app.post_empty(&format!("{path}/{action}")).await).await;
        match expected {
            Some(new_status) => {
                assert_eq!(status, StatusCode::OK, "{setup:?} then {action}: {body}");
                assert_eq!(body["invoice"]["status"], *new_status);
                if *new_status == "void" {
                    assert_eq!(body["invoice"]["amount_due"], 0);
                    assert!(body["invoice"]["voided_at"].is_string());
                }
            }
            None => assert_error(status, &body, StatusCode::CONFLICT, "invalid_transition"),
        }
    }
    let unknown = app.post_empty("/invoices/65f0000000000000000000ff/pay");
    let (status, body) = status_and_json(unknown.await).await;
    assert_not_found(status, &body);
}

#[tokio::test]
async fn racing_transitions_have_exactly_one_winner() {
    let app = spawn_app().await;
    let Draft { path, .. } = app.draft_for("Racer", "racer@example.com").await;
    app.post_empty(&format!("{path}/finalize")).await;

    let attempts = (0..16).map(|i| {
        let http = app.http.clone();
        let url = app.url(&format!(
            "{path}/{}",
            if i % 2 == 0 { "pay" } else { "void" }
        ));
        tokio::spawn(async move { http.post(url).send().await.unwrap().status() })
    });
    let statuses = join_tasks(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        15,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn numbers_are_unique_and_gapless_when_two_instances_finalize_at_once() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let customer_id = app
        .create_customer("Numbered", "numbered@example.com")
        .await;
    let ids = app.create_invoices(&customer_id, 30).await;
    let finalizes = ids.iter().enumerate().map(|(i, id)| {
        let http = app.http.clone();
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            other.base.clone()
        };
        let url = format!("{base}/invoices/{id}/finalize");
        tokio::spawn(async move {
            let response = http.post(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            body["invoice"]["number"].as_str().unwrap().to_owned()
        })
    });
    let numbers = join_tasks(finalizes).await;
    let unique: HashSet<_> = numbers.iter().cloned().collect();
    assert_eq!(unique.len(), 30, "no number twice: {numbers:?}");
    let expected: HashSet<_> = (1..=30).map(|n| format!("INV-{n:06}")).collect();
    assert_eq!(unique, expected, "INV-000001..INV-000030 with no gap");
}
