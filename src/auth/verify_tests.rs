//! Tests of [`TokenVerifier`], as a specification of API.md §2.

use jsonwebtoken::{EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use serde_json::json;

use super::*;
use crate::auth::test_keys;

const ISS: &str = "https://idp.example.kommune.dk";
const AUD: &str = "sluse";

/// 2026-11-30T12:00:00Z, the instant every test runs at.
const NOW: i64 = 1_796_040_000;

fn now() -> Timestamp {
    Timestamp::from_second(NOW).unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key of a test issuer, with its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    pkcs8: Vec<u8>,
    jwk: Value,
}

impl TestKey {
    fn ed25519(kid: &str) -> TestKey {
        let pkcs8 = test_keys::ed25519_pkcs8();
        let pair = sig::Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()), "kid": kid});
        TestKey {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            pkcs8,
            jwk,
        }
    }

    fn es256(kid: &str) -> TestKey {
        let alg = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new())
            .unwrap()
            .as_ref()
            .to_vec();
        let pair = sig::EcdsaKeyPair::from_pkcs8(alg, &pkcs8, &SystemRandom::new()).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]), "kid": kid
        });
        TestKey {
            kid: kid.into(),
            alg: Algorithm::ES256,
            pkcs8,
            jwk,
        }
    }

    fn rs256(kid: &str) -> TestKey {
        let pkcs8 = test_keys::rsa_pkcs8();
        let pair = sig::RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
        let public = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let jwk = json!({"kty": "RSA", "n": b64(&public.n), "e": b64(&public.e), "kid": kid, "use": "sig"});
        TestKey {
            kid: kid.into(),
            alg: Algorithm::RS256,
            pkcs8,
            jwk,
        }
    }

    /// A token signed through jsonwebtoken (and so through our ring provider).
    fn jwt(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        let key = match self.alg {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&self.pkcs8),
            Algorithm::ES256 => EncodingKey::from_ec_der(&self.pkcs8),
            _ => EncodingKey::from_rsa_der(&self.pkcs8),
        };
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    /// A token assembled by hand and signed with ring directly, bypassing jsonwebtoken.
    fn raw_jwt(&self, header: &Value, claims: &Value) -> String {
        let message = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let signature = match self.alg {
            Algorithm::EdDSA => sig::Ed25519KeyPair::from_pkcs8(&self.pkcs8)
                .unwrap()
                .sign(message.as_bytes())
                .as_ref()
                .to_vec(),
            Algorithm::ES256 => sig::EcdsaKeyPair::from_pkcs8(
                &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                &self.pkcs8,
                &rng,
            )
            .unwrap()
            .sign(&rng, message.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec(),
            _ => {
                let pair = sig::RsaKeyPair::from_pkcs8(&self.pkcs8).unwrap();
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &sig::RSA_PKCS1_SHA256,
                    &rng,
                    message.as_bytes(),
                    &mut signature,
                )
                .unwrap();
                signature
            }
        };
        format!("{message}.{}", b64(&signature))
    }

    fn header(&self) -> Value {
        json!({"alg": format!("{:?}", self.alg), "typ": "JWT", "kid": self.kid})
    }
}

fn valid_claims() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "caseworker-17", "dept": "social-services",
        "role": "caseworker", "iat": NOW, "exp": NOW + 300,
    })
}

fn claims_with(changes: Value) -> Value {
    let mut claims = valid_claims();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn departments() -> HashSet<String> {
    ["social-services", "school"]
        .into_iter()
        .map(String::from)
        .collect()
}

fn issuer(iss: &str, keys: &[&TestKey]) -> IssuerKeys {
    let jwks = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    IssuerKeys {
        issuer: iss.into(),
        audience: AUD.into(),
        keys: Jwks::from_json(jwks.to_string().as_bytes()).unwrap(),
    }
}

fn verifier(keys: &[&TestKey]) -> TokenVerifier {
    TokenVerifier::new(vec![issuer(ISS, keys)], departments())
}

fn caseworker() -> Principal {
    Principal {
        sub: "caseworker-17".into(),
        dept: "social-services".into(),
        role: Role::Caseworker,
    }
}

// --- accepted ------------------------------------------------------------------------------------

#[test]
fn a_valid_eddsa_token_is_accepted() {
    let key = TestKey::ed25519("ed-1");
    let token = key.raw_jwt(&key.header(), &valid_claims());
    assert_eq!(verifier(&[&key]).verify(&token, now()), Ok(caseworker()));
}

#[test]
fn a_valid_es256_token_is_accepted() {
    let key = TestKey::es256("ec-1");
    let token = key.raw_jwt(&key.header(), &valid_claims());
    assert_eq!(verifier(&[&key]).verify(&token, now()), Ok(caseworker()));
}

#[test]
fn a_valid_rs256_token_is_accepted() {
    let key = TestKey::rs256("rsa-1");
    let token = key.raw_jwt(&key.header(), &valid_claims());
    assert_eq!(verifier(&[&key]).verify(&token, now()), Ok(caseworker()));
}

#[test]
fn tokens_signed_by_jsonwebtoken_are_accepted() {
    let keys = [
        TestKey::ed25519("ed"),
        TestKey::es256("ec"),
        TestKey::rs256("rsa"),
    ];
    let verifier = verifier(&keys.iter().collect::<Vec<_>>());
    for key in &keys {
        assert_eq!(
            verifier.verify(&key.jwt(&valid_claims()), now()),
            Ok(caseworker()),
            "{:?}",
            key.alg
        );
    }
}

/// Signed outside Rust with OpenSSL 3 (`openssl dgst -sha256 -sign` with `tests/fixtures/TEST-ONLY-rsa-key.pem`;
/// `openssl pkeyutl -sign -rawin` with a throw-away Ed25519 key whose public `x` is below).
/// Claims: iss ISS, aud ["sluse","other"], sub "openssl-user", exp NOW + 3600.
#[test]
fn tokens_signed_by_openssl_are_accepted() {
    const RS256: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJzYS10ZXN0In0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmtvbW11bmUuZGsiLCJhdWQiOlsic2x1c2UiLCJvdGhlciJdLCJzdWIiOiJvcGVuc3NsLXVzZXIiLCJkZXB0Ijoic29jaWFsLXNlcnZpY2VzIiwicm9sZSI6ImNhc2V3b3JrZXIiLCJpYXQiOjE3OTYwNDAwMDAsImV4cCI6MTc5NjA0MzYwMH0.n6EqLAzoOfN07fkroNIWvpIUsPWOS5Rwwj6YhtwqdTGp5_mtSc03qZktzXmLeifWsMHPezmsuH0-0kh_Ry_m7YQF1LWBDCWyQTGT1S2EUKrFIulGUKMRWXbj5Rn4tzQOWe1bRbGXVUMnLzhml46wchVcV5nUE1J35REpKF_gix-OiBNNOxIM8i1xdVuoyk1QpaZJ_4Nt-chDChWLja0PApd9j_9CjPq2lvCvcWhNLjt0es5NnARtiLjAM0jRgTeWQQUaB8YObt_xLJWoMhfkonzRHfLKdh4URxKAs6k_nouB841Jdi9QAoc9yQ4145Io2f5v7GdXzZHQwMZxbjy1pg";
    const EDDSA: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCIsImtpZCI6ImVkLW9wZW5zc2wifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmtvbW11bmUuZGsiLCJhdWQiOlsic2x1c2UiLCJvdGhlciJdLCJzdWIiOiJvcGVuc3NsLXVzZXIiLCJkZXB0Ijoic29jaWFsLXNlcnZpY2VzIiwicm9sZSI6ImNhc2V3b3JrZXIiLCJpYXQiOjE3OTYwNDAwMDAsImV4cCI6MTc5NjA0MzYwMH0.6ULYNBO5L76r1sDN4IQRNbKWcPf-OJIoz47YqwfDQhXotNDwBurDJaGHIKG9f5EwPmhwB9elOJD5E0I2SgnhBg";
    let mut rsa = TestKey::rs256("rsa-test");
    rsa.jwk["alg"] = json!("RS256");
    let mut ed = TestKey::ed25519("ed-openssl");
    ed.jwk["x"] = json!("P-cU7XoivWEswR0ixwTVLi01hTmV5OhegYehDS0z89A");
    let verifier = verifier(&[&rsa, &ed]);
    let expected = Principal {
        sub: "openssl-user".into(),
        ..caseworker()
    };
    assert_eq!(verifier.verify(RS256, now()), Ok(expected.clone()));
    assert_eq!(verifier.verify(EDDSA, now()), Ok(expected));
}

// --- refused: header and key choice --------------------------------------------------------------

#[test]
fn alg_none_is_refused() {
    let key = TestKey::ed25519("ed");
    let claims = b64(valid_claims().to_string().as_bytes());
    for alg in ["none", "None", "NONE"] {
        let header = b64(json!({"alg": alg, "kid": "ed"}).to_string().as_bytes());
        for token in [
            format!("{header}.{claims}."),
            format!("{header}.{claims}.AAAA"),
        ] {
            assert_eq!(
                verifier(&[&key]).verify(&token, now()),
                Err(AuthError::AlgorithmNotAllowed)
            );
        }
    }
}

#[test]
fn hs256_signed_with_the_public_key_as_secret_is_refused() {
    // The classic confusion attack: the attacker knows the public key and uses it as an HMAC secret,
    // hoping the verifier feeds the same bytes to HMAC.
    for key in [
        TestKey::ed25519("k"),
        TestKey::es256("k"),
        TestKey::rs256("k"),
    ] {
        let secrets = [
            key.jwk.to_string().into_bytes(),
            URL_SAFE_NO_PAD
                .decode(key.jwk["x"].as_str().or(key.jwk["n"].as_str()).unwrap())
                .unwrap(),
        ];
        for secret in secrets {
            let header = json!({"alg": "HS256", "typ": "JWT", "kid": "k"});
            let message = format!(
                "{}.{}",
                b64(header.to_string().as_bytes()),
                b64(valid_claims().to_string().as_bytes())
            );
            let tag = ring::hmac::sign(
                &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
                message.as_bytes(),
            );
            let token = format!("{message}.{}", b64(tag.as_ref()));
            assert_eq!(
                verifier(&[&key]).verify(&token, now()),
                Err(AuthError::AlgorithmNotAllowed)
            );
        }
    }
}

#[test]
fn an_algorithm_of_another_key_type_is_refused() {
    let ed = TestKey::ed25519("k");
    let mut as_es256 = TestKey::es256("k");
    as_es256.kid = "k".into();
    let token = as_es256.jwt(&valid_claims());
    assert_eq!(
        verifier(&[&ed]).verify(&token, now()),
        Err(AuthError::AlgorithmNotAllowed)
    );
}

#[test]
fn an_unknown_or_missing_kid_is_refused() {
    let key = TestKey::ed25519("known");
    let other = TestKey::ed25519("unknown");
    assert_eq!(
        verifier(&[&key]).verify(&other.jwt(&valid_claims()), now()),
        Err(AuthError::UnknownKeyId)
    );

    let no_kid = key.raw_jwt(&json!({"alg": "EdDSA"}), &valid_claims());
    assert_eq!(
        verifier(&[&key]).verify(&no_kid, now()),
        Err(AuthError::MissingKeyId)
    );
}

#[test]
fn a_kid_of_another_issuer_is_refused() {
    let ours = TestKey::ed25519("ours");
    let theirs = TestKey::ed25519("theirs");
    let verifier = TokenVerifier::new(
        vec![
            issuer(ISS, &[&ours]),
            issuer("https://other-idp.example", &[&theirs]),
        ],
        departments(),
    );
    // The other issuer signs a token claiming to be from ours, naming its own key…
    assert_eq!(
        verifier.verify(&theirs.jwt(&valid_claims()), now()),
        Err(AuthError::UnknownKeyId)
    );
    // …or naming our key while signing with its own.
    let forged = theirs.raw_jwt(&json!({"alg": "EdDSA", "kid": "ours"}), &valid_claims());
    assert_eq!(
        verifier.verify(&forged, now()),
        Err(AuthError::InvalidSignature)
    );
    // Its tokens for its own issuer still work.
    let own = claims_with(json!({"iss": "https://other-idp.example"}));
    assert!(verifier.verify(&theirs.jwt(&own), now()).is_ok());
}

#[test]
fn keys_offered_in_the_token_header_are_ignored() {
    // `jwk`, `jku` and `x5u` would let the token bring its own key; only the configured JWKS counts.
    let ours = TestKey::ed25519("ours");
    let attacker = TestKey::ed25519("ours");
    let header = json!({
        "alg": "EdDSA", "kid": "ours", "jwk": attacker.jwk, "jku": "https://attacker.example/jwks",
    });
    let token = attacker.raw_jwt(&header, &valid_claims());
    assert_eq!(
        verifier(&[&ours]).verify(&token, now()),
        Err(AuthError::InvalidSignature)
    );
}

// --- refused: signature --------------------------------------------------------------------------

#[test]
fn a_tampered_payload_is_refused() {
    let key = TestKey::es256("k");
    let token = key.jwt(&valid_claims());
    let (header, _, signature) = split(&token).unwrap();
    let promoted = b64(claims_with(json!({"role": "admin"})).to_string().as_bytes());
    let tampered = format!("{header}.{promoted}.{signature}");
    assert_eq!(
        verifier(&[&key]).verify(&tampered, now()),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn a_tampered_signature_is_refused() {
    for key in [
        TestKey::ed25519("k"),
        TestKey::es256("k"),
        TestKey::rs256("k"),
    ] {
        let token = key.jwt(&valid_claims());
        let (header, payload, signature) = split(&token).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[0] ^= 0x01;
        let tampered = format!("{header}.{payload}.{}", b64(&bytes));
        assert_eq!(
            verifier(&[&key]).verify(&tampered, now()),
            Err(AuthError::InvalidSignature)
        );
        let truncated = format!("{header}.{payload}.{}", b64(&bytes[..bytes.len() - 1]));
        assert_eq!(
            verifier(&[&key]).verify(&truncated, now()),
            Err(AuthError::InvalidSignature)
        );
    }
}

#[test]
fn malformed_tokens_are_refused() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]);
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.???.***",
        "e30.e30.",
        "bm90IGpzb24.e30.AAAA",
    ] {
        assert_eq!(
            verifier.verify(token, now()),
            Err(AuthError::Malformed),
            "{token}"
        );
    }
}

// --- refused: claims -----------------------------------------------------------------------------

#[test]
fn a_wrong_issuer_is_refused() {
    let key = TestKey::ed25519("k");
    let token = key.jwt(&claims_with(
        json!({"iss": "https://idp.example.kommune.dk/"}),
    ));
    assert_eq!(
        verifier(&[&key]).verify(&token, now()),
        Err(AuthError::UnknownIssuer)
    );
    let token = key.jwt(&claims_with(json!({"iss": null})));
    assert_eq!(
        verifier(&[&key]).verify(&token, now()),
        Err(AuthError::MissingClaim("iss"))
    );
}

#[test]
fn a_wrong_audience_is_refused() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]);
    let verify = |changes| verifier.verify(&key.jwt(&claims_with(changes)), now());
    assert_eq!(
        verify(json!({"aud": "sluse-test"})),
        Err(AuthError::WrongAudience)
    );
    assert_eq!(
        verify(json!({"aud": ["a", "b"]})),
        Err(AuthError::WrongAudience)
    );
    assert_eq!(
        verify(json!({"aud": null})),
        Err(AuthError::MissingClaim("aud"))
    );
    assert_eq!(
        verify(json!({"aud": 7})),
        Err(AuthError::InvalidClaim("aud"))
    );
    assert_eq!(verify(json!({"aud": ["other", AUD]})), Ok(caseworker()));
}

#[test]
fn an_expired_token_is_refused_after_the_leeway() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]).with_cache_capacity(0);
    let verify = |changes| verifier.verify(&key.jwt(&claims_with(changes)), now());
    assert_eq!(
        verify(json!({"exp": NOW - LEEWAY_SECONDS})),
        Err(AuthError::Expired)
    );
    assert_eq!(verify(json!({"exp": NOW - 3600})), Err(AuthError::Expired));
    assert_eq!(
        verify(json!({"exp": NOW - LEEWAY_SECONDS + 1})),
        Ok(caseworker())
    );
    assert_eq!(
        verify(json!({"exp": null})),
        Err(AuthError::MissingClaim("exp"))
    );
    assert_eq!(
        verify(json!({"exp": "tomorrow"})),
        Err(AuthError::InvalidClaim("exp"))
    );
    assert_eq!(
        verify(json!({"exp": (NOW + 60) as f64 + 0.5})),
        Ok(caseworker())
    );
}

#[test]
fn a_token_not_yet_valid_is_refused_beyond_the_leeway() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]).with_cache_capacity(0);
    let verify = |changes| verifier.verify(&key.jwt(&claims_with(changes)), now());
    assert_eq!(
        verify(json!({"nbf": NOW + LEEWAY_SECONDS + 1})),
        Err(AuthError::NotYetValid)
    );
    assert_eq!(
        verify(json!({"nbf": NOW + LEEWAY_SECONDS})),
        Ok(caseworker())
    );
    assert_eq!(verify(json!({"nbf": NOW - 10})), Ok(caseworker()));
}

#[test]
fn time_is_the_parameter_not_the_system_clock() {
    // The token expired long before the system clock's "now" could ever be 2026-11-30 again,
    // or is not valid until long after: only the `now` argument decides.
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]).with_cache_capacity(0);
    let old = key.jwt(&claims_with(
        json!({"iat": 1_000_000_000, "exp": 1_000_000_300}),
    ));
    assert_eq!(verifier.verify(&old, at(1_000_000_100)), Ok(caseworker()));
    let future = key.jwt(&claims_with(
        json!({"nbf": 4_000_000_000i64, "exp": 4_000_000_300i64}),
    ));
    assert_eq!(
        verifier.verify(&future, at(4_000_000_100)),
        Ok(caseworker())
    );
    assert_eq!(verifier.verify(&future, now()), Err(AuthError::NotYetValid));
}

#[test]
fn missing_sub_dept_or_role_is_refused() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]);
    let verify = |changes| verifier.verify(&key.jwt(&claims_with(changes)), now());
    assert_eq!(
        verify(json!({"sub": null})),
        Err(AuthError::MissingClaim("sub"))
    );
    assert_eq!(
        verify(json!({"sub": ""})),
        Err(AuthError::MissingClaim("sub"))
    );
    assert_eq!(
        verify(json!({"sub": 42})),
        Err(AuthError::InvalidClaim("sub"))
    );
    assert_eq!(
        verify(json!({"dept": null})),
        Err(AuthError::MissingClaim("dept"))
    );
    assert_eq!(
        verify(json!({"role": null})),
        Err(AuthError::MissingClaim("role"))
    );
    assert_eq!(
        verify(json!({"role": ["admin"]})),
        Err(AuthError::InvalidClaim("role"))
    );
}

#[test]
fn an_unknown_department_or_role_is_refused() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]);
    let verify = |changes| verifier.verify(&key.jwt(&claims_with(changes)), now());
    assert_eq!(
        verify(json!({"dept": "finance"})),
        Err(AuthError::UnknownDepartment)
    );
    assert_eq!(
        verify(json!({"role": "superuser"})),
        Err(AuthError::UnknownRole)
    );
    assert_eq!(
        verify(json!({"role": "Caseworker"})),
        Err(AuthError::UnknownRole)
    );
    let school = verify(json!({"dept": "school", "role": "contact_person"})).unwrap();
    assert_eq!(
        (school.dept.as_str(), school.role),
        ("school", Role::ContactPerson)
    );
}

#[test]
fn duplicate_claims_are_refused() {
    let key = TestKey::ed25519("k");
    let claims = valid_claims().to_string();
    let duplicated = format!("{},\"role\":\"admin\"}}", claims.trim_end_matches('}'));
    let message = format!(
        "{}.{}",
        b64(key.header().to_string().as_bytes()),
        b64(duplicated.as_bytes())
    );
    let signature = sig::Ed25519KeyPair::from_pkcs8(&key.pkcs8)
        .unwrap()
        .sign(message.as_bytes());
    let token = format!("{message}.{}", b64(signature.as_ref()));
    assert_eq!(
        verifier(&[&key]).verify(&token, now()),
        Err(AuthError::Malformed)
    );
}

#[test]
fn an_oversized_token_is_refused_before_parsing() {
    let key = TestKey::ed25519("k");
    let padded = claims_with(json!({"padding": "x".repeat(MAX_TOKEN_BYTES)}));
    assert_eq!(
        verifier(&[&key]).verify(&key.jwt(&padded), now()),
        Err(AuthError::TooLarge)
    );
    assert_eq!(
        verifier(&[&key]).verify(&"a".repeat(MAX_TOKEN_BYTES + 1), now()),
        Err(AuthError::TooLarge)
    );
}

// --- cache ---------------------------------------------------------------------------------------

#[test]
fn a_second_verification_is_a_cache_hit() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]);
    let token = key.jwt(&valid_claims());
    assert_eq!(verifier.verify(&token, now()), Ok(caseworker()));
    assert_eq!(verifier.verify(&token, now()), Ok(caseworker()));
    assert_eq!(
        verifier.cache_stats(),
        CacheStats {
            hits: 1,
            misses: 1,
            entries: 1
        }
    );
}

#[test]
fn a_cached_token_is_refused_after_its_exp() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]);
    let exp = NOW + 60;
    let token = key.jwt(&claims_with(json!({"exp": exp})));
    assert!(verifier.verify(&token, now()).is_ok());

    // From `exp` on the cache no longer answers; within the leeway a full check still accepts it…
    assert!(verifier.verify(&token, at(exp)).is_ok());
    assert_eq!(verifier.cache_stats().hits, 0);
    // …and after the leeway it is refused.
    assert_eq!(
        verifier.verify(&token, at(exp + LEEWAY_SECONDS)),
        Err(AuthError::Expired)
    );
    assert_eq!(
        verifier.cache_stats(),
        CacheStats {
            hits: 0,
            misses: 3,
            entries: 0
        }
    );
}

#[test]
fn refused_tokens_are_not_cached() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]);
    let token = key.jwt(&claims_with(json!({"dept": "finance"})));
    for _ in 0..2 {
        assert_eq!(
            verifier.verify(&token, now()),
            Err(AuthError::UnknownDepartment)
        );
    }
    assert_eq!(
        verifier.cache_stats(),
        CacheStats {
            hits: 0,
            misses: 2,
            entries: 0
        }
    );
}

#[test]
fn a_verifier_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<TokenVerifier>();
}

// --- errors --------------------------------------------------------------------------------------

#[test]
fn auth_errors_never_echo_the_token() {
    let key = TestKey::ed25519("k");
    let verifier = verifier(&[&key]);
    let sensitive = json!({
        "sub": "010203-1234", "dept": "dept-<script>", "role": "role-secret", "aud": "aud-secret",
    });
    let mut tokens = vec![
        key.jwt(&claims_with(sensitive.clone())),
        key.jwt(&claims_with(json!({"dept": "dept-secret"}))),
        key.jwt(&claims_with(json!({"role": "role-secret"}))),
        key.jwt(&claims_with(json!({"aud": "aud-secret"}))),
        key.jwt(&claims_with(json!({"iss": "iss-secret"}))),
        TestKey::ed25519("kid-secret").jwt(&valid_claims()),
        "header-secret.payload-secret.signature-secret".to_owned(),
    ];
    let valid = key.jwt(&valid_claims());
    let (header, payload, _) = split(&valid).unwrap();
    tokens.push(format!("{header}.{payload}.c2lnbmF0dXJlLXNlY3JldA"));
    for token in tokens {
        let err = verifier.verify(&token, now()).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(&token), "{shown}");
            for part in token.split('.').filter(|p| p.len() > 8) {
                assert!(!shown.contains(part), "{shown} contains part of the token");
            }
            for word in ["secret", "010203", "script"] {
                assert!(!shown.contains(word), "{shown} echoes a claim");
            }
        }
        assert_eq!(err.http_status(), 401);
    }
}

#[test]
fn error_messages_are_lowercase_and_every_error_is_a_401() {
    let errors = [
        AuthError::MissingToken,
        AuthError::TooLarge,
        AuthError::Malformed,
        AuthError::UnknownIssuer,
        AuthError::MissingKeyId,
        AuthError::UnknownKeyId,
        AuthError::AlgorithmNotAllowed,
        AuthError::InvalidSignature,
        AuthError::WrongAudience,
        AuthError::Expired,
        AuthError::NotYetValid,
        AuthError::MissingClaim("sub"),
        AuthError::InvalidClaim("aud"),
        AuthError::UnknownDepartment,
        AuthError::UnknownRole,
    ];
    for err in errors {
        assert_eq!(err.http_status(), 401);
        let message = err.to_string();
        assert_eq!(message, message.to_lowercase());
        assert!(!err.code().is_empty());
    }
    assert_eq!(AuthError::Expired.to_string(), "token expired");
    assert_eq!(AuthError::UnknownKeyId.to_string(), "unknown key id");
    assert_eq!(
        AuthError::AlgorithmNotAllowed.to_string(),
        "algorithm not allowed for key"
    );
    assert_eq!(
        AuthError::UnknownDepartment.to_string(),
        "unknown department"
    );
}
