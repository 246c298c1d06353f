//! The `sluse` binary as a black box: argument errors, configuration errors that name the key,
//! keygen, migrate, serve's start-up refusals, graceful shutdown, and the demo.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use crate::helpers::{Options, prepare};

pub fn sluse() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluse"))
}

/// A running `sluse` process whose standard error is collected line by line.
pub struct Process {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Process {
    pub fn spawn(mut command: Command) -> Process {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Process {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle` and returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line containing `{needle}`; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends SIGTERM and waits for exit; returns the exit code and every line printed.
    pub fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        // The reader threads end when the pipes close.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status.code(), std::mem::take(&mut self.seen))
    }
}

impl Drop for Process {
    /// A test that fails half-way does not leave its `sluse` process running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `sluse serve` on a prepared config and returns the process and its base URL.
pub async fn serve(config: &Path) -> (Process, String) {
    serve_with_env(config, &[]).await
}

/// [`serve`] with extra environment variables (e.g. `SLUSE_AUDIT__CHECKPOINT_EVERY`).
pub async fn serve_with_env(config: &Path, env: &[(&str, &str)]) -> (Process, String) {
    crate::helpers::init();
    let mut command = sluse();
    command
        .args(["serve", "--config"])
        .arg(config)
        .env("SLUSE_LOG", "info")
        .envs(env.iter().copied());
    let mut process = Process::spawn(command);
    let line = process.wait_for("\"serving\"");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = event["addr"].as_str().unwrap().to_owned();
    (process, format!("http://{addr}"))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const MINIMAL: &str = r#"
[server]
listen = "127.0.0.1:0"
plain_http = true
[database]
url = "sqlite://sluse.db"
[policies]
dir = "policies"
[[auth.issuers]]
issuer = "https://idp.invalid"
audience = "sluse"
jwks_file = "jwks.json"
[audit]
signing_key = "keys/audit-signing.key"
pseudonym_key = "keys/pseudonym.key"
"#;

fn config_error(toml: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "sluse.toml", toml);
    let mut command = sluse();
    command.args(["keygen", "--config"]).arg(&path);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "a config error exits 1");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn unknown_flags_and_missing_arguments_exit_2_with_a_message() {
    for args in [&["serve", "--bogus"][..], &["serve"], &[], &["frobnicate"]] {
        let output = sluse().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty());
    }
}

#[test]
fn config_errors_name_the_key() {
    let cases: [(String, &str); 9] = [
        (
            MINIMAL.replace("127.0.0.1:0", "localhost-ish"),
            "server.listen",
        ),
        (
            MINIMAL.replace("plain_http = true", "plain_http = true\nlisten_backlog = 5"),
            "listen_backlog",
        ),
        (
            MINIMAL.replace("plain_http = true", "plain_http = false"),
            "server.tls",
        ),
        (
            MINIMAL.replace("127.0.0.1:0", "0.0.0.0:0"),
            "server.plain_http",
        ),
        (
            MINIMAL.replace("sqlite://sluse.db", "mysql://db"),
            "database.url",
        ),
        (
            MINIMAL.replace("audience = \"sluse\"", "audience = \"\""),
            "auth.issuers[0].audience",
        ),
        (
            MINIMAL.replace("plain_http = true", "plain_http = \"yes\""),
            "server.plain_http",
        ),
        (
            format!("{MINIMAL}[[audit.witnesses]]\nname = \"W\"\npublic_key = \"c2hvcnQ=\"\n"),
            "audit.witnesses[0].public_key",
        ),
        (
            MINIMAL.replace(
                "plain_http = true",
                "plain_http = true\nidle_timeout_ms = 0",
            ),
            "server.idle_timeout_ms",
        ),
    ];
    for (toml, key) in cases {
        let stderr = config_error(&toml, &[]);
        assert!(stderr.contains(key), "expected `{key}` in: {stderr}");
    }
}

#[test]
fn environment_overrides_apply_and_are_validated() {
    let stderr = config_error(MINIMAL, &[("SLUSE_SERVER__LISTEN", "not-an-address")]);
    assert!(stderr.contains("server.listen"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "sluse.toml", MINIMAL);
    let config = sluse::config::Config::load_with_env(
        &path,
        [(
            "SLUSE_SERVER__LISTEN".to_owned(),
            "127.0.0.1:9999".to_owned(),
        )],
    )
    .unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:9999");
}

#[test]
fn a_database_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let toml = MINIMAL.replace(
        "sqlite://sluse.db",
        "postgres://sluse:hunter2secret@db.invalid/sluse",
    );
    let path = write(dir.path(), "sluse.toml", &toml);
    let config = sluse::config::Config::load(&path).unwrap();
    assert!(!format!("{config:?}").contains("hunter2secret"));
}

#[test]
fn keygen_creates_missing_keys_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "sluse.toml", MINIMAL);
    let output = sluse()
        .args(["keygen", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success());
    let key = dir.path().join("keys/audit-signing.key");
    let before = std::fs::read(&key).unwrap();
    let output = sluse()
        .args(["keygen", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("kept"));
    assert_eq!(before, std::fs::read(&key).unwrap());
}

#[tokio::test]
async fn serve_refuses_to_start_without_keys_or_migrations() {
    let (dir, config, _keys, _) = prepare(&Options::default()).await;

    std::fs::remove_file(dir.path().join("keys/pseudonym.key")).unwrap();
    let output = sluse()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("audit.pseudonym_key") && stderr.contains("sluse keygen"),
        "{stderr}"
    );

    sluse()
        .args(["keygen", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    std::fs::remove_file(dir.path().join("sluse.db")).unwrap();
    let output = sluse()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sluse migrate"), "{stderr}");

    let output = sluse()
        .args(["migrate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (process, base) = serve(&config).await;
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let (code, _) = process.terminate();
    assert_eq!(code, Some(0), "SIGTERM is a clean shutdown");
}

#[tokio::test]
async fn serve_refuses_a_database_migrated_by_a_newer_binary() {
    let (dir, config, _keys, _) = prepare(&Options::default()).await;
    let url = format!("sqlite://{}", dir.path().join("sluse.db").display());
    let store = sluse::store::Store::connect(
        &sluse::config::DatabaseConfig {
            url: url.into(),
            max_connections: 1,
        },
        sluse::store::OpenMode::Existing,
    )
    .await
    .unwrap();
    if let sluse::store::Store::Sqlite(s) = &store {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (99999999, 'future', CURRENT_TIMESTAMP, 1, x'00', 0)",
        )
        .execute(s.pool())
        .await
        .unwrap();
    }
    store.close().await;
    let output = sluse()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("newer"));
}

#[tokio::test]
async fn demo_starts_and_answers_readyz() {
    crate::helpers::init();
    let dir = tempfile::tempdir().unwrap();
    let mut command = sluse();
    command
        .args(["demo", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .env("SLUSE_LOG", "warn");
    let mut process = Process::spawn(command);
    let line = process.wait_for("Sluse demo gateway at ");
    let base = line.rsplit(' ').next().unwrap().to_owned();
    let token_line = process.wait_for("export TOKEN_DORTE_DPO=");
    let token = token_line.split('\'').nth(1).unwrap().to_owned();
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let me: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "dpo");
    let (code, _) = process.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn demo_refuses_a_database_url_that_is_not_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let output = sluse()
        .args([
            "demo",
            "--port",
            "0",
            "--database-url",
            "mysql://db/sluse",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("postgres://"), "{stderr}");
}

/// `sluse demo --database-url postgres://…` migrates and seeds that database, serves a permitted
/// notice, and `sluse serve --config <demo dir>/sluse.toml` on another port is a second replica on
/// the same database that accepts the demo's tokens and reaches its simulated sources.
#[tokio::test]
async fn demo_on_postgres_serves_permitted_requests_and_a_second_replica_shares_it() {
    let admin = match std::env::var("SLUSE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("note: demo on PostgreSQL skipped: SLUSE_TEST_POSTGRES_URL is not set");
            return;
        }
    };
    crate::helpers::init();
    let (url, name) = crate::helpers::create_pg_database(&admin).await;
    let _drop = DropDatabase(admin, name);
    let dir = tempfile::tempdir().unwrap();
    let mut command = sluse();
    command
        .args(["demo", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .arg("--database-url")
        .arg(&url)
        .env("SLUSE_LOG", "warn");
    let mut demo = Process::spawn(command);
    let line = demo.wait_for("Sluse demo gateway at ");
    let base = line.rsplit(' ').next().unwrap().to_owned();
    demo.wait_for("database: PostgreSQL");
    let mut token = |var: &str| {
        let line = demo.wait_for(&format!("export {var}="));
        line.split('\'').nth(1).unwrap().to_owned()
    };
    let kp = token("TOKEN_JONAS_KP");
    let school = token("TOKEN_NORDSKOLEN_SYSTEM");
    let dpo = token("TOKEN_DORTE_DPO");
    let line = demo.wait_for("EMMA=");
    let emma = line
        .split("EMMA=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    let config = std::fs::read_to_string(dir.path().join("sluse.toml")).unwrap();
    assert!(config.contains(&format!("url = \"{url}\"")), "{config}");
    assert!(!dir.path().join("sluse.db").exists());

    let client = reqwest::Client::new();
    let answer: serde_json::Value = client
        .post(format!("{base}/v1/notices"))
        .bearer_auth(&school)
        .header("Idempotency-Key", "pg-demo-1")
        .json(&serde_json::json!({
            "kind": "absence", "subject": emma,
            "data": {"period": {"from": "2026-08-10", "to": "2026-10-31"},
                     "unlawful_absence_pct": 18, "absence_band": ">=15", "parent_contacts": 3}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["deliveries"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );

    // The second replica: the same config, another port, the same database.
    let mut command = sluse();
    command
        .args(["--log-format", "json", "serve", "--config"])
        .arg(dir.path().join("sluse.toml"))
        .env("SLUSE_SERVER__LISTEN", "127.0.0.1:0")
        .env("SLUSE_LOG", "info");
    let mut replica = Process::spawn(command);
    let line = replica.wait_for("\"serving\"");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    let second = format!("http://{}", event["addr"].as_str().unwrap());
    assert_ne!(second, base);
    let pulled: serde_json::Value = client
        .post(format!("{second}/v1/requests"))
        .bearer_auth(&kp)
        .json(&serde_json::json!({
            "subject": emma, "category": "social.measures",
            "purpose": "kui.contact_person", "source": "social-services"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(pulled["data"].is_object(), "{pulled}");
    // One chain across both: the notice's 2 records from the demo, the pull's from the replica.
    for gateway in [&base, &second] {
        let verify: serde_json::Value = client
            .get(format!("{gateway}/v1/audit/verify"))
            .bearer_auth(&dpo)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(verify["ok"], true, "{verify}");
        assert_eq!(verify["records"], 3, "{verify}");
    }
    let (code, _) = replica.terminate();
    assert_eq!(code, Some(0));
    let (code, _) = demo.terminate();
    assert_eq!(code, Some(0));
}

/// Drops a test's PostgreSQL database when the test ends, also when it fails.
struct DropDatabase(String, String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.0.clone(), self.1.clone());
        // Drop is synchronous; the database is dropped from a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(crate::helpers::drop_pg_database(&admin, &name));
        })
        .join();
    }
}

#[test]
fn policy_check_accepts_the_shipped_bundle_and_lists_every_error_of_a_broken_one() {
    let shipped = sluse::demo::shipped_policies();
    let output = sluse()
        .args(["policy", "check"])
        .arg(&shipped)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ok") && stdout.contains("version"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("policies");
    copy_tree(&shipped, &broken);
    let departments = broken.join("departments.toml");
    let text = std::fs::read_to_string(&departments).unwrap();
    std::fs::write(
        &departments,
        text.replacen("kind = \"ppr\"", "kind = \"police\"", 1),
    )
    .unwrap();
    std::fs::write(broken.join("purposes.toml"), "this is = = not toml").unwrap();
    let output = sluse()
        .args(["policy", "check"])
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("departments.toml:") && stderr.contains("`police`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("purposes.toml:"),
        "every error at once: {stderr}"
    );
}

#[tokio::test]
async fn policy_explain_prints_the_decision_and_its_reasons() {
    let (dir, config, _keys, _) = prepare(&Options::default()).await;
    let request = dir.path().join("request.json");
    std::fs::write(
        &request,
        serde_json::json!({
            "requester": {"sub": "jonas.kp", "dept": "youth-unit", "role": "contact_person"},
            "subject": "210810-4121", "category": "social.measures",
            "purpose": "kui.contact_person", "source": "social-services",
            "date": "2026-11-29"
        })
        .to_string(),
    )
    .unwrap();
    let output = sluse()
        .args(["policy", "explain", "--config"])
        .arg(&config)
        .arg("--request")
        .arg(&request)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // No assignment and no consent in a fresh database: refused, with both reasons.
    assert!(stdout.contains("decision: deny"), "{stdout}");
    assert!(
        stdout.contains("not_need_to_know") && stdout.contains("no_consent"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("210810-4121") && !stdout.contains("2108104121"),
        "no CPR number in the output"
    );
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
