//! `spawn_app`: the gateway as production starts it (`Application::build`), on port 0, with a fresh
//! database per test, test keys, the shipped policies, and a test token issuer.

use std::{path::PathBuf, sync::Arc};

use secrecy::ExposeSecret;

use serde_json::Value;
use sluse::{
    app::Application,
    clock::{SharedClock, SystemClock},
    config::Config,
    keys,
    store::{OpenMode, Store},
};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::tokens::{AUDIENCE, ISSUER, TestKeys};

/// The backends a test can run on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// SQLite always; PostgreSQL too when `SLUSE_TEST_POSTGRES_URL` is set.
    pub fn all() -> Vec<Backend> {
        let mut all = vec![Backend::Sqlite];
        if let Ok(url) = std::env::var("SLUSE_TEST_POSTGRES_URL") {
            all.push(Backend::Postgres(url));
        }
        all
    }
}

/// How to start a test gateway.
pub struct Options {
    pub backend: Backend,
    pub clock: SharedClock,
    /// Extra TOML appended to `[server]`.
    pub server_toml: String,
    /// A `[server.tls]` table (then plain HTTP is off).
    pub tls_toml: Option<String>,
    /// Extra whole tables appended to the config.
    pub extra_toml: String,
    /// A policy directory instead of the shipped `policies/`.
    pub policies_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backend: Backend::Sqlite,
            clock: Arc::new(SystemClock),
            server_toml: String::new(),
            tls_toml: None,
            extra_toml: String::new(),
            policies_dir: None,
        }
    }
}

/// A running gateway.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub keys: TestKeys,
    /// The database URL the gateway uses (an absolute `sqlite://` path, or the test's own PostgreSQL
    /// database), for tests that look at the rows directly.
    pub database_url: String,
    /// Keeps the data directory alive as long as the app.
    _dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    pg_database: Option<(String, String)>,
}

/// Installs the ring providers (rustls and jsonwebtoken) once per test process.
pub fn init() {
    sluse::auth::install_crypto_provider();
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

/// Writes a config for `options` into a fresh directory and returns (dir, config path, keys).
pub async fn prepare(options: &Options) -> (TempDir, PathBuf, TestKeys, Option<(String, String)>) {
    init();
    let dir = tempfile::tempdir().unwrap();
    let keys = TestKeys::generate("test");
    std::fs::write(dir.path().join("jwks.json"), keys.jwks().to_string()).unwrap();
    let (url, pg) = match &options.backend {
        Backend::Sqlite => ("sqlite://sluse.db".to_owned(), None),
        Backend::Postgres(admin) => {
            let (url, name) = create_pg_database(admin).await;
            (url, Some((admin.clone(), name)))
        }
    };
    let (plain, tls) = match &options.tls_toml {
        Some(t) => ("false", format!("[server.tls]\n{t}\n")),
        None => ("true", String::new()),
    };
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
plain_http = {plain}
{server}
{tls}
[database]
url = "{url}"
max_connections = 8

[policies]
dir = "{policies}"

[[auth.issuers]]
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
jwks_file = "jwks.json"

[audit]
signing_key = "keys/audit-signing.key"
pseudonym_key = "keys/pseudonym.key"

[log]
level = "warn"
{extra}
"#,
        server = options.server_toml,
        policies = options
            .policies_dir
            .clone()
            .unwrap_or_else(sluse::demo::shipped_policies)
            .display(),
        extra = options.extra_toml,
    );
    let config_path = dir.path().join("sluse.toml");
    std::fs::write(&config_path, config).unwrap();
    let loaded = Config::load(&config_path).unwrap();
    keys::keygen(&loaded.audit).unwrap();
    let store = Store::connect(&loaded.database, OpenMode::CreateIfMissing)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    (dir, config_path, keys, pg)
}

pub async fn spawn_with(options: Options) -> TestApp {
    let (dir, config_path, keys, pg_database) = prepare(&options).await;
    let config = Config::load(&config_path).unwrap();
    let database_url = config.database.url.expose_secret().to_owned();
    let app = Application::build(config, options.clock.clone())
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    let base = format!("{}://{addr}", app.scheme());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::builder().build().unwrap(),
        keys,
        database_url,
        _dir: dir,
        stop: Some(stop),
        task: Some(task),
        pg_database,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A token for a principal from the test issuer.
    pub fn token(&self, sub: &str, dept: &str, role: &str) -> String {
        self.keys.token(sub, dept, role)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((admin, name)) = self.pg_database.take() {
            // Drop is synchronous; the database is dropped from a thread with its own runtime.
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

pub async fn create_pg_database(admin_url: &str) -> (String, String) {
    use sqlx::Connection;
    let name = format!("sluse_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    (format!("{base}/{name}"), name)
}

pub async fn drop_pg_database(admin_url: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        let _ = conn.close().await;
    }
}

/// Reads a response as a problem document, checking the content type.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    for key in ["type", "title", "status", "detail"] {
        assert!(body.get(key).is_some(), "problem without `{key}`: {body}");
    }
    assert_eq!(body["status"], status);
    body
}
