//! Every token the gateway must refuse, one test each, and the three algorithms it must accept —
//! through the real router, against `GET /v1/me`.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sluse::clock::{Clock, SystemClock};

use crate::{
    helpers::{Options, problem, spawn_app, spawn_with},
    tokens::{AUDIENCE, ISSUER, TestKeys, claims, segment},
};

async fn refused(token: &str) -> Value {
    let app = spawn_app().await;
    refused_by(&app, token).await
}

async fn refused_by(app: &crate::helpers::TestApp, token: &str) -> Value {
    let response = app.get("/v1/me", Some(token)).await;
    assert!(response.headers().get("www-authenticate").is_some());
    let body = problem(response, 401).await;
    assert!(
        !body.to_string().contains(token),
        "the token must not be echoed"
    );
    body
}

fn now() -> i64 {
    SystemClock.now().as_second()
}

#[tokio::test]
async fn eddsa_es256_and_rs256_tokens_are_accepted() {
    let app = spawn_app().await;
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        let token = app
            .keys
            .sign(alg, &claims("anna.kui", "youth-unit", "caseworker"));
        let response = app.get("/v1/me", Some(&token)).await;
        assert_eq!(response.status(), 200, "{alg:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"sub": "anna.kui", "dept": "youth-unit", "role": "caseworker"})
        );
    }
}

#[tokio::test]
async fn a_request_without_a_token_is_refused() {
    let app = spawn_app().await;
    let body = problem(app.get("/v1/me", None).await, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("Authorization"));
}

#[tokio::test]
async fn alg_none_is_refused() {
    let app = spawn_app().await;
    let header = json!({"alg": "none", "typ": "JWT", "kid": app.keys.kid(Algorithm::EdDSA)});
    let token = format!(
        "{}.{}.",
        segment(&header),
        segment(&claims("a", "youth-unit", "caseworker"))
    );
    refused_by(&app, &token).await;
}

#[tokio::test]
async fn an_hmac_token_signed_with_the_public_key_is_refused() {
    let app = spawn_app().await;
    // The classic confusion attack: HS256 with the verifier's public key as the shared secret.
    let jwks = app.keys.jwks();
    let public_x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some(app.keys.kid(Algorithm::EdDSA));
    let token = jsonwebtoken::encode(
        &header,
        &claims("a", "youth-unit", "caseworker"),
        &jsonwebtoken::EncodingKey::from_secret(public_x.as_bytes()).unwrap(),
    )
    .unwrap();
    refused_by(&app, &token).await;
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let app = spawn_app().await;
    let other = TestKeys::generate("elsewhere");
    refused_by(&app, &other.token("a", "youth-unit", "caseworker")).await;
}

#[tokio::test]
async fn a_token_signed_by_another_key_with_a_known_kid_is_refused() {
    let app = spawn_app().await;
    let impostor = TestKeys::generate("test");
    refused_by(&app, &impostor.token("a", "youth-unit", "caseworker")).await;
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let app = spawn_app().await;
    let token = app.token("contact", "youth-unit", "contact_person");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = segment(&claims("contact", "youth-unit", "dpo"));
    refused_by(&app, &format!("{}.{}.{}", parts[0], forged, parts[2])).await;
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let app = spawn_app().await;
    let token = app.token("a", "youth-unit", "caseworker");
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig: Vec<char> = sig.chars().collect();
    sig[5] = if sig[5] == 'A' { 'B' } else { 'A' };
    refused_by(
        &app,
        &format!("{head}.{}", sig.into_iter().collect::<String>()),
    )
    .await;
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let app = spawn_app().await;
    let mut c = claims("a", "youth-unit", "caseworker");
    c["iss"] = json!("https://evil.example");
    refused_by(&app, &app.keys.sign(Algorithm::EdDSA, &c)).await;
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let app = spawn_app().await;
    let mut c = claims("a", "youth-unit", "caseworker");
    c["aud"] = json!(["another-service"]);
    refused_by(&app, &app.keys.sign(Algorithm::EdDSA, &c)).await;
}

#[tokio::test]
async fn an_audience_list_containing_ours_is_accepted() {
    let app = spawn_app().await;
    let mut c = claims("a", "youth-unit", "caseworker");
    c["aud"] = json!(["another-service", AUDIENCE]);
    let response = app
        .get("/v1/me", Some(&app.keys.sign(Algorithm::EdDSA, &c)))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    let mut c = claims("a", "youth-unit", "caseworker");
    c["exp"] = json!(now() - 120);
    let body = refused_by(&app, &app.keys.sign(Algorithm::EdDSA, &c)).await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let app = spawn_app().await;
    let mut c = claims("a", "youth-unit", "caseworker");
    c["nbf"] = json!(now() + 600);
    refused_by(&app, &app.keys.sign(Algorithm::EdDSA, &c)).await;
}

#[tokio::test]
async fn missing_required_claims_are_refused() {
    let app = spawn_app().await;
    for claim in ["sub", "dept", "role", "exp"] {
        let mut c = claims("a", "youth-unit", "caseworker");
        c.as_object_mut().unwrap().remove(claim);
        refused_by(&app, &app.keys.sign(Algorithm::EdDSA, &c)).await;
    }
}

#[tokio::test]
async fn an_unknown_department_is_refused() {
    refused(&TestKeys::generate("x").token("a", "marketing", "caseworker")).await;
    let app = spawn_app().await;
    refused_by(&app, &app.token("a", "marketing", "caseworker")).await;
}

#[tokio::test]
async fn an_unknown_role_is_refused() {
    let app = spawn_app().await;
    refused_by(&app, &app.token("a", "youth-unit", "superuser")).await;
}

#[tokio::test]
async fn a_kid_of_another_configured_issuer_is_refused() {
    let other = TestKeys::generate("other");
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("other-jwks.json");
    std::fs::write(&jwks, other.jwks().to_string()).unwrap();
    let app = spawn_with(Options {
        extra_toml: format!(
            "[[auth.issuers]]\nissuer = \"https://other-idp.invalid\"\naudience = \"{AUDIENCE}\"\njwks_file = \"{}\"\n",
            jwks.display()
        ),
        ..Options::default()
    })
    .await;
    // Signed by the other issuer's key but claiming to come from ours.
    let mut c = claims("a", "youth-unit", "caseworker");
    c["iss"] = json!(ISSUER);
    refused_by(&app, &other.sign(Algorithm::EdDSA, &c)).await;
    // The same key is fine under its own issuer.
    c["iss"] = json!("https://other-idp.invalid");
    let response = app
        .get("/v1/me", Some(&other.sign(Algorithm::EdDSA, &c)))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_oversized_token_is_refused() {
    let app = spawn_app().await;
    let mut c = claims("a", "youth-unit", "caseworker");
    c["padding"] = json!("x".repeat(10_000));
    refused_by(&app, &app.keys.sign(Algorithm::EdDSA, &c)).await;
}

#[tokio::test]
async fn garbage_in_the_authorization_header_is_refused() {
    let app = spawn_app().await;
    for header in [
        "Bearer",
        "Bearer not.a.jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer a.b",
    ] {
        let response = app
            .client
            .get(app.url("/v1/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        problem(response, 401).await;
    }
}
