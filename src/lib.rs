//! Sluse: a privacy-preserving data-exchange gateway for Danish municipalities.
//!
//! Every piece of personal data that crosses a department boundary goes through the gateway: it
//! authenticates the caller, decides against the policies, consents and legal bases, redacts what the
//! purpose does not need, and records every disclosure and refusal before any data leaves.
//!
//! The modules, in reading order:

/// The only code that reads the time; everything else takes it as a parameter.
pub mod clock;
/// The CPR number: parse, birth date, age on a date; never printed.
pub mod cpr;
/// Configuration: TOML plus `SLUSE_*` environment overrides, validated at start.
pub mod config;
/// Key files: the audit signing key and the pseudonym key, created by `sluse keygen`.
pub mod keys;
/// Identity: verified JWTs become a [`auth::Principal`]; TLS and mTLS set-up.
pub mod auth;
/// Policy bundle: files on disk → typed, validated PolicyBundle; the pure decide().
pub mod policy;
/// The consent registry: consents, receipts, withdrawals.
pub mod consent;
/// Contact-person assignments: who has a need to know.
pub mod registry;
/// Storage: pools, migrations, one store trait per capability, SQLite and PostgreSQL.
pub mod store;
/// The HTTP API: router, handlers, problem+json errors.
pub mod api;
/// Start-up: load and check everything, bind the listener.
pub mod app;
/// The listener: TLS or loopback plain HTTP, graceful shutdown.
pub mod server;
/// Logging set-up.
pub mod telemetry;
/// `sluse demo`: a self-contained gateway on loopback with demo issuer, tokens and cases.
pub mod demo;
/// The command line.
pub mod cli;
