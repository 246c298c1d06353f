//! Every error is `application/problem+json` — including axum's own rejections, which are plain text
//! by default — and names the offending field without echoing its value.

use serde_json::json;

use crate::helpers::{Options, problem, spawn_app, spawn_with};

const CASEWORKER: (&str, &str, &str) = ("anna.kui", "youth-unit", "caseworker");

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    let body = problem(app.get("/v1/no-such-thing", None).await, 404).await;
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let app = spawn_app().await;
    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert!(response.headers().get("allow").is_some());
    problem(response, 405).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = spawn_app().await;
    let token = app.token(CASEWORKER.0, CASEWORKER.1, CASEWORKER.2);
    let response = app
        .client
        .post(app.url("/v1/assignments"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("subject=x")
        .send()
        .await
        .unwrap();
    problem(response, 415).await;
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let token = app.token(CASEWORKER.0, CASEWORKER.1, CASEWORKER.2);
    let response = app
        .client
        .post(app.url("/v1/assignments"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"subject\": ")
        .send()
        .await
        .unwrap();
    let body = problem(response, 400).await;
    assert!(
        body["detail"].as_str().unwrap().contains("malformed JSON"),
        "{body}"
    );
}

#[tokio::test]
async fn an_unknown_field_is_refused_and_named() {
    let app = spawn_app().await;
    let token = app.token(CASEWORKER.0, CASEWORKER.1, CASEWORKER.2);
    let body = json!({"subject": "010110-4321", "contact_person": "jonas.kp", "colour": "blue"});
    let body = problem(
        app.post_json("/v1/assignments", Some(&token), &body).await,
        400,
    )
    .await;
    assert_eq!(body["field"], "colour", "{body}");
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_named_without_echoing_the_value() {
    let app = spawn_app().await;
    let token = app.token(CASEWORKER.0, CASEWORKER.1, CASEWORKER.2);
    let body = json!({"subject": 1501094321u64, "contact_person": "jonas.kp"});
    let body = problem(
        app.post_json("/v1/assignments", Some(&token), &body).await,
        400,
    )
    .await;
    assert_eq!(body["field"], "subject", "{body}");
    assert!(!body.to_string().contains("1501094321"), "{body}");
}

#[tokio::test]
async fn an_invalid_cpr_number_is_named_and_never_echoed() {
    let app = spawn_app().await;
    let token = app.token(CASEWORKER.0, CASEWORKER.1, CASEWORKER.2);
    // 31 February does not exist.
    let body = json!({"subject": "310209-1234", "contact_person": "jonas.kp"});
    let response = app.post_json("/v1/assignments", Some(&token), &body).await;
    let status = response.status().as_u16();
    assert!(status == 400 || status == 422, "{status}");
    let body = problem(response, status).await;
    assert_eq!(body["field"], "subject", "{body}");
    assert!(!body.to_string().contains("310209"), "{body}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let app = spawn_app().await;
    let token = app.token(CASEWORKER.0, CASEWORKER.1, CASEWORKER.2);
    let big = json!({"subject": "010110-4321", "contact_person": "x".repeat(300 * 1024)});
    problem(
        app.post_json("/v1/assignments", Some(&token), &big).await,
        413,
    )
    .await;
}

#[tokio::test]
async fn the_body_limit_is_configurable() {
    let app = spawn_with(Options {
        server_toml: "body_limit_bytes = 1024".to_owned(),
        ..Options::default()
    })
    .await;
    let token = app.token(CASEWORKER.0, CASEWORKER.1, CASEWORKER.2);
    let big = json!({"subject": "010110-4321", "contact_person": "x".repeat(2000)});
    problem(
        app.post_json("/v1/assignments", Some(&token), &big).await,
        413,
    )
    .await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_safe_client_id_is_kept() {
    let app = spawn_app().await;
    let response = app.get("/healthz", None).await;
    assert!(response.headers().get("x-request-id").is_some());
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-abc-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-abc-42");
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "0101104321")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "0101104321");
}

#[tokio::test]
async fn health_and_readiness_answer_on_every_backend() {
    for backend in crate::helpers::Backend::all() {
        let app = spawn_with(Options {
            backend: backend.clone(),
            ..Options::default()
        })
        .await;
        assert_eq!(app.get("/healthz", None).await.status(), 200, "{backend:?}");
        let response = app.get("/readyz", None).await;
        assert_eq!(response.status(), 200, "{backend:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["policy_version"].as_str().unwrap().len(), 64);
        app.stop().await;
    }
}
