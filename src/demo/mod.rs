//! `sluse demo`: a complete gateway on loopback in one command.
//!
//! It writes a data directory (a demo token issuer and its JWKS, the audit and pseudonym keys, a copy
//! of the shipped policies, a config file, a SQLite database), starts the gateway with plain HTTP on
//! 127.0.0.1, and prints the base URL with a ready-made token and `curl` line for each role.
//! The tokens are signed by a demo issuer whose key lives only in the data directory.
//!
//! With `--database-url postgres://…` the state lives in that PostgreSQL database instead (migrated
//! and seeded with the demo cases), and the config file names it: `sluse serve --config` on that file
//! (with `SLUSE_SERVER__LISTEN` for another port) is a second replica that shares the database, the
//! keys, the demo issuer's JWKS and the simulated source systems, which live as long as the demo.

mod cases;
mod sources;
mod walkthrough;

use std::{
    fs,
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::{
    app::Application,
    auth::{DemoIssuer, Principal, Role},
    clock::{Clock, SystemClock},
    config::Config,
    cpr::{Cpr, PseudonymKey},
    facts, keys,
    policy::{self, PolicyBundle},
    server,
    store::{OpenMode, Store},
    telemetry,
};

/// The demo issuer's `iss`.
pub const DEMO_ISSUER: &str = "https://idp.demo.sluse.invalid";
/// The audience demo tokens carry.
pub const DEMO_AUDIENCE: &str = "sluse";
/// How long printed demo tokens stay valid.
const TOKEN_LIFETIME_S: i64 = 12 * 3600;

/// One demo user: a token is printed for each.
struct DemoUser {
    sub: &'static str,
    dept: &'static str,
    role: Role,
    who: &'static str,
}

const USERS: [DemoUser; 8] = [
    DemoUser {
        sub: "anna.kui",
        dept: "youth-unit",
        role: Role::Caseworker,
        who: "youth-unit caseworker (assigns contact persons, records consents)",
    },
    DemoUser {
        sub: "jonas.kp",
        dept: "youth-unit",
        role: Role::ContactPerson,
        who: "contact person of Emma, Silas and Mohammed",
    },
    DemoUser {
        sub: "sofie.social",
        dept: "social-services",
        role: Role::Caseworker,
        who: "social-services caseworker",
    },
    DemoUser {
        sub: "nordskolen.system",
        dept: "nordskolen",
        role: Role::School,
        who: "Nordskolen's school system (absence notices)",
    },
    DemoUser {
        sub: "ppr.system",
        dept: "ppr",
        role: Role::System,
        who: "PPR's case system",
    },
    DemoUser {
        sub: "fgu.system",
        dept: "fgu-nord",
        role: Role::System,
        who: "FGU Nord's student system (education notices)",
    },
    DemoUser {
        sub: "jobcenter.system",
        dept: "jobcenter",
        role: Role::System,
        who: "the job centre's system",
    },
    DemoUser {
        sub: "dorte.dpo",
        dept: "dpo-office",
        role: Role::Dpo,
        who: "the data protection officer",
    },
];

/// Prepares the data directory and serves until SIGINT/SIGTERM.
///
/// `database_url`: a `postgres://` database to use instead of the data directory's SQLite file.
pub async fn run(
    data_dir: Option<PathBuf>,
    port: u16,
    database_url: Option<&str>,
    log_format: Option<crate::config::LogFormat>,
) -> Result<(), String> {
    let dir = match data_dir {
        Some(dir) => dir,
        None => tempfile::Builder::new()
            .prefix("sluse-demo-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep(),
    };
    let today = SystemClock.today();
    let sources = sources::start(&cases::cases(today))
        .await
        .map_err(|e| format!("cannot start the simulated source systems: {e}"))?;
    let config_path = prepare(&dir, port, database_url, &sources)?;
    let mut config = Config::load(&config_path).map_err(|e| e.to_string())?;
    if let Some(format) = log_format {
        config.log.format = format;
    }
    telemetry::init(&config.log);

    let clock = Arc::new(SystemClock);
    let store = Store::connect(&config.database, OpenMode::CreateIfMissing)
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let bundle = PolicyBundle::load(&config.policies.dir).map_err(|e| e.to_string())?;
    let key = keys::load_pseudonym_key(&config.audit.pseudonym_key).map_err(|e| e.to_string())?;
    let cases = cases::load(&store, &key, bundle.version(), clock.today(), clock.now())
        .await
        .map_err(|e| e.to_string())?;
    let example = explained_example(&store, &key, &bundle, &cases, clock.today()).await?;
    store.close().await;

    let app = Application::build(config, clock.clone())
        .await
        .map_err(|e| e.to_string())?;
    let addr = app.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{addr}");
    let issuer = DemoIssuer::load(&dir.join("demo-issuer.key")).map_err(|e| e.to_string())?;
    print_welcome(
        &base,
        &dir,
        &config_path,
        database_url.is_some(),
        &issuer,
        clock.as_ref(),
    )?;
    print!("{}", walkthrough::text(&base, &cases, &example));
    app.run_until(server::shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))
}

/// Writes everything the demo needs into `dir` (keeping what is already there) and returns the
/// config file's path. `database_url`: the database the config names instead of `sqlite://sluse.db`;
/// it must be a `postgres://` (or `postgresql://`) URL.
pub fn prepare(
    dir: &Path,
    port: u16,
    database_url: Option<&str>,
    sources: &[(String, String)],
) -> Result<PathBuf, String> {
    if let Some(url) = database_url
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        return Err(
            "`--database-url` must be a postgres:// URL (the default is SQLite in the data directory)"
                .to_owned(),
        );
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let issuer_key = dir.join("demo-issuer.key");
    let issuer = if issuer_key.exists() {
        DemoIssuer::load(&issuer_key)
    } else {
        DemoIssuer::generate_to(&issuer_key)
    }
    .map_err(|e| e.to_string())?;
    fs::write(dir.join("jwks.json"), issuer.jwks_json())
        .map_err(|e| format!("cannot write the demo JWKS: {e}"))?;

    let policies = dir.join("policies");
    if !policies.exists() {
        copy_dir(&shipped_policies(), &policies)?;
    }
    let config_path = dir.join("sluse.toml");
    fs::write(&config_path, demo_config(port, database_url, sources))
        .map_err(|e| format!("cannot write `{}`: {e}", config_path.display()))?;
    let config = Config::load(&config_path).map_err(|e| e.to_string())?;
    keys::keygen(&config.audit).map_err(|e| e.to_string())?;
    Ok(config_path)
}

/// The shipped policy bundle of this checkout.
pub fn shipped_policies() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))
}

fn demo_config(port: u16, database_url: Option<&str>, sources: &[(String, String)]) -> String {
    // A JSON string literal is a valid TOML basic string (same escapes).
    let database_url = serde_json::Value::from(database_url.unwrap_or("sqlite://sluse.db"));
    let mut config = format!(
        r#"# Written by `sluse demo`. Paths are relative to this file.
[server]
listen = "127.0.0.1:{port}"
plain_http = true

[database]
url = {database_url}

[policies]
dir = "policies"

[[auth.issuers]]
issuer = "{DEMO_ISSUER}"
audience = "{DEMO_AUDIENCE}"
jwks_file = "jwks.json"

[audit]
signing_key = "keys/audit-signing.key"
pseudonym_key = "keys/pseudonym.key"

[log]
format = "pretty"
"#
    );
    for (department, url) in sources {
        config.push_str(&format!(
            "\n# A simulated source system started by the demo.\n[[sources]]\ndepartment = \"{department}\"\nurl = \"{url}\"\ntimeout_ms = 2000\n"
        ));
    }
    config
}

fn print_welcome(
    base: &str,
    dir: &Path,
    config: &Path,
    postgres: bool,
    issuer: &DemoIssuer,
    clock: &dyn Clock,
) -> Result<(), String> {
    let exp = clock.now().as_second() + TOKEN_LIFETIME_S;
    println!("Sluse demo gateway at {base}");
    println!(
        "data directory: {}  (config: {})",
        dir.display(),
        config.display()
    );
    if postgres {
        println!("database: PostgreSQL, as given by --database-url. Another replica on it:");
        println!(
            "  SLUSE_SERVER__LISTEN=127.0.0.1:8081 sluse serve --config {}",
            config.display()
        );
    }
    println!();
    println!("Tokens (valid 12 hours), one per demo user:");
    for user in &USERS {
        let token = issuer
            .mint(
                DEMO_ISSUER,
                DEMO_AUDIENCE,
                user.sub,
                user.dept,
                user.role.as_str(),
                exp,
            )
            .map_err(|e| e.to_string())?;
        let var = format!("TOKEN_{}", user.sub.replace(['.', '-'], "_").to_uppercase());
        println!();
        println!(
            "# {} — sub `{}`, dept `{}`, role `{}`",
            user.who, user.sub, user.dept, user.role
        );
        println!("export {var}='{token}'");
    }
    println!();
    println!("Try:");
    println!("  curl -s {base}/healthz");
    println!("  curl -s {base}/readyz");
    println!("  curl -s -i {base}/v1/unknown        # errors are application/problem+json");
    Ok(())
}

/// `policy explain` of Emma's contact person asking social services whether a measure is active.
async fn explained_example(
    store: &Store,
    key: &PseudonymKey,
    bundle: &PolicyBundle,
    cases: &[cases::Case],
    today: jiff::civil::Date,
) -> Result<String, String> {
    let Some(emma) = cases.iter().find(|c| c.name == "Emma") else {
        return Ok(String::new());
    };
    let cpr = Cpr::parse(&emma.cpr).map_err(|e| e.to_string())?;
    let facts = facts::gather(store, key, &cpr, today)
        .await
        .map_err(|e| e.to_string())?
        .facts;
    let request = policy::Request {
        requester: Principal {
            sub: cases::CONTACT_PERSON.to_owned(),
            dept: "youth-unit".to_owned(),
            role: Role::ContactPerson,
        },
        category: "social.measures".to_owned(),
        purpose: "kui.contact_person".to_owned(),
        source: "social-services".to_owned(),
        recipient: "youth-unit".to_owned(),
        mode: policy::Mode::Pull,
        payload: None,
    };
    Ok(policy::explain(bundle, &request, &facts, today).to_string())
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot copy policies to `{}`: {e}", to.display());
    fs::create_dir_all(to).map_err(fail)?;
    for entry in fs::read_dir(from).map_err(|e| format!("cannot read `{}`: {e}", from.display()))? {
        let entry = entry.map_err(fail)?;
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(fail)?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target).map_err(fail)?;
        }
    }
    Ok(())
}
