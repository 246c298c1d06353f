//! Crash safety of the audit appender: `sluse serve` as a child process under concurrent load of
//! permitted pull requests (`POST /v1/requests`, answered from a test source system) and permitted
//! notices, killed with SIGKILL at a random moment in the middle of its group commits, several
//! times over. After each kill, on the database the restart finds, no record is half-written (the
//! chain verifies with `sluse audit verify`, the head row agrees with the last record, seq has no
//! gaps), every `disclosure_id` a client was given has its durable record (an answer is only sent
//! after the commit), and no inbox item exists without the audit record of its delivery.
//!
//! `SLUSE_TEST_CRASH_ROUNDS` sets the number of kills (3 by default, for CI); `tools/crash-test.sh`
//! runs the full mode (25). `SLUSE_TEST_CRASH_SEED` repeats the kill moments of an earlier run.

use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use jiff::ToSpan;
use serde_json::{Value, json};
use sluse::clock::{Clock, SystemClock};
use sqlx::Connection;

use crate::{
    cli::{serve, sluse},
    exchange::{CASEWORKER, CONTACT, Source, source_toml},
    helpers::{Options, prepare},
    tokens::TestKeys,
};

/// Concurrent clients sending notices.
const NOTICE_CLIENTS: usize = 12;
/// Concurrent clients sending pull requests.
const PULL_CLIENTS: usize = 12;
/// Kill-and-restart rounds unless `SLUSE_TEST_CRASH_ROUNDS` says otherwise.
const DEFAULT_ROUNDS: usize = 3;
/// Kills come at a random moment this long after the round's first answer, at most.
const MAX_KILL_DELAY_MS: u64 = 1500;

/// A fictitious CPR number of someone who turned `age` 100 days ago (see `exchange::World::cpr`).
fn cpr(age: i16, serial: u16) -> String {
    let born = SystemClock
        .today()
        .checked_sub(age.years())
        .unwrap()
        .checked_sub(100.days())
        .unwrap();
    format!(
        "{:02}{:02}{:02}-{serial:04}",
        born.day(),
        born.month(),
        born.year().rem_euclid(100)
    )
}

/// The child of 12 the notices are about.
fn child_cpr() -> String {
    cpr(12, 4147)
}

/// SplitMix64: the kill moments, repeatable from the printed seed.
struct Moments(u64);

impl Moments {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// What the clients were told, per kind.
#[derive(Default)]
struct Answered {
    notices: Vec<String>,
    pulls: Vec<String>,
}

impl Answered {
    fn len(&self) -> usize {
        self.notices.len() + self.pulls.len()
    }
}

/// Sends concerns (F7: a legal basis, no consent needed) until `stop` or the gateway goes away;
/// records every `disclosure_id` an accepted notice's answer gave.
async fn notices(
    base: String,
    token: String,
    client_no: usize,
    round: usize,
    stop: Arc<AtomicBool>,
    answered: Arc<Mutex<Answered>>,
) {
    let client = reqwest::Client::new();
    let child = child_cpr();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let body = json!({"kind": "concern", "subject": child, "data": {
            "concern": format!("concern {round}/{client_no}/{i}"),
            "observations": "seen at school",
        }});
        let sent = client
            .post(format!("{base}/v1/notices"))
            .bearer_auth(&token)
            .header("Idempotency-Key", format!("crash-{round}-{client_no}-{i}"))
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { return };
        let status = response.status().as_u16();
        let Ok(text) = response.text().await else {
            return;
        };
        if status != 202 {
            // The answer of a request the kill cut short never arrives; anything else is a bug.
            panic!("notice answered {status}: {text}");
        }
        let answer: Value = serde_json::from_str(&text).unwrap();
        let deliveries = answer["deliveries"].as_array().unwrap();
        assert!(!deliveries.is_empty(), "a permitted concern: {answer}");
        let mut answered = answered.lock().unwrap();
        for d in deliveries {
            answered
                .notices
                .push(d["disclosure_id"].as_str().unwrap().to_owned());
        }
    }
}

/// Asks for the subject's social measures as the assigned contact person (F3, with consent) until
/// `stop` or the gateway goes away; records every permitted answer's `disclosure_id`.
async fn pulls(
    base: String,
    token: String,
    subject: String,
    stop: Arc<AtomicBool>,
    answered: Arc<Mutex<Answered>>,
) {
    let client = reqwest::Client::new();
    let body = json!({"subject": subject, "category": "social.measures",
                      "purpose": "kui.contact_person", "source": "social-services"});
    while !stop.load(Ordering::Relaxed) {
        let sent = client
            .post(format!("{base}/v1/requests"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { return };
        let status = response.status().as_u16();
        let Ok(text) = response.text().await else {
            return;
        };
        if status != 200 {
            panic!("pull answered {status}: {text}");
        }
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["decision"], "permit", "{answer}");
        assert_eq!(answer["data"]["active"], true, "{answer}");
        answered
            .lock()
            .unwrap()
            .pulls
            .push(answer["disclosure_id"].as_str().unwrap().to_owned());
    }
}

/// What the database holds, read as a DPO would with SQL: `(seq, disclosure_id)` of every row, the
/// head row's seq, and every inbox item's `disclosure_id`.
async fn rows(db: &str) -> (Vec<(i64, String)>, i64, Vec<String>) {
    let mut conn = sqlx::SqliteConnection::connect(db).await.unwrap();
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, disclosure_id FROM audit_log ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let inbox: Vec<String> = sqlx::query_scalar("SELECT disclosure_id FROM inbox_items")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    (rows, head, inbox)
}

fn verify_cli(config: &std::path::Path) {
    let output = sluse()
        .args(["audit", "verify", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "sluse audit verify: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// POSTs `body` to a served gateway and checks the status.
async fn post(base: &str, token: &str, path: &str, body: &Value, status: u16) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let got = response.status().as_u16();
    assert_eq!(got, status, "{path}: {}", response.text().await.unwrap());
}

/// Assigns the contact person to `subject` (16) and records the subject's and a custody holder's
/// consent to social measures, so that every pull of the load is permitted.
async fn consenting_subject(base: &str, keys: &TestKeys, subject: &str) {
    let caseworker = keys.token(CASEWORKER.0, CASEWORKER.1, CASEWORKER.2);
    post(
        base,
        &caseworker,
        "/v1/assignments",
        &json!({"subject": subject, "contact_person": CONTACT.0}),
        201,
    )
    .await;
    let consent = json!({
        "subject": subject,
        "given_by": [{"role": "subject"}, {"role": "custody_holder"}],
        "scope": {"categories": ["social.measures"], "recipients": ["youth-unit"],
                  "purposes": ["kui.contact_person"], "special_categories": false},
        "valid_until": SystemClock.today().checked_add(365.days()).unwrap().to_string(),
        "evidence": "journal KUI-CRASH-1, signed form",
    });
    post(base, &caseworker, "/v1/consents", &consent, 201).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_batch_leaves_a_whole_chain_and_a_record_of_every_answered_disclosure() {
    let rounds: usize = std::env::var("SLUSE_TEST_CRASH_ROUNDS")
        .ok()
        .map_or(DEFAULT_ROUNDS, |r| {
            r.parse().expect("SLUSE_TEST_CRASH_ROUNDS")
        });
    let seed: u64 = std::env::var("SLUSE_TEST_CRASH_SEED").ok().map_or_else(
        || uuid::Uuid::new_v4().as_u64_pair().0,
        |s| s.parse().expect("SLUSE_TEST_CRASH_SEED"),
    );
    let mut moments = Moments(seed);
    eprintln!("crash test: {rounds} rounds, SLUSE_TEST_CRASH_SEED={seed}");

    // A source system in this process: it outlives every kill of the gateway.
    let source = Source::spawn().await;
    let subject = cpr(16, 4121);
    source.insert(
        &subject,
        "social.measures",
        json!({"active": true, "caseworker": {"name": "Sofie Holm", "phone": "+45 33 12 34 56"},
               "family_notes": "never released"}),
    );
    let (dir, config, keys, _) = prepare(&Options {
        extra_toml: ["social-services", "ppr", "jobcenter"]
            .iter()
            .map(|d| source_toml(d, &source.url, 2000, 1 << 20))
            .collect(),
        ..Options::default()
    })
    .await;
    let db = format!("sqlite://{}", dir.path().join("sluse.db").display());
    let school = keys.token("nordskolen.system", "nordskolen", "school");
    let contact = keys.token(CONTACT.0, CONTACT.1, CONTACT.2);
    let answered = Arc::new(Mutex::new(Answered::default()));
    let mut lost_total = 0usize;
    let mut orphans_total = 0usize;
    let started = Instant::now();

    for round in 0..rounds {
        let (mut process, base) = serve(&config).await;
        if round == 0 {
            consenting_subject(&base, &keys, &subject).await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let before = answered.lock().unwrap().len();
        let mut clients: Vec<_> = (0..NOTICE_CLIENTS)
            .map(|c| {
                tokio::spawn(notices(
                    base.clone(),
                    school.clone(),
                    c,
                    round,
                    stop.clone(),
                    answered.clone(),
                ))
            })
            .collect();
        clients.extend((0..PULL_CLIENTS).map(|_| {
            tokio::spawn(pulls(
                base.clone(),
                contact.clone(),
                subject.clone(),
                stop.clone(),
                answered.clone(),
            ))
        }));
        // Once the load is under way (the first answer of this round), kill at a random moment:
        // with this many clients waiting the appender is nearly always in a batch or its commit.
        for _ in 0..600 {
            if answered.lock().unwrap().len() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let delay = moments.next() % MAX_KILL_DELAY_MS;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        process.child.kill().unwrap(); // SIGKILL: no shutdown, no final checkpoint
        process.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        assert!(
            answered.lock().unwrap().len() > before,
            "round {round}: nothing was answered before the kill"
        );

        // Whole records only: the chain verifies, seq is 1..=n without gaps, the head row agrees.
        verify_cli(&config);
        let (rows, head, inbox) = rows(&db).await;
        let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(seqs, (1..=head).collect::<Vec<_>>(), "round {round}");
        // Every disclosure a client was told of is in the chain; so is every inbox delivery.
        let recorded: BTreeSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        let answered = answered.lock().unwrap();
        let lost: Vec<&String> = answered
            .notices
            .iter()
            .chain(&answered.pulls)
            .filter(|id| !recorded.contains(id.as_str()))
            .collect();
        let orphans: Vec<&String> = inbox
            .iter()
            .filter(|id| !recorded.contains(id.as_str()))
            .collect();
        eprintln!(
            "round {round}: killed {delay} ms after the first answer; {} records, {} answered \
             ({} pulls, {} notice deliveries), {} inbox items; lost {}, orphan inbox items {}",
            rows.len(),
            answered.len(),
            answered.pulls.len(),
            answered.notices.len(),
            inbox.len(),
            lost.len(),
            orphans.len(),
        );
        if !lost.is_empty() || !orphans.is_empty() {
            eprintln!("round {round}: lost {lost:?}, orphan inbox items {orphans:?}");
        }
        lost_total += lost.len();
        orphans_total += orphans.len();
        assert!(rows.len() >= answered.len());
    }

    // The gateway starts again on the recovered database and appends after the head.
    let (process, base) = serve(&config).await;
    let before = rows(&db).await.1;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{base}/v1/notices"))
        .bearer_auth(&school)
        .header("Idempotency-Key", "after-the-crashes")
        .json(&json!({"kind": "concern", "subject": child_cpr(), "data": {"concern": "again"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let (code, _) = process.terminate();
    assert_eq!(code, Some(0));
    verify_cli(&config);
    let (rows, head, inbox) = rows(&db).await;
    assert!(head > before);
    let answered = answered.lock().unwrap();
    // One line the full-mode script picks up.
    eprintln!(
        "crash test summary: kills survived {rounds}, disclosure ids checked {} ({} pulls, {} \
         notice deliveries), inbox items checked {}, audit records {}, records lost {lost_total}, \
         orphan inbox items {orphans_total}, seed {seed}, {:.0} s",
        answered.len(),
        answered.pulls.len(),
        answered.notices.len(),
        inbox.len(),
        rows.len(),
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(lost_total, 0, "answered without a durable record");
    assert_eq!(orphans_total, 0, "inbox items without an audit record");
}
