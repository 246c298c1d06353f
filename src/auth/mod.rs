//! Identity: bearer JWTs verified against the configured issuers' JWKS, and TLS set-up.
//!
//! - [`jwt_ring`]: the ring-backed crypto provider jsonwebtoken 12 needs; installed at start-up.
//! - `jwks`: an issuer's public keys, by `kid`, each with the algorithms it may verify.
//! - `verify`: [`TokenVerifier`] turns a bearer token into a [`Principal`] or an [`AuthError`] (401).
//! - `cache`: verified tokens by SHA-256 digest, never served past their `exp`.
//! - `issuer`: [`DemoIssuer`], an Ed25519 key that mints tokens for the demo and tests.
//! - `tls`: [`server_config`], the rustls server set-up on ring, with optional mTLS.
//!
//! [`jwt_ring`]: crate::auth::jwt_ring
//! [`TokenVerifier`]: crate::auth::TokenVerifier
//! [`Principal`]: crate::auth::Principal
//! [`AuthError`]: crate::auth::AuthError
//! [`DemoIssuer`]: crate::auth::DemoIssuer
//! [`server_config`]: crate::auth::server_config

mod cache;
mod issuer;
mod jwks;
pub mod jwt_ring;
mod pem;
mod principal;
#[cfg(test)]
mod test_keys;
mod tls;
mod verify;

pub use cache::CacheStats;
pub use issuer::{DemoIssuer, IssuerError, TokenClaims};
pub use jwks::{Jwks, JwksError, JwksKey, JwksProblem, KeyProblem};
pub use principal::{Principal, Role};
pub use tls::{TlsError, server_config};
pub use verify::{
    AuthError, DEFAULT_CACHE_CAPACITY, IssuerKeys, LEEWAY_SECONDS, MAX_TOKEN_BYTES, TokenVerifier,
};
