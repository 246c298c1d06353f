//! A small token issuer for `sluse demo` and tests: an Ed25519 key made with ring, its public JWKS,
//! and tokens for given claims. Not an identity provider: it signs whatever it is asked to.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
use super::{IssuerKeys, Jwks, JwksError, jwt_ring};

/// An Ed25519 signing key with its `kid`, minting demo and test tokens.
pub struct DemoIssuer {
    kid: String,
    public_key: Vec<u8>,
    /// The PKCS#8 private key; jsonwebtoken's `EncodingKey` zeroizes it on drop.
    key: EncodingKey,
}

/// The claims of a minted token (NumericDate seconds for `exp`).
#[derive(Serialize)]
struct MintClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    dept: &'a str,
    role: &'a str,
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

    /// Generates a new key and saves it to `path` (which must not exist yet).
    pub fn generate_to(path: &Path) -> Result<DemoIssuer, IssuerError> {
        let issuer = DemoIssuer::generate()?;
        issuer.save(path)?;
        Ok(issuer)
    }

    /// Loads the key at `path`, or generates one and saves it there if the file does not exist.
    pub fn load_or_generate(path: &Path) -> Result<DemoIssuer, IssuerError> {
        match fs::metadata(path) {
            Ok(_) => DemoIssuer::load(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => DemoIssuer::generate_to(path),
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

    /// Signs a token for a principal: `iss`, `aud`, `sub`, `dept`, `role` (as on the wire, so
    /// tests can mint unknown roles too) and `exp` in seconds since the Unix epoch.
    pub fn mint(
        &self,
        iss: &str,
        aud: &str,
        sub: &str,
        dept: &str,
        role: &str,
        exp: i64,
    ) -> Result<String, IssuerError> {
        self.sign(&MintClaims {
            iss,
            aud,
            sub,
            dept,
            role,
            exp,
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

    use base64::engine::general_purpose::STANDARD;
    use jiff::Timestamp;
    use serde_json::Value;

    use super::*;
    use crate::auth::{AuthError, Principal, Role, TokenVerifier, test_keys};

    const ISS: &str = "https://demo.sluse.invalid";
    const NOW: i64 = 1_796_040_000;

    fn mint(issuer: &DemoIssuer, role: &str) -> String {
        issuer
            .mint(ISS, "sluse", "demo-school", "school", role, NOW + 3600)
            .unwrap()
    }

    fn verifier_for(issuer: &DemoIssuer) -> TokenVerifier {
        let keys = issuer.issuer_keys(ISS, "sluse").unwrap();
        TokenVerifier::new(vec![keys], HashSet::from(["school".to_owned()]))
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn minted_tokens_verify_against_the_published_jwks() {
        let issuer = DemoIssuer::generate().unwrap();
        let token = mint(&issuer, "school");
        let principal = verifier_for(&issuer).verify(&token, at(NOW)).unwrap();
        let expected = Principal {
            sub: "demo-school".into(),
            dept: "school".into(),
            role: Role::School,
        };
        assert_eq!(principal, expected);
        assert_eq!(
            verifier_for(&issuer).verify(&token, at(NOW + 7200)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn unknown_roles_can_be_minted_for_negative_tests() {
        let issuer = DemoIssuer::generate().unwrap();
        let token = mint(&issuer, "superuser");
        assert_eq!(
            verifier_for(&issuer).verify(&token, at(NOW)),
            Err(AuthError::UnknownRole)
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
        let issuer = DemoIssuer::generate_to(&path).unwrap();
        let loaded = DemoIssuer::load(&path).unwrap();
        assert_eq!(loaded.kid(), issuer.kid());
        assert!(
            verifier_for(&issuer)
                .verify(&mint(&loaded, "school"), at(NOW))
                .is_ok()
        );

        let err = DemoIssuer::generate_to(&path).unwrap_err();
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
        let path = dir.path().join("demo-issuer.key");
        let first = DemoIssuer::load_or_generate(&path).unwrap();
        let second = DemoIssuer::load_or_generate(&path).unwrap();
        assert_eq!(first.kid(), second.kid());
    }

    #[test]
    fn an_openssl_style_pkcs8_v1_key_is_accepted() {
        let issuer = DemoIssuer::from_pkcs8(&test_keys::ed25519_pkcs8_v1()).unwrap();
        assert!(
            verifier_for(&issuer)
                .verify(&mint(&issuer, "school"), at(NOW))
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
}
