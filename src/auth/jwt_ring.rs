//! A `jsonwebtoken` crypto provider backed by `ring`.
//!
//! jsonwebtoken 12 ships backends only for aws-lc-rs and RustCrypto (the latter pulls in the `rsa`
//! crate and its timing advisory). Sluse stays on one crypto stack, ring, so this module provides the
//! signers, verifiers and JWK helpers jsonwebtoken needs. [`install`] must run before the first
//! `encode`/`decode`: without a provider jsonwebtoken panics at the first use.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, new_error};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use ring::{digest, hmac};

/// The ring-backed provider. Install it with [`install`].
pub static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_from_private_key,
        rsa_pub_components_from_public_key: rsa_components_from_public_key,
        ec_pub_components_from_private_key: ec_components_from_private_key,
        ed_pub_components_from_private_key: ed_components_from_private_key,
        compute_digest,
    },
};

/// Why the JWT crypto provider is not usable.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Another provider was installed first; Sluse only runs on ring.
    #[error("another jsonwebtoken crypto provider is installed; sluse requires its ring provider")]
    Foreign,
    /// No provider is installed: every token would be refused (or jsonwebtoken would panic).
    #[error(
        "no jsonwebtoken crypto provider is installed; call auth::jwt_ring::install() at start-up"
    )]
    Missing,
}

/// Installs [`RING_PROVIDER`] as jsonwebtoken's process-wide provider.
///
/// Idempotent: calling it again (from `main`, a test, or [`crate::auth::TokenVerifier::new`]) is fine.
/// Fails only if some other provider got there first.
pub fn install() -> Result<(), ProviderError> {
    match RING_PROVIDER.install_default() {
        Ok(()) => Ok(()),
        Err(existing) if std::ptr::eq(existing, &RING_PROVIDER) => Ok(()),
        Err(_) => Err(ProviderError::Foreign),
    }
}

/// [`install`] for constructors that cannot fail: another provider (only possible if some other code
/// installed one) still verifies tokens, so it is logged rather than refused. Start-up calls
/// [`check_installed`] to refuse it.
pub(crate) fn install_or_warn() {
    if let Err(err) = install() {
        tracing::warn!(%err, "jsonwebtoken crypto provider");
    }
}

/// Checks at start-up that a jsonwebtoken provider is installed, so a misbuilt binary fails fast
/// instead of at the first request.
pub fn check_installed() -> Result<(), ProviderError> {
    match CryptoProvider::try_get_default() {
        Some(provider) if std::ptr::eq(provider, &RING_PROVIDER) => Ok(()),
        Some(_) => Err(ProviderError::Foreign),
        None => Err(ProviderError::Missing),
    }
}

type JwtResult<T> = jsonwebtoken::errors::Result<T>;

// ---------------------------------------------------------------------------------------------
// Signing

/// The private key behind a [`RingSigner`].
enum SigningKey {
    Ed25519(sig::Ed25519KeyPair),
    Ecdsa(sig::EcdsaKeyPair),
    Rsa(sig::RsaKeyPair, &'static dyn sig::RsaEncoding),
    Hmac(hmac::Key),
}

/// Signs JWTs with one algorithm and one key.
struct RingSigner {
    algorithm: Algorithm,
    key: SigningKey,
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        match &self.key {
            SigningKey::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
            SigningKey::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignatureError::new()),
            SigningKey::Rsa(pair, encoding) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(*encoding, &SystemRandom::new(), msg, &mut signature)
                    .map_err(|_| SignatureError::new())?;
                Ok(signature)
            }
            SigningKey::Hmac(key) => Ok(hmac::sign(key, msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    // The key's family must be the algorithm's: this is what stops an RSA or EC key from being
    // used as an HMAC secret, whatever the caller asks for.
    if key.family() != algorithm.family() {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    let der = key.as_bytes();
    let signing_key = match algorithm {
        Algorithm::EdDSA => SigningKey::Ed25519(
            // `maybe_unchecked` also accepts PKCS#8 v1 files (OpenSSL's), which carry no public key.
            sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?,
        ),
        Algorithm::ES256 => ecdsa_key_pair(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der)?,
        Algorithm::ES384 => ecdsa_key_pair(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, der)?,
        Algorithm::RS256 => rsa_key_pair(&sig::RSA_PKCS1_SHA256, der)?,
        Algorithm::RS384 => rsa_key_pair(&sig::RSA_PKCS1_SHA384, der)?,
        Algorithm::RS512 => rsa_key_pair(&sig::RSA_PKCS1_SHA512, der)?,
        Algorithm::PS256 => rsa_key_pair(&sig::RSA_PSS_SHA256, der)?,
        Algorithm::PS384 => rsa_key_pair(&sig::RSA_PSS_SHA384, der)?,
        Algorithm::PS512 => rsa_key_pair(&sig::RSA_PSS_SHA512, der)?,
        Algorithm::HS256 => SigningKey::Hmac(hmac::Key::new(hmac::HMAC_SHA256, der)),
        Algorithm::HS384 => SigningKey::Hmac(hmac::Key::new(hmac::HMAC_SHA384, der)),
        Algorithm::HS512 => SigningKey::Hmac(hmac::Key::new(hmac::HMAC_SHA512, der)),
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    };
    Ok(Box::new(RingSigner {
        algorithm: *algorithm,
        key: signing_key,
    }))
}

fn ecdsa_key_pair(alg: &'static sig::EcdsaSigningAlgorithm, der: &[u8]) -> JwtResult<SigningKey> {
    sig::EcdsaKeyPair::from_pkcs8(alg, der, &SystemRandom::new())
        .map(SigningKey::Ecdsa)
        .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))
}

fn rsa_key_pair(encoding: &'static dyn sig::RsaEncoding, der: &[u8]) -> JwtResult<SigningKey> {
    parse_rsa_private_key(der).map(|pair| SigningKey::Rsa(pair, encoding))
}

/// ring reads RSA private keys as PKCS#8 or as PKCS#1 `RSAPrivateKey`; accept both.
fn parse_rsa_private_key(der: &[u8]) -> JwtResult<sig::RsaKeyPair> {
    sig::RsaKeyPair::from_pkcs8(der)
        .or_else(|_| sig::RsaKeyPair::from_der(der))
        .map_err(|e| new_error(ErrorKind::InvalidRsaKey(e.to_string())))
}

// ---------------------------------------------------------------------------------------------
// Verification

/// The public key behind a [`RingVerifier`].
enum VerifyingKey {
    /// Ed25519 raw key, EC uncompressed point, or RSA `RSAPublicKey` DER.
    Unparsed(sig::UnparsedPublicKey<Vec<u8>>),
    /// RSA modulus and exponent, as JWKs carry them.
    RsaComponents(
        &'static sig::RsaParameters,
        sig::RsaPublicKeyComponents<Vec<u8>>,
    ),
    Hmac(hmac::Key),
}

/// Verifies JWT signatures with one algorithm and one key.
struct RingVerifier {
    algorithm: Algorithm,
    key: VerifyingKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), SignatureError> {
        let verified = match &self.key {
            VerifyingKey::Unparsed(key) => key.verify(msg, signature),
            VerifyingKey::RsaComponents(params, key) => key.verify(params, msg, signature),
            // `hmac::verify` compares in constant time.
            VerifyingKey::Hmac(key) => hmac::verify(key, msg, signature),
        };
        verified.map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    // The algorithm-confusion guard: an HS256 header must never turn a public key into an HMAC
    // secret, and an RS256 header must never be checked against an EC key.
    if key.family() != algorithm.family() {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    let verifying_key = match algorithm {
        Algorithm::EdDSA => unparsed(&sig::ED25519, key)?,
        Algorithm::ES256 => unparsed(&sig::ECDSA_P256_SHA256_FIXED, key)?,
        Algorithm::ES384 => unparsed(&sig::ECDSA_P384_SHA384_FIXED, key)?,
        Algorithm::RS256 => rsa_public(&sig::RSA_PKCS1_2048_8192_SHA256, key),
        Algorithm::RS384 => rsa_public(&sig::RSA_PKCS1_2048_8192_SHA384, key),
        Algorithm::RS512 => rsa_public(&sig::RSA_PKCS1_2048_8192_SHA512, key),
        Algorithm::PS256 => rsa_public(&sig::RSA_PSS_2048_8192_SHA256, key),
        Algorithm::PS384 => rsa_public(&sig::RSA_PSS_2048_8192_SHA384, key),
        Algorithm::PS512 => rsa_public(&sig::RSA_PSS_2048_8192_SHA512, key),
        Algorithm::HS256 => {
            VerifyingKey::Hmac(hmac::Key::new(hmac::HMAC_SHA256, key.try_get_as_bytes()?))
        }
        Algorithm::HS384 => {
            VerifyingKey::Hmac(hmac::Key::new(hmac::HMAC_SHA384, key.try_get_as_bytes()?))
        }
        Algorithm::HS512 => {
            VerifyingKey::Hmac(hmac::Key::new(hmac::HMAC_SHA512, key.try_get_as_bytes()?))
        }
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    };
    Ok(Box::new(RingVerifier {
        algorithm: *algorithm,
        key: verifying_key,
    }))
}

fn unparsed(
    algorithm: &'static dyn sig::VerificationAlgorithm,
    key: &DecodingKey,
) -> JwtResult<VerifyingKey> {
    Ok(VerifyingKey::Unparsed(sig::UnparsedPublicKey::new(
        algorithm,
        key.try_get_as_bytes()?.to_vec(),
    )))
}

fn rsa_public(params: &'static sig::RsaParameters, key: &DecodingKey) -> VerifyingKey {
    match key.kind() {
        DecodingKeyKind::SecretOrDer(der) => {
            VerifyingKey::Unparsed(sig::UnparsedPublicKey::new(params, der.clone()))
        }
        DecodingKeyKind::RsaModulusExponent { n, e } => VerifyingKey::RsaComponents(
            params,
            sig::RsaPublicKeyComponents {
                n: n.clone(),
                e: e.clone(),
            },
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Key utilities (JWK export and thumbprints)

fn rsa_components_from_private_key(der: &[u8]) -> JwtResult<(Vec<u8>, Vec<u8>)> {
    let pair = parse_rsa_private_key(der)?;
    let components = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    Ok((components.n, components.e))
}

/// Reads a PKCS#1 `RSAPublicKey` (`SEQUENCE { INTEGER n, INTEGER e }`): ring verifies with such DER
/// but does not expose its parser, and the structure is small enough to read here.
fn rsa_components_from_public_key(der: &[u8]) -> JwtResult<(Vec<u8>, Vec<u8>)> {
    let invalid = || {
        new_error(ErrorKind::InvalidRsaKey(
            "not a PKCS#1 RSAPublicKey".to_owned(),
        ))
    };
    let (body, rest) = der_element(der, DER_SEQUENCE).ok_or_else(invalid)?;
    if !rest.is_empty() {
        return Err(invalid());
    }
    let (n, rest) = der_element(body, DER_INTEGER).ok_or_else(invalid)?;
    let (e, rest) = der_element(rest, DER_INTEGER).ok_or_else(invalid)?;
    if !rest.is_empty() {
        return Err(invalid());
    }
    Ok((
        strip_leading_zeros(n).to_vec(),
        strip_leading_zeros(e).to_vec(),
    ))
}

const DER_SEQUENCE: u8 = 0x30;
const DER_INTEGER: u8 = 0x02;

/// Splits one DER element with the expected tag off `input`: `(contents, rest)`.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&actual, input) = input.split_first()?;
    if actual != tag {
        return None;
    }
    let (&first, input) = input.split_first()?;
    let (len, input) = if first < 0x80 {
        (usize::from(first), input)
    } else {
        // Long form: the low bits say how many length bytes follow; four cover any real key.
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (len_bytes, input) = input.split_at_checked(count)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, input)
    };
    input.split_at_checked(len)
}

/// A big-endian unsigned integer without its leading zero bytes.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn ec_components_from_private_key(
    der: &[u8],
    algorithm: Algorithm,
) -> JwtResult<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    let (signing, curve, coordinate_len) = match algorithm {
        Algorithm::ES256 => (
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            EllipticCurve::P256,
            32,
        ),
        Algorithm::ES384 => (
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            EllipticCurve::P384,
            48,
        ),
        _ => return Err(new_error(ErrorKind::InvalidEcdsaKey)),
    };
    let pair = sig::EcdsaKeyPair::from_pkcs8(signing, der, &SystemRandom::new())
        .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))?;
    // ring returns the uncompressed point: 0x04 || x || y.
    match pair.public_key().as_ref().split_first() {
        Some((0x04, xy)) if xy.len() == 2 * coordinate_len => {
            let (x, y) = xy.split_at(coordinate_len);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(new_error(ErrorKind::InvalidEcdsaKey)),
    }
}

fn ed_components_from_private_key(der: &[u8], curve: &EllipticCurve) -> JwtResult<Vec<u8>> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(new_error(ErrorKind::InvalidAlgorithm));
    }
    let pair = sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
        .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
    Ok(pair.public_key().as_ref().to_vec())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> JwtResult<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    };
    Ok(digest::digest(algorithm, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
    use jsonwebtoken::{Header, Validation, decode, encode};
    use serde_json::json;

    use super::*;
    use crate::auth::test_keys;

    fn round_trip(algorithm: Algorithm, encoding: &EncodingKey, decoding: &DecodingKey) {
        install().unwrap();
        let claims = json!({"sub": "s", "exp": 4_000_000_000u64});
        let token = encode(&Header::new(algorithm), &claims, encoding).unwrap();
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        let decoded = decode::<serde_json::Value>(&token, decoding, &validation).unwrap();
        assert_eq!(decoded.claims, claims);
    }

    #[test]
    fn install_is_idempotent_and_checked() {
        install().unwrap();
        install().unwrap();
        check_installed().unwrap();
    }

    #[test]
    fn every_asymmetric_algorithm_signs_and_verifies() {
        let ed = test_keys::ed25519_pkcs8();
        let ed_pub = sig::Ed25519KeyPair::from_pkcs8(&ed)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        round_trip(
            Algorithm::EdDSA,
            &EncodingKey::from_ed_der(&ed),
            &DecodingKey::from_ed_der(&ed_pub),
        );

        for (algorithm, signing) in [
            (Algorithm::ES256, &sig::ECDSA_P256_SHA256_FIXED_SIGNING),
            (Algorithm::ES384, &sig::ECDSA_P384_SHA384_FIXED_SIGNING),
        ] {
            let der = sig::EcdsaKeyPair::generate_pkcs8(signing, &SystemRandom::new()).unwrap();
            let public = sig::EcdsaKeyPair::from_pkcs8(signing, der.as_ref(), &SystemRandom::new())
                .unwrap()
                .public_key()
                .as_ref()
                .to_vec();
            round_trip(
                algorithm,
                &EncodingKey::from_ec_der(der.as_ref()),
                &DecodingKey::from_ec_der(&public),
            );
        }

        let rsa = test_keys::rsa_pkcs8();
        let (n, e) = rsa_components_from_private_key(&rsa).unwrap();
        let public_der = parse_rsa_private_key(&rsa)
            .unwrap()
            .public()
            .as_ref()
            .to_vec();
        for algorithm in [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ] {
            let encoding = EncodingKey::from_rsa_der(&rsa);
            round_trip(
                algorithm,
                &encoding,
                &DecodingKey::from_rsa_raw_components(&n, &e),
            );
            round_trip(
                algorithm,
                &encoding,
                &DecodingKey::from_rsa_der(&public_der),
            );
        }
    }

    #[test]
    fn a_key_of_another_family_is_refused() {
        install().unwrap();
        let ed = test_keys::ed25519_pkcs8();
        let ed_pub = sig::Ed25519KeyPair::from_pkcs8(&ed)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let key = DecodingKey::from_ed_der(&ed_pub);
        assert!(new_verifier(&Algorithm::HS256, &key).is_err());
        assert!(new_verifier(&Algorithm::RS256, &key).is_err());
        assert!(new_signer(&Algorithm::HS256, &EncodingKey::from_ed_der(&ed)).is_err());
    }

    #[test]
    fn rsa_public_der_is_read_into_components() {
        let rsa = test_keys::rsa_pkcs8();
        let public_der = parse_rsa_private_key(&rsa)
            .unwrap()
            .public()
            .as_ref()
            .to_vec();
        assert_eq!(
            rsa_components_from_public_key(&public_der).unwrap(),
            rsa_components_from_private_key(&rsa).unwrap()
        );
        assert!(rsa_components_from_public_key(&public_der[..public_der.len() - 1]).is_err());
        assert!(rsa_components_from_public_key(b"").is_err());
    }

    #[test]
    fn jwks_can_be_exported_from_private_keys() {
        install().unwrap();
        // jsonwebtoken only exports Ed25519 keys from PKCS#8 v1 (48 bytes).
        let ed = test_keys::ed25519_pkcs8_v1();
        let jwk = Jwk::from_encoding_key(&EncodingKey::from_ed_der(&ed), Algorithm::EdDSA).unwrap();
        assert!(matches!(
            jwk.algorithm,
            AlgorithmParameters::OctetKeyPair(_)
        ));
        assert!(!jwk.thumbprint(ThumbprintHash::SHA256).unwrap().is_empty());

        let rsa = test_keys::rsa_pkcs8();
        let jwk =
            Jwk::from_encoding_key(&EncodingKey::from_rsa_der(&rsa), Algorithm::RS256).unwrap();
        assert!(matches!(jwk.algorithm, AlgorithmParameters::RSA(_)));

        let ec = sig::EcdsaKeyPair::generate_pkcs8(
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .unwrap();
        let jwk = Jwk::from_encoding_key(&EncodingKey::from_ec_der(ec.as_ref()), Algorithm::ES256)
            .unwrap();
        assert!(matches!(
            jwk.algorithm,
            AlgorithmParameters::EllipticCurve(_)
        ));
    }
}
