//! Operations: rate limits (429 with `Retry-After`), `/metrics`, policy reload on SIGHUP (a valid
//! and an invalid bundle, in a child process), JWKS reload when the file changes, audit
//! verification across a signing-key rotation, and a rotated signing key put in force by SIGHUP.

use std::{path::Path, sync::Arc, time::Duration};

use serde_json::{Value, json};
use sluse::{app::Application, clock::SystemClock, config::Config};
use sqlx::Connection;

use crate::{
    cli::{serve, serve_with_env, sluse},
    exchange::{CONTACT, DPO, World},
    helpers::{Backend, Options, prepare, problem, spawn_with},
    tokens::TestKeys,
};

const SCHOOL: (&str, &str, &str) = ("nordskolen.system", "nordskolen", "school");

fn absence(subject: &str) -> Value {
    json!({
        "kind": "absence",
        "subject": subject,
        "data": {"period": {"from": "2026-08-11", "to": "2026-10-31"},
                 "unlawful_absence_pct": 18, "absence_band": ">=15"}
    })
}

/// A fictitious CPR number of a 16-year-old.
fn cpr16(serial: u16) -> String {
    use jiff::ToSpan;
    use sluse::clock::Clock;
    let born = SystemClock
        .today()
        .checked_sub(16.years())
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

async fn notice(
    client: &reqwest::Client,
    base: &str,
    keys: &TestKeys,
    key: &str,
    subject: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/v1/notices"))
        .bearer_auth(keys.token(SCHOOL.0, SCHOOL.1, SCHOOL.2))
        .header("Idempotency-Key", key)
        .json(&absence(subject))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_principal_over_its_rate_gets_429_with_retry_after_and_others_are_served() {
    let app = spawn_with(Options {
        extra_toml: "[limits]\nper_principal_per_s = 0.2\nper_principal_burst = 2\n\
                     per_department_per_s = 0.2\nper_department_burst = 3\n"
            .to_owned(),
        ..Options::default()
    })
    .await;
    let jonas = app.token("jonas.kp", "youth-unit", "contact_person");
    for _ in 0..2 {
        assert_eq!(app.get("/v1/me", Some(&jonas)).await.status(), 200);
    }
    let refused = app.get("/v1/me", Some(&jonas)).await;
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    let body = problem(refused, 429).await;
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["limit"], "principal");

    // Another principal of the department has its own bucket, until the department's is empty.
    let karen = app.token("karen.kp", "youth-unit", "contact_person");
    assert_eq!(app.get("/v1/me", Some(&karen)).await.status(), 200);
    let refused = app.get("/v1/me", Some(&karen)).await;
    assert!(refused.headers().contains_key("retry-after"));
    let body = problem(refused, 429).await;
    assert_eq!(body["limit"], "department");
    // Another department is not affected; the probes never are.
    let dpo = app.token("dorte.dpo", "dpo-office", "dpo");
    assert_eq!(app.get("/v1/me", Some(&dpo)).await.status(), 200);
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("sluse_rate_limited_total{limit=\"principal\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn metrics_show_requests_decisions_audit_batches_sources_and_the_token_cache() {
    let world = World::start(Backend::Sqlite).await;
    let emma = world.cpr(16, 4121);
    world.source.insert(
        &emma,
        "social.measures",
        json!({"active": true, "caseworker": {"name": "Sofie Holm", "phone": "33 12 34 56"}}),
    );
    world.assign(&emma).await;
    world.consent(&emma, 16, &["social.measures"], false).await;
    world
        .pull_ok(&emma, "social.measures", "social-services")
        .await;
    // A refusal: the other contact person has no need to know.
    let refused = world
        .pull(
            crate::exchange::OTHER_CONTACT,
            &emma,
            "social.measures",
            "social-services",
        )
        .await;
    assert_eq!(refused.status(), 403);
    world.app.get("/v1/me", Some(&world.token(CONTACT))).await;
    world.app.get("/v1/me", Some(&world.token(CONTACT))).await;

    let response = world.app.get("/metrics", None).await;
    assert_eq!(response.status(), 200, "no token needed");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for needle in [
        "sluse_http_requests_total{route=\"/v1/requests\",method=\"POST\",status=\"200\"}",
        "sluse_http_requests_total{route=\"/v1/requests\",method=\"POST\",status=\"403\"}",
        "sluse_http_request_duration_seconds_bucket{route=\"/v1/me\",le=\"+Inf\"}",
        "sluse_decisions_total{decision=\"permit\",outcome=\"disclosed\",reason=\"none\"}",
        "sluse_decisions_total{decision=\"deny\",outcome=\"denied\",reason=\"not_need_to_know\"}",
        "sluse_audit_batch_size_bucket{le=\"+Inf\"}",
        "sluse_audit_append_seconds_count",
        "sluse_source_request_seconds_count{department=\"social-services\",result=\"ok\"}",
        "# TYPE sluse_token_cache_hits_total counter",
    ] {
        assert!(text.contains(needle), "no `{needle}` in:\n{text}");
    }
    let hits: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("sluse_token_cache_hits_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(hits >= 1, "the repeated token was answered from the cache");
    // No personal data in label values.
    assert!(!text.contains(&emma) && !text.contains("jonas.kp"));
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

async fn policy_versions(db: &Path) -> Vec<String> {
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar("SELECT policy_version FROM audit_log ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows
}

async fn ready_version(base: &str) -> String {
    let body: Value = reqwest::get(format!("{base}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["policy_version"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sighup_puts_a_valid_bundle_in_force_and_refuses_an_invalid_one() {
    let policies = tempfile::tempdir().unwrap();
    copy_tree(&sluse::demo::shipped_policies(), policies.path());
    let (dir, config, keys, _) = prepare(&Options {
        policies_dir: Some(policies.path().to_owned()),
        ..Options::default()
    })
    .await;
    let (mut process, base) = serve(&config).await;
    let client = reqwest::Client::new();
    let pid = process.child.id().to_string();
    let hup = || {
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
    };

    let v1 = ready_version(&base).await;
    assert_eq!(
        notice(&client, &base, &keys, "n1", &cpr16(4121))
            .await
            .status(),
        202
    );

    // A valid change: a comment changes the bundle's digest, so its version.
    let purposes = policies.path().join("purposes.toml");
    let text = std::fs::read_to_string(&purposes).unwrap();
    std::fs::write(&purposes, format!("{text}\n# reviewed by the DPO\n")).unwrap();
    hup();
    process.wait_for("policy bundle reloaded");
    let v2 = ready_version(&base).await;
    assert_ne!(v1, v2);
    assert_eq!(
        notice(&client, &base, &keys, "n2", &cpr16(4122))
            .await
            .status(),
        202
    );
    let versions = policy_versions(&dir.path().join("sluse.db")).await;
    assert_eq!(versions.first(), Some(&v1), "{versions:?}");
    assert_eq!(
        versions.last(),
        Some(&v2),
        "later records carry the new version"
    );

    // An invalid bundle is refused and logged; the one in force stays and keeps deciding.
    std::fs::write(&purposes, "this is = = not toml").unwrap();
    hup();
    let line = process.wait_for("policy reload refused");
    assert!(line.contains("purposes.toml"), "{line}");
    assert_eq!(ready_version(&base).await, v2);
    assert_eq!(
        notice(&client, &base, &keys, "n3", &cpr16(4123))
            .await
            .status(),
        202
    );
    let versions = policy_versions(&dir.path().join("sluse.db")).await;
    assert_eq!(versions.last(), Some(&v2));
    let (code, _) = process.terminate();
    assert_eq!(code, Some(0));
}

/// Starts the gateway in this process on a prepared config; returns its base URL and a stopper.
async fn start(
    config: &Path,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let app = Application::build(Config::load(config).unwrap(), Arc::new(SystemClock))
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    (base, stop, task)
}

#[tokio::test]
async fn a_changed_jwks_file_is_reloaded_without_a_restart() {
    let (dir, config, _keys, _) = prepare(&Options::default()).await;
    let (base, stop, task) = start(&config).await;
    let client = reqwest::Client::new();
    let rotated = TestKeys::generate("rotated");
    let token = rotated.token("jonas.kp", "youth-unit", "contact_person");
    let me = || {
        client
            .get(format!("{base}/v1/me"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(me().await.unwrap().status(), 401);
    std::fs::write(dir.path().join("jwks.json"), rotated.jwks().to_string()).unwrap();
    let mut accepted = false;
    for _ in 0..60 {
        if me().await.unwrap().status() == 200 {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(accepted, "the new key set was not picked up");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_chain_verifies_across_a_signing_key_rotation() {
    for backend in Backend::all() {
        let (dir, config, keys, pg) = prepare(&Options {
            backend,
            ..Options::default()
        })
        .await;
        let client = reqwest::Client::new();
        let dpo = keys.token(DPO.0, DPO.1, DPO.2);

        let (base, stop, task) = start(&config).await;
        for i in 0..3 {
            let r = notice(&client, &base, &keys, &format!("a{i}"), &cpr16(4121 + i)).await;
            assert_eq!(r.status(), 202);
        }
        let _ = stop.send(());
        task.await.unwrap().unwrap(); // the final checkpoint is signed with the first key

        let output = sluse()
            .args(["keygen", "--rotate-signing-key", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let retired: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("audit-signing.key.") && n.ends_with(".old"))
            .collect();
        assert_eq!(retired.len(), 1, "{retired:?}");

        let (base, stop, task) = start(&config).await;
        for i in 0..3 {
            let r = notice(&client, &base, &keys, &format!("b{i}"), &cpr16(4131 + i)).await;
            assert_eq!(r.status(), 202);
        }
        let set: Value = client
            .get(format!("{base}/v1/audit/checkpoints"))
            .bearer_auth(&dpo)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let public: Vec<&str> = set["public_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["key_id"].as_str().unwrap())
            .collect();
        assert_eq!(public.len(), 2, "{set}");
        let verified: Value = client
            .get(format!("{base}/v1/audit/verify"))
            .bearer_auth(&dpo)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(verified["ok"], true, "{verified}");
        let _ = stop.send(());
        task.await.unwrap().unwrap();

        let output = sluse()
            .args(["audit", "verify", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("2 checkpoints"), "{stdout}");
        if let Some((admin, name)) = pg {
            crate::helpers::drop_pg_database(&admin, &name).await;
        }
    }
}

/// `GET /v1/audit/checkpoints` as the DPO.
async fn checkpoint_set(client: &reqwest::Client, base: &str, dpo: &str) -> Value {
    let response = client
        .get(format!("{base}/v1/audit/checkpoints"))
        .bearer_auth(dpo)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Waits until the gateway has signed a checkpoint at `seq` or later; returns the newest one.
async fn checkpoint_at(client: &reqwest::Client, base: &str, dpo: &str, seq: u64) -> Value {
    for _ in 0..100 {
        let set = checkpoint_set(client, base, dpo).await;
        let newest = set["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|c| c["seq"].as_u64().unwrap())
            .cloned();
        if let Some(c) = newest.filter(|c| c["seq"].as_u64().unwrap() >= seq) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no checkpoint at seq {seq} or later");
}

async fn audit_head(db: &Path) -> u64 {
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let seq: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    u64::try_from(seq).unwrap()
}

#[tokio::test]
async fn sighup_puts_a_rotated_signing_key_in_force_and_refuses_an_unusable_one() {
    let (dir, config, keys, _) = prepare(&Options::default()).await;
    let db = dir.path().join("sluse.db");
    let key_file = dir.path().join("keys/audit-signing.key");
    // A checkpoint after every commit, so each notice is followed by one.
    let (mut process, base) =
        serve_with_env(&config, &[("SLUSE_AUDIT__CHECKPOINT_EVERY", "1")]).await;
    let client = reqwest::Client::new();
    let dpo = keys.token(DPO.0, DPO.1, DPO.2);
    let pid = process.child.id().to_string();
    let hup = || {
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
    };

    // Arrange: a checkpoint signed with the first key.
    assert_eq!(
        notice(&client, &base, &keys, "k1", &cpr16(4121))
            .await
            .status(),
        202
    );
    let first = checkpoint_at(&client, &base, &dpo, audit_head(&db).await).await;
    let old_id = first["key_id"].as_str().unwrap().to_owned();

    // Act: rotate the key on disk, then SIGHUP.
    let output = sluse()
        .args(["keygen", "--rotate-signing-key", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    hup();
    let line = process.wait_for("audit signing key reloaded");
    assert!(line.contains(&old_id), "the previous key is named: {line}");

    // Assert: the next checkpoint carries the new key's id; both keys are published and verify.
    assert_eq!(
        notice(&client, &base, &keys, "k2", &cpr16(4122))
            .await
            .status(),
        202
    );
    let second = checkpoint_at(&client, &base, &dpo, audit_head(&db).await).await;
    let new_id = second["key_id"].as_str().unwrap().to_owned();
    assert_ne!(
        new_id, old_id,
        "checkpoints after the reload are signed with the new key"
    );
    let set = checkpoint_set(&client, &base, &dpo).await;
    let published: Vec<&str> = set["public_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap())
        .collect();
    assert_eq!(published, vec![new_id.as_str(), old_id.as_str()], "{set}");
    let verified: Value = client
        .get(format!("{base}/v1/audit/verify"))
        .bearer_auth(&dpo)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["ok"], true, "{verified}");

    // An unusable key file is refused and logged; the key in force keeps signing.
    let good = std::fs::read(&key_file).unwrap();
    std::fs::write(
        &key_file,
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    hup();
    let line = process.wait_for("signing key reload refused");
    assert!(line.contains(&new_id), "{line}");
    // So is a new key that does not keep the one in force for verification.
    std::fs::remove_file(&key_file).unwrap();
    sluse::keys::keygen(&Config::load(&config).unwrap().audit).unwrap();
    hup();
    let line = process.wait_for("signing key reload refused");
    assert!(line.contains("rotate-signing-key"), "{line}");
    assert_eq!(
        notice(&client, &base, &keys, "k3", &cpr16(4123))
            .await
            .status(),
        202
    );
    let third = checkpoint_at(&client, &base, &dpo, audit_head(&db).await).await;
    assert_eq!(third["key_id"], new_id.as_str());
    std::fs::remove_file(&key_file).unwrap();
    std::fs::write(&key_file, good).unwrap();
    let (code, _) = process.terminate();
    assert_eq!(code, Some(0));

    // `sluse audit verify` checks the checkpoints of both keys.
    let output = sluse()
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let signed_by: std::collections::BTreeSet<String> = {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let ids: Vec<String> = sqlx::query_scalar("SELECT key_id FROM audit_checkpoints")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        ids.into_iter().collect()
    };
    assert_eq!(signed_by, [new_id, old_id].into_iter().collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_concurrency_limit_a_request_gets_503_at_once_and_probes_still_answer() {
    let world = Arc::new(
        World::start_with(
            Backend::Sqlite,
            |url| {
                Some(format!(
                    "{}\n[limits]\nmax_concurrent_requests = 1\n",
                    crate::exchange::source_toml("social-services", url, 5000, 1 << 20)
                ))
            },
            None,
        )
        .await,
    );
    let emma = world.cpr(16, 4121);
    world
        .source
        .insert(&emma, "social.measures", json!({"active": true}));
    world.assign(&emma).await;
    world.consent(&emma, 16, &["social.measures"], false).await;
    world
        .source
        .behave(crate::exchange::Behaviour::Sleep(Duration::from_millis(
            1500,
        )));
    let slow = {
        let world = world.clone();
        let emma = emma.clone();
        tokio::spawn(async move {
            world
                .pull(CONTACT, &emma, "social.measures", "social-services")
                .await
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let started = std::time::Instant::now();
    let shed = world.app.get("/v1/me", Some(&world.token(CONTACT))).await;
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "not queued"
    );
    assert_eq!(shed.headers()["retry-after"], "1");
    assert_eq!(problem(shed, 503).await["code"], "overloaded");
    assert_eq!(world.app.get("/readyz", None).await.status(), 200);
    assert_eq!(world.app.get("/metrics", None).await.status(), 200);
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(
        world
            .app
            .get("/v1/me", Some(&world.token(CONTACT)))
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exits_0_for_a_healthy_gateway_and_1_otherwise() {
    let app = crate::helpers::spawn_app().await;
    let output = sluse()
        .args(["healthcheck", "--url", &app.url("/healthz")])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = sluse()
        .args(["healthcheck", "--url", &app.url("/no-such-endpoint")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let refused = crate::exchange::refusing_url().await;
    let output = sluse()
        .args(["healthcheck", "--timeout-ms", "500", "--url", &refused])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}
