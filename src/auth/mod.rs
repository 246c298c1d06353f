//! Identity: bearer JWTs verified against the configured issuers' JWKS, and TLS set-up.

mod cache;
mod jwks;
pub mod jwt_ring;
mod principal;
#[cfg(test)]
mod test_keys;
mod verify;

pub use cache::CacheStats;
pub use jwks::{Jwks, JwksError, JwksKey, JwksProblem, KeyProblem};
pub use principal::{Principal, Role};
pub use verify::{
    AuthError, DEFAULT_CACHE_CAPACITY, IssuerKeys, LEEWAY_SECONDS, MAX_TOKEN_BYTES, TokenVerifier,
};
