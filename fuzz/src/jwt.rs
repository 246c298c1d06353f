//! `TokenVerifier::verify` on arbitrary bearer tokens, and on tokens correctly signed over
//! arbitrary header and claims bytes: never a panic; a garbage token is always an error; nothing is
//! accepted unless its signature verifies — checked here again with ring, on the key the header
//! names — and a signed token is accepted only if its header and claims say what they must;
//! tampered variants of it (another signature, none, `alg: none`, HMAC with the public key as
//! secret) are always refused; and the verifier answers the same with and without its cache.
//!
//! The keys are fixed, so every input replays the same: an Ed25519 key from a fixed seed, the test
//! suite's RSA key (`tests/fixtures/TEST-ONLY-rsa-key.pem`) and a P-256 public key with no private
//! half kept. None of them protects anything.

use std::collections::HashSet;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use jiff::Timestamp;
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use serde_json::{Value, json};
use sluse::auth::{AuthError, IssuerKeys, Jwks, LEEWAY_SECONDS, Principal, TokenVerifier};

/// The one trusted issuer, and the audience its tokens must name.
pub const ISSUER: &str = "https://idp.fuzz.sluse.invalid";
/// The audience.
pub const AUDIENCE: &str = "sluse";
/// The known departments.
pub const DEPARTMENTS: [&str; 2] = ["youth-unit", "social-services"];
/// The time of every verification: 2026-03-02T00:00:00Z.
pub const NOW: i64 = 1_772_409_600;

const ED_KID: &str = "fuzz-ed";
const RSA_KID: &str = "fuzz-rsa";
const EC_KID: &str = "fuzz-ec";
/// TEST ONLY: the seed of the Ed25519 key.
const ED_SEED: [u8; 32] = [0x42; 32];
/// TEST ONLY: the RSA key of the test suite.
const RSA_PEM: &str = include_str!("../../tests/fixtures/TEST-ONLY-rsa-key.pem");
/// A P-256 public key (x, y) whose private key was thrown away.
const EC_X: &str = "3QamqtzSLCR2znbuQDvQlVGkC1uA8oh_gSARct_QR7U";
const EC_Y: &str = "sWwPDe9hpNxwT5EzlwpZdZg5UrboV2y_JyRbdMZYzV4";

struct Keys {
    ed: Ed25519KeyPair,
    rsa: RsaKeyPair,
    ec_point: Vec<u8>,
    /// Caching turned off, so that every call verifies.
    uncached: TokenVerifier,
    /// The default cache, kept across inputs.
    cached: TokenVerifier,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ed = Ed25519KeyPair::from_seed_unchecked(&ED_SEED)
            .unwrap_or_else(|e| panic!("ed25519 seed: {e}"));
        let der: String = RSA_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(der)
            .unwrap_or_else(|e| panic!("rsa pem: {e}"));
        let rsa = RsaKeyPair::from_pkcs8(&der).unwrap_or_else(|e| panic!("rsa key: {e}"));
        let rsa_public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(rsa.public());
        let decode = |s: &str| B64.decode(s).unwrap_or_else(|e| panic!("ec point: {e}"));
        let ec_point = [vec![4], decode(EC_X), decode(EC_Y)].concat();
        let jwks = json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": B64.encode(ed.public_key().as_ref()),
             "kid": ED_KID, "alg": "EdDSA", "use": "sig"},
            {"kty": "RSA", "n": B64.encode(&rsa_public.n), "e": B64.encode(&rsa_public.e),
             "kid": RSA_KID, "alg": "RS256", "use": "sig"},
            {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y,
             "kid": EC_KID, "alg": "ES256", "use": "sig"},
        ]});
        let jwks =
            Jwks::from_json(jwks.to_string().as_bytes()).unwrap_or_else(|e| panic!("jwks: {e}"));
        let issuers = vec![IssuerKeys {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            keys: jwks,
        }];
        let departments: HashSet<String> = DEPARTMENTS.iter().map(|d| (*d).to_owned()).collect();
        Keys {
            ed,
            rsa,
            ec_point,
            uncached: TokenVerifier::new(issuers.clone(), departments.clone())
                .with_cache_capacity(0),
            cached: TokenVerifier::new(issuers, departments),
        }
    })
}

/// Checks one input. First byte 0 mod 4: the rest is a token; 1 or 2: the rest is a header and
/// claims (split at the first NUL byte), signed with the Ed25519 key; 3: the same, signed with the
/// RSA key (RS256).
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest)
                && let Ok(principal) = verify(token)
            {
                assert_validly_signed(token, &principal);
            }
        }
        m => {
            let (header, claims) = match rest.iter().position(|&b| b == 0) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &[][..]),
            };
            check_signed(header, claims, m == 3);
        }
    }
}

/// Verifies with both verifiers (the cached one twice); they must agree.
fn verify(token: &str) -> Result<Principal, AuthError> {
    let keys = keys();
    let now = Timestamp::from_second(NOW).unwrap_or_else(|e| panic!("{e}"));
    let result = keys.uncached.verify(token, now);
    assert_eq!(
        keys.cached.verify(token, now),
        result,
        "the cache changes the answer"
    );
    assert_eq!(
        keys.cached.verify(token, now),
        result,
        "a cache hit changes the answer"
    );
    if let Err(err) = &result {
        assert_eq!(err.http_status(), 401);
        assert!(!err.code().is_empty());
    }
    result
}

/// A token over `header` and `claims` (any bytes), signed with the Ed25519 or the RSA key; whether
/// it was accepted.
pub fn check_signed(header: &[u8], claims: &[u8], rsa: bool) -> bool {
    let signing_input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let sign = |message: &[u8]| -> Vec<u8> {
        if rsa {
            let keys = keys();
            let mut sig = vec![0; keys.rsa.public().modulus_len()];
            keys.rsa
                .sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .unwrap_or_else(|e| panic!("rsa sign: {e}"));
            sig
        } else {
            keys().ed.sign(message).as_ref().to_vec()
        }
    };
    let token = format!(
        "{signing_input}.{}",
        B64.encode(sign(signing_input.as_bytes()))
    );
    let accepted = verify(&token);
    if let Ok(principal) = &accepted {
        assert_validly_signed(&token, principal);
        assert_claims_allow(header, claims, principal);
    }

    // Tampered variants are never accepted, whatever the header and claims.
    let other = B64.encode(sign(format!("{signing_input}x").as_bytes()));
    let none_header = B64.encode(br#"{"alg":"none","kid":"fuzz-ed"}"#);
    let hs_header = B64.encode(br#"{"alg":"HS256","kid":"fuzz-ed"}"#);
    let hs_input = format!("{hs_header}.{}", B64.encode(claims));
    let secret = hmac::Key::new(hmac::HMAC_SHA256, keys().ed.public_key().as_ref());
    let hs_sig = B64.encode(hmac::sign(&secret, hs_input.as_bytes()).as_ref());
    for forged in [
        format!("{signing_input}.{other}"),
        format!("{signing_input}."),
        format!("{none_header}.{}.", B64.encode(claims)),
        format!("{hs_input}.{hs_sig}"),
    ] {
        assert!(verify(&forged).is_err(), "accepted a forged token {forged}");
    }
    accepted.is_ok()
}

/// An accepted token's signature verifies, with ring, under the key its header names and the
/// algorithm that key is for.
fn assert_validly_signed(token: &str, principal: &Principal) {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, sig] = parts[..] else {
        panic!("accepted {token:?} as {principal:?}: not three parts");
    };
    let decode = |part: &str| {
        B64.decode(part)
            .unwrap_or_else(|e| panic!("accepted {token:?}: part {part:?}: {e}"))
    };
    let head: Value = serde_json::from_slice(&decode(header))
        .unwrap_or_else(|e| panic!("accepted {token:?}: header: {e}"));
    let (alg, kid) = (head["alg"].as_str(), head["kid"].as_str());
    let keys = keys();
    let rsa_public = keys.rsa.public().as_ref().to_vec();
    let (algorithm, public): (&dyn signature::VerificationAlgorithm, &[u8]) = match (alg, kid) {
        (Some("EdDSA"), Some(ED_KID)) => (&signature::ED25519, keys.ed.public_key().as_ref()),
        (Some("RS256"), Some(RSA_KID)) => (&signature::RSA_PKCS1_2048_8192_SHA256, &rsa_public),
        (Some("ES256"), Some(EC_KID)) => (&signature::ECDSA_P256_SHA256_FIXED, &keys.ec_point),
        _ => panic!("accepted {token:?} as {principal:?} with alg {alg:?} and kid {kid:?}"),
    };
    let message = format!("{header}.{payload}");
    UnparsedPublicKey::new(algorithm, public)
        .verify(message.as_bytes(), &decode(sig))
        .unwrap_or_else(|_| {
            panic!("accepted {token:?} as {principal:?} without a valid signature")
        });
}

/// An accepted token's header and claims: an object each, the right `iss`, our audience, not
/// expired, and the principal is what `sub`, `dept` and `role` say.
fn assert_claims_allow(header: &[u8], claims: &[u8], principal: &Principal) {
    let head: Value = serde_json::from_slice(header).unwrap_or_else(|e| panic!("header: {e}"));
    assert!(head.is_object(), "header {head}");
    let claims: Value = serde_json::from_slice(claims).unwrap_or_else(|e| panic!("claims: {e}"));
    let text = |name: &str| claims[name].as_str();
    assert_eq!(text("iss"), Some(ISSUER), "{claims}");
    assert_eq!(text("sub"), Some(principal.sub.as_str()), "{claims}");
    assert_eq!(text("dept"), Some(principal.dept.as_str()), "{claims}");
    assert_eq!(text("role"), Some(principal.role.as_str()), "{claims}");
    assert!(DEPARTMENTS.contains(&principal.dept.as_str()), "{claims}");
    assert!(!principal.sub.is_empty(), "{claims}");
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == AUDIENCE,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    assert!(audience_ok, "{claims}");
    let exp = claims["exp"]
        .as_f64()
        .unwrap_or_else(|| panic!("no numeric exp: {claims}"));
    assert!(
        exp.floor() + LEEWAY_SECONDS as f64 > NOW as f64,
        "expired: {claims}"
    );
}
