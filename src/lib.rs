//! Sluse: a privacy-preserving data-exchange gateway for Danish municipalities.
//!
//! The modules, in reading order:

/// Identity: verified JWTs become a [`auth::Principal`]; TLS and mTLS set-up.
pub mod auth;
/// The only code that reads the time; everything else takes it as a parameter.
pub mod clock;
/// The CPR number: parse, birth date, age on a date; never printed.
pub mod cpr;
