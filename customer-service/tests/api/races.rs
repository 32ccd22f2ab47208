use reqwest::StatusCode;
use serde_json::json;
use test_support::join_tasks;

use crate::helpers::{spawn_app, status_and_json};

#[tokio::test]
async fn thirty_two_racing_creates_of_one_email_have_exactly_one_winner() {
    let app = spawn_app().await;
    let attempts = (0..32).map(|i| {
        let http = app.http.clone();
        let url = app.url("/customers");
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({"name": format!("Racer {i}"), "email": email}))
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let statuses = join_tasks(attempts).await;
    let count = |wanted| statuses.iter().filter(|s| **s == wanted).count();
    let (created, conflicts) = (count(StatusCode::CREATED), count(StatusCode::CONFLICT));
    assert_eq!((created, conflicts), (1, 31));
    let (_, list) = status_and_json(app.get("/customers?email=race%40example.com").await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}
