//! Identity: bearer JWTs verified against the configured issuers' JWKS, and TLS set-up.
//!
//! - [`jwt_ring`]: the ring-backed crypto provider jsonwebtoken 12 needs; installed at start-up.
//! - `jwks`: an issuer's public keys, by `kid`, each with the algorithms it may verify.
//! - `verify`: [`TokenVerifier`] turns a bearer token into a [`Principal`] or an [`AuthError`] (401).
//! - `cache`: verified tokens by SHA-256 digest, never served past their `exp`.
//! - `issuer`: [`DemoIssuer`], an Ed25519 key that mints tokens for the demo and tests.
//! - [`tls`]: [`server_config`], the rustls server set-up on ring, with optional mTLS.
//!
//! [`jwt_ring`]: crate::auth::jwt_ring
//! [`TokenVerifier`]: crate::auth::TokenVerifier
//! [`Principal`]: crate::auth::Principal
//! [`AuthError`]: crate::auth::AuthError
//! [`DemoIssuer`]: crate::auth::DemoIssuer
//! [`server_config`]: crate::auth::server_config
//! [`tls`]: crate::auth::tls

mod cache;
mod issuer;
mod jwks;
pub mod jwt_ring;
mod pem;
mod principal;
#[cfg(test)]
mod test_keys;
pub mod tls;
mod verify;

pub use cache::CacheStats;
pub use issuer::{DemoIssuer, IssuerError};
pub use jwks::{Jwks, JwksError, JwksKey, JwksProblem, KeyProblem};
pub use principal::{Principal, Role};
pub use tls::{TlsError, server_config};
pub use verify::{
    AuthError, DEFAULT_CACHE_CAPACITY, IssuerKeys, LEEWAY_SECONDS, MAX_TOKEN_BYTES, TokenVerifier,
};

/// Installs ring as the process-wide crypto provider of rustls (reqwest and other TLS clients take
/// it from there) and of jsonwebtoken. Idempotent and never panics: call it first thing in `main`
/// and in tests. [`jwt_ring::check_installed`] then confirms the JWT side at start-up.
pub fn install_crypto_provider() {
    // An error only says a provider is already installed; with ring the only one compiled in
    // (`cargo tree -i aws-lc-rs` is empty), that provider is ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    jwt_ring::install_or_warn();
}
