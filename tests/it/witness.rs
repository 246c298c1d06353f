//! Witness co-signing: `sluse audit witness` against a running gateway co-signs each new checkpoint
//! once the chain from the last one it saw verifies; the gateway stores and shows the signature; a
//! rewritten history (every hash recomputed and a new checkpoint signed with the gateway's own key)
//! makes the witness refuse, naming the seq.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;
use sluse::{
    audit::{
        self, AuditStore, ChainedRecord, canonical::link, canonical::unhex_hash, checkpoint,
        witness::cosign,
    },
    store::Store,
};

use crate::{
    cli::sluse,
    dpo::{DpoApp, Rec, at},
    helpers::Options,
};

fn filler(i: i64) -> Rec {
    Rec {
        at: at("2026-03-10T10:00:00Z"),
        sub: if i % 2 == 0 { "cw-a" } else { "cw-b" },
        dept: "youth-unit",
        subject: None,
        category: "education.status",
        source: "fgu-east",
        recipient: "youth-unit",
        outcome: sluse::audit::Outcome::Disclosed,
        basis: None,
        reason: None,
    }
}

/// Appends `n` records and signs a checkpoint of the new head with the gateway's key.
async fn grow(app: &DpoApp, n: i64) -> u64 {
    let records = (0..n).map(|i| filler(i).build()).collect();
    let chained = app.append(records).await;
    let last = chained.last().unwrap();
    checkpoint_head(app, last).await;
    last.seq
}

async fn checkpoint_head(app: &DpoApp, last: &ChainedRecord) {
    let cp = checkpoint::sign(
        &app.state.signing_key(),
        last.seq,
        &last.hash,
        app.state.clock().now(),
    )
    .unwrap();
    app.state.store().insert_checkpoint(&cp).await.unwrap();
}

/// The witness's key (created in `dir`) as the `[[audit.witnesses]]` entry the CLI prints for it.
fn witness_entry(dir: &std::path::Path) -> String {
    let out = sluse()
        .args(["audit", "witness-key", "--state"])
        .arg(dir.join("witness.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let entry = String::from_utf8(out.stdout).unwrap();
    assert!(entry.starts_with("[[audit.witnesses]]"), "{entry}");
    entry.replace('…', "Test witness")
}

/// A gateway that accepts co-signatures from the witness whose key is in `dir`.
async fn gateway_for_witness(dir: &std::path::Path) -> DpoApp {
    DpoApp::start_with(Options {
        extra_toml: witness_entry(dir),
        ..Options::default()
    })
    .await
}

/// `GET /v1/audit/checkpoints` as the DPO: the checkpoints and the stored co-signatures.
async fn checkpoints(app: &DpoApp) -> Value {
    app.get("/v1/audit/checkpoints", &app.dpo())
        .await
        .json()
        .await
        .unwrap()
}

fn witness(app: &DpoApp, dir: &std::path::Path) -> std::process::Output {
    sluse()
        .args(["audit", "witness", "--gateway", &app.base, "--state"])
        .arg(dir.join("witness.json"))
        .args(["--token", &app.dpo()])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_cosigns_what_extends_its_last_checkpoint_and_refuses_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let app = gateway_for_witness(dir.path()).await;

    // First run: the whole chain up to the checkpoint is recomputed, then co-signed.
    let first = grow(&app, 5).await;
    let out = witness(&app, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("co-signed checkpoint seq {first}")),
        "{stdout}"
    );
    assert!(dir.path().join("witness.json.key").exists());

    // The gateway stores and shows it.
    let set: Value = checkpoints(&app).await;
    let witnesses = set["witnesses"].as_array().unwrap();
    assert_eq!(witnesses.len(), 1, "{set}");
    assert_eq!(witnesses[0]["seq"], first);
    assert_eq!(witnesses[0]["witness_key_id"].as_str().unwrap().len(), 16);

    // A forged co-signature is refused.
    let mut signature = STANDARD
        .decode(witnesses[0]["signature"].as_str().unwrap())
        .unwrap();
    signature[0] ^= 1;
    let body = serde_json::json!({"witness_key_id": witnesses[0]["witness_key_id"],
        "public_key": witnesses[0]["public_key"], "signature": STANDARD.encode(&signature)});
    let response = app
        .post(
            &format!("/v1/audit/checkpoints/{first}/witness"),
            &app.dpo(),
            &body,
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        app.post("/v1/audit/checkpoints/999/witness", &app.dpo(), &body)
            .await
            .status(),
        404
    );

    // Second run: only the new records are checked, from the last co-signed checkpoint on.
    let second = grow(&app, 4).await;
    let out = witness(&app, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("co-signed checkpoint seq {second}"))
            && stdout.contains(&format!("5 records checked from seq {first}")),
        "{stdout}"
    );

    // Whoever holds the database and the gateway key rewrites record 3 and every hash after it,
    // and signs a new checkpoint: the chain and the checkpoints alone look fine.
    let Store::Sqlite(db) = app.state.store() else {
        unreachable!()
    };
    let rows = app.state.store().audit_page(0, 100).await.unwrap();
    let mut prev = (0u64, [0u8; 32]);
    for row in rows {
        let mut record = row.record.unwrap();
        if row.seq == 3 {
            record.recipient = Some("jobcenter".to_owned());
        }
        let c = link(prev.0, &prev.1, record);
        sqlx::query(
            "UPDATE audit_log SET recipient = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
        )
        .bind(&c.record.recipient)
        .bind(&c.prev_hash)
        .bind(&c.hash)
        .bind(c.seq as i64)
        .execute(db.pool())
        .await
        .unwrap();
        prev = (c.seq, unhex_hash(&c.hash).unwrap());
    }
    // …and the lookup by recipient (decision 0021), which verify compares with the records.
    for sql in [
        "DELETE FROM audit_by_recipient WHERE seq = 3",
        "INSERT INTO audit_by_recipient (recipient, seq) SELECT a.recipient, a.seq \
         FROM audit_log AS a, audit_index_state AS s WHERE a.seq = 3 AND a.seq <= s.indexed_upto",
    ] {
        sqlx::query(sql).execute(db.pool()).await.unwrap();
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(sluse::audit::canonical::hex(&prev.1))
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_checkpoints")
        .execute(db.pool())
        .await
        .unwrap();
    let third = grow(&app, 2).await;
    let v: Value = app
        .get("/v1/audit/verify", &app.dpo())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true, "the rewrite is consistent on its own: {v}");

    let out = witness(&app, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("refusing to co-sign: at seq {second}"))
            && stderr.contains("history was rewritten"),
        "{stderr}"
    );
    // Nothing was co-signed for the rewritten checkpoint.
    let set: Value = checkpoints(&app).await;
    assert!(
        set["witnesses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["seq"] != third)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cosignature_from_a_key_not_listed_is_refused_and_not_stored() {
    let listed = tempfile::tempdir().unwrap();
    let stranger = tempfile::tempdir().unwrap();
    let app = gateway_for_witness(listed.path()).await;
    let seq = grow(&app, 3).await;

    let out = witness(&app, stranger.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("witness_not_allowed"), "{stderr}");
    let set: Value = checkpoints(&app).await;
    assert_eq!(set["witnesses"], serde_json::json!([]), "{set}");

    // The stranger's co-signature is valid as a signature: the list alone refuses it.
    let checkpoint = audit::all_checkpoints(app.state.store())
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.seq == seq)
        .unwrap();
    let key = sluse::keys::load_signing_key(&stranger.path().join("witness.json.key")).unwrap();
    let body = cosign(&key, &checkpoint).unwrap();
    let response = app
        .post(
            &format!("/v1/audit/checkpoints/{seq}/witness"),
            &app.dpo(),
            &serde_json::to_value(&body).unwrap(),
        )
        .await;
    assert_eq!(response.status(), 403);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "witness_not_allowed", "{problem}");
    assert_eq!(problem["field"], "public_key");

    assert!(witness(&app, listed.path()).status.success());
}
