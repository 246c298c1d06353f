//! Key files in the data directory: the audit checkpoint signing key (Ed25519, PKCS#8) and the
//! subject pseudonym key (HMAC). `sluse keygen` creates the missing ones, never overwriting a file;
//! `serve` refuses to start while one is missing. Keys are PEM text with mode 0600.

use std::{
    fs,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    sync::Arc,
};

use arc_swap::ArcSwap;
use base64::{Engine, engine::general_purpose::STANDARD};
use ring::{
    rand::{SecureRandom, SystemRandom},
    signature::{Ed25519KeyPair, KeyPair},
};

use crate::{config::AuditConfig, cpr::PseudonymKey};

const SIGNING_LABEL: &str = "PRIVATE KEY";
const PSEUDONYM_LABEL: &str = "SLUSE PSEUDONYM KEY";
const PSEUDONYM_KEY_BYTES: usize = 32;

/// A key file problem. Messages name the file, never its contents.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file does not exist.
    #[error(
        "`{key}`: key file `{path}` does not exist; create it with `sluse keygen --config FILE`"
    )]
    Missing {
        /// The config key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The file exists but could not be read or is not a key of the expected kind.
    #[error("`{key}`: key file `{path}` is not usable: {problem}")]
    Invalid {
        /// The config key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The file could not be written.
    #[error("cannot write key file `{path}`: {problem}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// The audit checkpoint signing key and its id (a digest of the public key).
#[derive(Debug)]
pub struct SigningKey {
    /// The key pair.
    pub pair: Ed25519KeyPair,
    /// A short, stable id: the first 16 hex digits of SHA-256 over the public key.
    pub key_id: String,
}

/// The signing key in force, shared by the appender (which signs checkpoints with it) and the
/// handlers (which publish its public half). `SIGHUP` swaps it for a rotated key without a restart;
/// a checkpoint is signed with whichever key is in force when it is signed, and carries its id.
/// Cheap to clone: every clone sees the same swaps.
#[derive(Debug, Clone)]
pub struct SharedSigningKey(Arc<ArcSwap<SigningKey>>);

impl SharedSigningKey {
    /// A handle holding `key`.
    pub fn new(key: SigningKey) -> SharedSigningKey {
        SharedSigningKey(Arc::new(ArcSwap::from_pointee(key)))
    }

    /// The key in force (take it once per use: a reload may swap it).
    pub fn current(&self) -> Arc<SigningKey> {
        self.0.load_full()
    }

    /// Puts `key` in force; returns the key it replaced.
    pub fn replace(&self, key: SigningKey) -> Arc<SigningKey> {
        self.0.swap(Arc::new(key))
    }
}

impl From<SigningKey> for SharedSigningKey {
    fn from(key: SigningKey) -> Self {
        SharedSigningKey::new(key)
    }
}

impl From<Arc<SigningKey>> for SharedSigningKey {
    fn from(key: Arc<SigningKey>) -> Self {
        SharedSigningKey(Arc::new(ArcSwap::new(key)))
    }
}

/// What `keygen` did with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeygenOutcome {
    /// The file was written.
    Created(PathBuf),
    /// The file existed and was left alone.
    Kept(PathBuf),
}

/// Creates the key files named in `[audit]` that do not exist yet.
pub fn keygen(audit: &AuditConfig) -> Result<Vec<KeygenOutcome>, KeyError> {
    let rng = SystemRandom::new();
    let mut outcomes = Vec::new();

    let path = &audit.signing_key;
    if path.exists() {
        outcomes.push(KeygenOutcome::Kept(path.clone()));
    } else {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Write {
            path: path.clone(),
            problem: "the system random generator failed".to_owned(),
        })?;
        write_new(path, &pem_encode(SIGNING_LABEL, pkcs8.as_ref()))?;
        outcomes.push(KeygenOutcome::Created(path.clone()));
    }

    let path = &audit.pseudonym_key;
    if path.exists() {
        outcomes.push(KeygenOutcome::Kept(path.clone()));
    } else {
        let mut bytes = [0u8; PSEUDONYM_KEY_BYTES];
        rng.fill(&mut bytes).map_err(|_| KeyError::Write {
            path: path.clone(),
            problem: "the system random generator failed".to_owned(),
        })?;
        write_new(path, &pem_encode(PSEUDONYM_LABEL, &bytes))?;
        outcomes.push(KeygenOutcome::Created(path.clone()));
    }
    Ok(outcomes)
}

/// Loads the audit signing key named by `audit.signing_key`.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    const KEY: &str = "audit.signing_key";
    let der = read_pem(KEY, path, SIGNING_LABEL)?;
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| KeyError::Invalid {
        key: KEY,
        path: path.to_owned(),
        problem: "not an Ed25519 PKCS#8 private key".to_owned(),
    })?;
    let digest = ring::digest::digest(&ring::digest::SHA256, pair.public_key().as_ref());
    let key_id = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(SigningKey { pair, key_id })
}

/// Where a retired signing key is kept: `<file name>.<key_id>.old` next to the key.
pub fn retired_path(path: &Path, key_id: &str) -> PathBuf {
    let name = path.file_name().map_or_else(
        || "signing.key".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    path.with_file_name(format!("{name}.{key_id}.old"))
}

/// `sluse keygen --rotate-signing-key`: moves the signing key at `path` to its retired name (kept
/// for verifying the checkpoints it signed) and writes a new one. Returns the retired file and the
/// old and new key ids.
pub fn rotate_signing_key(path: &Path) -> Result<(PathBuf, String, String), KeyError> {
    let old = load_signing_key(path)?;
    let retired = retired_path(path, &old.key_id);
    let fail = |problem: String| KeyError::Write {
        path: retired.clone(),
        problem,
    };
    if retired.exists() {
        return Err(fail("a retired key of that id exists already".to_owned()));
    }
    fs::rename(path, &retired).map_err(|e| fail(e.to_string()))?;
    let rng = SystemRandom::new();
    let written = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| KeyError::Write {
            path: path.to_owned(),
            problem: "the system random generator failed".to_owned(),
        })
        .and_then(|pkcs8| write_new(path, &pem_encode(SIGNING_LABEL, pkcs8.as_ref())));
    if let Err(e) = written {
        // Put the old key back: the gateway must never be left without one.
        let _ = fs::rename(&retired, path);
        return Err(e);
    }
    let new = load_signing_key(path)?;
    Ok((retired, old.key_id, new.key_id))
}

/// The retired signing keys next to `path` (`<file name>.<key_id>.old`), for verification only.
/// A file that cannot be read is logged and skipped: its checkpoints then fail verification by name.
pub fn retired_signing_keys(path: &Path) -> Vec<SigningKey> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".old"))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|file| match load_signing_key(&file) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(error = %e, "a retired audit signing key is not usable");
                None
            }
        })
        .collect()
}

/// Loads the signing key at `path` to replace `current` (on `SIGHUP`), checking first that the
/// swap loses nothing: the new key must sign and verify, and unless it is `current` itself,
/// `current` must be kept as a retired key next to it (as `sluse keygen --rotate-signing-key`
/// leaves it), or the checkpoints it signed could no longer be verified. `Ok(None)`: the file
/// still holds `current`.
pub fn load_replacement_signing_key(
    path: &Path,
    current: &SigningKey,
) -> Result<Option<SigningKey>, KeyError> {
    const KEY: &str = "audit.signing_key";
    let new = load_signing_key(path)?;
    if new.key_id == current.key_id {
        return Ok(None);
    }
    let invalid = |problem: String| KeyError::Invalid {
        key: KEY,
        path: path.to_owned(),
        problem,
    };
    let probe = b"sluse signing key reload probe";
    let signature = new.pair.sign(probe);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, new.pair.public_key())
        .verify(probe, signature.as_ref())
        .map_err(|_| invalid("the key does not verify its own signature".to_owned()))?;
    let kept = retired_path(path, &current.key_id);
    match load_signing_key(&kept) {
        Ok(retired) if retired.key_id == current.key_id => Ok(Some(new)),
        _ => Err(invalid(format!(
            "the key in force (`{}`) is not kept as `{}`, so the checkpoints it signed could not \
             be verified; rotate with `sluse keygen --rotate-signing-key`",
            current.key_id,
            kept.display()
        ))),
    }
}

/// Loads the pseudonym key named by `audit.pseudonym_key`.
pub fn load_pseudonym_key(path: &Path) -> Result<PseudonymKey, KeyError> {
    const KEY: &str = "audit.pseudonym_key";
    let bytes = read_pem(KEY, path, PSEUDONYM_LABEL)?;
    PseudonymKey::from_bytes(&bytes).map_err(|e| KeyError::Invalid {
        key: KEY,
        path: path.to_owned(),
        problem: e.to_string(),
    })
}

/// Writes `contents` to a new file readable only by its owner; refuses to overwrite.
pub fn write_new(path: &Path, contents: &str) -> Result<(), KeyError> {
    let fail = |e: std::io::Error| KeyError::Write {
        path: path.to_owned(),
        problem: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(contents.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// PEM-encodes `der` under `label` (64 columns, as RFC 7468 asks).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn read_pem(key: &'static str, path: &Path, label: &str) -> Result<Vec<u8>, KeyError> {
    let text = fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => KeyError::Missing {
            key,
            path: path.to_owned(),
        },
        _ => KeyError::Invalid {
            key,
            path: path.to_owned(),
            problem: e.to_string(),
        },
    })?;
    pem_decode(&text, label).ok_or_else(|| KeyError::Invalid {
        key,
        path: path.to_owned(),
        problem: format!("expected one PEM block labelled `{label}`"),
    })
}

fn pem_decode(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text.split_once(&begin)?.1.split_once(&end)?.0;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit_config(dir: &Path) -> AuditConfig {
        AuditConfig {
            signing_key: dir.join("keys/audit-signing.key"),
            pseudonym_key: dir.join("keys/pseudonym.key"),
            checkpoint_every: 1000,
            checkpoint_interval_s: 60,
            review_overdue_days: 14,
            witnesses: Vec::new(),
        }
    }

    #[test]
    fn keygen_creates_missing_keys_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let audit = audit_config(dir.path());
        let first = keygen(&audit).unwrap();
        assert!(first.iter().all(|o| matches!(o, KeygenOutcome::Created(_))));
        let before = fs::read(&audit.signing_key).unwrap();
        let second = keygen(&audit).unwrap();
        assert!(second.iter().all(|o| matches!(o, KeygenOutcome::Kept(_))));
        assert_eq!(before, fs::read(&audit.signing_key).unwrap());
        let mode = fs::metadata(&audit.pseudonym_key).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        assert_eq!(
            load_signing_key(&audit.signing_key).unwrap().key_id.len(),
            16
        );
        load_pseudonym_key(&audit.pseudonym_key).unwrap();
    }

    #[test]
    fn a_missing_key_names_the_config_key_and_the_remedy() {
        let dir = tempfile::tempdir().unwrap();
        let audit = audit_config(dir.path());
        let message = load_pseudonym_key(&audit.pseudonym_key)
            .unwrap_err()
            .to_string();
        assert!(message.contains("audit.pseudonym_key"), "{message}");
        assert!(message.contains("sluse keygen"), "{message}");
    }

    #[test]
    fn a_key_of_the_wrong_kind_is_refused_without_printing_it() {
        let dir = tempfile::tempdir().unwrap();
        let audit = audit_config(dir.path());
        keygen(&audit).unwrap();
        let message = load_signing_key(&audit.pseudonym_key)
            .unwrap_err()
            .to_string();
        assert!(message.contains("PRIVATE KEY"), "{message}");
        let secret = fs::read_to_string(&audit.pseudonym_key).unwrap();
        let body = secret.lines().nth(1).unwrap();
        assert!(!message.contains(body));
    }

    #[test]
    fn a_replacement_key_is_taken_only_when_the_key_in_force_is_kept_for_verification() {
        let dir = tempfile::tempdir().unwrap();
        let audit = audit_config(dir.path());
        keygen(&audit).unwrap();
        let current = load_signing_key(&audit.signing_key).unwrap();
        // The same key: nothing to do.
        assert!(
            load_replacement_signing_key(&audit.signing_key, &current)
                .unwrap()
                .is_none()
        );
        // A rotated key: taken, the old one is kept.
        let (_, old_id, new_id) = rotate_signing_key(&audit.signing_key).unwrap();
        assert_eq!(old_id, current.key_id);
        let new = load_replacement_signing_key(&audit.signing_key, &current)
            .unwrap()
            .unwrap();
        assert_eq!(new.key_id, new_id);
        // A key put in place without keeping the one in force: refused, naming the remedy.
        fs::remove_file(&audit.signing_key).unwrap();
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        write_new(
            &audit.signing_key,
            &pem_encode(SIGNING_LABEL, pkcs8.as_ref()),
        )
        .unwrap();
        let message = load_replacement_signing_key(&audit.signing_key, &new)
            .unwrap_err()
            .to_string();
        assert!(message.contains("--rotate-signing-key"), "{message}");
        // Not a key at all: refused.
        fs::write(&audit.signing_key, "not a key").unwrap();
        assert!(load_replacement_signing_key(&audit.signing_key, &new).is_err());
    }

    #[test]
    fn a_shared_key_swap_is_seen_by_every_clone() {
        let dir = tempfile::tempdir().unwrap();
        let audit = audit_config(dir.path());
        keygen(&audit).unwrap();
        let shared = SharedSigningKey::new(load_signing_key(&audit.signing_key).unwrap());
        let clone = shared.clone();
        let before = clone.current().key_id.clone();
        rotate_signing_key(&audit.signing_key).unwrap();
        let old = shared.replace(load_signing_key(&audit.signing_key).unwrap());
        assert_eq!(old.key_id, before);
        assert_ne!(clone.current().key_id, before);
    }
}
