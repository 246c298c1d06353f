//! A small token issuer for `sluse demo` and tests: an Ed25519 key made with ring, its public JWKS,
//! and tokens for given claims. Not an identity provider: it signs whatever it is asked to.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use serde_json::json;

use super::pem::{describe_error, to_pem};
use super::{IssuerKeys, Jwks, JwksError, Role, jwt_ring};

/// An Ed25519 signing key with its `kid`, minting demo and test tokens.
pub struct DemoIssuer {
    kid: String,
    public_key: Vec<u8>,
    /// The PKCS#8 private key; jsonwebtoken's `EncodingKey` zeroizes it on drop.
    key: EncodingKey,
}

/// The claims of a token minted by a [`DemoIssuer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// `iss`: must match the configured issuer.
    pub iss: String,
    /// `aud`: must contain the configured audience.
    pub aud: String,
    /// `sub`: the acting person or system.
    pub sub: String,
    /// `dept`: a department id.
    pub dept: String,
    /// `role`.
    pub role: Role,
    /// `iat`: when the token was issued.
    pub iat: Timestamp,
    /// `exp`: when the token expires.
    pub exp: Timestamp,
}

/// The JSON form of [`TokenClaims`], with NumericDate seconds.
#[derive(Serialize)]
struct WireClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    dept: &'a str,
    role: Role,
    iat: i64,
    exp: i64,
}

/// A demo issuer key that could not be made, read, written or used.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// The system random generator failed.
    #[error("cannot generate an Ed25519 key")]
    Generate,
    /// The bytes are not an Ed25519 PKCS#8 private key.
    #[error("not an Ed25519 PKCS#8 private key")]
    InvalidKey,
    /// The key file could not be read or holds no usable key.
    #[error("cannot read issuer key file `{}`: {problem}", path.display())]
    Read {
        /// The key file.
        path: PathBuf,
        /// What went wrong (never key material).
        problem: String,
    },
    /// The key file could not be written (an existing file is never overwritten).
    #[error("cannot write issuer key file `{}`: {source}", path.display())]
    Write {
        /// The key file.
        path: PathBuf,
        /// Why writing failed.
        #[source]
        source: io::Error,
    },
    /// Signing failed.
    #[error("cannot sign the token")]
    Sign,
}

impl DemoIssuer {
    /// A new issuer with a fresh Ed25519 key.
    pub fn generate() -> Result<DemoIssuer, IssuerError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| IssuerError::Generate)?;
        DemoIssuer::from_pkcs8(pkcs8.as_ref())
    }

    /// An issuer for an existing Ed25519 PKCS#8 (v1 or v2) private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<DemoIssuer, IssuerError> {
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| IssuerError::InvalidKey)?;
        let public_key = pair.public_key().as_ref().to_vec();
        jwt_ring::install_or_warn();
        Ok(DemoIssuer {
            kid: thumbprint(&public_key),
            public_key,
            key: EncodingKey::from_ed_der(der),
        })
    }

    /// Reads the private key from a PEM file (`-----BEGIN PRIVATE KEY-----`, PKCS#8).
    pub fn load(path: &Path) -> Result<DemoIssuer, IssuerError> {
        let read_error = |problem: String| IssuerError::Read {
            path: path.to_owned(),
            problem,
        };
        let der =
            PrivatePkcs8KeyDer::from_pem_file(path).map_err(|e| read_error(describe_error(e)))?;
        DemoIssuer::from_pkcs8(der.secret_pkcs8_der()).map_err(|e| read_error(e.to_string()))
    }

    /// Writes the private key as PEM to a new file, readable by the owner only. Refuses to replace
    /// an existing file, so a demo directory's key is never lost by accident.
    pub fn save(&self, path: &Path) -> Result<(), IssuerError> {
        let pem = SecretString::from(to_pem("PRIVATE KEY", self.key.as_bytes()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let write_error = |source| IssuerError::Write {
            path: path.to_owned(),
            source,
        };
        let mut file = options.open(path).map_err(write_error)?;
        file.write_all(pem.expose_secret().as_bytes())
            .map_err(write_error)?;
        file.sync_all().map_err(write_error)
    }

    /// Loads the key at `path`, or generates one and saves it there if the file does not exist.
    pub fn load_or_generate(path: &Path) -> Result<DemoIssuer, IssuerError> {
        match fs::metadata(path) {
            Ok(_) => DemoIssuer::load(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let issuer = DemoIssuer::generate()?;
                issuer.save(path)?;
                Ok(issuer)
            }
            Err(e) => Err(IssuerError::Read {
                path: path.to_owned(),
                problem: e.to_string(),
            }),
        }
    }

    /// The key id: the RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key set as JSON, ready to be written as a `jwks_file`.
    pub fn jwks_json(&self) -> String {
        json!({"keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(&self.public_key),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }]})
        .to_string()
    }

    /// The public key set, parsed as the verifier would load it.
    pub fn jwks(&self) -> Result<Jwks, JwksError> {
        Jwks::from_json(self.jwks_json().as_bytes())
    }

    /// The verifier's view of this issuer: its `iss`, the audience, and its public keys.
    pub fn issuer_keys(&self, issuer: &str, audience: &str) -> Result<IssuerKeys, JwksError> {
        Ok(IssuerKeys {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            keys: self.jwks()?,
        })
    }

    /// Signs a token with these claims.
    pub fn mint(&self, claims: &TokenClaims) -> Result<String, IssuerError> {
        self.sign(&WireClaims {
            iss: &claims.iss,
            aud: &claims.aud,
            sub: &claims.sub,
            dept: &claims.dept,
            role: claims.role,
            iat: claims.iat.as_second(),
            exp: claims.exp.as_second(),
        })
    }

    /// Signs arbitrary claims (tests use it for tokens the verifier must refuse).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, IssuerError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|_| IssuerError::Sign)
    }
}

impl fmt::Debug for DemoIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoIssuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key: the members in lexicographic order, no spaces.
fn thumbprint(public_key: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use jiff::SignedDuration;
    use serde_json::Value;

    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::auth::{AuthError, Principal, TokenVerifier, test_keys};

    const ISS: &str = "https://demo.sluse.invalid";

    fn now() -> Timestamp {
        Timestamp::from_second(1_796_040_000).unwrap()
    }

    fn claims() -> TokenClaims {
        TokenClaims {
            iss: ISS.into(),
            aud: "sluse".into(),
            sub: "demo-school".into(),
            dept: "school".into(),
            role: Role::School,
            iat: now(),
            exp: now() + SignedDuration::from_hours(1),
        }
    }

    fn verifier_for(issuer: &DemoIssuer) -> TokenVerifier {
        let keys = IssuerKeys {
            issuer: ISS.into(),
            audience: "sluse".into(),
            keys: issuer.jwks().unwrap(),
        };
        TokenVerifier::new(vec![keys], HashSet::from(["school".to_owned()]))
    }

    #[test]
    fn minted_tokens_verify_against_the_published_jwks() {
        let issuer = DemoIssuer::generate().unwrap();
        let token = issuer.mint(&claims()).unwrap();
        let principal = verifier_for(&issuer).verify(&token, now()).unwrap();
        assert_eq!(
            principal,
            Principal {
                sub: "demo-school".into(),
                dept: "school".into(),
                role: Role::School
            }
        );
        let late = now() + SignedDuration::from_hours(2);
        assert_eq!(
            verifier_for(&issuer).verify(&token, late),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn the_jwks_is_one_public_ed25519_key() {
        let issuer = DemoIssuer::generate().unwrap();
        let jwks: Value = serde_json::from_str(&issuer.jwks_json()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert_eq!(
            (key["kty"].as_str(), key["crv"].as_str()),
            (Some("OKP"), Some("Ed25519"))
        );
        assert_eq!(
            (key["alg"].as_str(), key["use"].as_str()),
            (Some("EdDSA"), Some("sig"))
        );
        assert_eq!(key["kid"].as_str(), Some(issuer.kid()));
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(key["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert!(key.get("d").is_none(), "no private part");
    }

    #[test]
    fn a_saved_key_loads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.key");
        let issuer = DemoIssuer::generate().unwrap();
        issuer.save(&path).unwrap();
        let loaded = DemoIssuer::load(&path).unwrap();
        assert_eq!(loaded.kid(), issuer.kid());
        assert!(
            verifier_for(&issuer)
                .verify(&loaded.mint(&claims()).unwrap(), now())
                .is_ok()
        );

        let err = DemoIssuer::generate().unwrap().save(&path).unwrap_err();
        assert!(matches!(err, IssuerError::Write { .. }), "{err}");
        assert_eq!(DemoIssuer::load(&path).unwrap().kid(), issuer.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn load_or_generate_creates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-issuer.pem");
        let first = DemoIssuer::load_or_generate(&path).unwrap();
        let second = DemoIssuer::load_or_generate(&path).unwrap();
        assert_eq!(first.kid(), second.kid());
    }

    #[test]
    fn an_openssl_style_pkcs8_v1_key_is_accepted() {
        let issuer = DemoIssuer::from_pkcs8(&test_keys::ed25519_pkcs8_v1()).unwrap();
        assert!(
            verifier_for(&issuer)
                .verify(&issuer.mint(&claims()).unwrap(), now())
                .is_ok()
        );
    }

    #[test]
    fn a_bad_key_file_is_named_and_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-key.pem");
        fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let message = DemoIssuer::load(&path).unwrap_err().to_string();
        assert!(message.contains("not-a-key.pem"), "{message}");
        assert!(!message.contains("c2VjcmV0"), "{message}");
        let missing = DemoIssuer::load(&dir.path().join("missing.pem"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("missing.pem"), "{missing}");
    }

    #[test]
    fn debug_shows_the_kid_only() {
        let issuer = DemoIssuer::generate().unwrap();
        let shown = format!("{issuer:?}");
        assert!(shown.contains(issuer.kid()));
        assert!(!shown.contains(&STANDARD.encode(issuer.key.as_bytes())[..20]));
    }

    #[test]
    fn arbitrary_claims_can_be_signed_for_negative_tests() {
        let issuer = DemoIssuer::generate().unwrap();
        let mut wire = serde_json::to_value(WireClaims {
            iss: ISS,
            aud: "sluse",
            sub: "x",
            dept: "school",
            role: Role::School,
            iat: now().as_second(),
            exp: now().as_second() + 60,
        })
        .unwrap();
        wire["role"] = json!("superuser");
        let token = issuer.sign(&wire).unwrap();
        assert_eq!(
            verifier_for(&issuer).verify(&token, now()),
            Err(AuthError::UnknownRole)
        );
    }
}
