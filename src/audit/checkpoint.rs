//! Signed checkpoints: `(seq, head_hash, at, key_id)` signed with the gateway's Ed25519 key.
//!
//! A checkpoint copied out of the gateway (`sluse audit checkpoint export`) pins the chain up to its
//! `seq`: a chain rewritten or cut short after the copy no longer passes through it.

use base64::{Engine, engine::general_purpose::STANDARD};
use jiff::Timestamp;
use ring::signature::{ED25519, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use super::{
    canonical::{checkpoint_message, truncate_instant},
    record::canonical_instant,
};
use crate::keys::SigningKey;

/// One signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The position of the chain head it attests.
    pub seq: u64,
    /// The hash of the record at `seq`.
    pub head_hash: String,
    /// When it was signed (canonical instant text).
    #[serde(with = "canonical_instant")]
    pub at: Timestamp,
    /// The signing key's id.
    pub key_id: String,
    /// Ed25519 signature over the checkpoint message (`docs/audit-format.md`), base64.
    pub signature: String,
}

/// A checkpoint signing public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    /// The key's id (first 16 hex digits of SHA-256 over the public key).
    pub key_id: String,
    /// The raw 32-byte Ed25519 public key, base64.
    pub public_key: String,
}

/// Checkpoints and the keys that signed them: the body of `GET /v1/audit/checkpoints` and the
/// file `sluse audit checkpoint export` writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointSet {
    /// Checkpoints, by `seq`.
    pub checkpoints: Vec<Checkpoint>,
    /// Public keys by id.
    pub public_keys: Vec<PublicKey>,
}

/// The public half of the signing key, for [`CheckpointSet::public_keys`].
pub fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey {
        key_id: key.key_id.clone(),
        public_key: STANDARD.encode(key.pair.public_key().as_ref()),
    }
}

/// The public keys that verify checkpoints: `current`'s first, then every retired key kept next
/// to the key file at `path` (`sluse keygen --rotate-signing-key`), each once.
pub fn verification_keys(current: &SigningKey, path: &std::path::Path) -> Vec<PublicKey> {
    let mut keys = vec![public_key(current)];
    for retired in crate::keys::retired_signing_keys(path) {
        if keys.iter().all(|k| k.key_id != retired.key_id) {
            keys.push(public_key(&retired));
        }
    }
    keys
}

/// Signs the head `(seq, head_hash)` at `at`. `None` if `head_hash` is not a hash.
pub fn sign(key: &SigningKey, seq: u64, head_hash: &str, at: Timestamp) -> Option<Checkpoint> {
    let at = truncate_instant(at);
    let message = checkpoint_message(seq, head_hash, at, &key.key_id)?;
    let signature = key.pair.sign(&message);
    Some(Checkpoint {
        seq,
        head_hash: head_hash.to_owned(),
        at,
        key_id: key.key_id.clone(),
        signature: STANDARD.encode(signature.as_ref()),
    })
}

/// Whether `checkpoint` carries a valid signature by `key`.
pub fn signature_is_valid(checkpoint: &Checkpoint, key: &PublicKey) -> bool {
    if checkpoint.key_id != key.key_id {
        return false;
    }
    let (Ok(public), Ok(signature)) = (
        STANDARD.decode(&key.public_key),
        STANDARD.decode(&checkpoint.signature),
    ) else {
        return false;
    };
    let Some(message) = checkpoint_message(
        checkpoint.seq,
        &checkpoint.head_hash,
        checkpoint.at,
        &checkpoint.key_id,
    ) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public)
        .verify(&message, &signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use ring::{rand::SystemRandom, signature::Ed25519KeyPair};

    use super::*;
    use crate::audit::canonical::GENESIS_HASH;

    fn key(id: &str) -> SigningKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        SigningKey {
            pair: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
            key_id: id.to_owned(),
        }
    }

    #[test]
    fn a_checkpoint_verifies_with_its_key_only_and_not_once_changed() {
        let (k1, k2) = (key("k1"), key("k2"));
        let at: Timestamp = "2026-03-01T09:15:00.5Z".parse().unwrap();
        let cp = sign(&k1, 10, GENESIS_HASH, at).unwrap();
        assert!(signature_is_valid(&cp, &public_key(&k1)));
        assert!(!signature_is_valid(&cp, &public_key(&k2)));
        let mut other = public_key(&k2);
        other.key_id = "k1".to_owned();
        assert!(!signature_is_valid(&cp, &other));
        for tamper in [
            |c: &mut Checkpoint| c.seq = 11,
            |c: &mut Checkpoint| c.head_hash = "11".repeat(32),
            |c: &mut Checkpoint| c.at = "2026-03-01T09:15:01Z".parse().unwrap(),
        ] {
            let mut changed = cp.clone();
            tamper(&mut changed);
            assert!(!signature_is_valid(&changed, &public_key(&k1)));
        }
    }

    #[test]
    fn a_checkpoint_survives_a_json_round_trip() {
        let k = key("k1");
        let at: Timestamp = "2026-03-01T09:15:00.123456789Z".parse().unwrap();
        let cp = sign(&k, 1, GENESIS_HASH, at).unwrap();
        let text = serde_json::to_string(&cp).unwrap();
        assert!(
            text.contains("\"at\":\"2026-03-01T09:15:00.123456Z\""),
            "{text}"
        );
        let back: Checkpoint = serde_json::from_str(&text).unwrap();
        assert!(signature_is_valid(&back, &public_key(&k)));
    }
}
