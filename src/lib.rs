//! Sluse: a privacy-preserving data-exchange gateway for Danish municipalities.
//!
//! The modules, in reading order:

/// The only code that reads the time; everything else takes it as a parameter.
pub mod clock;
/// Identity: verified JWTs become a [`auth::Principal`]; TLS and mTLS set-up.
pub mod auth;
