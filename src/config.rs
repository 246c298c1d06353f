//! Configuration: a TOML file plus `SLUSE_*` environment overrides, checked once at start.
//!
//! Every key is validated before anything starts; an error names the key and the problem.
//! Relative paths are resolved against the directory of the config file, so a config and the
//! files it names can be moved together.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Format, Serialized, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Environment variables that configure the gateway start with this prefix; `__` separates
/// nesting levels (`SLUSE_DATABASE__URL`).
pub const ENV_PREFIX: &str = "SLUSE_";

/// Prefixes of `SLUSE_*` variables that are not configuration (test harness, logging).
const ENV_NOT_CONFIG: [&str; 2] = ["TEST_", "LOG"];

/// A configuration error: which key, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed, or a key has the wrong type or is unknown.
    #[error("{0}")]
    Parse(String),
    /// A key parsed but its value is not acceptable.
    #[error("`{key}`: {problem}")]
    Invalid {
        /// The dotted key, e.g. `server.listen`.
        key: String,
        /// What is wrong, lowercase.
        problem: String,
    },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// The whole configuration of one gateway process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The HTTP(S) listener.
    pub server: ServerConfig,
    /// Where state is kept.
    pub database: DatabaseConfig,
    /// The policy bundle.
    pub policies: PoliciesConfig,
    /// Token issuers.
    pub auth: AuthConfig,
    /// Audit chain keys and checkpoint cadence.
    pub audit: AuditConfig,
    /// Source systems that pull requests are fetched from.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Log output.
    #[serde(default)]
    pub log: LogConfig,
    /// Rate and concurrency limits.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// `[limits]`: token buckets per principal and per department (a rate of 0 turns one off), and
/// the most requests in flight.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests a second one principal (`sub` in `dept`) may make on average; 0: no limit.
    #[serde(default)]
    pub per_principal_per_s: f64,
    /// Requests one principal may make at once after a quiet spell.
    #[serde(default = "default_burst")]
    pub per_principal_burst: u32,
    /// Requests a second all principals of one department may make together; 0: no limit.
    #[serde(default)]
    pub per_department_per_s: f64,
    /// Requests one department may make at once after a quiet spell.
    #[serde(default = "default_department_burst")]
    pub per_department_burst: u32,
    /// Requests handled at once; more are answered 503 at once. 0: no limit.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_requests: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            per_principal_per_s: 0.0,
            per_principal_burst: default_burst(),
            per_department_per_s: 0.0,
            per_department_burst: default_department_burst(),
            max_concurrent_requests: default_max_concurrent(),
        }
    }
}

fn default_burst() -> u32 {
    20
}
fn default_department_burst() -> u32 {
    200
}
fn default_max_concurrent() -> usize {
    1024
}
fn default_jwks_poll_interval_s() -> u64 {
    5
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The socket address to listen on.
    pub listen: String,
    /// Serve plain HTTP instead of TLS: loopback testing only, refused on other addresses.
    #[serde(default)]
    pub plain_http: bool,
    /// Certificate and key; required unless `plain_http`.
    pub tls: Option<TlsConfig>,
    /// Largest accepted request body, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// A request that takes longer is answered 503.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Time a client has to send its request line and headers (slow clients are cut off).
    #[serde(default = "default_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// Largest request head (request line and headers) accepted.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// A connection with no request in flight for this long is closed.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// How long shutdown waits for requests in flight.
    #[serde(default = "default_shutdown_grace_ms")]
    pub shutdown_grace_ms: u64,
}

/// `[server.tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA bundle: when set, every client must present a certificate it signed (mTLS).
    pub client_ca: Option<PathBuf>,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path` or `postgres://…`; may hold a password, so it is never printed.
    pub url: SecretString,
    /// Pool size.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

/// `[policies]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesConfig {
    /// The policy bundle directory.
    pub dir: PathBuf,
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Trusted token issuers; at least one.
    pub issuers: Vec<IssuerConfig>,
    /// How often the JWKS files are checked for changes, in seconds; 0: only on SIGHUP.
    #[serde(default = "default_jwks_poll_interval_s")]
    pub jwks_poll_interval_s: u64,
}

/// `[[auth.issuers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` claim.
    pub issuer: String,
    /// The audience that must be in `aud`.
    pub audience: String,
    /// The issuer's JSON Web Key Set.
    pub jwks_file: PathBuf,
}

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Ed25519 checkpoint signing key (created by `sluse keygen`).
    pub signing_key: PathBuf,
    /// HMAC key for subject pseudonyms (created by `sluse keygen`).
    pub pseudonym_key: PathBuf,
    /// Make a checkpoint after this many records.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// …or after this many seconds with new records.
    #[serde(default = "default_checkpoint_interval_s")]
    pub checkpoint_interval_s: u64,
    /// A statutory disclosure not reviewed by a DPO within this many days is overdue.
    #[serde(default = "default_review_overdue_days")]
    pub review_overdue_days: u32,
    /// The witnesses whose co-signatures the gateway accepts (`[[audit.witnesses]]`); none by
    /// default: a co-signature from a key nobody vouched for proves nothing.
    #[serde(default)]
    pub witnesses: Vec<WitnessConfig>,
}

/// `[[audit.witnesses]]`: a party allowed to co-sign the gateway's checkpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// Who runs it, as the console shows it (e.g. "Aarhus Kommune, IT-drift").
    pub name: String,
    /// Its raw 32-byte Ed25519 public key, base64 (`sluse audit witness-key` prints it).
    pub public_key: String,
}

impl WitnessConfig {
    /// The raw public key, when `public_key` is one.
    pub fn key_bytes(&self) -> Option<[u8; 32]> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(self.public_key.trim())
            .ok()?
            .try_into()
            .ok()
    }
}

/// `[[sources]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The department whose data this system holds.
    pub department: String,
    /// Base URL speaking the source protocol.
    pub url: String,
    /// Per-request timeout.
    #[serde(default = "default_source_timeout_ms")]
    pub timeout_ms: u64,
    /// Largest accepted answer, in bytes.
    #[serde(default = "default_source_max_bytes")]
    pub max_response_bytes: usize,
    /// Client certificate for mTLS to the source.
    pub client_cert: Option<PathBuf>,
    /// Client key for mTLS to the source.
    pub client_key: Option<PathBuf>,
    /// CA bundle to trust for the source instead of the system roots.
    pub ca: Option<PathBuf>,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (default) or `pretty`.
    #[serde(default)]
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info` or `sluse=debug,info`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::default(),
            level: default_log_level(),
        }
    }
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line (for collectors).
    #[default]
    Json,
    /// Human-readable lines (for a terminal).
    Pretty,
}

fn default_body_limit() -> usize {
    256 * 1024
}
fn default_request_timeout_ms() -> u64 {
    15_000
}
fn default_header_read_timeout_ms() -> u64 {
    10_000
}
fn default_max_header_bytes() -> usize {
    64 * 1024
}
fn default_idle_timeout_ms() -> u64 {
    60_000
}
fn default_shutdown_grace_ms() -> u64 {
    10_000
}
fn default_max_connections() -> u32 {
    16
}
fn default_checkpoint_every() -> u64 {
    1000
}
fn default_checkpoint_interval_s() -> u64 {
    60
}
fn default_review_overdue_days() -> u32 {
    14
}
fn default_source_timeout_ms() -> u64 {
    2000
}
fn default_source_max_bytes() -> usize {
    1024 * 1024
}
fn default_log_level() -> String {
    "info".to_owned()
}

/// The database backend, chosen by the URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl DatabaseConfig {
    /// The backend named by the URL scheme.
    pub fn backend(&self) -> Option<Backend> {
        let url = self.url.expose_secret();
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

impl Config {
    /// Reads `path`, applies `SLUSE_*` environment overrides, resolves relative paths against the
    /// file's directory and validates every key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// As [`Config::load`], with the environment given explicitly (tests).
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::Parse(format!("cannot read config file `{}`: {e}", path.display()))
        })?;
        let overrides: Vec<(String, String)> = env
            .into_iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(ENV_PREFIX)?;
                (!ENV_NOT_CONFIG.iter().any(|p| rest.starts_with(p))).then(|| (rest.to_owned(), v))
            })
            .collect();
        let mut figment = Figment::new().merge(Toml::string(&text));
        for (key, value) in overrides {
            let dotted = key.to_lowercase().replace("__", ".");
            // Parsed like figment's own `Env` provider: `true` is a bool, `8443` a number.
            let value: figment::value::Value = value.parse().unwrap_or_else(|never| match never {});
            figment = figment.merge(Serialized::default(&dotted, value));
        }
        let mut config: Config = figment.extract().map_err(describe_figment)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(tls) = &mut self.server.tls {
            fix(&mut tls.cert);
            fix(&mut tls.key);
            if let Some(ca) = &mut tls.client_ca {
                fix(ca);
            }
        }
        fix(&mut self.policies.dir);
        for issuer in &mut self.auth.issuers {
            fix(&mut issuer.jwks_file);
        }
        fix(&mut self.audit.signing_key);
        fix(&mut self.audit.pseudonym_key);
        for source in &mut self.sources {
            for p in [
                &mut source.client_cert,
                &mut source.client_key,
                &mut source.ca,
            ]
            .into_iter()
            .flatten()
            {
                fix(p);
            }
        }
        let url = self.database.url.expose_secret();
        if let Some(rest) = url.strip_prefix("sqlite://")
            && !rest.starts_with('/')
            && !rest.starts_with(':')
            && !rest.is_empty()
        {
            let resolved = format!("sqlite://{}", base.join(rest).display());
            self.database.url = SecretString::from(resolved);
        }
    }

    /// Checks every value that parsing alone cannot.
    fn validate(&self) -> Result<(), ConfigError> {
        let addr = self.listen_addr()?;
        if self.server.plain_http {
            if !addr.ip().is_loopback() {
                return Err(ConfigError::invalid(
                    "server.plain_http",
                    format!(
                        "plain HTTP is only allowed on a loopback address, not `{}`",
                        addr.ip()
                    ),
                ));
            }
        } else if self.server.tls.is_none() {
            return Err(ConfigError::invalid(
                "server.tls",
                "missing: a certificate and key are required unless `plain_http = true`",
            ));
        }
        if self.server.body_limit_bytes == 0 || self.server.body_limit_bytes > 64 * 1024 * 1024 {
            return Err(ConfigError::invalid(
                "server.body_limit_bytes",
                "must be between 1 and 67108864",
            ));
        }
        if self.server.header_read_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "server.header_read_timeout_ms",
                "must be positive",
            ));
        }
        if self.server.idle_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "server.idle_timeout_ms",
                "must be positive",
            ));
        }
        if !(1024..=1024 * 1024).contains(&self.server.max_header_bytes) {
            return Err(ConfigError::invalid(
                "server.max_header_bytes",
                "must be between 1024 and 1048576",
            ));
        }
        if self.server.request_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "server.request_timeout_ms",
                "must be positive",
            ));
        }
        if self.database.backend().is_none() {
            return Err(ConfigError::invalid(
                "database.url",
                "must start with `sqlite://` or `postgres://`",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "must be positive",
            ));
        }
        if self.auth.issuers.is_empty() {
            return Err(ConfigError::invalid(
                "auth.issuers",
                "at least one issuer is required",
            ));
        }
        for (i, issuer) in self.auth.issuers.iter().enumerate() {
            if issuer.issuer.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("auth.issuers[{i}].issuer"),
                    "must not be empty",
                ));
            }
            if issuer.audience.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("auth.issuers[{i}].audience"),
                    "must not be empty",
                ));
            }
        }
        if self.audit.checkpoint_every == 0 {
            return Err(ConfigError::invalid(
                "audit.checkpoint_every",
                "must be positive",
            ));
        }
        if self.audit.checkpoint_interval_s == 0 {
            return Err(ConfigError::invalid(
                "audit.checkpoint_interval_s",
                "must be positive",
            ));
        }
        for (i, witness) in self.audit.witnesses.iter().enumerate() {
            let key = |k: &str| format!("audit.witnesses[{i}].{k}");
            if witness.name.trim().is_empty() {
                return Err(ConfigError::invalid(key("name"), "must not be empty"));
            }
            let Some(bytes) = witness.key_bytes() else {
                return Err(ConfigError::invalid(
                    key("public_key"),
                    "must be a base64 Ed25519 public key (32 bytes)",
                ));
            };
            if self.audit.witnesses[..i]
                .iter()
                .any(|w| w.key_bytes() == Some(bytes))
            {
                return Err(ConfigError::invalid(key("public_key"), "is listed twice"));
            }
        }
        for (i, source) in self.sources.iter().enumerate() {
            let key = |k: &str| format!("sources[{i}].{k}");
            if !(source.url.starts_with("https://") || source.url.starts_with("http://")) {
                return Err(ConfigError::invalid(
                    key("url"),
                    "must be an http:// or https:// URL",
                ));
            }
            if source.timeout_ms == 0 {
                return Err(ConfigError::invalid(key("timeout_ms"), "must be positive"));
            }
            if source.client_cert.is_some() != source.client_key.is_some() {
                return Err(ConfigError::invalid(
                    key("client_cert"),
                    "`client_cert` and `client_key` must be given together",
                ));
            }
            if self.sources[..i]
                .iter()
                .any(|s| s.department == source.department)
            {
                return Err(ConfigError::invalid(
                    key("department"),
                    format!(
                        "department `{}` has more than one source",
                        source.department
                    ),
                ));
            }
        }
        for (key, rate) in [
            (
                "limits.per_principal_per_s",
                self.limits.per_principal_per_s,
            ),
            (
                "limits.per_department_per_s",
                self.limits.per_department_per_s,
            ),
        ] {
            if !rate.is_finite() || rate < 0.0 {
                return Err(ConfigError::invalid(
                    key,
                    "must be 0 (off) or a positive number",
                ));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::invalid("log.level", e.to_string()))?;
        Ok(())
    }

    /// The parsed listen address.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.listen.parse().map_err(|_| {
            ConfigError::invalid(
                "server.listen",
                format!(
                    "`{}` is not a socket address such as 127.0.0.1:8443",
                    self.server.listen
                ),
            )
        })
    }
}

/// Figment's messages already name the key; strip the profile prefix it adds.
fn describe_figment(error: figment::Error) -> ConfigError {
    let messages: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let kind = e.kind.to_string();
            if key.is_empty() {
                kind
            } else {
                format!("`{key}`: {kind}")
            }
        })
        .collect();
    ConfigError::Parse(messages.join("; "))
}
