//! Crash safety of the audit appender: `sluse serve` as a child process under concurrent load of
//! permitted notices, killed with SIGKILL in the middle of its group commits, several times over.
//! After each kill no record is half-written (the chain verifies with `sluse audit verify`, the
//! head row agrees with the last record, seq has no gaps) and every `disclosure_id` a client was
//! given has its durable record: an answer is only sent after the commit.

use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use jiff::ToSpan;
use serde_json::{Value, json};
use sluse::clock::{Clock, SystemClock};
use sqlx::Connection;

use crate::{
    cli::{serve, sluse},
    helpers::{Options, prepare},
};

/// Concurrent clients sending notices.
const CLIENTS: usize = 24;
/// Kill-and-restart rounds.
const ROUNDS: usize = 3;

/// A fictitious CPR number of a child of 12 (see `exchange::World::cpr`).
fn child_cpr() -> String {
    let born = SystemClock
        .today()
        .checked_sub(12.years())
        .unwrap()
        .checked_sub(100.days())
        .unwrap();
    format!(
        "{:02}{:02}{:02}-4147",
        born.day(),
        born.month(),
        born.year().rem_euclid(100)
    )
}

/// Sends concerns (F7: a legal basis, no consent needed) until `stop` or the gateway goes away;
/// records every `disclosure_id` an accepted notice's answer gave.
async fn load(
    base: String,
    token: String,
    client_no: usize,
    round: usize,
    stop: Arc<AtomicBool>,
    answered: Arc<Mutex<Vec<String>>>,
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
            answered.push(d["disclosure_id"].as_str().unwrap().to_owned());
        }
    }
}

/// `(seq, disclosure_id)` of every row, and the head row, read as a DPO would with SQL.
async fn rows(db: &str) -> (Vec<(i64, String)>, i64) {
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
    conn.close().await.unwrap();
    (rows, head)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_batch_leaves_a_whole_chain_and_a_record_of_every_answered_disclosure() {
    let (dir, config, keys, _) = prepare(&Options::default()).await;
    let db = format!("sqlite://{}", dir.path().join("sluse.db").display());
    let token = keys.token("nordskolen.system", "nordskolen", "school");
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));

    for round in 0..ROUNDS {
        let (mut process, base) = serve(&config).await;
        let stop = Arc::new(AtomicBool::new(false));
        let before = answered.lock().unwrap().len();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(load(
                    base.clone(),
                    token.clone(),
                    c,
                    round,
                    stop.clone(),
                    answered.clone(),
                ))
            })
            .collect();
        // Kill once the load is well under way: with this many clients waiting the appender is
        // always in a batch or its commit.
        let target = before + 150 * (round + 1);
        for _ in 0..600 {
            if answered.lock().unwrap().len() >= target {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        process.child.kill().unwrap(); // SIGKILL: no shutdown, no final checkpoint
        process.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        assert!(
            answered.lock().unwrap().len() > before,
            "round {round}: no notice was answered before the kill"
        );

        // Whole records only: the chain verifies, seq is 1..=n without gaps, the head row agrees.
        verify_cli(&config);
        let (rows, head) = rows(&db).await;
        let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(seqs, (1..=head).collect::<Vec<_>>(), "round {round}");
        // Every disclosure a client was told of is in the chain.
        let recorded: BTreeSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        let answered = answered.lock().unwrap();
        let missing: Vec<&String> = answered
            .iter()
            .filter(|id| !recorded.contains(id.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: answered without a durable record: {missing:?}"
        );
        assert!(rows.len() >= answered.len());
    }

    // The gateway starts again on the recovered database and appends after the head.
    let (process, base) = serve(&config).await;
    let before = rows(&db).await.1;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{base}/v1/notices"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "after-the-crashes")
        .json(&json!({"kind": "concern", "subject": child_cpr(), "data": {"concern": "again"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let (code, _) = process.terminate();
    assert_eq!(code, Some(0));
    verify_cli(&config);
    assert!(rows(&db).await.1 > before);
}
