//! Integration tests: the real router on 127.0.0.1:0, real SQLite files (and PostgreSQL when
//! `SLUSE_TEST_POSTGRES_URL` is set), real HTTP clients, and the real `sluse` binary for the CLI.

mod cli;
mod errors;
mod helpers;
mod identity;
mod logs;
mod tls;
mod tokens;
