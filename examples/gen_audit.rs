//! Fills a gateway's audit chain with synthetic records, through the real appender — for measuring
//! export and verification on long chains (constant memory) and the appender's throughput.
//!
//!     cargo run --release --example gen_audit -- --config FILE --records 1000000 [--writers 64]

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a measuring tool: failing loudly is the point"
)]

use std::{path::PathBuf, sync::Arc, time::Instant};

use clap::Parser;
use sluse::{
    audit::{
        AppenderConfig, AuditDecision, AuditLog, AuditReason, AuditRecord, Outcome, Requester,
    },
    auth::Role,
    clock::{Clock, SharedClock, SystemClock},
    config::Config,
    cpr::Pseudonym,
    keys,
    store::{OpenMode, Store},
};

#[derive(Parser)]
struct Args {
    /// The gateway's configuration (its database and audit keys are used).
    #[arg(long)]
    config: PathBuf,
    /// How many records to append.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Concurrent writers.
    #[arg(long, default_value_t = 64)]
    writers: u64,
}

fn record(i: u64, clock: &dyn Clock) -> AuditRecord {
    let permit = !i.is_multiple_of(3);
    AuditRecord {
        disclosure_id: uuid::Uuid::now_v7(),
        at: clock.now(),
        requester: Requester {
            sub: format!("caseworker-{}", i % 97),
            dept: "youth-unit".to_owned(),
            role: Role::ContactPerson,
        },
        subject_pseudonym: Some(Pseudonym::from_stored(format!("ps_{:064x}", i % 5000))),
        category: "social.measures".to_owned(),
        purpose: "kui.contact_person".to_owned(),
        source: Some("social-services".to_owned()),
        recipient: Some("youth-unit".to_owned()),
        decision: if permit {
            AuditDecision::Permit
        } else {
            AuditDecision::Deny
        },
        outcome: if permit {
            Outcome::Disclosed
        } else {
            Outcome::Denied
        },
        basis: None,
        reasons: if permit {
            Vec::new()
        } else {
            vec![AuditReason {
                code: "no_consent".to_owned(),
                message: "no consent covers the exchange".to_owned(),
            }]
        },
        fields_disclosed: if permit {
            vec!["active".to_owned(), "caseworker.name".to_owned()]
        } else {
            Vec::new()
        },
        fields_redacted: vec!["family_notes".to_owned(), "reasons".to_owned()],
        payload_digest: permit.then(|| format!("{:064x}", i)),
        policy_version: "0".repeat(64),
    }
}

#[tokio::main]
async fn main() {
    sluse::auth::install_crypto_provider();
    let args = Args::parse();
    let config = Config::load(&args.config).unwrap();
    let store = Store::connect(&config.database, OpenMode::Existing)
        .await
        .unwrap();
    store.check_schema().await.unwrap();
    let key = Arc::new(keys::load_signing_key(&config.audit.signing_key).unwrap());
    let clock: SharedClock = Arc::new(SystemClock);
    let (log, task) = AuditLog::start(
        store.clone(),
        key,
        clock.clone(),
        AppenderConfig::from_config(&config.audit),
    );
    let started = Instant::now();
    let per_writer = args.records / args.writers;
    let mut writers = Vec::new();
    for w in 0..args.writers {
        let log: AuditLog = log.clone();
        let clock = clock.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..per_writer {
                log.append(record(w * per_writer + i, clock.as_ref()))
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let elapsed = started.elapsed();
    log.shutdown().await;
    task.await.unwrap();
    store.close().await;
    let total = per_writer * args.writers;
    println!(
        "appended {total} records with {} writers in {:.1} s: {:.0} records/s",
        args.writers,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
}
