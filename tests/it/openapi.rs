//! `/openapi.json` documents every endpoint the router serves.

use serde_json::Value;

use crate::helpers::spawn_app;

/// Every route of the router, as (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/v1/me"),
    ("post", "/v1/assignments"),
    ("post", "/v1/assignments/{id}/end"),
    ("post", "/v1/assignments/query"),
    ("post", "/v1/consents"),
    ("post", "/v1/consents/{id}/withdraw"),
    ("post", "/v1/consents/query"),
    ("post", "/v1/requests"),
    ("post", "/v1/notices"),
    ("get", "/v1/inbox"),
    ("post", "/v1/inbox/{notice_id}/ack"),
    ("get", "/v1/audit/verify"),
    ("get", "/v1/audit/checkpoints"),
    ("post", "/v1/audit/query"),
    ("post", "/v1/audit/subject-report"),
    ("get", "/v1/audit/export"),
    ("get", "/v1/audit/stats"),
    ("get", "/v1/audit/review"),
    ("post", "/v1/audit/checkpoints/{seq}/witness"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_needs_no_token() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} undocumented"
        );
        // The route exists: an unauthenticated call is not a 404.
        let url = app.url(
            &path
                .replace("{id}", "x")
                .replace("{notice_id}", "x")
                .replace("{seq}", "1"),
        );
        let status = app
            .client
            .request(method.parse().unwrap(), url)
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, 404, "{method} {path} is documented but not routed");
    }
    assert_eq!(
        paths.len(),
        ROUTES
            .iter()
            .map(|(_, p)| p)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
}
