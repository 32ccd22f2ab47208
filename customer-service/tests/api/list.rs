use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, status_and_json};

async fn page(app: &TestApp, query: &str) -> Value {
    let (status, body) = status_and_json(app.get(&format!("/customers?{query}")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_pages_through_everything_once_while_others_insert() {
    let app = spawn_app().await;
    let mut before = HashSet::new();
    for i in 0..23 {
        let customer = app
            .create_customer(&format!("Before {i}"), &format!("before{i}@example.com"))
            .await;
        before.insert(customer["id"].as_str().unwrap().to_owned());
    }

    let writer = {
        let base = app.base.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0..20 {
                let body = serde_json::json!({"name": format!("During {i}"), "email": format!("during{i}@example.com")});
                let response = http
                    .post(format!("{base}/customers"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        })
    };

    let mut seen = Vec::new();
    let mut query = "limit=5".to_owned();
    loop {
        let body = page(&app, &query).await;
        seen.extend(ids(&body));
        if !body["has_more"].as_bool().unwrap() {
            assert!(body["next_cursor"].is_null());
            break;
        }
        query = format!("limit=5&after={}", body["next_cursor"].as_str().unwrap());
    }
    writer.await.unwrap();

    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no customer twice");
    assert!(
        before.is_subset(&unique),
        "every customer that existed before is listed"
    );
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "listed in id order");
}

#[tokio::test]
async fn list_defaults_to_20_and_filters_by_email_and_name_prefix() {
    let app = spawn_app().await;
    for i in 0..22 {
        app.create_customer(&format!("Bulk {i}"), &format!("bulk{i}@example.com"))
            .await;
    }
    app.create_customer("Zoë Müller", "Zoe.Mueller@Example.de")
        .await;
    app.create_customer("Zoltan Kodaly", "zoltan@example.hu")
        .await;

    let body = page(&app, "").await;
    assert_eq!(ids(&body).len(), 20);
    assert!(body["has_more"].as_bool().unwrap());
    assert_eq!(ids(&page(&app, "limit=100").await).len(), 24);

    let by_email = page(&app, "email=zoe.mueller%40example.DE").await;
    assert_eq!(by_email["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_email["data"][0]["name"], "Zoë Müller");

    let by_prefix = page(&app, "q=zo").await;
    let names: Vec<&str> = by_prefix["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Zoë Müller", "Zoltan Kodaly"]);
    assert_eq!(
        page(&app, "q=zoë").await["data"].as_array().unwrap().len(),
        1
    );
    assert_eq!(page(&app, "q=nobody").await["data"], serde_json::json!([]));
    assert_eq!(page(&app, "q=.*").await["data"], serde_json::json!([]));
}
