//! Sluse: a privacy-preserving data-exchange gateway for Danish municipalities.
//!
//! The modules, in reading order:

/// Identity: verified JWTs become a [`auth::Principal`]; TLS and mTLS set-up.
pub mod auth;
/// The only code that reads the time; everything else takes it as a parameter.
pub mod clock;
/// Policy bundle: files on disk → typed, validated PolicyBundle; the pure decide().
pub mod policy;
