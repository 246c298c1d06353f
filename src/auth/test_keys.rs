//! Keys for unit tests only. Nothing here is a secret: the RSA key is a published test fixture.

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::Ed25519KeyPair;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;

/// The test suite's RSA key (PKCS#8 PEM), shared with the integration tests.
/// TEST ONLY: ring cannot generate RSA keys, so tests of RS256/PS256 use this fixed key.
const RSA_TEST_ONLY_PEM: &str = include_str!("../../tests/fixtures/TEST-ONLY-rsa-key.pem");

/// The test RSA key as PKCS#8 DER.
pub(crate) fn rsa_pkcs8() -> Vec<u8> {
    PrivatePkcs8KeyDer::from_pem_slice(RSA_TEST_ONLY_PEM.as_bytes())
        .unwrap()
        .secret_pkcs8_der()
        .to_vec()
}

/// A fresh Ed25519 key as PKCS#8 v2 DER (ring's format, with the public key).
pub(crate) fn ed25519_pkcs8() -> Vec<u8> {
    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .unwrap()
        .as_ref()
        .to_vec()
}

/// A fresh Ed25519 key as PKCS#8 v1 DER (OpenSSL's format: the seed only).
pub(crate) fn ed25519_pkcs8_v1() -> Vec<u8> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut seed = [0u8; 32];
    SystemRandom::new().fill(&mut seed).unwrap();
    [PREFIX.as_slice(), seed.as_slice()].concat()
}
