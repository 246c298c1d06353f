//! The command line: `serve`, `migrate`, `keygen`, `demo`, `policy check|explain`.
//!
//! clap answers bad arguments with a message and exit code 2; the commands here exit 1 with a
//! message on standard error when the configuration or environment is wrong.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};

use crate::{
    app::Application,
    clock::SystemClock,
    config::{Config, LogFormat},
    demo, explain_cli, keys, policy, server,
    store::{OpenMode, Store},
    telemetry,
};

/// Sluse: a privacy-preserving data-exchange gateway for Danish municipalities.
#[derive(Debug, Parser)]
#[command(name = "sluse", version, about, propagate_version = true)]
pub struct Cli {
    /// Log lines as `json` (the default, for collectors) or `pretty` (for a terminal); overrides
    /// `log.format` of the configuration.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gateway with the given configuration.
    Serve {
        /// The TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Apply the database migrations and exit.
    Migrate {
        /// The TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Create the key files named in the configuration that do not exist yet (never overwrites).
    Keygen {
        /// The TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Retire the audit signing key (kept as `<name>.<key_id>.old` for verification) and
        /// create a new one; replicas sign with it from their next start.
        #[arg(long)]
        rotate_signing_key: bool,
    },
    /// Run a self-contained demo on loopback: SQLite, demo issuer and tokens, the shipped policies.
    Demo {
        /// Where to keep the demo's database, keys and config (default: a fresh temporary directory).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// The port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Keep the demo's state in this PostgreSQL database (`postgres://…`) instead of a SQLite
        /// file in the data directory: it is migrated and the demo cases are loaded into it. The URL
        /// is written into the demo's config file, so a second replica can serve the same database:
        /// `SLUSE_SERVER__LISTEN=127.0.0.1:PORT sluse serve --config <data dir>/sluse.toml`.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Work with policy bundles.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Work with the audit trail: verify the chain, export checkpoints.
    #[command(subcommand)]
    Audit(crate::audit::cli::AuditCommand),
    /// GET the gateway's health endpoint once; exit 0 on 2xx (for container HEALTHCHECKs).
    Healthcheck {
        /// The URL to ask.
        #[arg(long, default_value = "https://127.0.0.1:8443/healthz")]
        url: String,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 3000)]
        timeout_ms: u64,
    },
}

/// `sluse policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy directory; print `file:line: message` for every error.
    Check {
        /// The policy directory.
        #[arg(default_value = "policies")]
        dir: PathBuf,
    },
    /// Dry-run one request against the configured store and bundle; print the decision and why.
    Explain {
        /// The TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The request, as JSON: `{requester:{sub,dept,role}, subject, category, purpose, source,
        /// recipient?, mode?, payload?, date?}`.
        #[arg(long, value_name = "FILE.json")]
        request: PathBuf,
    },
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> ExitCode {
    let log_format = cli.log_format;
    match cli.command {
        Command::Policy(PolicyCommand::Check { dir }) => policy_check(&dir),
        Command::Policy(PolicyCommand::Explain { config, request }) => {
            with_config(&config, log_format, |config| {
                let text = runtime()?.block_on(explain_cli::run(&config, &request))?;
                print!("{text}");
                Ok(())
            })
        }
        Command::Keygen {
            config,
            rotate_signing_key: true,
        } => with_config(&config, log_format, |config| {
            let (retired, old, new) =
                keys::rotate_signing_key(&config.audit.signing_key).map_err(|e| e.to_string())?;
            println!(
                "rotated {}: key {old} retired to {}, new key {new}",
                config.audit.signing_key.display(),
                retired.display()
            );
            Ok(())
        }),
        Command::Keygen { config, .. } => with_config(&config, log_format, |config| {
            let outcomes = keys::keygen(&config.audit).map_err(|e| e.to_string())?;
            for outcome in outcomes {
                match outcome {
                    keys::KeygenOutcome::Created(p) => println!("created {}", p.display()),
                    keys::KeygenOutcome::Kept(p) => println!("kept    {} (exists)", p.display()),
                }
            }
            Ok(())
        }),
        Command::Migrate { config } => with_config(&config, log_format, |config| {
            runtime()?.block_on(async {
                let store = Store::connect(&config.database, OpenMode::CreateIfMissing)
                    .await
                    .map_err(|e| e.to_string())?;
                store.migrate().await.map_err(|e| e.to_string())?;
                store.close().await;
                println!("migrations applied");
                Ok(())
            })
        }),
        Command::Serve { config } => with_config(&config, log_format, |config| {
            telemetry::init(&config.log);
            runtime()?.block_on(async {
                let app = Application::build(config, Arc::new(SystemClock))
                    .await
                    .map_err(|e| e.to_string())?;
                let addr = app.local_addr().map_err(|e| e.to_string())?;
                tracing::info!(%addr, scheme = app.scheme(), "serving");
                app.run_until(server::shutdown_signal())
                    .await
                    .map_err(|e| format!("server failed: {e}"))
            })
        }),
        Command::Audit(command) => {
            let Some(path) = command.config().map(std::path::Path::to_path_buf) else {
                return crate::audit::cli::run_without_config(command);
            };
            with_config(&path, log_format, |config| {
                let text = runtime()?.block_on(crate::audit::cli::run(command, &config))?;
                println!("{text}");
                Ok(())
            })
        }
        Command::Healthcheck { url, timeout_ms } => report(runtime().and_then(|rt| {
            let line = rt.block_on(crate::ops::healthcheck::check(
                &url,
                std::time::Duration::from_millis(timeout_ms),
            ))?;
            println!("{line}");
            Ok(())
        })),
        Command::Demo {
            data_dir,
            port,
            database_url,
        } => match runtime() {
            Ok(rt) => report(rt.block_on(demo::run(
                data_dir,
                port,
                database_url.as_deref(),
                log_format,
            ))),
            Err(e) => report(Err(e)),
        },
    }
}

fn policy_check(dir: &std::path::Path) -> ExitCode {
    match policy::check(dir) {
        Ok(summary) => {
            println!("{}: {summary}", dir.display());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

fn with_config(
    path: &std::path::Path,
    log_format: Option<LogFormat>,
    f: impl FnOnce(Config) -> Result<(), String>,
) -> ExitCode {
    match Config::load(path) {
        Ok(mut config) => {
            if let Some(format) = log_format {
                config.log.format = format;
            }
            report(f(config))
        }
        Err(e) => {
            eprintln!("error: invalid configuration in `{}`: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
