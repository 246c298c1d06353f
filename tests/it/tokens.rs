//! Test token issuers: one Ed25519, one P-256 and one RSA key, a JWKS for them, and signed tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair},
};
use serde_json::{Value, json};
use sluse::clock::{Clock, SystemClock};

/// The issuer and audience the test config trusts.
pub const ISSUER: &str = "https://idp.test.sluse.invalid";
pub const AUDIENCE: &str = "sluse";

const TEST_RSA_KEY_PEM: &str = include_str!("../fixtures/TEST-ONLY-rsa-key.pem");

/// Key material of one test issuer.
pub struct TestKeys {
    ed_pkcs8: Vec<u8>,
    ec_pkcs8: Vec<u8>,
    rsa_pkcs8: Vec<u8>,
    /// Prefix of every `kid`, so two issuers' keys differ.
    pub kid_prefix: String,
}

impl TestKeys {
    pub fn generate(kid_prefix: &str) -> TestKeys {
        let rng = SystemRandom::new();
        let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ec = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let rsa_b64: String = TEST_RSA_KEY_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let rsa = base64::engine::general_purpose::STANDARD
            .decode(rsa_b64)
            .unwrap();
        TestKeys {
            ed_pkcs8: ed.as_ref().to_vec(),
            ec_pkcs8: ec.as_ref().to_vec(),
            rsa_pkcs8: rsa,
            kid_prefix: kid_prefix.to_owned(),
        }
    }

    pub fn kid(&self, alg: Algorithm) -> String {
        let name = match alg {
            Algorithm::EdDSA => "ed",
            Algorithm::ES256 => "ec",
            _ => "rsa",
        };
        format!("{}-{name}", self.kid_prefix)
    }

    /// The public JWKS document.
    pub fn jwks(&self) -> Value {
        let ed = Ed25519KeyPair::from_pkcs8(&self.ed_pkcs8).unwrap();
        let ec = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &self.ec_pkcs8,
            &SystemRandom::new(),
        )
        .unwrap();
        let point = ec.public_key().as_ref();
        let rsa = RsaKeyPair::from_pkcs8(&self.rsa_pkcs8).unwrap();
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(rsa.public());
        json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": B64.encode(ed.public_key().as_ref()),
             "kid": self.kid(Algorithm::EdDSA), "alg": "EdDSA", "use": "sig"},
            {"kty": "EC", "crv": "P-256", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
             "kid": self.kid(Algorithm::ES256), "alg": "ES256", "use": "sig"},
            {"kty": "RSA", "n": B64.encode(&public.n),
             "e": B64.encode(&public.e),
             "kid": self.kid(Algorithm::RS256), "alg": "RS256", "use": "sig"},
        ]})
    }

    /// Signs `claims` with the key for `alg`.
    pub fn sign(&self, alg: Algorithm, claims: &Value) -> String {
        let key = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&self.ed_pkcs8),
            Algorithm::ES256 => EncodingKey::from_ec_der(&self.ec_pkcs8),
            _ => EncodingKey::from_rsa_der(&self.rsa_pkcs8),
        };
        let mut header = Header::new(alg);
        header.kid = Some(self.kid(alg));
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    /// An EdDSA token for a principal, valid for an hour.
    pub fn token(&self, sub: &str, dept: &str, role: &str) -> String {
        self.sign(Algorithm::EdDSA, &claims(sub, dept, role))
    }
}

/// Valid claims for a principal, expiring in an hour.
pub fn claims(sub: &str, dept: &str, role: &str) -> Value {
    claims_at(sub, dept, role, SystemClock.now().as_second())
}

/// Claims for a principal issued at `now` (Unix seconds) and expiring an hour later: for a gateway
/// on a fixed clock, which checks `exp` against that clock.
pub fn claims_at(sub: &str, dept: &str, role: &str, now: i64) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "dept": dept, "role": role,
           "iat": now, "exp": now + 3600})
}

/// Re-encodes a token's header or payload segment (for forgeries).
pub fn segment(value: &Value) -> String {
    B64.encode(serde_json::to_vec(value).unwrap())
}
