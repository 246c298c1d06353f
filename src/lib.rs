//! Sluse: a privacy-preserving data-exchange gateway for Danish municipalities.
//!
//! Every piece of personal data that crosses a department boundary goes through the gateway: it
//! authenticates the caller, decides against the policies, consents and legal bases, redacts what the
//! purpose does not need, and records every disclosure and refusal before any data leaves.
//!
//! The modules, in reading order:

/// The HTTP API: router, handlers, problem+json errors.
pub mod api;
/// Start-up: load and check everything, bind the listener.
pub mod app;
/// The tamper-evident audit trail: records, canonical encoding, hash chain, appender, checkpoints.
pub mod audit;
/// Identity: verified JWTs become a [`auth::Principal`]; TLS and mTLS set-up.
pub mod auth;
/// The command line.
pub mod cli;
/// The only code that reads the time; everything else takes it as a parameter.
pub mod clock;
/// Configuration: TOML plus `SLUSE_*` environment overrides, validated at start.
pub mod config;
/// The consent registry: consents, receipts, withdrawals.
pub mod consent;
/// The CPR number: parse, birth date, age on a date; never printed.
pub mod cpr;
/// `sluse demo`: a self-contained gateway on loopback with demo issuer, tokens and cases.
pub mod demo;
/// The use case of a pull request: facts → decide → fetch → redact → audit → respond.
pub mod exchange;
/// `sluse policy explain`: one request dry-run through the real decision path.
pub mod explain_cli;
/// Gathering a decision's facts (age, assignments, consents) from the store.
pub mod facts;
/// Key files: the audit signing key and the pseudonym key, created by `sluse keygen`.
pub mod keys;
/// Push notices, idempotency and the departments' inboxes.
pub mod notices;
/// Operations: metrics, rate and concurrency limits, live reload.
pub mod ops;
/// Policy bundle: files on disk → typed, validated PolicyBundle; the pure decide().
pub mod policy;
/// Redaction: a permit's plan applied to a source record; free text scrubbed.
pub mod redact;
/// Contact-person assignments: who has a need to know.
pub mod registry;
/// The listener: TLS or loopback plain HTTP, graceful shutdown.
pub mod server;
/// Connectors to the departments' systems (the source protocol), and simulated ones for the demo.
pub mod sources;
/// Storage: pools, migrations, one store trait per capability, SQLite and PostgreSQL.
pub mod store;
/// Logging set-up.
pub mod telemetry;
/// The DPO console: server-rendered pages at `/dpo/`, sessions, security headers, SVG charts.
pub mod web;
