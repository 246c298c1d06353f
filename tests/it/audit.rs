//! The audit chain: group commit under concurrency, tamper detection (on SQLite by editing the file
//! directly), signed checkpoints that expose a cut or rewritten tail, the CLI, the HTTP endpoints,
//! and the independent Python verifier.

use std::{collections::BTreeSet, path::PathBuf, sync::Arc};

use serde_json::Value;
use sluse::{
    app::Application,
    audit::{
        self, Appended, AppenderConfig, AuditDecision, AuditLog, AuditReason, AuditRecord,
        AuditStore, CheckpointSet, Entry, FactsStamp, Outcome, Requester, Verification,
        canonical::{link, unhex_hash},
        checkpoint::public_key,
        cli::write_jsonl,
    },
    auth::Role,
    clock::{SharedClock, SystemClock},
    config::Config,
    cpr::Pseudonym,
    keys::{self, SigningKey},
    notices::{InboxItem, NoticeRecord, NoticeStore},
    policy::{Basis, BasisKind},
    store::{OpenMode, Store},
};
use sqlx::Connection;
use tempfile::TempDir;
use tokio::task::JoinHandle;

use crate::{
    cli::sluse,
    helpers::{Backend, Options, drop_pg_database, prepare},
    tokens::TestKeys,
};

/// A migrated database with the test config and keys, without the HTTP server.
struct Fixture {
    dir: TempDir,
    config_path: PathBuf,
    config: Config,
    store: Store,
    key: Arc<SigningKey>,
    pg: Option<(String, String)>,
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        let (dir, config_path, _, pg) = prepare(&Options {
            backend,
            ..Options::default()
        })
        .await;
        let config = Config::load(&config_path).unwrap();
        let store = Store::connect(&config.database, OpenMode::Existing)
            .await
            .unwrap();
        let key = Arc::new(keys::load_signing_key(&config.audit.signing_key).unwrap());
        Fixture {
            dir,
            config_path,
            config,
            store,
            key,
            pg,
        }
    }

    fn log(&self, checkpoint_every: u64) -> (AuditLog, JoinHandle<()>) {
        AuditLog::start(
            self.store.clone(),
            self.key.clone(),
            Arc::new(SystemClock),
            AppenderConfig {
                checkpoint_every,
                ..AppenderConfig::default()
            },
        )
    }

    /// Appends `n` records one after another (so checkpoints fall exactly every `every`), then
    /// shuts the appender down.
    async fn chain(&self, n: usize, every: u64) {
        let (log, task) = self.log(every);
        for i in 0..n {
            log.append(record(i)).await.unwrap();
        }
        log.shutdown().await;
        task.await.unwrap();
    }

    /// Runs SQL against the database directly, as someone with access to it would: on SQLite, a
    /// separate connection to the file.
    async fn tamper(&self, statements: &[&str]) {
        match &self.store {
            Store::Sqlite(_) => {
                let path = self.dir.path().join("sluse.db");
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                // The lookup tables live in a file of their own (decision 0026).
                sqlx::query("ATTACH DATABASE $1 AS lookups")
                    .bind(format!("{}-lookups", path.display()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                for sql in statements {
                    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                }
                conn.close().await.unwrap();
            }
            Store::Postgres(pg) => {
                for sql in statements {
                    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                        .execute(pg.pool())
                        .await
                        .unwrap();
                }
            }
        }
    }

    async fn hash_at(&self, seq: u64) -> String {
        let page = audit::AuditStore::audit_page(&self.store, seq - 1, 1)
            .await
            .unwrap();
        page[0].hash.clone()
    }

    async fn verify(&self, file: Option<&CheckpointSet>) -> Verification {
        audit::verify(&self.store, &[public_key(&self.key)], file, |_| {})
            .await
            .unwrap()
    }

    async fn checkpoint_file(&self) -> CheckpointSet {
        CheckpointSet {
            checkpoints: audit::all_checkpoints(&self.store).await.unwrap(),
            public_keys: vec![public_key(&self.key)],
        }
    }

    fn bad_seq(v: &Verification) -> u64 {
        assert!(!v.ok, "expected a broken chain: {v:?}");
        v.first_bad.as_ref().unwrap().seq
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(drop_pg_database(&admin, &name));
            })
            .join();
        }
    }
}

/// A record that varies with `i`: permits and denials, with and without subject and basis.
fn record(i: usize) -> AuditRecord {
    let permit = !i.is_multiple_of(3);
    AuditRecord {
        disclosure_id: uuid::Uuid::now_v7(),
        at: "2026-03-01T09:15:00.123456789Z".parse().unwrap(),
        requester: Requester {
            sub: format!("kp-{}", i % 7),
            dept: "youth-unit".to_owned(),
            role: Role::ContactPerson,
        },
        subject_pseudonym: (!i.is_multiple_of(5))
            .then(|| Pseudonym::from_stored(format!("ps_{i:064x}"))),
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
            id: format!("consent-{i}"),
        }),
        reasons: if permit {
            vec![]
        } else {
            vec![AuditReason {
                code: "no_consent".to_owned(),
                message: "no consent covers « the recipient » ✓".to_owned(),
            }]
        },
        fields_disclosed: if permit {
            vec!["active".to_owned(), "caseworker.name".to_owned()]
        } else {
            vec![]
        },
        fields_redacted: vec!["family_notes".to_owned()],
        payload_digest: permit.then(|| audit::payload_digest(format!("{{\"i\":{i}}}").as_bytes())),
        policy_version: "test-v1".to_owned(),
    }
}

#[tokio::test]
async fn a_thousand_concurrent_appends_from_64_tasks_make_one_gap_free_chain_that_verifies() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        let (log, task) = fx.log(100);
        let writers: Vec<_> = (0..64)
            .map(|w| {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut seqs = Vec::new();
                    for i in (w..1000).step_by(64) {
                        let chained = log.append(record(i)).await.unwrap();
                        seqs.push(chained.seq);
                    }
                    seqs
                })
            })
            .collect();
        let mut seqs = BTreeSet::new();
        for writer in writers {
            for seq in writer.await.unwrap() {
                assert!(seqs.insert(seq), "seq {seq} handed out twice ({backend:?})");
            }
        }
        assert_eq!(seqs, (1..=1000).collect::<BTreeSet<u64>>(), "{backend:?}");
        log.shutdown().await;
        task.await.unwrap();

        let v = fx.verify(None).await;
        assert!(v.ok, "{backend:?}: {v:?}");
        assert_eq!(v.records, 1000);
        assert!(v.checkpoints >= 1, "{backend:?}: {v:?}");
        let head = audit::AuditStore::audit_head(&fx.store).await.unwrap();
        assert_eq!((head.seq, head.hash), (1000, v.head_hash.clone()));
        // The final checkpoint covers the head.
        let file = fx.checkpoint_file().await;
        assert_eq!(file.checkpoints.last().unwrap().seq, 1000);
    }
}

/// A notice entry for `key`, with one record and one inbox item.
fn notice_entry(key: &str, i: usize) -> Entry {
    let record = record(i);
    let notice_id = uuid::Uuid::now_v7().to_string();
    let at = "2026-03-01T09:15:00Z".parse().unwrap();
    Entry {
        items: vec![InboxItem {
            id: uuid::Uuid::now_v7().to_string(),
            notice_id: notice_id.clone(),
            recipient: "youth-unit".to_owned(),
            kind: "absence".to_owned(),
            sealed: vec![1, 2, 3],
            redacted: vec![],
            basis: None,
            disclosure_id: record.disclosure_id.to_string(),
            received_at: at,
            acked_at: None,
            acked_by: None,
        }],
        records: vec![record],
        notice: Some(NoticeRecord {
            id: notice_id,
            sender_dept: "nordskolen".to_owned(),
            sender_sub: "system".to_owned(),
            idempotency_key: key.to_owned(),
            body_digest: format!("digest-{i}"),
            kind: "absence".to_owned(),
            subject_pseudonym: "ps_1".to_owned(),
            response: Some(serde_json::json!({"status": 202, "body": {"i": i}})),
            created_at: at,
        }),
        facts: None,
    }
}

/// Under steady appends with readers always busy, PASSIVE checkpoints alone never let the WAL
/// start over; the checkpointer's RESTART keeps it small, and everything stays readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_while_readers_never_pause() {
    let fx = Fixture::new(Backend::Sqlite).await;
    let Store::Sqlite(sqlite) = &fx.store else {
        unreachable!()
    };
    let wal = fx.dir.path().join("sluse.db-wal");
    // Restart past 64 frames (256 KiB); production waits for 16 MiB.
    let checkpointer = sqlite.spawn_checkpointer(std::time::Duration::from_millis(20), 64);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..6)
        .map(|_| {
            let (store, stop) = (fx.store.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    store.audit_page(0, 50).await.unwrap();
                }
            })
        })
        .collect();
    let (log, task) = fx.log(10_000);
    let mut largest = 0;
    for round in 0..150 {
        let batch: Vec<_> = (0..16).map(|i| record(round * 16 + i)).collect();
        log.append_many(batch).await.unwrap();
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    checkpointer.abort();
    log.shutdown().await;
    task.await.unwrap();

    // 2,400 records take several MiB of WAL frames when the WAL is never rewound.
    assert!(largest < 2 * 1024 * 1024, "the WAL grew to {largest} bytes");
    let v = fx.verify(None).await;
    assert!(v.ok && v.records == 2400, "{v:?}");
}

/// A reader that keeps its snapshot for long (a DPO's export of millions of records) keeps the WAL
/// from starting over. The checkpointer then postpones the restart; it does not wait for the
/// reader inside SQLite while holding every writer (the busy timeout, 5 s per pass).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_reader_postpones_the_wal_restart_and_never_holds_the_writers() {
    let fx = Fixture::new(Backend::Sqlite).await;
    let Store::Sqlite(sqlite) = &fx.store else {
        unreachable!()
    };
    let (log, task) = fx.log(10_000);
    log.append_many((0..16).map(record).collect())
        .await
        .unwrap();
    let mut reader = sqlite.pool().acquire().await.unwrap();
    sqlx::query("BEGIN").execute(&mut *reader).await.unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    assert_eq!(seen, 16);
    // Restart past one frame, every 10 ms: every pass finds the reader in the way.
    let checkpointer = sqlite.spawn_checkpointer(std::time::Duration::from_millis(10), 1);
    let started = std::time::Instant::now();
    let appends = async {
        for round in 1..=20 {
            log.append_many((0..4).map(|i| record(16 * round + i)).collect())
                .await
                .unwrap();
        }
    };
    let finished = tokio::time::timeout(std::time::Duration::from_secs(10), appends).await;
    let took = started.elapsed();
    assert!(
        finished.is_ok() && took < std::time::Duration::from_millis(2500),
        "80 appends took {took:?} while a reader held its snapshot"
    );
    sqlx::query("ROLLBACK").execute(&mut *reader).await.unwrap();
    drop(reader);
    checkpointer.abort();
    log.shutdown().await;
    task.await.unwrap();
    let v = fx.verify(None).await;
    assert!(v.ok && v.records == 96, "{v:?}");
}

/// What the lookups by subject, requester and consent answer for [`record`]s `0..n`: the seqs of
/// subject 7's records, of requester `kp-3`'s, and the disclosure ids on `consent-8`.
async fn lookups(store: &Store) -> (Vec<u64>, Vec<u64>, Vec<String>) {
    use sluse::{
        audit::{AuditFilter, AuditQuery},
        notices::withdrawal::ConsentDisclosures,
    };
    let seqs = |rows: Vec<audit::StoredRecord>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    let subject = AuditFilter {
        subject: record(7).subject_pseudonym,
        ..AuditFilter::default()
    };
    let requester = AuditFilter {
        requester: Some("kp-3".to_owned()),
        ..AuditFilter::default()
    };
    (
        seqs(store.query_audit(&subject, None, 100).await.unwrap()),
        seqs(store.query_audit(&requester, Some(50), 100).await.unwrap()),
        store
            .disclosures_on_consent("consent-8")
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.disclosure_id)
            .collect(),
    )
}

/// The seqs of the records of `record(i)`'s subject, newest first.
async fn by_subject_of(store: &Store, i: usize) -> Vec<u64> {
    let filter = audit::AuditFilter {
        subject: record(i).subject_pseudonym,
        ..audit::AuditFilter::default()
    };
    let rows = audit::AuditQuery::query_audit(store, &filter, None, 100)
        .await
        .unwrap();
    rows.iter().map(|r| r.seq).collect()
}

/// On SQLite the lookups live in a file of their own (decision 0026), tied to the database by the
/// hash of the record at their mark. A database restored from a copy older than its lookups file
/// does not bear that mark out: the file is emptied and filled again, and no record appended
/// after the restore hides behind a mark that the old history had reached.
#[tokio::test]
async fn a_lookups_file_ahead_of_a_restored_database_is_rebuilt_not_trusted() {
    let fx = Fixture::new(Backend::Sqlite).await;
    let Store::Sqlite(sqlite) = &fx.store else {
        unreachable!("a SQLite fixture")
    };
    let dir = fx.dir.path();
    let copy = dir.join("copy.db");
    fx.chain(30, 1000).await;
    sqlx::query("VACUUM INTO $1")
        .bind(copy.to_str().unwrap())
        .execute(sqlite.pool())
        .await
        .unwrap();
    fx.chain(30, 1000).await;
    sqlite.index_all().await.unwrap();
    // The lookups file as it was then, beside the older copy of the database.
    let copy_lookups = dir.join("copy.db-lookups");
    sqlx::query("VACUUM lookups INTO $1")
        .bind(copy_lookups.to_str().unwrap())
        .execute(sqlite.pool())
        .await
        .unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", copy_lookups.display()))
        .await
        .unwrap();
    let mark: i64 = sqlx::query_scalar("SELECT indexed_upto FROM audit_index_state")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert_eq!(
        mark, 60,
        "the copied lookups reach past the copied database's 30 records"
    );

    let mut database = fx.config.database.clone();
    database.url = format!("sqlite://{}", copy.display()).into();
    let restored = Store::connect(&database, OpenMode::Existing).await.unwrap();
    let Store::Sqlite(restored_sqlite) = &restored else {
        unreachable!("a SQLite store")
    };
    assert_eq!(
        restored_sqlite.index_lag().await.unwrap(),
        30,
        "every record of the restored chain is to be indexed again"
    );
    let (log, task) = AuditLog::start(
        restored.clone(),
        fx.key.clone(),
        Arc::new(SystemClock),
        AppenderConfig::default(),
    );
    for i in 100..110 {
        log.append(record(i)).await.unwrap();
    }
    log.shutdown().await;
    task.await.unwrap();
    // record(107) is the 8th record after the restore: seq 38, which the old history had indexed
    // with another record's keys.
    assert_eq!(by_subject_of(&restored, 107).await, [38]);
    restored_sqlite.index_all().await.unwrap();
    assert_eq!(by_subject_of(&restored, 107).await, [38], "indexed");
    assert_eq!(
        by_subject_of(&restored, 7).await,
        [8],
        "the old history's seq 38 is gone"
    );
    let verified = audit::verify(&restored, &[public_key(&fx.key)], None, |_| {})
        .await
        .unwrap();
    assert!(verified.ok, "{verified:?}");
    restored.close().await;
}

/// On SQLite the lookups by subject, requester and consent are written behind the chain
/// (decision 0021): a record is found the moment its append has committed, before the indexer
/// has copied its keys, halfway through, and after; the answers never change.
#[tokio::test]
async fn records_are_found_by_subject_requester_and_consent_before_and_after_their_keys_are_indexed()
 {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        fx.chain(60, 1000).await;
        let record_8 = audit::AuditQuery::audit_record(&fx.store, 9)
            .await
            .unwrap()
            .unwrap()
            .record
            .unwrap();
        // Record i has seq i + 1; requester kp-3 made records 3, 10, 17, …; `before` 50 keeps seqs
        // below 50, newest first.
        let expected = (
            vec![8],
            (0..49)
                .filter(|i| i % 7 == 3)
                .rev()
                .map(|i| i + 1)
                .collect(),
            vec![record_8.disclosure_id.to_string()],
        );
        assert_eq!(lookups(&fx.store).await, expected, "{backend:?}");
        let Store::Sqlite(sqlite) = &fx.store else {
            continue;
        };
        assert_eq!(sqlite.index_lag().await.unwrap(), 60, "nothing indexed yet");
        assert_eq!(sqlite.index_pending(8).await.unwrap(), 8);
        assert_eq!(sqlite.index_lag().await.unwrap(), 52);
        assert_eq!(
            lookups(&fx.store).await,
            expected,
            "record 8 is at the mark"
        );
        // Tables ahead of the mark (rows a pass wrote that another pass writes again): the
        // answers stay the same, verify finds nothing wrong, and the next pass does not insert
        // those keys twice.
        fx.tamper(&[
            "INSERT INTO audit_by_subject (epoch, subject_pseudonym, seq) \
             SELECT seq >> 12, subject_pseudonym, seq FROM audit_log \
             WHERE seq > 8 AND seq <= 20 AND subject_pseudonym IS NOT NULL",
            "INSERT INTO audit_by_requester (epoch, requester_sub, seq) \
             SELECT seq >> 12, requester_sub, seq FROM audit_log WHERE seq > 8 AND seq <= 20",
        ])
        .await;
        assert_eq!(
            lookups(&fx.store).await,
            expected,
            "tables ahead of the mark"
        );
        assert!(fx.verify(None).await.ok);
        while sqlite.index_pending(25).await.unwrap() > 0 {}
        assert_eq!(sqlite.index_lag().await.unwrap(), 0);
        assert_eq!(lookups(&fx.store).await, expected, "all indexed");
        // The tables hold each key once: the subject's table has one row per record with one.
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_by_subject")
            .fetch_one(sqlite.pool())
            .await
            .unwrap();
        assert_eq!(rows, 48, "records 0, 5, 10, … have no subject");
        assert!(fx.verify(None).await.ok);
        // A row taken out of a lookup table would hide a record from the DPO's searches, and one
        // moved to another key would show it under the wrong subject: verify finds both.
        fx.tamper(&["DELETE FROM audit_by_subject WHERE seq = 20"])
            .await;
        assert_eq!(Fixture::bad_seq(&fx.verify(None).await), 20);
        fx.tamper(&[
            "INSERT INTO audit_by_subject (epoch, subject_pseudonym, seq) \
             SELECT 0, subject_pseudonym, 20 FROM audit_log WHERE seq = 9",
            "UPDATE audit_by_requester SET requester_sub = 'kp-0' WHERE seq = 12",
        ])
        .await;
        assert_eq!(Fixture::bad_seq(&fx.verify(None).await), 12);
    }
}

/// Record `i` of the department and time test: three sources, two recipients, a minute apart.
fn spread(i: usize) -> AuditRecord {
    let mut r = record(i);
    r.source = Some(["social-services", "school", "ppr"][i % 3].to_owned());
    r.recipient = (!i.is_multiple_of(4)).then(|| ["youth-unit", "job-centre"][i % 2].to_owned());
    r.at += jiff::SignedDuration::from_secs(60 * i as i64);
    r
}

/// What a DPO asks by department and time: records by department (source or recipient), by time
/// range, and the week's counts and refusal reasons.
async fn by_department_and_time(
    store: &Store,
) -> (Vec<u64>, Vec<u64>, Vec<u64>, u64, Vec<(String, u64)>) {
    use sluse::audit::{AuditFilter, AuditQuery};
    let seqs = |rows: Vec<audit::StoredRecord>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    let base = record(0).at;
    let minutes = |m: i64| base + jiff::SignedDuration::from_secs(60 * m);
    let school = AuditFilter {
        department: Some("school".to_owned()),
        ..AuditFilter::default()
    };
    let job_centre = AuditFilter {
        department: Some("job-centre".to_owned()),
        ..AuditFilter::default()
    };
    let window = AuditFilter {
        from: Some(minutes(10)),
        to: Some(minutes(25)),
        ..AuditFilter::default()
    };
    let counts = store.audit_counts(minutes(30)).await.unwrap();
    (
        seqs(store.query_audit(&school, None, 100).await.unwrap()),
        seqs(store.query_audit(&job_centre, Some(40), 100).await.unwrap()),
        seqs(store.query_audit(&window, None, 100).await.unwrap()),
        counts.iter().map(|c| c.count).sum(),
        store.refusal_reasons(minutes(30)).await.unwrap(),
    )
}

/// On SQLite the lookups by department and time are written behind the chain as well (migration
/// 0008): the answers are those of a plain filter over the records, before, halfway through and
/// after indexing, and verify finds a lookup row that was edited.
#[tokio::test]
async fn records_are_found_by_department_and_time_before_and_after_their_keys_are_indexed() {
    const N: usize = 60;
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        let (log, task) = fx.log(1000);
        for i in 0..N {
            log.append(spread(i)).await.unwrap();
        }
        log.shutdown().await;
        task.await.unwrap();
        // Record i has seq i + 1. The expected answers, from the records themselves, newest first.
        let newest_first = |keep: &dyn Fn(usize, &AuditRecord) -> bool| -> Vec<u64> {
            (0..N)
                .rev()
                .filter(|&i| keep(i, &spread(i)))
                .map(|i| i as u64 + 1)
                .collect()
        };
        let is = |v: &Option<String>, d: &str| v.as_deref() == Some(d);
        let base = record(0).at;
        let minutes = |m: i64| base + jiff::SignedDuration::from_secs(60 * m);
        let since = (N - 30) as u64;
        let expected = (
            newest_first(&|_, r| is(&r.source, "school") || is(&r.recipient, "school")),
            newest_first(&|i, r| {
                i + 1 < 40 && (is(&r.source, "job-centre") || is(&r.recipient, "job-centre"))
            }),
            newest_first(&|_, r| r.at >= minutes(10) && r.at < minutes(25)),
            since,
            vec![(
                "no_consent".to_owned(),
                (30..N).filter(|i| i % 3 == 0).count() as u64,
            )],
        );
        assert!(!expected.0.is_empty() && !expected.1.is_empty() && expected.2.len() == 15);
        assert_eq!(
            by_department_and_time(&fx.store).await,
            expected,
            "{backend:?}"
        );
        let Store::Sqlite(sqlite) = &fx.store else {
            continue;
        };
        assert_eq!(
            sqlite.index_lag().await.unwrap(),
            N as u64,
            "nothing indexed yet"
        );
        assert_eq!(sqlite.index_pending(20).await.unwrap(), 20);
        assert_eq!(by_department_and_time(&fx.store).await, expected, "halfway");
        while sqlite.index_pending(25).await.unwrap() > 0 {}
        assert_eq!(
            by_department_and_time(&fx.store).await,
            expected,
            "all indexed"
        );
        for (table, rows) in [
            ("audit_by_source", N),
            ("audit_by_recipient", N - N / 4),
            ("audit_by_at", N),
        ] {
            let count: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(sqlite.pool())
                    .await
                    .unwrap();
            assert_eq!(count, rows as i64, "{table}");
        }
        assert!(fx.verify(None).await.ok);
        // A record moved in time would drop out of the DPO's window searches: verify finds it.
        fx.tamper(&["UPDATE audit_by_at SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 33"])
            .await;
        assert_eq!(Fixture::bad_seq(&fx.verify(None).await), 33);
    }
}

/// The lookups by subject, requester and consent are partitioned by epochs of 4,096 records on
/// SQLite (migration 0009): records of one subject, caseworker and consent spread over three
/// epochs are all found, before and after indexing, and a row filed under another epoch than its
/// record's is reported by verify.
#[tokio::test]
async fn lookups_find_a_subjects_records_in_every_epoch() {
    use sluse::{
        audit::{AuditFilter, AuditQuery},
        notices::withdrawal::ConsentDisclosures,
    };
    const N: usize = 9_000;
    let subject = |i: usize| Pseudonym::from_stored(format!("ps_{:064x}", i % 11));
    let spread = |i: usize| {
        let mut r = record(i);
        r.subject_pseudonym = Some(subject(i));
        r.requester.sub = format!("kp-{}", i % 13);
        if let Some(basis) = &mut r.basis {
            basis.id = format!("consent-{}", i % 17);
        }
        r
    };
    // Record i has seq i + 1; newest first, as the search answers.
    let expected: Vec<u64> = (0..N)
        .rev()
        .filter(|i| i % 11 == 4 && i % 13 == 6)
        .map(|i| i as u64 + 1)
        .take(100)
        .collect();
    let on_consent = (0..N)
        .filter(|i| i % 17 == 5 && spread(*i).basis.is_some())
        .count();
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        let records: Vec<AuditRecord> = (0..N).map(spread).collect();
        for chunk in records.chunks(1000) {
            fx.store
                .append_entries(vec![Entry::records(chunk.to_vec())])
                .await
                .unwrap();
        }
        let filter = AuditFilter {
            subject: Some(subject(4)),
            requester: Some("kp-6".to_owned()),
            ..AuditFilter::default()
        };
        let found = |store: Store| {
            let filter = filter.clone();
            async move {
                let rows = store.query_audit(&filter, None, 100).await.unwrap();
                let consent = store.disclosures_on_consent("consent-5").await.unwrap();
                (
                    rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
                    consent.len(),
                )
            }
        };
        assert!(expected.len() > 50 && expected.last() < Some(&4096));
        assert_eq!(
            found(fx.store.clone()).await,
            (expected.clone(), on_consent),
            "{backend:?}"
        );
        let Store::Sqlite(sqlite) = &fx.store else {
            continue;
        };
        while sqlite.index_pending(4096).await.unwrap() > 0 {}
        assert_eq!(
            found(fx.store.clone()).await,
            (expected.clone(), on_consent),
            "indexed"
        );
        let epochs: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT epoch FROM audit_by_subject ORDER BY 1")
                .fetch_all(sqlite.pool())
                .await
                .unwrap();
        assert_eq!(epochs, [0, 1, 2]);
        assert!(fx.verify(None).await.ok);
        fx.tamper(&["UPDATE audit_by_requester SET epoch = 0 WHERE seq = 5000"])
            .await;
        assert_eq!(Fixture::bad_seq(&fx.verify(None).await), 5000);
    }
}

/// Another process (a replica, or the CLI) writes about one subject: this process's cached facts
/// are behind, and the batch that would make a decision on that subject's facts durable refuses
/// it. Decisions about other subjects, made before the write, stand (decision 0029).
#[tokio::test]
async fn an_entry_decided_on_facts_a_registry_write_has_changed_writes_nothing() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        let written = Pseudonym::from_stored(format!("ps_{:064x}", 7));
        let other = Pseudonym::from_stored(format!("ps_{:064x}", 8));
        let before = fx.store.registry_of(&written).await.unwrap();
        assert_eq!(before.subject_version, 0, "{backend:?}: never written");
        let stamp = |subject: &Pseudonym, registry: u64, subject_version: u64| {
            Some(FactsStamp {
                registry,
                subject: subject.as_str().to_owned(),
                subject_version,
            })
        };
        fx.tamper(&[
            "UPDATE audit_head SET registry_version = registry_version + 1 WHERE id = 1",
            &format!(
                "INSERT INTO registry_versions (subject_pseudonym, version) VALUES ('{}', 1)",
                written.as_str()
            ),
        ])
        .await;
        let cached = fx.store.registry_of(&written).await.unwrap();
        assert_eq!(
            cached.version, before.version,
            "{backend:?}: not heard of yet"
        );

        let outcomes = fx
            .store
            .append_entries(vec![
                Entry {
                    facts: stamp(&written, before.version, 0),
                    ..notice_entry("k1", 1)
                },
                Entry {
                    facts: stamp(&other, before.version, 0),
                    ..Entry::records(vec![record(2)])
                },
                Entry {
                    facts: stamp(&other, before.version, 0),
                    ..notice_entry("k2", 3)
                },
                Entry::records(vec![record(4)]),
            ])
            .await
            .unwrap();
        assert_eq!(outcomes[0], Appended::Stale, "{backend:?}");
        let seqs: Vec<Option<u64>> = outcomes[1..]
            .iter()
            .map(|o| match o {
                Appended::Chained(c) => Some(c[0].seq),
                _ => None,
            })
            .collect();
        assert_eq!(
            seqs,
            [Some(1), Some(2), Some(3)],
            "{backend:?}: {outcomes:?}"
        );
        // Nothing of the stale entry: its key is free and no item was delivered; the other
        // subject's notice is stored and delivered.
        assert!(
            fx.store
                .notice_by_key("nordskolen", "k1")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            fx.store
                .notice_by_key("nordskolen", "k2")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            fx.store.inbox("youth-unit", None, 10).await.unwrap().len(),
            1
        );
        // The batch told this process's cache: the facts are read afresh.
        let fresh = fx.store.registry_of(&written).await.unwrap();
        assert_eq!(
            (fresh.version, fresh.subject_version),
            (before.version + 1, 1),
            "{backend:?}"
        );

        // Decided again on the facts as they are, the notice commits.
        let again = fx
            .store
            .append_entries(vec![Entry {
                facts: stamp(&written, fresh.version, fresh.subject_version),
                ..notice_entry("k1", 5)
            }])
            .await
            .unwrap();
        assert!(
            matches!(&again[0], Appended::Chained(c) if c[0].seq == 4),
            "{backend:?}: {again:?}"
        );
        assert!(fx.verify(None).await.ok, "{backend:?}");
    }
}

/// A stale entry's notice and a current one with the same key in one batch: whichever the backend
/// keeps, the current one is never told its key is taken by a notice that does not commit (its
/// retry would find nothing to replay).
#[tokio::test]
async fn a_key_held_by_a_stale_entry_of_the_batch_is_not_answered_as_taken() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        let subject = Pseudonym::from_stored(format!("ps_{:064x}", 9));
        let before = fx.store.registry_of(&subject).await.unwrap();
        fx.tamper(&[
            "UPDATE audit_head SET registry_version = registry_version + 1 WHERE id = 1",
            &format!(
                "INSERT INTO registry_versions (subject_pseudonym, version) VALUES ('{}', 1)",
                subject.as_str()
            ),
        ])
        .await;
        let stamp = |registry: u64, subject_version: u64| {
            Some(FactsStamp {
                registry,
                subject: subject.as_str().to_owned(),
                subject_version,
            })
        };
        let outcomes = fx
            .store
            .append_entries(vec![
                Entry {
                    facts: stamp(before.version, 0),
                    ..notice_entry("k1", 1)
                },
                Entry {
                    facts: stamp(before.version + 1, 1),
                    ..notice_entry("k1", 2)
                },
            ])
            .await
            .unwrap();
        assert_eq!(outcomes[0], Appended::Stale, "{backend:?}");
        let stored = fx.store.notice_by_key("nordskolen", "k1").await.unwrap();
        match &outcomes[1] {
            Appended::Chained(_) => assert_eq!(
                stored.map(|n| n.body_digest).as_deref(),
                Some("digest-2"),
                "{backend:?}"
            ),
            Appended::Stale => assert!(stored.is_none(), "{backend:?}"),
            Appended::KeyTaken => panic!("{backend:?}: told its key is taken by a stale notice"),
        }
        assert!(fx.verify(None).await.ok, "{backend:?}");
    }
}

/// Two processes append batches that share idempotency keys, listed in opposite orders, at the
/// same time: neither waits on the other forever, and each key is kept exactly once.
#[tokio::test]
async fn batches_of_two_processes_sharing_keys_in_opposite_orders_both_complete() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        let other = Store::connect(&fx.config.database, OpenMode::Existing)
            .await
            .unwrap();
        for round in 0..20 {
            let (a, b) = (format!("a{round}"), format!("b{round}"));
            let (mine, theirs) = tokio::join!(
                fx.store
                    .append_entries(vec![notice_entry(&a, 1), notice_entry(&b, 2)]),
                other.append_entries(vec![notice_entry(&b, 3), notice_entry(&a, 4)]),
            );
            let (mine, theirs) = (mine.unwrap(), theirs.unwrap());
            // Per key: was it chained by this process, and by the other.
            let chained = |o: &Appended| matches!(o, Appended::Chained(_));
            let keys = [
                (&a, chained(&mine[0]), chained(&theirs[1])),
                (&b, chained(&mine[1]), chained(&theirs[0])),
            ];
            for (key, here, there) in keys {
                assert!(
                    here ^ there,
                    "{backend:?}: key {key}: {mine:?} / {theirs:?}"
                );
                assert!(
                    fx.store
                        .notice_by_key("nordskolen", key)
                        .await
                        .unwrap()
                        .is_some(),
                    "{backend:?}: key {key}"
                );
            }
        }
        assert!(fx.verify(None).await.ok, "{backend:?}");
        other.close().await;
    }
}

#[tokio::test]
async fn an_entry_whose_idempotency_key_is_taken_writes_nothing_and_the_rest_of_its_batch_commits()
{
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        let outcomes = fx
            .store
            .append_entries(vec![
                notice_entry("k1", 1),
                notice_entry("k1", 2),
                Entry::records(vec![record(3)]),
                notice_entry("k2", 4),
            ])
            .await
            .unwrap();
        let seqs: Vec<Option<Vec<u64>>> = outcomes
            .iter()
            .map(|o| match o {
                Appended::Chained(c) => Some(c.iter().map(|c| c.seq).collect()),
                Appended::KeyTaken => None,
                Appended::Stale => unreachable!("no entry carries facts"),
            })
            .collect();
        assert_eq!(
            seqs,
            [Some(vec![1]), None, Some(vec![2]), Some(vec![3])],
            "{backend:?}"
        );
        // A later batch finds the key taken too; its other entries commit.
        let later = fx
            .store
            .append_entries(vec![notice_entry("k2", 5), notice_entry("k3", 6)])
            .await
            .unwrap();
        assert!(matches!(later[0], Appended::KeyTaken), "{backend:?}");
        assert!(
            matches!(&later[1], Appended::Chained(c) if c[0].seq == 4),
            "{backend:?}"
        );

        // The first notice of each key is stored, answer included; the skipped entry's item is not.
        let k1 = fx
            .store
            .notice_by_key("nordskolen", "k1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(k1.body_digest, "digest-1");
        assert_eq!(k1.response.unwrap()["body"]["i"], 1);
        let inbox = fx.store.inbox("youth-unit", None, 100).await.unwrap();
        assert_eq!(inbox.len(), 3, "{backend:?}: one item per committed notice");
        let v = fx.verify(None).await;
        assert!(v.ok && v.records == 4, "{backend:?}: {v:?}");
    }
}

/// The notice ids in `recipient`'s inbox after `cursor`, and the cursor after the last of them.
async fn inbox_after(store: &Store, cursor: Option<u64>) -> (Vec<String>, Option<u64>) {
    let page = store.inbox("youth-unit", cursor, 1000).await.unwrap();
    let next = page.last().map(|r| r.seq).or(cursor);
    (page.into_iter().map(|r| r.item.notice_id).collect(), next)
}

#[tokio::test]
async fn an_inbox_item_committed_after_a_later_stamped_one_is_not_skipped_by_a_reader_in_between() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        // Decided first, committed second: its received_at is the earlier.
        let mut slow = notice_entry("slow", 1);
        slow.items[0].received_at = "2026-03-01T09:00:00Z".parse().unwrap();
        let fast = notice_entry("fast", 2);
        fx.store.append_entries(vec![fast.clone()]).await.unwrap();
        let (seen, cursor) = inbox_after(&fx.store, None).await;
        assert_eq!(seen, [fast.items[0].notice_id.clone()], "{backend:?}");
        fx.store.append_entries(vec![slow.clone()]).await.unwrap();
        let (seen, _) = inbox_after(&fx.store, cursor).await;
        assert_eq!(seen, [slow.items[0].notice_id.clone()], "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_polling_by_cursor_while_two_appenders_deliver_sees_every_item_once() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        let other = Store::connect(&fx.config.database, OpenMode::Existing)
            .await
            .unwrap();
        let writers: Vec<_> = [fx.store.clone(), other]
            .into_iter()
            .enumerate()
            .map(|(w, store)| {
                tokio::spawn(async move {
                    let mut sent = Vec::new();
                    for i in 0..60 {
                        // Stamped before the append, like a decided notice; two writers' batches
                        // interleave, so stamps and commits disagree in order now and then.
                        let entries: Vec<Entry> = (0..3)
                            .map(|j| notice_entry(&format!("w{w}-{i}-{j}"), i))
                            .collect();
                        sent.extend(entries.iter().map(|e| e.items[0].notice_id.clone()));
                        store.append_entries(entries).await.unwrap();
                    }
                    sent
                })
            })
            .collect();
        let (mut seen, mut cursor) = (Vec::new(), None);
        while !writers.iter().all(|w| w.is_finished()) {
            let (page, next) = inbox_after(&fx.store, cursor).await;
            seen.extend(page);
            cursor = next;
        }
        seen.extend(inbox_after(&fx.store, cursor).await.0);
        let mut sent = Vec::new();
        for w in writers {
            sent.extend(w.await.unwrap());
        }
        assert_eq!(seen.len(), sent.len(), "{backend:?}: every item once");
        let seen: BTreeSet<String> = seen.into_iter().collect();
        let sent: BTreeSet<String> = sent.into_iter().collect();
        assert_eq!(seen, sent, "{backend:?}");
    }
}

#[tokio::test]
async fn several_appenders_on_one_database_keep_one_chain() {
    // Two appenders stand for two gateway processes: the head is taken under a lock per batch.
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        let other = Store::connect(&fx.config.database, OpenMode::Existing)
            .await
            .unwrap();
        let (a, ta) = fx.log(1000);
        let (b, tb) = AuditLog::start(
            other,
            fx.key.clone(),
            Arc::new(SystemClock),
            AppenderConfig::default(),
        );
        let writers: Vec<_> = (0..32)
            .map(|w| {
                let log = if w % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move {
                    for i in 0..10 {
                        log.append(record(w * 10 + i)).await.unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        a.shutdown().await;
        b.shutdown().await;
        ta.await.unwrap();
        tb.await.unwrap();
        let v = fx.verify(None).await;
        assert!(v.ok && v.records == 320, "{backend:?}: {v:?}");
    }
}

#[tokio::test]
async fn an_edited_field_is_detected_at_that_record() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        fx.chain(20, 5).await;
        assert!(fx.verify(None).await.ok);
        fx.tamper(&["UPDATE audit_log SET purpose = 'kui.follow_up' WHERE seq = 7"])
            .await;
        let v = fx.verify(None).await;
        assert_eq!(Fixture::bad_seq(&v), 7, "{backend:?}");
        assert!(v.first_bad.unwrap().problem.contains("field was changed"));
        assert_eq!(v.records, 20);
    }
}

#[tokio::test]
async fn an_edited_list_or_an_unreadable_column_is_detected_at_that_record() {
    let fx = Fixture::new(Backend::Sqlite).await;
    fx.chain(20, 5).await;
    fx.tamper(&[r#"UPDATE audit_log SET fields_disclosed = '["active","caseworker.name","caseworker.phone"]' WHERE seq = 11"#])
        .await;
    assert_eq!(Fixture::bad_seq(&fx.verify(None).await), 11);
    fx.tamper(&["UPDATE audit_log SET requester_role = 'boss' WHERE seq = 4"])
        .await;
    let v = fx.verify(None).await;
    assert_eq!(Fixture::bad_seq(&v), 4);
    assert!(v.first_bad.unwrap().problem.contains("requester_role"));
}

#[tokio::test]
async fn a_deleted_row_is_detected_as_a_gap() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        fx.chain(20, 5).await;
        fx.tamper(&["DELETE FROM audit_log WHERE seq = 7"]).await;
        let v = fx.verify(None).await;
        assert_eq!(Fixture::bad_seq(&v), 7, "{backend:?}");
        assert!(v.first_bad.unwrap().problem.contains("missing"));
    }
}

#[tokio::test]
async fn two_swapped_rows_are_detected_at_the_first() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        fx.chain(20, 5).await;
        fx.tamper(&[
            "UPDATE audit_log SET seq = 1000007 WHERE seq = 7",
            "UPDATE audit_log SET seq = 7 WHERE seq = 8",
            "UPDATE audit_log SET seq = 8 WHERE seq = 1000007",
        ])
        .await;
        assert_eq!(Fixture::bad_seq(&fx.verify(None).await), 7, "{backend:?}");
    }
}

#[tokio::test]
async fn a_forged_row_inserted_with_a_valid_hash_is_detected_at_the_next_record() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        fx.chain(20, 5).await;
        // The forger shifts rows 7.. up by one and inserts a row at 7 that links to row 6.
        let prev = unhex_hash(&fx.hash_at(6).await).unwrap();
        let forged = link(6, &prev, record(99));
        let r = &forged.record;
        fx.tamper(&[
            "UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= 7",
            "UPDATE audit_log SET seq = seq - 999999 WHERE seq > 1000000",
            &format!(
                "INSERT INTO audit_log (seq, disclosure_id, at, requester_sub, requester_dept, \
                 requester_role, subject_pseudonym, category, purpose, source, recipient, decision, \
                 outcome, basis_kind, basis_id, reasons, fields_disclosed, fields_redacted, \
                 payload_digest, policy_version, prev_hash, hash) VALUES (7, '{id}', \
                 '2026-03-01T09:15:00.123456Z', '{sub}', 'youth-unit', 'contact_person', '{subject}', \
                 'social.measures', 'kui.contact_person', 'social-services', 'youth-unit', \
                 'deny', 'denied', NULL, NULL, '{reasons}', '[]', '[\"family_notes\"]', NULL, \
                 'test-v1', '{prev}', '{hash}')",
                id = r.disclosure_id,
                sub = r.requester.sub,
                subject = r.subject_pseudonym.as_ref().unwrap(),
                reasons = serde_json::to_string(&r.reasons).unwrap(),
                prev = forged.prev_hash,
                hash = forged.hash,
            ),
        ])
        .await;
        let v = fx.verify(None).await;
        assert_eq!(Fixture::bad_seq(&v), 8, "{backend:?}: {v:?}");
        assert_eq!(v.records, 21);
    }
}

#[tokio::test]
async fn a_cut_tail_is_found_by_the_head_row_and_by_an_exported_checkpoint_when_both_are_hidden() {
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        fx.chain(20, 5).await;
        let exported = fx.checkpoint_file().await;
        assert_eq!(
            exported
                .checkpoints
                .iter()
                .map(|c| c.seq)
                .collect::<Vec<_>>(),
            [5, 10, 15, 20]
        );

        // Cutting rows alone leaves the head row (and the stored checkpoints) pointing past the end.
        fx.tamper(&["DELETE FROM audit_log WHERE seq > 12"]).await;
        let v = fx.verify(None).await;
        assert_eq!(Fixture::bad_seq(&v), 13, "{backend:?}: {v:?}");

        // A careful attacker also moves the head row and deletes the stored checkpoints: the
        // chain alone is then consistent, but the exported checkpoints still expose the cut.
        let hash12 = fx.hash_at(12).await;
        fx.tamper(&[
            &format!("UPDATE audit_head SET seq = 12, hash = '{hash12}' WHERE id = 1"),
            "DELETE FROM audit_checkpoints",
        ])
        .await;
        assert!(fx.verify(None).await.ok, "{backend:?}");
        let v = fx.verify(Some(&exported)).await;
        assert_eq!(Fixture::bad_seq(&v), 13, "{backend:?}: {v:?}");
        assert!(v.first_bad.unwrap().problem.contains("tail"));
    }
}

#[tokio::test]
async fn a_rewritten_tail_is_found_by_an_exported_checkpoint() {
    let fx = Fixture::new(Backend::Sqlite).await;
    fx.chain(20, 5).await;
    let exported = fx.checkpoint_file().await;
    // Edit record 12, then recompute every hash from there and move the head: a consistent chain.
    let mut statements = vec![
        "UPDATE audit_log SET purpose = 'kui.follow_up' WHERE seq = 12".to_owned(),
        "DELETE FROM audit_checkpoints".to_owned(),
    ];
    fx.tamper(&statements.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    statements.clear();
    let mut prev = unhex_hash(&fx.hash_at(11).await).unwrap();
    let rows = audit::AuditStore::audit_page(&fx.store, 11, 100)
        .await
        .unwrap();
    for row in rows {
        let relinked = link(row.seq - 1, &prev, row.record.unwrap());
        statements.push(format!(
            "UPDATE audit_log SET prev_hash = '{}', hash = '{}' WHERE seq = {}",
            relinked.prev_hash, relinked.hash, row.seq
        ));
        prev = unhex_hash(&relinked.hash).unwrap();
    }
    statements.push(format!(
        "UPDATE audit_head SET hash = '{}' WHERE id = 1",
        sluse::audit::canonical::hex(&prev)
    ));
    fx.tamper(&statements.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert!(fx.verify(None).await.ok);
    let v = fx.verify(Some(&exported)).await;
    assert_eq!(Fixture::bad_seq(&v), 15, "{v:?}");
    assert!(v.first_bad.unwrap().problem.contains("checkpoint"));
}

#[tokio::test]
async fn a_forged_checkpoint_is_refused() {
    let fx = Fixture::new(Backend::Sqlite).await;
    fx.chain(10, 5).await;
    let mut exported = fx.checkpoint_file().await;
    exported.checkpoints[0].head_hash = "ab".repeat(32);
    let v = fx.verify(Some(&exported)).await;
    assert_eq!(Fixture::bad_seq(&v), 5);
    assert!(v.first_bad.unwrap().problem.contains("signature"));
}

#[tokio::test]
async fn the_cli_verifies_exports_and_names_the_first_bad_record() {
    let fx = Fixture::new(Backend::Sqlite).await;
    fx.chain(20, 5).await;
    let out = sluse()
        .args(["audit", "verify", "--config"])
        .arg(&fx.config_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("intact: 20 records"), "{stdout}");

    let file = fx.dir.path().join("checkpoints.json");
    let out = sluse()
        .args(["audit", "checkpoint", "export", "--config"])
        .arg(&fx.config_path)
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let set: CheckpointSet =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(set.checkpoints.len(), 4);

    fx.tamper(&[
        "DELETE FROM audit_log WHERE seq > 17",
        "DELETE FROM audit_checkpoints",
    ])
    .await;
    let hash17 = fx.hash_at(17).await;
    fx.tamper(&[&format!(
        "UPDATE audit_head SET seq = 17, hash = '{hash17}' WHERE id = 1"
    )])
    .await;
    let out = sluse()
        .args(["audit", "verify", "--config"])
        .arg(&fx.config_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a cut tail is invisible without the file"
    );
    let out = sluse()
        .args(["audit", "verify", "--config"])
        .arg(&fx.config_path)
        .arg("--checkpoints")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken at seq 18"), "{stderr}");
}

fn python3() -> Option<&'static str> {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3")
}

#[tokio::test]
async fn an_export_round_trips_through_the_documented_python_verifier() {
    let Some(python) = python3() else {
        eprintln!("python3 not found; skipping the Python verifier round trip");
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/verify_export.py");
    for backend in Backend::all() {
        let fx = Fixture::new(backend.clone()).await;
        fx.chain(30, 10).await;
        let export = fx.dir.path().join("audit.jsonl");
        let mut file = std::fs::File::create(&export).unwrap();
        assert_eq!(write_jsonl(&fx.store, &mut file).await.unwrap(), 30);
        drop(file);
        let checkpoints = fx.dir.path().join("checkpoints.json");
        std::fs::write(
            &checkpoints,
            serde_json::to_string(&fx.checkpoint_file().await).unwrap(),
        )
        .unwrap();
        let head = fx.verify(None).await.head_hash;

        let run = |args: &[&std::path::Path]| {
            let out = std::process::Command::new(python)
                .arg(&script)
                .args(args)
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            )
        };
        let flag = std::path::Path::new("--checkpoints");
        assert_eq!(
            run(&[&export]),
            (Some(0), format!("ok 30 {head}")),
            "{backend:?}"
        );
        assert_eq!(
            run(&[&export, flag, &checkpoints]),
            (Some(0), format!("ok 30 {head}"))
        );

        // Change one field of line 12 in the export: the Python verifier finds it there.
        let text = std::fs::read_to_string(&export).unwrap();
        let mut lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        lines[11]["recipient"] = Value::from("jobcenter");
        let edited: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&export, &edited).unwrap();
        let (code, out) = run(&[&export]);
        assert_eq!(code, Some(1));
        assert!(out.starts_with("bad 12 "), "{out}");

        // A truncated export is caught by the checkpoints.
        let cut: String = text.lines().take(25).map(|l| format!("{l}\n")).collect();
        std::fs::write(&export, cut).unwrap();
        assert_eq!(run(&[&export]).0, Some(0));
        let (code, out) = run(&[&export, flag, &checkpoints]);
        assert_eq!(code, Some(1));
        assert!(out.starts_with("bad 26 "), "{out}");
    }
}

/// A gateway started as production starts it, with its state at hand.
struct Served {
    base: String,
    keys: TestKeys,
    state: sluse::app::AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
    pg: Option<(String, String)>,
}

impl Served {
    async fn start(backend: Backend) -> Served {
        let (dir, config_path, keys, pg) = prepare(&Options {
            backend,
            ..Options::default()
        })
        .await;
        let clock: SharedClock = Arc::new(SystemClock);
        let app = Application::build(Config::load(&config_path).unwrap(), clock)
            .await
            .unwrap();
        let base = format!("http://{}", app.local_addr().unwrap());
        let state = app.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Served {
            base,
            keys,
            state,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
            pg,
        }
    }

    /// Stops the server as `serve` does on a signal: requests drain, the appender stops.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).unwrap();
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((admin, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(drop_pg_database(&admin, &name));
            })
            .join();
        }
    }
}

#[tokio::test]
async fn the_dpo_verifies_the_chain_and_reads_checkpoints_over_http_and_shutdown_signs_the_head() {
    for backend in Backend::all() {
        let mut app = Served::start(backend.clone()).await;
        let (base, keys, state) = (app.base.clone(), &app.keys, app.state.clone());
        let client = reqwest::Client::new();
        let dpo = keys.token("dpo-1", "dpo-office", "dpo");
        let caseworker = keys.token("cw-1", "youth-unit", "caseworker");

        let get = |path: &str, token: &str| {
            client
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
        };
        for path in ["/v1/audit/verify", "/v1/audit/checkpoints"] {
            assert_eq!(
                get(path, &caseworker).await.unwrap().status(),
                403,
                "{path}"
            );
            assert_eq!(
                client
                    .get(format!("{base}{path}"))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                401
            );
        }
        let body: Value = get("/v1/audit/verify", &dpo)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["ok"], true);
        assert_eq!(body["records"], 0);
        assert!(body.get("first_bad").is_none());

        let chained = state
            .audit()
            .append_many((0..3).map(record).collect())
            .await
            .unwrap();
        assert_eq!(chained.iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 2, 3]);
        let body: Value = get("/v1/audit/verify", &dpo)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["ok"], true, "{body}");
        assert_eq!(body["records"], 3);
        assert_eq!(body["head_hash"], chained[2].hash.as_str());

        // Stopping the gateway signs a final checkpoint of the head.
        app.stop().await;
        assert!(matches!(
            state.audit().append(record(9)).await,
            Err(sluse::audit::AuditError::Closed)
        ));
        let store = Store::connect(&state.config().database, OpenMode::Existing)
            .await
            .unwrap();
        let cps = audit::all_checkpoints(&store).await.unwrap();
        assert_eq!(cps.len(), 1);
        assert_eq!(
            (cps[0].seq, cps[0].head_hash.as_str()),
            (3, chained[2].hash.as_str())
        );
        store.close().await;
    }
}

#[tokio::test]
async fn checkpoints_are_listed_with_the_public_key_that_verifies_them() {
    let mut app = Served::start(Backend::Sqlite).await;
    let (base, keys, state) = (app.base.clone(), &app.keys, app.state.clone());
    let client = reqwest::Client::new();
    let dpo = keys.token("dpo-1", "dpo-office", "dpo");
    let get = || async {
        let response = client
            .get(format!("{base}/v1/audit/checkpoints"))
            .bearer_auth(&dpo)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<CheckpointSet>().await.unwrap()
    };
    let empty = get().await;
    assert!(empty.checkpoints.is_empty());
    assert_eq!(empty.public_keys, vec![public_key(&state.signing_key())]);

    let chained = state.audit().append(record(1)).await.unwrap();
    let signed = audit::checkpoint::sign(
        &state.signing_key(),
        chained.seq,
        &chained.hash,
        state.clock().now(),
    )
    .unwrap();
    audit::AuditStore::insert_checkpoint(state.store(), &signed)
        .await
        .unwrap();
    let set = get().await;
    assert_eq!(set.checkpoints, vec![signed]);
    assert!(audit::checkpoint::signature_is_valid(
        &set.checkpoints[0],
        &set.public_keys[0]
    ));
    app.stop().await;
}
