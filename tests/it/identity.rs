//! Every token the gateway must refuse, one test each, and the three algorithms it must accept —
//! through the real router, against `GET /v1/me`.
//!
//! The attacks of issue #7: `alg: none` (in any spelling), algorithm confusion (HS256 keyed with
//! the verifier's public key, in every form an attacker could pick), a wrong or tampered
//! signature, `exp` passed, `nbf` ahead, a wrong issuer or audience, missing or mistyped claims,
//! an unknown `kid`, a tampered payload, a `kid` of another issuer's key, a token verified and
//! cached that outlives its `exp`, and oversized tokens.

use std::sync::{Arc, Mutex};

use base64::Engine;
use jiff::Timestamp;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sluse::{
    auth::{LEEWAY_SECONDS, MAX_TOKEN_BYTES},
    clock::{Clock, SystemClock},
};

use crate::{
    helpers::{Options, problem, spawn_app, spawn_with},
    tokens::{AUDIENCE, ISSUER, TestKeys, claims, claims_at, segment},
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
async fn alg_none_in_any_spelling_with_or_without_a_signature_is_refused() {
    let app = spawn_app().await;
    let payload = segment(&claims("a", "youth-unit", "caseworker"));
    let genuine = app.token("a", "youth-unit", "caseworker");
    let signature = genuine.rsplit_once('.').unwrap().1;
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header =
            segment(&json!({"alg": alg, "typ": "JWT", "kid": app.keys.kid(Algorithm::EdDSA)}));
        refused_by(&app, &format!("{header}.{payload}.")).await;
        refused_by(&app, &format!("{header}.{payload}.{signature}")).await;
        refused_by(&app, &format!("{header}.{payload}")).await;
    }
    // No `alg` at all.
    let header = segment(&json!({"typ": "JWT", "kid": app.keys.kid(Algorithm::EdDSA)}));
    refused_by(&app, &format!("{header}.{payload}.{signature}")).await;
}

#[tokio::test]
async fn hmac_tokens_keyed_with_any_form_of_a_public_key_are_refused() {
    let app = spawn_app().await;
    // Every form in which an attacker could hold our issuer's public keys: the JWKS members, the
    // whole JWKS document, the RSA key's modulus and its PKCS#1 DER and PEM.
    let jwks = app.keys.jwks();
    let rsa = jwks["keys"][2].clone();
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(rsa["n"].as_str().unwrap())
        .unwrap();
    let pkcs1 = rsa_public_pkcs1(&n, &[1, 0, 1]);
    let pem = format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&pkcs1)
    );
    let mut secrets: Vec<Vec<u8>> = vec![
        jwks.to_string().into_bytes(),
        rsa.to_string().into_bytes(),
        n,
        pkcs1,
        pem.into_bytes(),
    ];
    for member in jwks["keys"].as_array().unwrap() {
        for field in ["x", "y", "n"] {
            if let Some(v) = member[field].as_str() {
                secrets.push(v.as_bytes().to_vec());
            }
        }
    }
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        for kid in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
            for secret in &secrets {
                let mut header = jsonwebtoken::Header::new(alg);
                header.kid = Some(app.keys.kid(kid));
                let token = jsonwebtoken::encode(
                    &header,
                    &claims("a", "youth-unit", "dpo"),
                    &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
                )
                .unwrap();
                refused_by(&app, &token).await;
            }
        }
    }
}

/// A PKCS#1 `RSAPublicKey` DER (SEQUENCE of two INTEGERs), as `openssl rsa -RSAPublicKey_out`
/// writes it.
fn rsa_public_pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn len(n: usize) -> Vec<u8> {
        match n {
            0..0x80 => vec![n as u8],
            0x80..0x100 => vec![0x81, n as u8],
            _ => vec![0x82, (n >> 8) as u8, n as u8],
        }
    }
    fn integer(v: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            body.push(0);
        }
        body.extend_from_slice(v);
        let mut out = vec![0x02];
        out.extend(len(body.len()));
        out.extend(body);
        out
    }
    let mut body = integer(n);
    body.extend(integer(e));
    let mut out = vec![0x30];
    out.extend(len(body.len()));
    out.extend(body);
    out
}

#[tokio::test]
async fn a_header_claiming_another_algorithm_than_its_keys_is_refused() {
    let app = spawn_app().await;
    // Signed with the Ed25519 key, but the header names the RSA or EC key and its algorithm.
    let token = app.token("a", "youth-unit", "caseworker");
    let (_, rest) = token.split_once('.').unwrap();
    for (alg, kid) in [
        ("RS256", Algorithm::RS256),
        ("ES256", Algorithm::ES256),
        ("EdDSA", Algorithm::RS256),
        ("PS256", Algorithm::RS256),
    ] {
        let header = segment(&json!({"alg": alg, "typ": "JWT", "kid": app.keys.kid(kid)}));
        refused_by(&app, &format!("{header}.{rest}")).await;
    }
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
    for claim in ["iss", "aud", "sub", "dept", "role", "exp"] {
        let mut c = claims("a", "youth-unit", "caseworker");
        c.as_object_mut().unwrap().remove(claim);
        refused_by(&app, &app.keys.sign(Algorithm::EdDSA, &c)).await;
    }
}

#[tokio::test]
async fn claims_of_the_wrong_type_are_refused() {
    let app = spawn_app().await;
    for (claim, value) in [
        ("exp", json!("tomorrow")),
        ("exp", json!(null)),
        ("exp", json!([now() + 600])),
        ("nbf", json!("now")),
        ("iss", json!([ISSUER])),
        ("aud", json!(7)),
        ("sub", json!(42)),
        ("dept", json!(["youth-unit"])),
        ("role", json!({"role": "dpo"})),
    ] {
        let mut c = claims("a", "youth-unit", "caseworker");
        c[claim] = value;
        refused_by(&app, &app.keys.sign(Algorithm::EdDSA, &c)).await;
    }
}

/// A clock the test moves; the gateway reads it on every request.
#[derive(Debug)]
struct MovableClock(Mutex<Timestamp>);

impl Clock for MovableClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

async fn cache_hits(app: &crate::helpers::TestApp) -> u64 {
    let text = app.get("/metrics", None).await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("sluse_token_cache_hits_total "))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_verified_and_cached_token_is_refused_once_its_exp_has_passed() {
    // Arrange: a gateway whose clock the test moves, and a token valid for one more minute.
    let start = SystemClock.now();
    let clock = Arc::new(MovableClock(Mutex::new(start)));
    let app = spawn_with(Options {
        clock: clock.clone(),
        ..Options::default()
    })
    .await;
    let t = start.as_second();
    let mut c = claims_at("a", "youth-unit", "caseworker", t);
    c["exp"] = json!(t + 60);
    let token = app.keys.sign(Algorithm::EdDSA, &c);
    assert_eq!(app.get("/v1/me", Some(&token)).await.status(), 200);
    let before = cache_hits(&app).await;
    assert_eq!(app.get("/v1/me", Some(&token)).await.status(), 200);
    assert_eq!(
        cache_hits(&app).await,
        before + 1,
        "the second use is answered from the cache"
    );

    // Act: time passes beyond `exp` and the leeway; the cache still holds the token.
    *clock.0.lock().unwrap() = Timestamp::from_second(t + 60 + LEEWAY_SECONDS).unwrap();

    // Assert: refused as expired, and again on the next try (no stale entry answers).
    for _ in 0..2 {
        let body = refused_by(&app, &token).await;
        assert!(
            body["detail"].as_str().unwrap().contains("expired"),
            "{body}"
        );
    }
    // Past `exp` but within the leeway the token still verifies, yet never from the cache.
    *clock.0.lock().unwrap() = Timestamp::from_second(t + 61).unwrap();
    let before = cache_hits(&app).await;
    assert_eq!(app.get("/v1/me", Some(&token)).await.status(), 200);
    assert_eq!(app.get("/v1/me", Some(&token)).await.status(), 200);
    assert_eq!(cache_hits(&app).await, before, "no cache hit past `exp`");
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
async fn tokens_of_every_size_up_to_a_megabyte_are_refused_without_a_5xx() {
    // A gateway with the default 64 KiB request-head limit.
    let app = spawn_app().await;
    let mut base = claims("a", "youth-unit", "caseworker");
    base["padding"] = json!("");
    let overhead = app.keys.sign(Algorithm::EdDSA, &base).len();
    for size in [
        MAX_TOKEN_BYTES + 1,
        16 * 1024,
        60 * 1024,
        64 * 1024,
        100 * 1024,
        1024 * 1024,
    ] {
        // Padding in the payload grows by 4/3 in base64.
        let mut c = base.clone();
        c["padding"] = json!("x".repeat((size - overhead) * 3 / 4 + 3));
        let token = app.keys.sign(Algorithm::EdDSA, &c);
        assert!(token.len() > size - 8, "{} for {size}", token.len());
        let sent = app
            .client
            .get(app.url("/v1/me"))
            .bearer_auth(&token)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                assert!(
                    [401, 431].contains(&status),
                    "a {size}-byte token: {status}"
                );
                // Up to twice the head limit the gateway answers; beyond, hyper's bare 431.
                if status != 431 || size <= 100 * 1024 {
                    let body = problem(response, status).await;
                    let code = if status == 431 {
                        "request_header_too_large"
                    } else {
                        "unauthorized"
                    };
                    assert_eq!(body["code"], code, "{body}");
                    assert!(!body.to_string().contains(&token[..64]));
                }
            }
            // Beyond hyper's ceiling the server may close before reading all of it: a refusal too.
            Err(e) => assert!(size > 128 * 1024, "a {size}-byte token: {e}"),
        }
        // The gateway is still up and serving.
        assert_eq!(app.get("/healthz", None).await.status(), 200);
    }
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
