//! The canonical byte encoding of a record and of a checkpoint, and the chain hash.
//!
//! `docs/audit-format.md` describes the same encoding for auditors; `tools/verify_export.py`
//! re-implements it. Change neither without the other (and a new tag: the tag names the version).
//!
//! Building blocks, all big-endian:
//! - `u64(n)`: 8 bytes.
//! - `str(s)`: `u64(byte length)` then the UTF-8 bytes.
//! - `opt(x)`: one byte `0x00` when absent; `0x01` then `x` when present.
//! - `list(xs)`: `u64(count)` then each element.
//! - `hash(h)`: the 32 raw bytes of a SHA-256 (its 64 hex digits decoded).

use jiff::{Timestamp, fmt::temporal::DateTimePrinter};
use ring::digest;

use super::record::{AuditRecord, ChainedRecord};

/// The first field of every record encoding; names the format version.
pub const RECORD_TAG: &str = "sluse.audit.record.v1";
/// The first field of every checkpoint signing message; names the format version.
pub const CHECKPOINT_TAG: &str = "sluse.audit.checkpoint.v1";
/// The first field of every witness co-signing message; names the format version.
pub const WITNESS_TAG: &str = "sluse.audit.witness.v1";
/// `prev_hash` of the first record (seq 1): 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An instant cut to whole microseconds (what PostgreSQL's `timestamptz` keeps), so that a record
/// reads back from either backend exactly as it was hashed.
pub fn truncate_instant(at: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at)
}

/// The canonical text of an instant: UTC, exactly six fractional digits, `Z`
/// (`2026-03-01T09:15:00.000000Z`). Digits finer than a microsecond are cut.
pub fn format_instant(at: Timestamp) -> String {
    DateTimePrinter::new()
        .precision(Some(6))
        .timestamp_to_string(&truncate_instant(at))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes a SHA-256 written as 64 lowercase hex digits; `None` for anything else.
pub fn unhex_hash(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

struct Encoder(Vec<u8>);

impl Encoder {
    fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }

    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
        }
    }

    fn list(&mut self, items: &[String]) {
        self.len(items.len());
        for item in items {
            self.str(item);
        }
    }
}

/// The canonical encoding of the record at position `seq`. The position is part of what is
/// hashed, so a record cannot be moved to another place in the chain.
pub fn canonical(seq: u64, r: &AuditRecord) -> Vec<u8> {
    let mut e = Encoder(Vec::with_capacity(512));
    e.str(RECORD_TAG);
    e.u64(seq);
    e.str(&r.disclosure_id.hyphenated().to_string());
    e.str(&format_instant(r.at));
    e.str(&r.requester.sub);
    e.str(&r.requester.dept);
    e.str(r.requester.role.as_str());
    e.opt_str(r.subject_pseudonym.as_ref().map(|p| p.as_str()));
    e.str(&r.category);
    e.str(&r.purpose);
    e.opt_str(r.source.as_deref());
    e.opt_str(r.recipient.as_deref());
    e.str(r.decision.as_str());
    e.str(r.outcome.as_str());
    match &r.basis {
        None => e.0.push(0),
        Some(basis) => {
            e.0.push(1);
            e.str(basis_kind(basis));
            e.str(&basis.id);
        }
    }
    e.len(r.reasons.len());
    for reason in &r.reasons {
        e.str(&reason.code);
        e.str(&reason.message);
    }
    e.list(&r.fields_disclosed);
    e.list(&r.fields_redacted);
    e.opt_str(r.payload_digest.as_deref());
    e.str(&r.policy_version);
    e.0
}

fn basis_kind(basis: &crate::policy::Basis) -> &'static str {
    match basis.kind {
        crate::policy::BasisKind::Consent => "consent",
        crate::policy::BasisKind::Legal => "legal",
    }
}

// INVARIANT: hash[n] = SHA-256(prev_hash[n] || canonical(n, record[n])), prev_hash[n] = hash[n-1],
// and prev_hash[1] = GENESIS_HASH (32 zero bytes). `audit::verify` checks exactly this.
/// The hash of the record at `seq` whose predecessor's hash is `prev`.
pub fn record_hash(prev: &[u8; 32], seq: u64, record: &AuditRecord) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(&canonical(seq, record));
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Appends `record` after the record at `prev_seq` whose hash is `prev_hash`: assigns its
/// position and hashes. The instant is cut to microseconds first (see [`truncate_instant`]).
pub fn link(prev_seq: u64, prev_hash: &[u8; 32], mut record: AuditRecord) -> ChainedRecord {
    record.at = truncate_instant(record.at);
    let seq = prev_seq + 1;
    let hash = record_hash(prev_hash, seq, &record);
    ChainedRecord {
        seq,
        record,
        prev_hash: hex(prev_hash),
        hash: hex(&hash),
    }
}

/// The message a checkpoint signs: `str(CHECKPOINT_TAG) u64(seq) hash(head_hash) str(at)
/// str(key_id)`. `None` when `head_hash` is not 64 lowercase hex digits.
pub fn checkpoint_message(
    seq: u64,
    head_hash: &str,
    at: Timestamp,
    key_id: &str,
) -> Option<Vec<u8>> {
    let head = unhex_hash(head_hash)?;
    let mut e = Encoder(Vec::with_capacity(128));
    e.str(CHECKPOINT_TAG);
    e.u64(seq);
    e.0.extend_from_slice(&head);
    e.str(&format_instant(at));
    e.str(key_id);
    Some(e.0)
}

/// The message a witness co-signs: the checkpoint message under the witness tag, `str(WITNESS_TAG)
/// u64(seq) hash(head_hash) str(at) str(key_id)`, where `key_id` is the gateway's checkpoint key.
/// `None` when `head_hash` is not 64 lowercase hex digits.
pub fn witness_message(seq: u64, head_hash: &str, at: Timestamp, key_id: &str) -> Option<Vec<u8>> {
    let head = unhex_hash(head_hash)?;
    let mut e = Encoder(Vec::with_capacity(128));
    e.str(WITNESS_TAG);
    e.u64(seq);
    e.0.extend_from_slice(&head);
    e.str(&format_instant(at));
    e.str(key_id);
    Some(e.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        audit::record::{AuditDecision, AuditReason, Outcome, Requester},
        auth::Role,
        cpr::Pseudonym,
        policy::{Basis, BasisKind},
    };

    pub(crate) fn sample() -> AuditRecord {
        AuditRecord {
            disclosure_id: "01890a5d-ac96-774b-bcce-b302099a8057".parse().unwrap(),
            at: "2026-03-01T09:15:00.123456789Z".parse().unwrap(),
            requester: Requester {
                sub: "kp-anna".to_owned(),
                dept: "youth-unit".to_owned(),
                role: Role::ContactPerson,
            },
            subject_pseudonym: Some(Pseudonym::from_stored("ps_ab".to_owned())),
            category: "social.measures".to_owned(),
            purpose: "kui.contact_person".to_owned(),
            source: Some("social-services".to_owned()),
            recipient: Some("youth-unit".to_owned()),
            decision: AuditDecision::Permit,
            outcome: Outcome::Disclosed,
            basis: Some(Basis {
                kind: BasisKind::Consent,
                id: "c1".to_owned(),
            }),
            reasons: vec![],
            fields_disclosed: vec!["active".to_owned(), "caseworker.name".to_owned()],
            fields_redacted: vec!["family_notes".to_owned()],
            payload_digest: Some("ab".repeat(32)),
            policy_version: "v1".to_owned(),
        }
    }

    #[test]
    fn instants_are_utc_with_exactly_six_fractional_digits() {
        let at: Timestamp = "2026-03-01T10:15:00+01:00".parse().unwrap();
        assert_eq!(format_instant(at), "2026-03-01T09:15:00.000000Z");
        let at: Timestamp = "2026-03-01T09:15:00.123456789Z".parse().unwrap();
        assert_eq!(format_instant(at), "2026-03-01T09:15:00.123456Z");
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_a_hash() {
        let bytes: [u8; 32] = core::array::from_fn(|i| (i * 7) as u8);
        assert_eq!(unhex_hash(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex_hash(GENESIS_HASH), Some([0; 32]));
        assert_eq!(unhex_hash(&"AB".repeat(32)), None);
        assert_eq!(unhex_hash("00"), None);
    }

    #[test]
    fn the_encoding_is_length_prefixed_fields_in_a_fixed_order() {
        let mut record = sample();
        record.subject_pseudonym = None;
        record.basis = None;
        record.reasons = vec![AuditReason {
            code: "no_consent".to_owned(),
            message: "m".to_owned(),
        }];
        let bytes = canonical(7, &record);
        let mut expected = Vec::new();
        let s = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u64).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        s(&mut expected, RECORD_TAG);
        expected.extend_from_slice(&7u64.to_be_bytes());
        s(&mut expected, "01890a5d-ac96-774b-bcce-b302099a8057");
        s(&mut expected, "2026-03-01T09:15:00.123456Z");
        s(&mut expected, "kp-anna");
        s(&mut expected, "youth-unit");
        s(&mut expected, "contact_person");
        expected.push(0);
        s(&mut expected, "social.measures");
        s(&mut expected, "kui.contact_person");
        expected.push(1);
        s(&mut expected, "social-services");
        expected.push(1);
        s(&mut expected, "youth-unit");
        s(&mut expected, "permit");
        s(&mut expected, "disclosed");
        expected.push(0);
        expected.extend_from_slice(&1u64.to_be_bytes());
        s(&mut expected, "no_consent");
        s(&mut expected, "m");
        expected.extend_from_slice(&2u64.to_be_bytes());
        s(&mut expected, "active");
        s(&mut expected, "caseworker.name");
        expected.extend_from_slice(&1u64.to_be_bytes());
        s(&mut expected, "family_notes");
        expected.push(1);
        s(&mut expected, &"ab".repeat(32));
        s(&mut expected, "v1");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn field_boundaries_matter_so_moving_a_character_changes_the_hash() {
        let a = sample();
        let mut b = sample();
        b.requester.sub = "kp-ann".to_owned();
        b.requester.dept = "ayouth-unit".to_owned();
        assert_ne!(canonical(1, &a), canonical(1, &b));
        let mut c = sample();
        c.source = None;
        c.recipient = Some("social-services".to_owned());
        assert_ne!(canonical(1, &a), canonical(1, &c));
    }

    #[test]
    fn the_hash_binds_the_predecessor_and_the_position() {
        let record = sample();
        let first = link(0, &[0; 32], record.clone());
        assert_eq!(first.seq, 1);
        assert_eq!(first.prev_hash, GENESIS_HASH);
        assert_eq!(
            first.record.at,
            "2026-03-01T09:15:00.123456Z".parse().unwrap()
        );
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&[0; 32]);
        ctx.update(&canonical(1, &first.record));
        assert_eq!(first.hash, hex(ctx.finish().as_ref()));

        let prev = unhex_hash(&first.hash).unwrap();
        let second = link(1, &prev, record.clone());
        assert_eq!(second.prev_hash, first.hash);
        assert_ne!(second.hash, first.hash);
        let elsewhere = link(5, &prev, record);
        assert_ne!(elsewhere.hash, second.hash);
    }

    #[test]
    fn a_known_record_has_a_known_hash() {
        // Pinned so that an accidental change of the format fails here (and in the Python
        // verifier's round trip) rather than in a DPO's hands.
        let chained = link(0, &[0; 32], sample());
        insta::assert_snapshot!(chained.hash, @"11284c2ad9b9cb6124add05f841ad764d25cc5c5892bcd529e8962e58f2085c1");
    }

    #[test]
    fn the_checkpoint_message_is_tagged_and_refuses_a_bad_hash() {
        let at: Timestamp = "2026-03-01T09:15:00Z".parse().unwrap();
        let message = checkpoint_message(3, GENESIS_HASH, at, "k1").unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(&(CHECKPOINT_TAG.len() as u64).to_be_bytes());
        expected.extend_from_slice(CHECKPOINT_TAG.as_bytes());
        expected.extend_from_slice(&3u64.to_be_bytes());
        expected.extend_from_slice(&[0; 32]);
        expected.extend_from_slice(&27u64.to_be_bytes());
        expected.extend_from_slice(b"2026-03-01T09:15:00.000000Z");
        expected.extend_from_slice(&2u64.to_be_bytes());
        expected.extend_from_slice(b"k1");
        assert_eq!(message, expected);
        assert_eq!(checkpoint_message(3, "zz", at, "k1"), None);
    }
}
