//! Identity: bearer JWTs verified against the configured issuers' JWKS, and TLS set-up.

mod jwks;
pub mod jwt_ring;
mod principal;
#[cfg(test)]
mod test_keys;

pub use jwks::{Jwks, JwksError, JwksKey, JwksProblem, KeyProblem};
pub use principal::{Principal, Role};
