//! The appender benchmark: durable audit records per second with 1, 16 and 64 concurrent writers on
//! SQLite (`synchronous=FULL`, WAL) or PostgreSQL, through the real appender (group commit). Each
//! writer appends one record at a time and waits until it is durable, as the disclosure path does.
//! After each run the chain is counted (0 dropped) and verified.
//!
//!     cargo run --release --example audit_bench -- [--writers 1,16,64] [--records 200000]
//!         [--max-batch 2048] [--dir /var/tmp]
//!         [--postgres postgres://postgres@127.0.0.1:5432/test [--replicas 2]]
//!
//! With `--postgres` each run has a fresh database on that server (created, then dropped), and
//! `--replicas N` starts N stores and appenders on it, as N gateway processes have: the writers
//! are spread over them, and their batches take turns at the chain's head row.
//!
//! `--records` is the total for the largest writer count; smaller counts append proportionally
//! fewer (at least 2,000) so that the single writer, one fsync per record, ends in seconds.
//! Results: `benches/audit/README.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a measuring tool: failing loudly is the point"
)]

use std::{path::PathBuf, sync::Arc, time::Instant};

use clap::Parser;
use sqlx::Connection;

/// The allocator the `sluse` binary runs with (decision 0024), so that the appender is measured as
/// it is deployed: with glibc's, malloc and free were about a tenth of this benchmark's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use sluse::{
    audit::{
        self, AppenderConfig, AuditDecision, AuditLog, AuditReason, AuditRecord, AuditStore, Entry,
        Outcome, Requester, checkpoint::public_key,
    },
    auth::Role,
    clock::{Clock, SharedClock, SystemClock},
    config::{AuditConfig, DatabaseConfig},
    cpr::Pseudonym,
    keys,
    policy::{Basis, BasisKind},
    store::{OpenMode, Store},
};

#[derive(Parser)]
struct Args {
    /// Writer counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    writers: Vec<u64>,
    /// Records appended by the largest writer count.
    #[arg(long, default_value_t = 200_000)]
    records: u64,
    /// Most records in one transaction.
    #[arg(long, default_value_t = AppenderConfig::default().max_batch)]
    max_batch: usize,
    /// Experiment: SQL run on the fresh database before the run (e.g. `DROP INDEX …`).
    #[arg(long)]
    sql: Vec<String>,
    /// Experiment: no appender and no writers; append batches of this many records straight to
    /// the store, one after another (the floor the store sets), with no indexer beside them; then
    /// index them all (the indexer's own cost: "catch-up s").
    #[arg(long)]
    direct_batch: Option<usize>,
    /// Pool size.
    #[arg(long, default_value_t = 4)]
    connections: u32,
    /// Where to put the database files (a disk, not tmpfs, for honest fsyncs).
    #[arg(long, default_value = "/var/tmp")]
    dir: PathBuf,
    /// A PostgreSQL server (a URL of any database on it, without a query): each run creates a
    /// database of its own there instead of a SQLite file.
    #[arg(long)]
    postgres: Option<String>,
    /// Appenders on one PostgreSQL database, each with its own store, as gateway replicas have.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
}

/// A fresh database on the server of `admin`, dropped when this is dropped.
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create(admin: &str) -> PgDatabase {
        let name = format!("sluse_audit_bench_{}", std::process::id());
        let (server, _) = admin
            .rsplit_once('/')
            .expect("a postgres:// URL with a database");
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        PgDatabase {
            admin: admin.to_owned(),
            url: format!("{server}/{name}"),
            name,
        }
    }

    async fn drop_database(self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
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
        basis: permit.then(|| Basis {
            kind: BasisKind::Consent,
            id: format!("consent-{}", i % 1000),
        }),
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
        payload_digest: permit.then(|| format!("{i:064x}")),
        policy_version: "0".repeat(64),
    }
}

/// A metric's value so far (0 before it is first set).
fn metric(name: &str) -> f64 {
    let text = sluse::ops::metrics::render(sluse::ops::metrics::Snapshot::default());
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// The appender's committed batches so far, `(records, batches)`, and the lookup indexer's
/// transactions, `(seconds, transactions)`, from their metrics.
fn batches_so_far() -> [f64; 4] {
    [
        metric("sluse_audit_batch_size_sum"),
        metric("sluse_audit_batch_size_count"),
        metric("sluse_audit_lookups_index_seconds_sum"),
        metric("sluse_audit_lookups_index_seconds_count"),
    ]
}

struct Run {
    writers: u64,
    records: u64,
    seconds: f64,
    durable: u64,
    verified: bool,
    /// Records not yet in the lookup tables when the last append was durable.
    lag: u64,
    /// Seconds the indexer then took to catch up.
    catch_up: f64,
    /// Records per committed transaction.
    mean_batch: f64,
    /// Milliseconds per lookup-indexer transaction during the run.
    index_ms: f64,
}

async fn run(args: &Args, writers: u64, total: u64) -> Run {
    let dir = tempfile::tempdir_in(&args.dir).unwrap();
    let audit_config: AuditConfig = toml::from_str(&format!(
        "signing_key = {:?}\npseudonym_key = {:?}\n",
        dir.path().join("audit-signing.key"),
        dir.path().join("pseudonym.key"),
    ))
    .unwrap();
    keys::keygen(&audit_config).unwrap();
    let pg = match &args.postgres {
        Some(admin) => Some(PgDatabase::create(admin).await),
        None => None,
    };
    let url = match &pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let database: DatabaseConfig = toml::from_str(&format!(
        "url = {url:?}\nmax_connections = {}\n",
        args.connections
    ))
    .unwrap();
    let store = Store::connect(&database, OpenMode::CreateIfMissing)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    for sql in &args.sql {
        match &store {
            Store::Sqlite(s) => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(s.pool())
                .await
                .map(drop),
            Store::Postgres(s) => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(s.pool())
                .await
                .map(drop),
        }
        .unwrap();
    }
    // The other replicas' stores: their own pools and appender connections on the same database.
    let mut stores = vec![store.clone()];
    for _ in 1..args.replicas {
        stores.push(Store::connect(&database, OpenMode::Existing).await.unwrap());
    }
    let key = Arc::new(keys::load_signing_key(&audit_config.signing_key).unwrap());
    let public = public_key(&key);
    let clock: SharedClock = Arc::new(SystemClock);
    let (logs, appenders): (Vec<AuditLog>, Vec<_>) = stores
        .iter()
        .map(|store| {
            AuditLog::start(
                store.clone(),
                key.clone(),
                clock.clone(),
                AppenderConfig {
                    max_batch: args.max_batch,
                    ..AppenderConfig::from_config(&audit_config)
                },
            )
        })
        .unzip();
    let per_writer = total / writers;
    if let Some(batch) = args.direct_batch {
        let started = Instant::now();
        let mut i = 0;
        while i < total {
            let records = (0..batch as u64)
                .map(|j| record(i + j, clock.as_ref()))
                .collect();
            store
                .append_entries(vec![Entry::records(records)])
                .await
                .unwrap();
            i += batch as u64;
        }
        let seconds = started.elapsed().as_secs_f64();
        shut_down(logs, appenders).await;
        let durable = store.audit_head().await.unwrap().seq;
        // No indexer ran beside these appends: the catch-up is the indexer's cost alone.
        let caught = Instant::now();
        let lag = match &store {
            Store::Sqlite(s) => s.index_all().await.unwrap(),
            Store::Postgres(_) => 0,
        };
        close(stores, pg).await;
        return Run {
            writers: 0,
            records: i,
            seconds,
            durable,
            verified: true,
            lag,
            catch_up: caught.elapsed().as_secs_f64(),
            mean_batch: batch as f64,
            index_ms: 0.0,
        };
    }
    let batches_before = batches_so_far();
    // As when serving: WAL checkpoints and the SQLite lookup indexer run beside the appender.
    let maintenance = store.spawn_maintenance();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = logs[w as usize % logs.len()].clone();
        let clock = clock.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                log.append(record(w * per_writer + i, clock.as_ref()))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    shut_down(logs, appenders).await;
    let durable = store.audit_head().await.unwrap().seq;
    let batches_after = batches_so_far();
    let delta: Vec<f64> = (0..4)
        .map(|i| batches_after[i] - batches_before[i])
        .collect();
    let mean_batch = delta[0] / delta[1].max(1.0);
    // Time per indexer transaction, waiting for the write lock included: appends queue behind it.
    let index_ms = 1000.0 * delta[2] / delta[3].max(1.0);
    // The lookups trail the chain: how far behind they were, and how long they took to catch up.
    let (lag, catch_up) = match &store {
        Store::Sqlite(s) => {
            let lag = s.index_lag().await.unwrap();
            let caught = Instant::now();
            while s.index_lag().await.unwrap() > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            (lag, caught.elapsed().as_secs_f64())
        }
        Store::Postgres(_) => (0, 0.0),
    };
    for m in maintenance {
        m.abort();
    }
    let verification = audit::verify(&store, &[public], None, |_| {})
        .await
        .unwrap();
    close(stores, pg).await;
    Run {
        writers,
        records: per_writer * writers,
        seconds,
        durable,
        verified: verification.ok && verification.records == durable,
        lag,
        catch_up,
        mean_batch,
        index_ms,
    }
}

async fn shut_down(logs: Vec<AuditLog>, tasks: Vec<tokio::task::JoinHandle<()>>) {
    for log in logs {
        log.shutdown().await;
    }
    for task in tasks {
        task.await.unwrap();
    }
}

async fn close(stores: Vec<Store>, pg: Option<PgDatabase>) {
    for store in stores {
        store.close().await;
    }
    if let Some(db) = pg {
        db.drop_database().await;
    }
}

#[tokio::main]
async fn main() {
    sluse::auth::install_crypto_provider();
    let args = Args::parse();
    assert!(
        args.replicas >= 1 && (args.replicas == 1 || args.postgres.is_some()),
        "--replicas: at least 1, and more only with --postgres (one process writes a SQLite file)"
    );
    let largest = args.writers.iter().copied().max().unwrap_or(1).max(1);
    println!(
        "writers  records    seconds   records/s   durable  dropped  verified  index lag  catch-up s  mean batch  index ms/txn"
    );
    for &writers in &args.writers {
        let writers = writers.max(1);
        let total = (args.records * writers / largest).max(2_000.max(writers));
        let r = run(&args, writers, total).await;
        println!(
            "{:>7}  {:>7}  {:>9.2}  {:>10.0}  {:>8}  {:>7}  {:>8}  {:>9}  {:>10.2}  {:>10.1}  {:>12.1}",
            r.writers,
            r.records,
            r.seconds,
            r.records as f64 / r.seconds,
            r.durable,
            r.records.saturating_sub(r.durable),
            r.verified,
            r.lag,
            r.catch_up,
            r.mean_batch,
            r.index_ms
        );
    }
}
