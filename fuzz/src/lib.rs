//! The checks behind Sluse's fuzz targets, one module per target. Each `check(data)` feeds one
//! input to the code under test and panics if an invariant breaks; the fuzz targets in
//! `fuzz_targets/` are one line each around them.
//!
//! The root crate's test `tests/it/fuzz_corpus.rs` compiles these same files (by `#[path]`) and
//! runs every committed input of `corpus/<target>/` through them, so a fixed crash stays fixed
//! under a plain `cargo test`. The files therefore use only `sluse`'s public API and crates the
//! root crate has too, and refer to each other as `super::…`.

#![forbid(unsafe_code)]

/// CPR numbers: `Cpr::parse` and its serde form on arbitrary strings.
pub mod cpr;
/// JWT verification: arbitrary tokens, and tokens signed over arbitrary headers and claims.
pub mod jwt;
/// Policy bundles: the shipped bundle with one file replaced by arbitrary TOML.
pub mod policy;
/// Redaction: arbitrary JSON records under the plans of the shipped bundle's permits.
pub mod redact;
/// Free-text scrubbing on arbitrary text.
pub mod scrub;
/// The shipped policy bundle, compiled in.
pub mod shipped;
