//! The `sluse` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc (decision 0024).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sluse::auth::install_crypto_provider();
    sluse::cli::run(sluse::cli::Cli::parse())
}
