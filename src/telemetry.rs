//! Logging: `tracing` with JSON lines by default (pretty on request). Request logs carry the request
//! id, method, route template, status and latency — never bodies, raw paths, CPR numbers, tokens or
//! keys (the API keeps CPR numbers out of URLs, and the route template is logged, not the path).

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber writing to standard error. Returns false if one was already set
/// (tests that start several apps in one process).
pub fn init(config: &LogConfig) -> bool {
    // `SLUSE_LOG` overrides the configured level, as `RUST_LOG` does elsewhere.
    let filter = std::env::var("SLUSE_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(&config.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .compact()
                    // Colours for a person at a terminal; a file or a log collector gets plain text.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.is_ok()
}
