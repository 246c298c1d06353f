//! Sealing inbox items: the subject's CPR number and the redacted payload are kept encrypted
//! (AES-256-GCM, ring) until the recipient reads its inbox. The key is derived from the pseudonym key;
//! the item id and recipient are bound in as associated data, so a sealed blob moved to another row
//! or department does not open.

use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};
use serde::{Deserialize, Serialize};

use crate::cpr::PseudonymKey;

const LABEL: &str = "sluse inbox sealing key v1";

/// What an inbox item holds in confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sealed {
    /// The subject's CPR number as `DDMMYY-SSSS`, for the recipient.
    pub subject: Option<String>,
    /// The redacted payload (or, for a withdrawal notice, what it concerns).
    pub data: serde_json::Value,
}

/// The sealing failed or a blob did not open (tampered, or another key).
#[derive(Debug, thiserror::Error)]
#[error("inbox item could not be {0}")]
pub struct SealError(&'static str);

/// Seals and opens inbox items.
pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer with the key derived from `pseudonym_key`.
    pub fn new(pseudonym_key: &PseudonymKey) -> Result<Sealer, SealError> {
        let bytes = pseudonym_key.derive(LABEL);
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SealError("keyed"))?;
        Ok(Sealer {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// `nonce || ciphertext || tag` of `content`, bound to `item_id` and `recipient`.
    pub fn seal(
        &self,
        content: &Sealed,
        item_id: &str,
        recipient: &str,
    ) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError("sealed"))?;
        let mut buffer = serde_json::to_vec(content).map_err(|_| SealError("sealed"))?;
        let aad = format!("{item_id}\n{recipient}");
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| SealError("sealed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        Ok(out)
    }

    /// Opens a blob made by [`Sealer::seal`] for the same item and recipient.
    pub fn open(&self, blob: &[u8], item_id: &str, recipient: &str) -> Result<Sealed, SealError> {
        if blob.len() < NONCE_LEN {
            return Err(SealError("opened"));
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError("opened"))?;
        let mut buffer = sealed.to_vec();
        let aad = format!("{item_id}\n{recipient}");
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buffer)
            .map_err(|_| SealError("opened"))?;
        serde_json::from_slice(plain).map_err(|_| SealError("opened"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&PseudonymKey::from_bytes(&[byte; 32]).unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_item_opens_only_for_its_row_recipient_and_key() {
        let content = Sealed {
            subject: Some("210810-4121".to_owned()),
            data: serde_json::json!({"absence_band": ">=15"}),
        };
        let blob = sealer(1).seal(&content, "item-1", "youth-unit").unwrap();
        assert!(!String::from_utf8_lossy(&blob).contains("4121"));
        assert_eq!(
            sealer(1).open(&blob, "item-1", "youth-unit").unwrap(),
            content
        );
        assert!(sealer(1).open(&blob, "item-2", "youth-unit").is_err());
        assert!(sealer(1).open(&blob, "item-1", "social-services").is_err());
        assert!(sealer(2).open(&blob, "item-1", "youth-unit").is_err());
        let mut tampered = blob.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(sealer(1).open(&tampered, "item-1", "youth-unit").is_err());
    }
}
