//! Live reload: `SIGHUP` reloads the policy bundle, the issuers' key sets and the audit signing
//! key; a JWKS file that changes on disk is reloaded on its own (its modification time and size are
//! polled).
//!
//! A new bundle is validated completely before it replaces the one in force; an invalid one is
//! refused and logged, and the old one stays. Decisions made after the swap carry the new bundle's
//! version in their audit records. Likewise a rotated signing key (`sluse keygen
//! --rotate-signing-key`) is checked before it is put in force, and checkpoints signed after the
//! swap carry its `key_id`; an unusable key file is refused and the key in force stays.

use std::{
    path::PathBuf,
    time::{Duration, SystemTime},
};

use tokio::task::JoinHandle;

use super::metrics;
use crate::{app::AppState, policy::PolicyBundle};

/// Reloads the policy bundle and, with it, the issuers' key sets (the verifier knows the bundle's
/// departments). Returns the version now in force, or why nothing changed.
pub fn reload_policies(state: &AppState) -> Result<String, String> {
    let dir = &state.config().policies.dir;
    let result = PolicyBundle::load(dir)
        .map_err(|errors| {
            format!(
                "the policy bundle in `{}` is invalid:\n{errors}",
                dir.display()
            )
        })
        .and_then(|bundle| {
            let verifier =
                crate::app::build_verifier(state.config(), &bundle).map_err(|e| e.to_string())?;
            Ok((bundle, verifier))
        });
    match result {
        Ok((bundle, verifier)) => {
            let version = bundle.version().to_owned();
            let old = state.bundle().version().to_owned();
            state.replace_bundle(bundle, verifier);
            metrics::inc(
                "sluse_reloads_total",
                &[("what", "policies"), ("result", "ok")],
            );
            tracing::info!(version = %version, previous = %old, "policy bundle reloaded");
            Ok(version)
        }
        Err(problem) => {
            metrics::inc(
                "sluse_reloads_total",
                &[("what", "policies"), ("result", "refused")],
            );
            tracing::error!(
                version = %state.bundle().version(),
                problem = %problem,
                "policy reload refused; the bundle in force stays"
            );
            Err(problem)
        }
    }
}

/// Reloads the issuers' key sets with the bundle in force.
pub fn reload_jwks(state: &AppState) -> Result<(), String> {
    match crate::app::build_verifier(state.config(), &state.bundle()) {
        Ok(verifier) => {
            state.replace_verifier(verifier);
            metrics::inc("sluse_reloads_total", &[("what", "jwks"), ("result", "ok")]);
            tracing::info!("issuer key sets reloaded");
            Ok(())
        }
        Err(e) => {
            metrics::inc(
                "sluse_reloads_total",
                &[("what", "jwks"), ("result", "refused")],
            );
            tracing::error!(problem = %e, "issuer key set reload refused; the keys in force stay");
            Err(e.to_string())
        }
    }
}

/// Reloads the audit signing key from `audit.signing_key` when the file holds another key than the
/// one in force (see [`crate::keys::load_replacement_signing_key`] for what is checked). Returns
/// the id of the key now in force, or why nothing changed.
pub fn reload_signing_key(state: &AppState) -> Result<String, String> {
    let current = state.signing_key();
    let path = &state.config().audit.signing_key;
    match crate::keys::load_replacement_signing_key(path, &current) {
        Ok(None) => Ok(current.key_id.clone()),
        Ok(Some(key)) => {
            let key_id = key.key_id.clone();
            let old = state.replace_signing_key(key);
            metrics::inc(
                "sluse_reloads_total",
                &[("what", "signing_key"), ("result", "ok")],
            );
            tracing::info!(key_id = %key_id, previous = %old.key_id, "audit signing key reloaded");
            Ok(key_id)
        }
        Err(e) => {
            metrics::inc(
                "sluse_reloads_total",
                &[("what", "signing_key"), ("result", "refused")],
            );
            tracing::error!(
                key_id = %current.key_id,
                problem = %e,
                "signing key reload refused; the key in force stays"
            );
            Err(e.to_string())
        }
    }
}

/// What identifies a file's contents cheaply: modification time and size.
fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Starts the reload tasks: one waiting for `SIGHUP`, one polling the JWKS files (unless
/// `auth.jwks_poll_interval_s` is 0). Abort the handles at shutdown.
pub fn spawn(state: AppState) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let on_hup = state.clone();
    tasks.push(tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP; reload needs a restart");
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!(
                "SIGHUP: reloading the policy bundle, the issuer key sets and the signing key"
            );
            let _ = reload_policies(&on_hup);
            let _ = reload_signing_key(&on_hup);
        }
    }));
    let interval = state.config().auth.jwks_poll_interval_s;
    if interval > 0 {
        tasks.push(tokio::spawn(async move {
            let files: Vec<PathBuf> = state
                .config()
                .auth
                .issuers
                .iter()
                .map(|i| i.jwks_file.clone())
                .collect();
            let mut seen: Vec<_> = files.iter().map(stamp).collect();
            let mut ticker = tokio::time::interval(Duration::from_secs(interval));
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let now: Vec<_> = files.iter().map(stamp).collect();
                if now != seen {
                    tracing::info!("an issuer's JWKS file changed");
                    // A half-written file fails to load and is tried again at the next change.
                    let _ = reload_jwks(&state);
                    seen = now;
                }
            }
        }));
    }
    tasks
}
