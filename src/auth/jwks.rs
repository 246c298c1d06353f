//! An issuer's public keys: a JSON Web Key Set parsed into verification keys by `kid`.
//!
//! Parse, don't validate: every key in a [`Jwks`] has a `kid`, is an asymmetric signature key of a
//! supported kind, and knows the algorithms it may verify. Anything else is refused at load time with
//! the key's index and the problem, never with key material.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::jwt_ring::strip_leading_zeros;

/// The smallest RSA modulus accepted, in bits (ring refuses smaller ones at verification anyway).
const RSA_MIN_BITS: usize = 2048;
/// The largest RSA modulus ring verifies with, in bits.
const RSA_MAX_BITS: usize = 8192;

/// The verification keys of one issuer, by `kid`.
#[derive(Debug, Clone)]
pub struct Jwks {
    keys: HashMap<String, JwksKey>,
}

/// One verification key and the algorithms a token signed with it may name.
#[derive(Debug, Clone)]
pub struct JwksKey {
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

impl JwksKey {
    /// The algorithms this key may verify (from the JWK's `alg`, or the key type's default).
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Whether a token header naming `algorithm` may be verified with this key.
    pub fn allows(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }

    /// The key in jsonwebtoken's form.
    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// A JWKS that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The file could not be read.
    #[error("cannot read JWKS file `{}`: {source}", path.display())]
    Read {
        /// The JWKS file.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is refused.
    #[error("JWKS file `{}`: {problem}", path.display())]
    File {
        /// The JWKS file.
        path: PathBuf,
        /// What is wrong with it.
        problem: JwksProblem,
    },
    /// JWKS text (not from a file) is refused.
    #[error("JWKS: {0}")]
    Invalid(JwksProblem),
}

/// What is wrong with a JWKS document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksProblem {
    /// Not JSON at all.
    #[error("not valid JSON (line {line}, column {column})")]
    Json {
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
    },
    /// JSON, but not `{"keys": [...]}`.
    #[error("expected a JSON object with a `keys` array")]
    NotAKeySet,
    /// No key usable for verifying signatures.
    #[error("no signature verification keys")]
    NoKeys,
    /// One key is refused.
    #[error("key {index}: {problem}")]
    Key {
        /// 0-based index of the key in the `keys` array.
        index: usize,
        /// What is wrong with the key.
        problem: KeyProblem,
    },
}

/// What is wrong with one key of a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// Tokens name their key by `kid`; a key without one could never be chosen safely.
    #[error("no `kid`")]
    MissingKid,
    /// Two keys with the same `kid` would make the choice ambiguous.
    #[error("duplicate `kid` `{0}`")]
    DuplicateKid(String),
    /// A shared secret has no place in a public key set, and would open HMAC confusion.
    #[error("symmetric (`oct`) keys are refused: an issuer's keys must be public keys")]
    Symmetric,
    /// A `kty` other than `OKP`, `EC` or `RSA`.
    #[error("unsupported key type `{0}`")]
    UnsupportedKeyType(String),
    /// A curve other than Ed25519, P-256 or P-384.
    #[error("unsupported curve `{0}`")]
    UnsupportedCurve(String),
    /// An `alg` that is not an asymmetric JWS algorithm.
    #[error("unsupported `alg` `{0}`")]
    UnsupportedAlgorithm(String),
    /// An `alg` for another kind of key (e.g. `ES256` on an RSA key).
    #[error("`alg` {alg:?} does not fit this {kind} key")]
    AlgorithmMismatch {
        /// The JWK's `alg`.
        alg: Algorithm,
        /// The key's kind, e.g. `EC P-384`.
        kind: &'static str,
    },
    /// A missing or malformed key parameter.
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    /// An RSA modulus outside 2048–8192 bits.
    #[error("RSA modulus of {0} bits is outside the accepted 2048-8192 bits")]
    RsaSize(usize),
}

impl Jwks {
    /// Loads a JWKS file.
    pub fn load(path: &Path) -> Result<Jwks, JwksError> {
        let bytes = fs::read(path).map_err(|source| JwksError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&bytes).map_err(|problem| JwksError::File {
            path: path.to_owned(),
            problem,
        })
    }

    /// Parses JWKS JSON text.
    pub fn from_json(json: &[u8]) -> Result<Jwks, JwksError> {
        Self::parse(json).map_err(JwksError::Invalid)
    }

    /// Takes the keys of an already parsed [`JwkSet`], with the same checks as [`Jwks::load`].
    pub fn from_jwk_set(set: &JwkSet) -> Result<Jwks, JwksError> {
        let value =
            serde_json::to_value(set).map_err(|_| JwksError::Invalid(JwksProblem::NotAKeySet))?;
        Self::from_value(&value).map_err(JwksError::Invalid)
    }

    /// The key with this `kid`, if any.
    pub fn get(&self, kid: &str) -> Option<&JwksKey> {
        self.keys.get(kid)
    }

    /// The `kid`s of all keys, in no particular order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys (never true for a loaded set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn parse(json: &[u8]) -> Result<Jwks, JwksProblem> {
        // Parse to a `Value` first: serde_json's syntax errors carry a position, not content, so no
        // key material ends up in a message.
        let value: Value = serde_json::from_slice(json).map_err(|e| JwksProblem::Json {
            line: e.line(),
            column: e.column(),
        })?;
        Self::from_value(&value)
    }

    fn from_value(value: &Value) -> Result<Jwks, JwksProblem> {
        let entries = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwksProblem::NotAKeySet)?;
        let mut keys = HashMap::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let key_error = |problem| JwksProblem::Key { index, problem };
            let Some((kid, key)) = parse_key(entry).map_err(key_error)? else {
                continue;
            };
            if keys.contains_key(&kid) {
                return Err(key_error(KeyProblem::DuplicateKid(kid)));
            }
            keys.insert(kid, key);
        }
        if keys.is_empty() {
            return Err(JwksProblem::NoKeys);
        }
        Ok(Jwks { keys })
    }
}

/// One JWK → `(kid, key)`, or `None` for a key that is not for verifying signatures.
fn parse_key(entry: &Value) -> Result<Option<(String, JwksKey)>, KeyProblem> {
    let field = |name| entry.get(name).and_then(Value::as_str);
    let kty = field("kty").ok_or(KeyProblem::Malformed("no `kty`"))?;
    // A shared secret never belongs in an issuer's public key set, whatever it says it is for.
    if kty == "oct" {
        return Err(KeyProblem::Symmetric);
    }
    // Public keys published for encryption are not ours to refuse: identity providers list them
    // in the same set. They are simply not signature keys.
    if field("use").is_some_and(|u| u != "sig") || !key_ops_allow_verify(entry) {
        return Ok(None);
    }
    let kid = match field("kid") {
        Some(kid) if !kid.is_empty() => kid.to_owned(),
        _ => return Err(KeyProblem::MissingKid),
    };
    // jsonwebtoken's `Jwk` is an untagged enum, so an unknown curve or a missing coordinate both land
    // in `Other`; tell them apart from the raw fields.
    let jwk: Jwk = serde_json::from_value(entry.clone())
        .map_err(|_| KeyProblem::Malformed("not a valid JWK"))?;
    let (key, kind, default_algorithm) = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => {
                let x = decode_fixed(&p.x, 32, "`x` must be 32 bytes of base64url")?;
                (
                    DecodingKey::from_ed_der(&x),
                    "OKP Ed25519",
                    Algorithm::EdDSA,
                )
            }
            _ => return Err(unsupported_curve(entry)),
        },
        AlgorithmParameters::EllipticCurve(p) => {
            let (len, kind, algorithm) = match p.curve {
                EllipticCurve::P256 => (32, "EC P-256", Algorithm::ES256),
                EllipticCurve::P384 => (48, "EC P-384", Algorithm::ES384),
                _ => return Err(unsupported_curve(entry)),
            };
            let x = decode_fixed(&p.x, len, "`x` has the wrong length for the curve")?;
            let y = decode_fixed(&p.y, len, "`y` has the wrong length for the curve")?;
            // The uncompressed SEC1 point ring verifies with: 0x04 || x || y.
            let point = [&[0x04][..], &x, &y].concat();
            (DecodingKey::from_ec_der(&point), kind, algorithm)
        }
        AlgorithmParameters::RSA(p) => {
            let n = decode(&p.n, "`n` is not base64url")?;
            let e = decode(&p.e, "`e` is not base64url")?;
            let n = strip_leading_zeros(&n);
            let bits = bit_length(n);
            if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
                return Err(KeyProblem::RsaSize(bits));
            }
            if strip_leading_zeros(&e).is_empty() {
                return Err(KeyProblem::Malformed("`e` is empty"));
            }
            (
                DecodingKey::from_rsa_raw_components(n, &e),
                "RSA",
                Algorithm::RS256,
            )
        }
        AlgorithmParameters::OctetKey(_) => return Err(KeyProblem::Symmetric),
        _ => {
            return Err(match kty {
                "OKP" | "EC" if matches!(field("crv"), Some("Ed25519" | "P-256" | "P-384")) => {
                    KeyProblem::Malformed("missing or invalid key parameters")
                }
                "OKP" | "EC" => unsupported_curve(entry),
                "RSA" => KeyProblem::Malformed("missing or invalid `n` or `e`"),
                other => KeyProblem::UnsupportedKeyType(other.to_owned()),
            });
        }
    };
    let algorithms = match jwk.common.key_algorithm {
        None => vec![default_algorithm],
        Some(declared) => vec![declared_algorithm(
            declared,
            field("alg"),
            kind,
            default_algorithm,
        )?],
    };
    Ok(Some((kid, JwksKey { key, algorithms })))
}

/// The JWK's own `alg`, if it is an asymmetric signature algorithm for this kind of key.
fn declared_algorithm(
    declared: KeyAlgorithm,
    raw: Option<&str>,
    kind: &'static str,
    default_algorithm: Algorithm,
) -> Result<Algorithm, KeyProblem> {
    let unsupported = || KeyProblem::UnsupportedAlgorithm(raw.unwrap_or_default().to_owned());
    let algorithm = Algorithm::try_from(declared).map_err(|_| unsupported())?;
    if algorithm.family() == jsonwebtoken::AlgorithmFamily::Hmac {
        return Err(unsupported());
    }
    // RSA keys may name any RS*/PS* algorithm; an EC or Ed25519 key fits exactly one.
    let fits = match default_algorithm.family() {
        jsonwebtoken::AlgorithmFamily::Rsa => {
            algorithm.family() == jsonwebtoken::AlgorithmFamily::Rsa
        }
        _ => algorithm == default_algorithm,
    };
    if fits {
        Ok(algorithm)
    } else {
        Err(KeyProblem::AlgorithmMismatch {
            alg: algorithm,
            kind,
        })
    }
}

fn key_ops_allow_verify(entry: &Value) -> bool {
    match entry.get("key_ops").and_then(Value::as_array) {
        Some(ops) => ops.iter().any(|op| op.as_str() == Some("verify")),
        None => true,
    }
}

fn unsupported_curve(entry: &Value) -> KeyProblem {
    let crv = entry.get("crv").and_then(Value::as_str).unwrap_or("(none)");
    KeyProblem::UnsupportedCurve(crv.to_owned())
}

fn decode(text: &str, problem: &'static str) -> Result<Vec<u8>, KeyProblem> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| KeyProblem::Malformed(problem))
}

fn decode_fixed(text: &str, len: usize, problem: &'static str) -> Result<Vec<u8>, KeyProblem> {
    let bytes = decode(text, problem)?;
    if bytes.len() == len {
        Ok(bytes)
    } else {
        Err(KeyProblem::Malformed(problem))
    }
}

/// Bit length of a big-endian unsigned integer without leading zero bytes.
fn bit_length(n: &[u8]) -> usize {
    match n.first() {
        Some(first) => (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::EncodingKey;
    use ring::rand::SystemRandom;
    use ring::signature::{self as sig, KeyPair};
    use serde_json::json;

    use super::*;
    use crate::auth::{jwt_ring, test_keys};

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ed25519_jwk(kid: &str) -> Value {
        let pair = sig::Ed25519KeyPair::from_pkcs8(&test_keys::ed25519_pkcs8()).unwrap();
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()), "kid": kid})
    }

    fn p256_jwk(kid: &str) -> Value {
        let alg = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
        let der = sig::EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        let pair = sig::EcdsaKeyPair::from_pkcs8(alg, der.as_ref(), &SystemRandom::new()).unwrap();
        let point = pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]), "kid": kid})
    }

    fn rsa_jwk(kid: &str) -> Value {
        jwt_ring::install().unwrap();
        let jwk = Jwk::from_encoding_key(
            &EncodingKey::from_rsa_der(&test_keys::rsa_pkcs8()),
            Algorithm::RS256,
        )
        .unwrap();
        let mut value = serde_json::to_value(jwk).unwrap();
        value["kid"] = json!(kid);
        value.as_object_mut().unwrap().remove("alg");
        value
    }

    fn load(keys: Vec<Value>) -> Result<Jwks, JwksError> {
        Jwks::from_json(json!({ "keys": keys }).to_string().as_bytes())
    }

    fn problem(keys: Vec<Value>) -> JwksProblem {
        match load(keys) {
            Err(JwksError::Invalid(problem)) => problem,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn each_key_type_gets_its_default_algorithm() {
        let jwks = load(vec![ed25519_jwk("ed"), p256_jwk("ec"), rsa_jwk("rsa")]).unwrap();
        assert_eq!(jwks.len(), 3);
        assert_eq!(jwks.get("ed").unwrap().algorithms(), [Algorithm::EdDSA]);
        assert_eq!(jwks.get("ec").unwrap().algorithms(), [Algorithm::ES256]);
        assert_eq!(jwks.get("rsa").unwrap().algorithms(), [Algorithm::RS256]);
        assert!(jwks.get("other").is_none());
    }

    #[test]
    fn a_declared_alg_is_the_only_one_allowed() {
        let mut rsa = rsa_jwk("rsa");
        rsa["alg"] = json!("PS384");
        let jwks = load(vec![rsa]).unwrap();
        let key = jwks.get("rsa").unwrap();
        assert!(key.allows(Algorithm::PS384));
        assert!(!key.allows(Algorithm::RS256));
    }

    #[test]
    fn a_declared_alg_must_fit_the_key() {
        let mut ec = p256_jwk("ec");
        ec["alg"] = json!("ES384");
        assert_eq!(
            problem(vec![ec]),
            JwksProblem::Key {
                index: 0,
                problem: KeyProblem::AlgorithmMismatch {
                    alg: Algorithm::ES384,
                    kind: "EC P-256"
                }
            }
        );
        let mut rsa = rsa_jwk("rsa");
        rsa["alg"] = json!("HS256");
        assert_eq!(
            problem(vec![rsa]),
            JwksProblem::Key {
                index: 0,
                problem: KeyProblem::UnsupportedAlgorithm("HS256".into())
            }
        );
    }

    #[test]
    fn a_key_without_kid_is_refused_by_index() {
        let mut ed = ed25519_jwk("x");
        ed.as_object_mut().unwrap().remove("kid");
        let err = load(vec![p256_jwk("ec"), ed]).unwrap_err();
        assert_eq!(err.to_string(), "JWKS: key 1: no `kid`");
    }

    #[test]
    fn a_symmetric_key_is_refused_without_printing_it() {
        let secret = b64(b"a-shared-secret-that-must-not-leak");
        let err = load(vec![
            json!({"kty": "oct", "k": secret, "kid": "h", "alg": "HS256"}),
        ])
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("JWKS: key 0: symmetric (`oct`) keys are refused"),
            "{message}"
        );
        assert!(!message.contains(&secret));
        assert!(!format!("{err:?}").contains(&secret));
        // Also when it claims to be for encryption only.
        let enc = json!({"kty": "oct", "k": secret, "kid": "h", "use": "enc"});
        assert!(matches!(
            problem(vec![ed25519_jwk("ed"), enc]),
            JwksProblem::Key {
                index: 1,
                problem: KeyProblem::Symmetric
            }
        ));
    }

    #[test]
    fn unsupported_curves_are_named() {
        let mut ed448 = ed25519_jwk("e");
        ed448["crv"] = json!("Ed448");
        assert_eq!(
            problem(vec![ed448]),
            JwksProblem::Key {
                index: 0,
                problem: KeyProblem::UnsupportedCurve("Ed448".into())
            }
        );
        let mut p521 = p256_jwk("p");
        p521["crv"] = json!("P-521");
        assert_eq!(
            problem(vec![p521]),
            JwksProblem::Key {
                index: 0,
                problem: KeyProblem::UnsupportedCurve("P-521".into())
            }
        );
    }

    #[test]
    fn malformed_and_duplicate_keys_are_refused() {
        let mut short = ed25519_jwk("s");
        short["x"] = json!(b64(&[1u8; 31]));
        assert!(matches!(
            problem(vec![short]),
            JwksProblem::Key {
                index: 0,
                problem: KeyProblem::Malformed(_)
            }
        ));
        let mut no_y = p256_jwk("p");
        no_y.as_object_mut().unwrap().remove("y");
        assert!(matches!(
            problem(vec![no_y]),
            JwksProblem::Key {
                index: 0,
                problem: KeyProblem::Malformed(_)
            }
        ));
        assert_eq!(
            problem(vec![ed25519_jwk("a"), ed25519_jwk("a")]),
            JwksProblem::Key {
                index: 1,
                problem: KeyProblem::DuplicateKid("a".into())
            }
        );
        let small = json!({"kty": "RSA", "n": b64(&[0xff; 128]), "e": "AQAB", "kid": "r"});
        assert_eq!(
            problem(vec![small]),
            JwksProblem::Key {
                index: 0,
                problem: KeyProblem::RsaSize(1024)
            }
        );
    }

    #[test]
    fn encryption_keys_are_skipped_but_a_set_needs_a_signature_key() {
        let mut enc = rsa_jwk("enc");
        enc["use"] = json!("enc");
        let jwks = load(vec![enc.clone(), ed25519_jwk("sig")]).unwrap();
        assert_eq!(jwks.kids().collect::<Vec<_>>(), ["sig"]);
        assert_eq!(problem(vec![enc]), JwksProblem::NoKeys);
    }

    #[test]
    fn documents_that_are_not_key_sets_are_refused() {
        assert!(matches!(
            Jwks::from_json(b"{\"keys\": [").unwrap_err(),
            JwksError::Invalid(JwksProblem::Json { .. })
        ));
        assert!(matches!(
            Jwks::from_json(b"{\"kty\": \"OKP\"}").unwrap_err(),
            JwksError::Invalid(JwksProblem::NotAKeySet)
        ));
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let err = Jwks::load(&missing).unwrap_err();
        assert!(err.to_string().contains("missing.json"), "{err}");

        let bad = dir.path().join("bad.json");
        fs::write(&bad, b"[]").unwrap();
        let err = Jwks::load(&bad).unwrap_err();
        assert!(err.to_string().contains("bad.json"), "{err}");
        assert!(err.to_string().contains("`keys` array"), "{err}");

        let good = dir.path().join("good.json");
        fs::write(&good, json!({"keys": [ed25519_jwk("k")]}).to_string()).unwrap();
        assert_eq!(Jwks::load(&good).unwrap().len(), 1);
    }

    #[test]
    fn a_jwk_set_value_is_accepted() {
        let set: JwkSet = serde_json::from_value(json!({"keys": [p256_jwk("ec")]})).unwrap();
        assert!(Jwks::from_jwk_set(&set).unwrap().get("ec").is_some());
    }
}
