//! `sluse audit …`: verify the chain, export the checkpoints and the trail.

use std::{
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::Subcommand;

use super::{
    AuditStore, CheckpointSet, all_checkpoints,
    checkpoint::verification_keys,
    verify::verify,
    witness::{self, WitnessArgs, WitnessError},
};
use crate::{
    config::Config,
    keys,
    store::{OpenMode, Store},
};

/// `sluse audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the whole audit chain; exit 0 if intact, 1 naming the first bad record.
    Verify {
        /// The TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// An exported checkpoint file (`sluse audit checkpoint export`) kept elsewhere: the chain
        /// must still pass through every checkpoint in it.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
    },
    /// Work with signed checkpoints.
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Write the whole trail as JSON Lines, one record per line by seq (see docs/audit-format.md).
    Export {
        /// The TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Act as a witness: check that the gateway's newest checkpoint extends the last one this
    /// witness co-signed (recomputing the chain between them from the export) and co-sign it.
    /// Exits 1 naming the seq when the history was rewritten or cut.
    Witness {
        /// The gateway's base URL, e.g. `https://sluse.kommune.example`.
        #[arg(long, value_name = "URL")]
        gateway: String,
        /// Where the witness keeps the last checkpoint it co-signed and the gateway's keys.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// The witness's Ed25519 key (PKCS#8 PEM), created if missing [default: STATE.key].
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// A bearer token with role `dpo` (or set SLUSE_WITNESS_TOKEN).
        #[arg(long, value_name = "TOKEN")]
        token: Option<String>,
    },
    /// Print the witness's public key (creating the key if missing), for the gateway operator's
    /// `[[audit.witnesses]]`.
    WitnessKey {
        /// The witness's state file (the key is kept beside it).
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// The witness's Ed25519 key (PKCS#8 PEM), created if missing [default: STATE.key].
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
}

/// `sluse audit checkpoint …`.
#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Write every signed checkpoint and the public keys to a file to keep apart from the gateway.
    Export {
        /// The TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

impl AuditCommand {
    /// The configuration file the command names (`None`: the command runs without one).
    pub fn config(&self) -> Option<&Path> {
        match self {
            AuditCommand::Verify { config, .. }
            | AuditCommand::Export { config, .. }
            | AuditCommand::Checkpoint(CheckpointCommand::Export { config, .. }) => Some(config),
            AuditCommand::Witness { .. } | AuditCommand::WitnessKey { .. } => None,
        }
    }
}

/// Runs a command that needs no configuration (`witness`): prints what it did, or the error on
/// standard error with exit code 1.
pub fn run_without_config(command: AuditCommand) -> ExitCode {
    if let AuditCommand::WitnessKey { state, key } = &command {
        return report(witness::public_key_entry(state, key.as_deref()));
    }
    let AuditCommand::Witness {
        gateway,
        state,
        key,
        token,
    } = command
    else {
        eprintln!("error: this command needs --config");
        return ExitCode::FAILURE;
    };
    let args = WitnessArgs {
        gateway,
        state,
        key,
        token: token.or_else(|| std::env::var("SLUSE_WITNESS_TOKEN").ok()),
    };
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(witness::run(&args)),
        Err(e) => Err(WitnessError::Failed(format!(
            "cannot start the async runtime: {e}"
        ))),
    };
    report(result)
}

/// Prints what a command did and exits 0, or prints its error on standard error and exits 1.
fn report(result: Result<String, impl std::fmt::Display>) -> ExitCode {
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a command found: `Ok(text)` to print and exit 0; `Err(text)` to print and exit 1.
pub async fn run(command: AuditCommand, config: &Config) -> Result<String, String> {
    let store = Store::connect(&config.database, OpenMode::Existing)
        .await
        .map_err(|e| e.to_string())?;
    store.check_schema().await.map_err(|e| e.to_string())?;
    let result = match command {
        AuditCommand::Verify { checkpoints, .. } => {
            run_verify(&store, config, checkpoints.as_deref()).await
        }
        AuditCommand::Checkpoint(CheckpointCommand::Export { out, .. }) => {
            export_checkpoints(&store, config, &out).await
        }
        AuditCommand::Export { out, .. } => export_jsonl(&store, &out).await,
        AuditCommand::Witness { .. } | AuditCommand::WitnessKey { .. } => {
            Err("`witness` and `witness-key` take no --config".to_owned())
        }
    };
    store.close().await;
    result
}

async fn run_verify(
    store: &Store,
    config: &Config,
    checkpoints: Option<&Path>,
) -> Result<String, String> {
    let key = keys::load_signing_key(&config.audit.signing_key).map_err(|e| e.to_string())?;
    let file = match checkpoints {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            Some(
                serde_json::from_str::<CheckpointSet>(&text)
                    .map_err(|e| format!("`{}` is not a checkpoint file: {e}", path.display()))?,
            )
        }
    };
    let mut reported = 0;
    let keys = verification_keys(&key, &config.audit.signing_key);
    let result = verify(store, &keys, file.as_ref(), |n| {
        if n >= reported + 100_000 {
            reported = n;
            eprintln!("verified {n} records…");
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    match result.first_bad {
        None => Ok(format!(
            "audit chain intact: {} records, head {}, {} checkpoints",
            result.records, result.head_hash, result.checkpoints
        )),
        Some(bad) => Err(format!(
            "audit chain broken at seq {}: {} ({} records read)",
            bad.seq, bad.problem, result.records
        )),
    }
}

async fn export_checkpoints(store: &Store, config: &Config, out: &Path) -> Result<String, String> {
    let key = keys::load_signing_key(&config.audit.signing_key).map_err(|e| e.to_string())?;
    let set = CheckpointSet {
        checkpoints: all_checkpoints(store).await.map_err(|e| e.to_string())?,
        public_keys: verification_keys(&key, &config.audit.signing_key),
    };
    let text = serde_json::to_string_pretty(&set).map_err(|e| e.to_string())?;
    std::fs::write(out, text + "\n")
        .map_err(|e| format!("cannot write `{}`: {e}", out.display()))?;
    Ok(format!(
        "wrote {} checkpoints to {}",
        set.checkpoints.len(),
        out.display()
    ))
}

async fn export_jsonl(store: &Store, out: &Path) -> Result<String, String> {
    let file =
        std::fs::File::create(out).map_err(|e| format!("cannot write `{}`: {e}", out.display()))?;
    let mut writer = BufWriter::new(file);
    let count = write_jsonl(store, &mut writer)
        .await
        .map_err(|e| format!("cannot export: {e}"))?;
    writer
        .flush()
        .map_err(|e| format!("cannot write `{}`: {e}", out.display()))?;
    Ok(format!("wrote {count} records to {}", out.display()))
}

/// Writes every record as one JSON object per line, by seq, a page at a time. A record whose
/// columns cannot be read stops the export, naming its seq.
pub async fn write_jsonl(store: &impl AuditStore, out: &mut impl Write) -> Result<u64, String> {
    let mut after = 0;
    let mut count = 0;
    loop {
        let page = store
            .audit_page(after, 2000)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last().map(|r| r.seq) else {
            return Ok(count);
        };
        for row in page {
            let line = super::export::jsonl_line(&row.into_chained()?)?;
            out.write_all(&line).map_err(|e| e.to_string())?;
            count += 1;
        }
        after = last;
    }
}
