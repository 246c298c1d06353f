//! Witness co-signing: another party runs `sluse audit witness` against the gateway now and then.
//! It fetches the latest signed checkpoint, checks that the chain from the last checkpoint it
//! co-signed to the new one verifies (recomputing every hash from the export), and posts back its
//! own Ed25519 signature of the checkpoint, which the gateway stores and shows. Rewriting history
//! then needs the witness's collusion: a witness that sees the chain no longer pass through what it
//! saw refuses, naming the seq.
//!
//! The witness's state file keeps the last checkpoint it co-signed and the gateway's public keys
//! (pinned at the first run). Its key is an Ed25519 PKCS#8 PEM file like the gateway's, created on
//! first use.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use jiff::Timestamp;
use ring::{
    rand::SystemRandom,
    signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey},
};
use serde::{Deserialize, Serialize};

use super::{
    ChainedRecord, Checkpoint, CheckpointSet, PublicKey,
    canonical::{GENESIS_HASH, hex, record_hash, unhex_hash, witness_message},
    checkpoint::signature_is_valid,
    record::canonical_instant,
};
use crate::keys::{self, SigningKey};

/// A witness's co-signature of a checkpoint, as the gateway stores and shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessSignature {
    /// The checkpoint's seq.
    pub seq: u64,
    /// The checkpoint's (gateway's) key id.
    pub key_id: String,
    /// The witness's key id: first 16 hex digits of SHA-256 over its raw public key.
    pub witness_key_id: String,
    /// The witness's raw 32-byte Ed25519 public key, base64.
    pub public_key: String,
    /// Ed25519 over the witness message (`docs/audit-format.md`), base64.
    pub signature: String,
    /// When the gateway received it.
    #[serde(with = "canonical_instant")]
    pub received_at: Timestamp,
}

/// The body of `POST /v1/audit/checkpoints/{seq}/witness`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessBody {
    /// The witness's key id.
    pub witness_key_id: String,
    /// The witness's raw public key, base64.
    pub public_key: String,
    /// The co-signature, base64.
    pub signature: String,
}

impl WitnessBody {
    /// The raw public key, when `public_key` is one.
    pub fn public_key_bytes(&self) -> Option<[u8; 32]> {
        STANDARD.decode(&self.public_key).ok()?.try_into().ok()
    }
}

/// A key id: the first 16 hex digits of SHA-256 over the raw public key.
pub fn key_id_of(public_key: &[u8]) -> String {
    hex(&ring::digest::digest(&ring::digest::SHA256, public_key).as_ref()[..8])
}

/// The witness's co-signature of `checkpoint`. `None` if its head is not a hash.
pub fn cosign(key: &SigningKey, checkpoint: &Checkpoint) -> Option<WitnessBody> {
    let message = witness_message(
        checkpoint.seq,
        &checkpoint.head_hash,
        checkpoint.at,
        &checkpoint.key_id,
    )?;
    let public = key.pair.public_key().as_ref();
    Some(WitnessBody {
        witness_key_id: key_id_of(public),
        public_key: STANDARD.encode(public),
        signature: STANDARD.encode(key.pair.sign(&message).as_ref()),
    })
}

/// Why a co-signature is not accepted, naming the field.
pub fn check_cosignature(
    checkpoint: &Checkpoint,
    body: &WitnessBody,
) -> Result<(), (&'static str, String)> {
    let public = STANDARD
        .decode(&body.public_key)
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or((
            "public_key",
            "`public_key` must be a base64 Ed25519 public key (32 bytes)".to_owned(),
        ))?;
    if key_id_of(&public) != body.witness_key_id {
        return Err((
            "witness_key_id",
            "`witness_key_id` must be the first 16 hex digits of SHA-256 over the public key"
                .to_owned(),
        ));
    }
    let signature = STANDARD
        .decode(&body.signature)
        .map_err(|_| ("signature", "`signature` must be base64".to_owned()))?;
    let message = witness_message(
        checkpoint.seq,
        &checkpoint.head_hash,
        checkpoint.at,
        &checkpoint.key_id,
    )
    .ok_or(("seq", "the checkpoint's head is not a hash".to_owned()))?;
    UnparsedPublicKey::new(&ED25519, public)
        .verify(&message, &signature)
        .map_err(|_| {
            (
                "signature",
                format!(
                    "the signature does not verify over checkpoint seq {} with this key",
                    checkpoint.seq
                ),
            )
        })
}

// ---------------------------------------------------------------------------------------------
// The witness client

/// What the witness remembers between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WitnessState {
    /// The gateway's base URL.
    pub gateway: String,
    /// The gateway's checkpoint keys, pinned at the first run.
    pub gateway_keys: Vec<PublicKey>,
    /// The last checkpoint this witness co-signed.
    pub last: Option<Checkpoint>,
}

/// Why the witness did not co-sign.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The gateway's history does not extend what the witness saw: the witness refuses.
    #[error("refusing to co-sign: at seq {seq}: {problem}")]
    Refused {
        /// Where the chain stops agreeing with what the witness saw.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
    /// Anything else (network, files, keys).
    #[error("{0}")]
    Failed(String),
}

fn failed(context: &str) -> impl Fn(String) -> WitnessError + '_ {
    move |e| WitnessError::Failed(format!("{context}: {e}"))
}

fn refused(seq: u64, problem: impl Into<String>) -> WitnessError {
    WitnessError::Refused {
        seq,
        problem: problem.into(),
    }
}

/// `sluse audit witness` arguments.
#[derive(Debug, Clone)]
pub struct WitnessArgs {
    /// The gateway's base URL.
    pub gateway: String,
    /// The state file.
    pub state: PathBuf,
    /// The witness's key file (created if missing); default: the state file's name + `.key`.
    pub key: Option<PathBuf>,
    /// A bearer token with role `dpo`.
    pub token: Option<String>,
}

/// The `[[audit.witnesses]]` entry for this witness's key (created if missing), to hand to the
/// gateway's operator.
pub fn public_key_entry(state: &Path, key: Option<&Path>) -> Result<String, WitnessError> {
    let key = load_or_create_key(&key.map_or_else(|| key_path_for(state), Path::to_path_buf))?;
    let public = key.pair.public_key().as_ref();
    Ok(format!(
        "[[audit.witnesses]]\nname = \"…\"  # who runs this witness\npublic_key = \"{}\"  # key id {}",
        STANDARD.encode(public),
        key_id_of(public)
    ))
}

/// The key file beside a state file: its name + `.key`.
fn key_path_for(state: &Path) -> PathBuf {
    PathBuf::from(format!("{}.key", state.display()))
}

fn load_or_create_key(path: &Path) -> Result<SigningKey, WitnessError> {
    if !path.exists() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| WitnessError::Failed("the system random generator failed".to_owned()))?;
        keys::write_new(path, &keys::pem_encode("PRIVATE KEY", pkcs8.as_ref()))
            .map_err(|e| WitnessError::Failed(e.to_string()))?;
    }
    keys::load_signing_key(path).map_err(|e| WitnessError::Failed(e.to_string()))
}

fn load_state(path: &Path) -> Result<Option<WitnessState>, WitnessError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| WitnessError::Failed(format!("`{}`: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(WitnessError::Failed(format!("`{}`: {e}", path.display()))),
    }
}

fn save_state(path: &Path, state: &WitnessState) -> Result<(), WitnessError> {
    let text =
        serde_json::to_string_pretty(state).map_err(|e| WitnessError::Failed(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| WitnessError::Failed(format!("`{}`: {e}", path.display())))
}

/// Checks the chain read from a JSON Lines export, from the record at `from.0` (whose hash must be
/// `from.1`; seq 0 is the genesis) to the checkpoint `to`, recomputing every hash.
pub struct ChainCheck {
    from: (u64, String),
    to: Checkpoint,
    last: Option<(u64, [u8; 32])>,
    done: bool,
}

impl ChainCheck {
    /// Starts a check from `(seq, hash)` to the checkpoint `to`.
    pub fn new(from: (u64, String), to: Checkpoint) -> ChainCheck {
        ChainCheck {
            from,
            to,
            last: None,
            done: false,
        }
    }

    /// The `after` to ask the export for: the record at `from` itself is read again.
    pub fn export_after(&self) -> u64 {
        self.from.0.saturating_sub(1)
    }

    /// Whether the checkpoint's record has been reached and matched.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Feeds one line of the export.
    pub fn line(&mut self, line: &str) -> Result<(), WitnessError> {
        if self.done || line.trim().is_empty() {
            return Ok(());
        }
        let expected = match self.last {
            Some((seq, _)) => seq + 1,
            None if self.from.0 == 0 => 1,
            None => self.from.0,
        };
        let record: ChainedRecord = serde_json::from_str(line)
            .map_err(|e| refused(expected, format!("the export's record cannot be read: {e}")))?;
        if record.seq != expected {
            return Err(refused(
                expected,
                format!(
                    "the export jumps to seq {} (a record is missing)",
                    record.seq
                ),
            ));
        }
        let seq = record.seq;
        let prev = match self.last {
            Some((_, hash)) => hash,
            None if self.from.0 == 0 => [0u8; 32],
            None => unhex_hash(&record.prev_hash)
                .ok_or_else(|| refused(seq, "prev_hash is not a hash"))?,
        };
        if (self.last.is_some() || self.from.0 == 0) && record.prev_hash != hex(&prev) {
            return Err(refused(
                seq,
                "prev_hash does not match the previous record's hash",
            ));
        }
        let hash = record_hash(&prev, seq, &record.record);
        if hex(&hash) != record.hash {
            return Err(refused(
                seq,
                "the hash does not match the record's contents",
            ));
        }
        if self.last.is_none() && self.from.0 > 0 && record.hash != self.from.1 {
            return Err(refused(
                seq,
                format!(
                    "the chain no longer has the hash {} this witness co-signed here: history was rewritten",
                    self.from.1
                ),
            ));
        }
        self.last = Some((seq, hash));
        if seq == self.to.seq {
            if record.hash != self.to.head_hash {
                return Err(refused(
                    seq,
                    "the chain's hash here differs from the checkpoint's head_hash",
                ));
            }
            self.done = true;
        }
        Ok(())
    }

    /// After the last line: the checkpoint must have been reached.
    pub fn finish(&self) -> Result<(), WitnessError> {
        if self.done {
            return Ok(());
        }
        let reached = self.last.map_or(self.from.0, |(s, _)| s);
        Err(refused(
            self.to.seq,
            format!("the export ends at seq {reached}, before the checkpoint"),
        ))
    }
}

/// `sluse audit witness`: check the newest checkpoint extends the last one co-signed, co-sign it.
pub async fn run(args: &WitnessArgs) -> Result<String, WitnessError> {
    crate::auth::install_crypto_provider();
    let key_path = args
        .key
        .clone()
        .unwrap_or_else(|| key_path_for(&args.state));
    let key = load_or_create_key(&key_path)?;
    let gateway = args.gateway.trim_end_matches('/').to_owned();
    let mut state = load_state(&args.state)?.unwrap_or_else(|| WitnessState {
        gateway: gateway.clone(),
        ..WitnessState::default()
    });
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| WitnessError::Failed(e.to_string()))?;
    let with_token = |r: reqwest::RequestBuilder| match &args.token {
        Some(t) => r.bearer_auth(t),
        None => r,
    };

    // The newest checkpoint, signed by a key this witness knows.
    let response = with_token(client.get(format!("{gateway}/v1/audit/checkpoints")))
        .send()
        .await
        .map_err(|e| failed("GET /v1/audit/checkpoints")(e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| failed("GET /v1/audit/checkpoints")(e.to_string()))?;
    if !status.is_success() {
        return Err(WitnessError::Failed(format!(
            "GET /v1/audit/checkpoints answered {status}: {text}"
        )));
    }
    let set: CheckpointSet =
        serde_json::from_str(&text).map_err(|e| failed("the checkpoints")(e.to_string()))?;
    if state.gateway_keys.is_empty() {
        // Trust on first use; compare the key ids with the gateway's operator out of band.
        state.gateway_keys = set.public_keys.clone();
    }
    let Some(latest) = set.checkpoints.iter().max_by_key(|c| c.seq).cloned() else {
        return Ok("the gateway has no checkpoint yet; nothing to co-sign".to_owned());
    };
    let known = state
        .gateway_keys
        .iter()
        .find(|k| k.key_id == latest.key_id)
        .ok_or_else(|| {
            refused(
                latest.seq,
                format!(
                    "the checkpoint is signed by key {}, not a gateway key this witness pinned",
                    latest.key_id
                ),
            )
        })?;
    if !signature_is_valid(&latest, known) {
        return Err(refused(
            latest.seq,
            "the checkpoint's signature is not valid",
        ));
    }

    // It must extend the last one co-signed.
    let from = match &state.last {
        None => (0, GENESIS_HASH.to_owned()),
        Some(last) => {
            if latest.seq < last.seq {
                return Err(refused(
                    last.seq,
                    format!(
                        "the newest checkpoint is at seq {}, behind the one this witness co-signed: the chain was cut",
                        latest.seq
                    ),
                ));
            }
            (last.seq, last.head_hash.clone())
        }
    };
    let mut check = ChainCheck::new(from.clone(), latest.clone());
    let url = format!(
        "{gateway}/v1/audit/export?format=jsonl&after={}",
        check.export_after()
    );
    let mut response = with_token(client.get(&url))
        .send()
        .await
        .map_err(|e| failed("GET /v1/audit/export")(e.to_string()))?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(WitnessError::Failed(format!(
            "GET /v1/audit/export answered {status}: {text}"
        )));
    }
    let mut pending: Vec<u8> = Vec::new();
    let mut records = 0u64;
    'read: while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| failed("GET /v1/audit/export")(e.to_string()))?
    {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            check.line(&line)?;
            records += 1;
            if check.done() {
                break 'read;
            }
        }
    }
    if !check.done() && !pending.is_empty() {
        check.line(&String::from_utf8_lossy(&pending))?;
    }
    check.finish()?;

    // Co-sign and post.
    let body = cosign(&key, &latest)
        .ok_or_else(|| refused(latest.seq, "the checkpoint's head is not a hash"))?;
    let response = with_token(client.post(format!(
        "{gateway}/v1/audit/checkpoints/{}/witness",
        latest.seq
    )))
    .json(&body)
    .send()
    .await
    .map_err(|e| failed("POST witness")(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(WitnessError::Failed(format!(
            "POST /v1/audit/checkpoints/{}/witness answered {status}: {text}",
            latest.seq
        )));
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "co-signed checkpoint seq {} (head {}) as witness {}; {} records checked from seq {}",
        latest.seq,
        latest.head_hash,
        body.witness_key_id,
        records,
        from.0.max(1)
    );
    state.gateway = gateway;
    state.last = Some(latest);
    save_state(&args.state, &state)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use ring::signature::Ed25519KeyPair;

    use super::*;
    use crate::audit::checkpoint::sign;

    fn key() -> SigningKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let key_id = key_id_of(pair.public_key().as_ref());
        SigningKey { pair, key_id }
    }

    #[test]
    fn a_cosignature_verifies_for_its_checkpoint_only() {
        let (gateway, witness) = (key(), key());
        let at: Timestamp = "2026-03-01T09:15:00Z".parse().unwrap();
        let cp = sign(&gateway, 7, &"ab".repeat(32), at).unwrap();
        let body = cosign(&witness, &cp).unwrap();
        assert_eq!(body.witness_key_id, witness.key_id);
        assert!(check_cosignature(&cp, &body).is_ok());
        let mut other = cp.clone();
        other.head_hash = "cd".repeat(32);
        assert_eq!(check_cosignature(&other, &body).unwrap_err().0, "signature");
        let mut lying = body.clone();
        lying.witness_key_id = "0".repeat(16);
        assert_eq!(
            check_cosignature(&cp, &lying).unwrap_err().0,
            "witness_key_id"
        );
    }
}
