//! Identity: bearer JWTs verified against the configured issuers' JWKS, and TLS set-up.

mod principal;

pub use principal::{Principal, Role};
