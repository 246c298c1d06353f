//! Integration tests: the real router on 127.0.0.1:0, real SQLite files (and PostgreSQL when
//! `SLUSE_TEST_POSTGRES_URL` is set), real HTTP clients, and the real `sluse` binary for the CLI.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod audit;
mod cli;
mod console;
mod crash;
mod deploy;
mod dpo;
mod errors;
mod exchange;
mod fuzz_corpus;
mod helpers;
mod hostile;
mod identity;
mod logs;
mod migrations;
mod notices;
mod openapi;
mod ops;
mod registry;
mod replicas;
mod tls;
mod tokens;
mod withdrawal;
mod witness;
