//! Production on PostgreSQL: the migration sets do not drift, two `sluse serve` replicas share one
//! chain, and a database outage fails closed and recovers without a restart.
//!
//! The outage is simulated per test database, never by stopping the machine's PostgreSQL server
//! (other tests run against it in parallel): the gateway reaches PostgreSQL through a small TCP
//! proxy inside the test ([`Proxy`]), which the test cuts (every open connection closed, new ones
//! closed at once — what a crashed or unreachable server looks like to the pool) and restores.

use std::{
    collections::BTreeSet,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sluse::{app::Application, clock::SystemClock, config::Config};
use sqlx::Connection;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

use crate::{
    cli::{serve, sluse},
    helpers::{Backend, Options, drop_pg_database, prepare, problem},
    tokens::TestKeys,
};

/// The PostgreSQL admin URL, or `None` with a printed note (the test is then skipped).
fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("SLUSE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("note: {test} skipped: SLUSE_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect()
}

#[test]
fn the_sqlite_and_postgres_migration_sets_hold_the_same_file_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let sqlite = names(&root.join("sqlite"));
    let postgres = names(&root.join("postgres"));
    assert!(!sqlite.is_empty(), "no migrations found in {root:?}");
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migration sets drifted: only in migrations/sqlite: {only_sqlite:?}; \
         only in migrations/postgres: {only_postgres:?}"
    );
}

// ------------------------------------------------------------------------------------------------
// Shared pieces
// ------------------------------------------------------------------------------------------------

const SCHOOL: (&str, &str, &str) = ("nordskolen.system", "nordskolen", "school");
const CASEWORKER: (&str, &str, &str) = ("anna.kui", "youth-unit", "caseworker");
const DPO: (&str, &str, &str) = ("dorte.dpo", "dpo-office", "dpo");

/// A fictitious 16-year-old's CPR number (born 100 days past their 16th birthday).
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

fn absence(subject: &str, pct: u32) -> Value {
    json!({
        "kind": "absence",
        "subject": subject,
        "data": {
            "period": {"from": "2026-08-11", "to": "2026-10-31"},
            "unlawful_absence_pct": pct,
            "absence_band": ">=15",
            "parent_contacts": 3,
            "actions_taken": "ringet til mor",
        }
    })
}

/// One gateway as a client sees it.
#[derive(Clone)]
struct Replica {
    base: String,
    client: reqwest::Client,
    keys: Arc<TestKeys>,
}

impl Replica {
    fn token(&self, who: (&str, &str, &str)) -> String {
        self.keys.token(who.0, who.1, who.2)
    }

    async fn post(
        &self,
        path: &str,
        who: (&str, &str, &str),
        key: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token(who))
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }

    /// A notice that must be accepted; returns the answer.
    async fn notice(&self, key: &str, body: &Value) -> Value {
        let response = self.post("/v1/notices", SCHOOL, Some(key), body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 202, "{} {key}: {text}", self.base);
        serde_json::from_str(&text).unwrap()
    }

    /// Records a consent of a 16-year-old to the youth unit for absence notices; returns its id.
    async fn consent(&self, subject: &str) -> String {
        use jiff::ToSpan;
        use sluse::clock::Clock;
        let until = SystemClock.today().checked_add(365.days()).unwrap();
        let response = self
            .post(
                "/v1/consents",
                CASEWORKER,
                None,
                &json!({
                    "subject": subject,
                    "given_by": [{"role": "subject"}, {"role": "custody_holder"}],
                    "scope": {"categories": ["school.absence"], "recipients": ["youth-unit"],
                              "purposes": ["kui.contact_person"]},
                    "valid_until": until.to_string(),
                    "evidence": "journal KUI-REPLICA-1",
                }),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    async fn verify(&self) -> Value {
        let response = self
            .client
            .get(format!("{}/v1/audit/verify", self.base))
            .bearer_auth(self.token(DPO))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

fn recipients(answer: &Value, list: &str) -> Vec<String> {
    let mut out: Vec<String> = answer[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["recipient"].as_str().unwrap().to_owned())
        .collect();
    out.sort_unstable();
    out
}

async fn scalar(database_url: &str, sql: &'static str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    n
}

/// Inbox items without a `delivered` audit record: data that left without being recorded.
const UNAUDITED_DELIVERIES: &str = "SELECT count(*) FROM inbox_items i WHERE NOT EXISTS \
     (SELECT 1 FROM audit_log a WHERE a.disclosure_id::text = i.disclosure_id \
      AND a.outcome = 'delivered')";

/// `sluse audit verify` on the config: exit 0 and its output.
fn cli_verify(config: &Path) -> String {
    let output = sluse()
        .args(["audit", "verify", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "audit verify failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

// ------------------------------------------------------------------------------------------------
// Two replicas on one chain
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_database_keep_one_chain_share_consents_and_idempotency() {
    let Some(admin) = postgres_url("two_replicas_on_one_database") else {
        return;
    };
    let options = Options {
        backend: Backend::Postgres(admin.clone()),
        ..Options::default()
    };
    let (_dir, config_path, keys, pg) = prepare(&options).await;
    let database_url = Config::load(&config_path)
        .unwrap()
        .database
        .url
        .expose_secret()
        .to_owned();
    let keys = Arc::new(keys);
    let (process_a, base_a) = serve(&config_path).await;
    let (process_b, base_b) = serve(&config_path).await;
    assert_ne!(base_a, base_b);
    let client = reqwest::Client::new();
    let a = Replica {
        base: base_a,
        client: client.clone(),
        keys: keys.clone(),
    };
    let b = Replica {
        base: base_b,
        client,
        keys,
    };

    // Concurrent permitted notices at both replicas: each reaches social services (legal basis)
    // and the youth unit (consent recorded through replica A).
    let emma = cpr16(4121);
    let consent = a.consent(&emma).await;
    let per_replica = 40;
    let mut tasks = Vec::new();
    for (name, replica) in [("a", &a), ("b", &b)] {
        for i in 0..per_replica {
            let replica = replica.clone();
            let body = absence(&emma, 15 + (i % 10));
            tasks.push(tokio::spawn(async move {
                replica.notice(&format!("load-{name}-{i}"), &body).await
            }));
        }
    }
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(
            recipients(&answer, "deliveries"),
            ["social-services", "youth-unit"]
        );
    }
    let records = 2 * 2 * i64::from(per_replica);
    assert_eq!(
        scalar(&database_url, "SELECT count(*) FROM audit_log").await,
        records
    );
    // Gap-free: seq runs 1..=records with no hole and no repeat.
    assert_eq!(
        scalar(
            &database_url,
            "SELECT count(DISTINCT seq) FROM audit_log WHERE seq BETWEEN 1 AND \
             (SELECT max(seq) FROM audit_log)"
        )
        .await,
        scalar(&database_url, "SELECT max(seq) FROM audit_log").await
    );

    // A consent withdrawn through replica B is in force on replica A for the very next decision.
    // A holds Emma's facts in memory from the notices above and has not heard of B's write: its
    // batch finds the registry version moved and A decides again (decision 0029).
    let withdrawn = b
        .post(
            &format!("/v1/consents/{consent}/withdraw"),
            CASEWORKER,
            None,
            &json!({"reason": "Emma asked"}),
        )
        .await;
    assert_eq!(withdrawn.status(), 200);
    let next = a.notice("after-withdrawal", &absence(&emma, 20)).await;
    assert_eq!(recipients(&next, "deliveries"), ["social-services"]);
    let refused = &next["withheld"][0];
    assert_eq!(refused["recipient"], "youth-unit", "{next}");
    let reasons: Vec<&str> = refused["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(
        reasons.contains(&"consent_withdrawn") || reasons.contains(&"no_consent"),
        "{reasons:?}"
    );

    // Idempotent across replicas: the same key and body to A then B → the same answer, delivered
    // once.
    let delivered = "SELECT count(*) FROM inbox_items";
    let before = scalar(&database_url, delivered).await;
    let body = absence(&cpr16(4122), 30);
    let first = a.notice("cross-replica", &body).await;
    let second = b.notice("cross-replica", &body).await;
    assert_eq!(first, second);
    assert_eq!(
        scalar(&database_url, delivered).await,
        before + 1,
        "social services only"
    );
    // …and the same key with another body is a conflict on the other replica too.
    let conflict = b
        .post(
            "/v1/notices",
            SCHOOL,
            Some("cross-replica"),
            &absence(&cpr16(4122), 31),
        )
        .await;
    problem(conflict, 409).await;

    // One chain: both replicas and the CLI accept it.
    assert_eq!(a.verify().await["ok"], true);
    assert_eq!(b.verify().await["ok"], true);
    assert_eq!(scalar(&database_url, UNAUDITED_DELIVERIES).await, 0);
    let (code_a, _) = process_a.terminate();
    let (code_b, _) = process_b.terminate();
    assert_eq!((code_a, code_b), (Some(0), Some(0)));
    let report = cli_verify(&config_path);
    assert!(report.contains("audit chain intact"), "{report}");

    if let Some((admin, name)) = pg {
        drop_pg_database(&admin, &name).await;
    }
}

// ------------------------------------------------------------------------------------------------
// Fail closed and recover
// ------------------------------------------------------------------------------------------------

/// A TCP proxy between the gateway and PostgreSQL that the test can cut and restore.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let accept_up = up.clone();
        let accept_cut = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    // The server is "down": the connection closes at once.
                    drop(inbound);
                    continue;
                }
                let mut cut = accept_cut.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy { port, up, cut }
    }

    /// Closes every connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_fails_closed_and_the_gateway_recovers_without_a_restart() {
    let Some(admin) = postgres_url("a_database_outage_fails_closed") else {
        return;
    };
    let options = Options {
        backend: Backend::Postgres(admin.clone()),
        ..Options::default()
    };
    let (_dir, config_path, keys, pg) = prepare(&options).await;
    let mut config = Config::load(&config_path).unwrap();
    let database_url = config.database.url.expose_secret().to_owned();
    // host:port of the test database, from `postgres://user@host:port/db`.
    let authority = database_url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .map(|a| a.rsplit('@').next().unwrap_or(a))
        .unwrap()
        .to_owned();
    let proxy = Proxy::start(authority.clone()).await;
    let proxied = database_url.replace(&authority, &format!("127.0.0.1:{}", proxy.port));
    config.database.url = SecretString::from(proxied);
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let replica = Replica {
        base: base.clone(),
        client: reqwest::Client::new(),
        keys: Arc::new(keys),
    };
    let emma = cpr16(4121);
    replica.consent(&emma).await;

    // Load running through the outage: every answer is 202 or a 503 problem.
    let running = Arc::new(AtomicBool::new(true));
    let mut load = Vec::new();
    for worker in 0..4 {
        let replica = replica.clone();
        let running = running.clone();
        let emma = emma.clone();
        load.push(tokio::spawn(async move {
            let (mut ok, mut unavailable) = (0u32, 0u32);
            let mut i = 0;
            while running.load(Ordering::SeqCst) {
                i += 1;
                let response = replica
                    .post(
                        "/v1/notices",
                        SCHOOL,
                        Some(&format!("w{worker}-{i}")),
                        &absence(&emma, 18),
                    )
                    .await;
                match response.status().as_u16() {
                    202 => ok += 1,
                    503 => {
                        problem(response, 503).await;
                        unavailable += 1;
                    }
                    other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
                }
            }
            (ok, unavailable)
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // While PostgreSQL is away: notices, pulls, consents and readiness all fail closed.
    let ready = replica
        .client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    problem(ready, 503).await;
    let notice = replica
        .post(
            "/v1/notices",
            SCHOOL,
            Some("during-outage"),
            &absence(&emma, 18),
        )
        .await;
    problem(notice, 503).await;
    let pull = replica
        .post(
            "/v1/requests",
            ("jonas.kp", "youth-unit", "contact_person"),
            None,
            &json!({"subject": emma, "category": "social.measures",
                    "purpose": "kui.contact_person", "source": "social-services"}),
        )
        .await;
    problem(pull, 503).await;
    let healthz = replica
        .client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200, "the process itself is up");

    // PostgreSQL is back: the pool reconnects, no restart.
    proxy.restore();
    let mut ready = false;
    for _ in 0..60 {
        let response = replica
            .client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "/readyz did not recover");
    let after = replica.notice("after-outage", &absence(&emma, 18)).await;
    assert_eq!(
        recipients(&after, "deliveries"),
        ["social-services", "youth-unit"]
    );
    running.store(false, Ordering::SeqCst);
    let (mut ok, mut unavailable) = (0, 0);
    for task in load {
        let (o, u) = task.await.unwrap();
        ok += o;
        unavailable += u;
    }
    assert!(ok > 0, "the load got through before the outage");
    assert!(unavailable > 0, "the load saw the outage");

    // Nothing left without an audit record, and the chain is intact.
    assert_eq!(scalar(&database_url, UNAUDITED_DELIVERIES).await, 0);
    assert_eq!(replica.verify().await["ok"], true);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let report = cli_verify(&config_path);
    assert!(report.contains("audit chain intact"), "{report}");

    if let Some((admin, name)) = pg {
        drop_pg_database(&admin, &name).await;
    }
}

// ------------------------------------------------------------------------------------------------
// The appender's own connection
// ------------------------------------------------------------------------------------------------

/// The backends of `database_url`'s database that the appender opened (decision 0027).
async fn appender_backends(database_url: &str) -> Vec<i32> {
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    let pids = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'sluse-appender'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    pids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_appender_commits_on_a_connection_of_its_own_and_replaces_it_when_it_dies() {
    let Some(admin) = postgres_url("the_appender_commits_on_a_connection_of_its_own") else {
        return;
    };
    let app = crate::helpers::spawn_with(Options {
        backend: Backend::Postgres(admin),
        ..Options::default()
    })
    .await;
    let school = app.token(SCHOOL.0, SCHOOL.1, SCHOOL.2);
    let subject = cpr16(41);
    let notice = |key: &'static str| {
        app.client
            .post(app.url("/v1/notices"))
            .bearer_auth(&school)
            .header("Idempotency-Key", key)
            .json(&absence(&subject, 18))
            .send()
    };

    assert_eq!(notice("own-connection-1").await.unwrap().status(), 202);
    let before = appender_backends(&app.database_url).await;
    assert_eq!(before.len(), 1, "one appender connection: {before:?}");

    // The database ends that backend, as a restart or an administrator would.
    let mut conn = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(before[0])
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert!(ended);

    // After a second of quiet the connection is tested before use, found dead and replaced: the
    // next notice is committed, not refused.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let response = notice("own-connection-2").await.unwrap();
    let status = response.status();
    assert_eq!(status, 202, "{}", response.text().await.unwrap());
    let after = appender_backends(&app.database_url).await;
    assert_eq!(after.len(), 1, "one appender connection: {after:?}");
    assert_ne!(after, before, "a new backend");

    let verify: Value = app
        .get("/v1/audit/verify", Some(&app.token(DPO.0, DPO.1, DPO.2)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(
        verify["records"], 4,
        "two notices, two recipients each: {verify}"
    );
    app.stop().await;
}
