//! The `sluse` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    sluse::auth::install_crypto_provider();
    sluse::cli::run(sluse::cli::Cli::parse())
}
