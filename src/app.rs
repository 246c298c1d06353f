//! Start-up: everything `serve` needs, checked before the first connection is accepted.
//!
//! `Application::build` loads keys, policies and issuers, opens the store, checks the schema and
//! binds the listener; `main`, `demo` and every integration test start the gateway the same way
//! (port 0 in tests), so what the tests exercise is what production runs.

use std::{collections::HashSet, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use axum::Router;
use tokio::task::JoinHandle;

use crate::{
    api,
    audit::{AppenderConfig, AuditLog},
    auth::{self, TokenVerifier},
    clock::SharedClock,
    config::Config,
    cpr::PseudonymKey,
    keys::{self, KeyError, SharedSigningKey, SigningKey},
    notices::Sealer,
    ops::{ConcurrencyLimit, RateLimits},
    policy::{PolicyBundle, PolicyErrors},
    server,
    sources::Sources,
    store::{OpenMode, Store, StoreError},
};

/// Why the gateway would not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A key file is missing or unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The policy bundle is invalid.
    #[error("the policy bundle in `{dir}` is invalid:\n{errors}")]
    Policy {
        /// The bundle directory.
        dir: String,
        /// Every error found.
        errors: PolicyErrors,
    },
    /// An issuer's JWKS could not be loaded.
    #[error("`auth.issuers[{index}].jwks_file`: {problem}")]
    Jwks {
        /// Position of the issuer in the config.
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// The database is unreachable or not at this binary's schema.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// TLS could not be set up.
    #[error("`server.tls`: {0}")]
    Tls(String),
    /// The listener could not be bound.
    #[error("`server.listen`: cannot listen on `{addr}`: {problem}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What went wrong.
        problem: String,
    },
    /// A source system could not be set up.
    #[error("{0}")]
    Sources(String),
    /// The crypto providers are not the ones this binary needs.
    #[error("crypto provider: {0}")]
    Crypto(String),
    /// Anything else the configuration makes impossible.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// Shared state of a running gateway, handed to every handler.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    bundle: ArcSwap<PolicyBundle>,
    verifier: ArcSwap<TokenVerifier>,
    rate_limits: RateLimits,
    concurrency: ConcurrencyLimit,
    clock: SharedClock,
    pseudonym_key: PseudonymKey,
    sealer: Sealer,
    signing_key: SharedSigningKey,
    sources: Sources,
    audit: AuditLog,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    /// The policy bundle in force (take it once per request: a reload may swap it).
    pub fn bundle(&self) -> Arc<PolicyBundle> {
        self.inner.bundle.load_full()
    }
    /// The token verifier in force.
    pub fn verifier(&self) -> Arc<TokenVerifier> {
        self.inner.verifier.load_full()
    }
    /// Puts a validated bundle, and the verifier built with its departments, in force.
    pub fn replace_bundle(&self, bundle: PolicyBundle, verifier: TokenVerifier) {
        self.inner.verifier.store(Arc::new(verifier));
        self.inner.bundle.store(Arc::new(bundle));
    }
    /// Puts a verifier with reloaded issuer key sets in force.
    pub fn replace_verifier(&self, verifier: TokenVerifier) {
        self.inner.verifier.store(Arc::new(verifier));
    }
    /// The rate limits per principal and per department.
    pub fn rate_limits(&self) -> &RateLimits {
        &self.inner.rate_limits
    }
    /// The limit on requests in flight.
    pub fn concurrency(&self) -> &ConcurrencyLimit {
        &self.inner.concurrency
    }
    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }
    /// The subject pseudonym key.
    pub fn pseudonym_key(&self) -> &PseudonymKey {
        &self.inner.pseudonym_key
    }
    /// Seals and opens inbox items, with the key derived from the pseudonym key at start.
    pub fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }
    /// The source systems of pull requests.
    pub fn sources(&self) -> &Sources {
        &self.inner.sources
    }
    /// The audit checkpoint signing key in force (take it once per use: a reload may swap it).
    pub fn signing_key(&self) -> Arc<SigningKey> {
        self.inner.signing_key.current()
    }
    /// Puts a validated signing key in force; later checkpoints are signed with it. Returns the
    /// key it replaced.
    pub fn replace_signing_key(&self, key: SigningKey) -> Arc<SigningKey> {
        self.inner.signing_key.replace(key)
    }
    /// The audit log: append a record before releasing anything.
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }
}

/// A gateway that is ready to serve: state built, listener bound.
pub struct Application {
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    state: AppState,
    grace: Duration,
    limits: server::Limits,
    audit_task: JoinHandle<()>,
    background_tasks: Vec<JoinHandle<()>>,
}

impl Application {
    /// Checks and loads everything, binds the listener. Nothing is served yet.
    pub async fn build(config: Config, clock: SharedClock) -> Result<Application, StartError> {
        auth::install_crypto_provider();
        // A binary built without our jsonwebtoken provider would panic at the first token; refuse to
        // start instead.
        auth::jwt_ring::check_installed().map_err(|e| StartError::Crypto(e.to_string()))?;
        let signing_key = keys::load_signing_key(&config.audit.signing_key)?;
        let pseudonym_key = keys::load_pseudonym_key(&config.audit.pseudonym_key)?;
        let sealer = Sealer::new(&pseudonym_key).map_err(|e| StartError::Crypto(e.to_string()))?;
        let bundle =
            PolicyBundle::load(&config.policies.dir).map_err(|errors| StartError::Policy {
                dir: config.policies.dir.display().to_string(),
                errors,
            })?;
        let verifier = build_verifier(&config, &bundle)?;
        let tls = match (&config.server.tls, config.server.plain_http) {
            (Some(tls), false) => Some(
                auth::tls::server_config(&tls.cert, &tls.key, tls.client_ca.as_deref())
                    .map_err(|e| StartError::Tls(e.to_string()))?,
            ),
            _ => None,
        };
        let sources = Sources::from_config(&config.sources).map_err(StartError::Sources)?;
        let store = Store::connect(&config.database, OpenMode::Existing).await?;
        store.check_schema().await?;

        let addr = config.listen_addr()?;
        let listener = std::net::TcpListener::bind(addr).map_err(|e| StartError::Bind {
            addr,
            problem: e.to_string(),
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| StartError::Bind {
                addr,
                problem: e.to_string(),
            })?;
        let grace = Duration::from_millis(config.server.shutdown_grace_ms);
        let limits = server::Limits {
            header_read_timeout: Duration::from_millis(config.server.header_read_timeout_ms),
            max_header_bytes: config.server.max_header_bytes,
            idle_timeout: Duration::from_millis(config.server.idle_timeout_ms),
        };
        let signing_key = SharedSigningKey::new(signing_key);
        let (audit, audit_task) = AuditLog::start(
            store.clone(),
            signing_key.clone(),
            clock.clone(),
            AppenderConfig::from_config(&config.audit),
        );
        let rate_limits = RateLimits::new(&config.limits);
        let concurrency = ConcurrencyLimit::new(config.limits.max_concurrent_requests);
        let state = AppState {
            inner: Arc::new(Inner {
                config,
                store,
                bundle: ArcSwap::from_pointee(bundle),
                verifier: ArcSwap::from_pointee(verifier),
                rate_limits,
                concurrency,
                clock,
                pseudonym_key,
                sealer,
                signing_key,
                sources,
                audit,
            }),
        };
        let router = api::router(state.clone());
        let mut background_tasks = crate::ops::reload::spawn(state.clone());
        background_tasks.extend(state.store().spawn_maintenance());
        Ok(Application {
            listener,
            tls,
            router,
            state,
            grace,
            limits,
            audit_task,
            background_tasks,
        })
    }

    /// The bound address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// `https` or `http`, as the listener speaks.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The shared state (tests inspect the store through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes requests in flight (up to the grace period),
    /// stops the audit appender (final checkpoint) and closes the store.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.state.store().clone();
        let result = server::serve(
            self.listener,
            self.tls,
            self.router,
            shutdown,
            self.grace,
            self.limits,
        )
        .await;
        for task in &self.background_tasks {
            task.abort();
        }
        self.state.audit().shutdown().await;
        let _ = self.audit_task.await;
        store.close().await;
        result
    }
}

/// The token verifier for the configured issuers (their JWKS files read now) and `bundle`'s
/// departments.
pub(crate) fn build_verifier(
    config: &Config,
    bundle: &PolicyBundle,
) -> Result<TokenVerifier, StartError> {
    let departments: HashSet<String> = bundle
        .departments()
        .iter()
        .map(|d| d.id.to_string())
        .collect();
    let mut issuers = Vec::with_capacity(config.auth.issuers.len());
    for (index, issuer) in config.auth.issuers.iter().enumerate() {
        let keys = auth::Jwks::load(&issuer.jwks_file).map_err(|e| StartError::Jwks {
            index,
            problem: e.to_string(),
        })?;
        issuers.push(auth::IssuerKeys {
            issuer: issuer.issuer.clone(),
            audience: issuer.audience.clone(),
            keys,
        });
    }
    Ok(TokenVerifier::new(issuers, departments))
}
