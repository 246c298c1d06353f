//! Identity: bearer JWTs verified against the configured issuers' JWKS, and TLS set-up.

pub mod jwt_ring;
mod principal;
#[cfg(test)]
mod test_keys;

pub use principal::{Principal, Role};
