//! Applying a permit's [`RedactionPlan`] to a source record.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use super::scrub::scrub;
use crate::policy::RedactionPlan;

/// The path reported as withheld when the record is not a JSON object at all.
pub const WHOLE_RECORD: &str = "$";

/// How deep the walk descends into parts of a record that cannot pass; below this depth a subtree is
/// reported by the path of its root. Declared paths are far shallower.
const MAX_DEPTH: usize = 32;

/// At most this many characters of a key that is no valid field name are shown in a withheld path.
const MAX_SHOWN_KEY_CHARS: usize = 64;

/// A record after redaction: what may leave, and what was held back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Redacted {
    /// The released record: always a JSON object, holding only the plan's allowed leaves (free text
    /// scrubbed); empty objects and arrays are left out.
    pub data: Value,
    /// The leaf paths actually released (`caseworker.name`, `measures[].type`), sorted, without
    /// duplicates. For the audit record's `fields_disclosed`.
    pub disclosed: Vec<String>,
    /// The leaf paths present in the record that did not pass — declared fields the plan withholds,
    /// fields the source invented, allowed fields of the wrong shape — sorted, without duplicates.
    /// Keys that are no valid field name are shown as `["…"]`, shortened; every path is
    /// scrubbed (a key the source made up may be a CPR number); a record that is no object is
    /// [`WHOLE_RECORD`].
    ///
    /// This tells *which fields the record has*: that a `criminal_record` or a `diagnosis` was
    /// present is itself sensitive. Fit for the audit trail; to tell a recipient what was
    /// withheld without revealing that, report [`RedactionPlan::withheld`] instead.
    pub withheld: Vec<String>,
}

/// Applies `plan` to `record`: default deny. A value passes only if its exact leaf path is allowed
/// by the plan and it is a scalar (string, number, bool, null); a free-text field (`scrub`) must be
/// a string and passes [`scrub`]bed. Object keys extend the path with `.key`, array items with
/// `[]`. Arrays keep their order; items left empty are dropped, and empty objects and arrays are
/// not emitted. A compound value at an allowed or withheld declared leaf is withheld whole, and so
/// is everything under a key that is no valid field name (lowercase ASCII letters, digits, `_`),
/// so that a key like `"caseworker.name"` cannot pose as a path. A record that is no object gives
/// an empty object, with [`WHOLE_RECORD`] withheld.
pub fn apply(plan: &RedactionPlan, record: &Value) -> Redacted {
    let mut walk = Walk {
        plan,
        path: String::new(),
        disclosed: BTreeSet::new(),
        withheld: BTreeSet::new(),
    };
    let data = match record {
        Value::Object(map) => walk.object(map, 0),
        _ => {
            walk.withheld.insert(WHOLE_RECORD.to_owned());
            Map::new()
        }
    };
    Redacted {
        data: Value::Object(data),
        disclosed: walk.disclosed.into_iter().collect(),
        withheld: walk.withheld.into_iter().collect(),
    }
}

/// The state of one walk over a record: the path of the current value, kept in one buffer.
struct Walk<'p> {
    plan: &'p RedactionPlan,
    path: String,
    disclosed: BTreeSet<String>,
    withheld: BTreeSet<String>,
}

impl Walk<'_> {
    /// The allowed part of an object at the current path.
    fn object(&mut self, map: &Map<String, Value>, depth: usize) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in map {
            let len = self.path.len();
            if is_field_name(key) {
                if !self.path.is_empty() {
                    self.path.push('.');
                }
                self.path.push_str(key);
                if let Some(kept) = self.value(value, depth + 1) {
                    out.insert(key.clone(), kept);
                }
            } else {
                self.push_shown_key(key);
                self.withhold_all(value, depth + 1);
            }
            self.path.truncate(len);
        }
        out
    }

    /// The allowed part of `value` at the current path, or `None` if nothing of it passes.
    fn value(&mut self, value: &Value, depth: usize) -> Option<Value> {
        if let Some(field) = self.plan.field(&self.path) {
            let kept = match value {
                Value::String(s) if field.scrub => Some(Value::String(scrub(s).into_owned())),
                _ if field.scrub => None,
                Value::Object(_) | Value::Array(_) => None,
                scalar => Some(scalar.clone()),
            };
            if kept.is_some() {
                self.disclosed.insert(self.path.clone());
            } else {
                self.withhold();
            }
            return kept;
        }
        if self.plan.withheld().iter().any(|p| p.as_str() == self.path) || depth > MAX_DEPTH {
            self.withhold();
            return None;
        }
        match value {
            Value::Object(map) => {
                let kept = self.object(map, depth);
                (!kept.is_empty()).then_some(Value::Object(kept))
            }
            Value::Array(items) => {
                let len = self.path.len();
                self.path.push_str("[]");
                let kept: Vec<Value> = items
                    .iter()
                    .filter_map(|item| self.value(item, depth + 1))
                    .collect();
                self.path.truncate(len);
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            _ => {
                self.withhold();
                None
            }
        }
    }

    /// Lists the leaves of `value` at the current path as withheld; nothing of it passes.
    fn withhold_all(&mut self, value: &Value, depth: usize) {
        match value {
            Value::Object(map) if depth <= MAX_DEPTH => {
                for (key, child) in map {
                    let len = self.path.len();
                    if is_field_name(key) {
                        if !self.path.is_empty() {
                            self.path.push('.');
                        }
                        self.path.push_str(key);
                    } else {
                        self.push_shown_key(key);
                    }
                    self.withhold_all(child, depth + 1);
                    self.path.truncate(len);
                }
            }
            Value::Array(items) if depth <= MAX_DEPTH => {
                let len = self.path.len();
                self.path.push_str("[]");
                for item in items {
                    self.withhold_all(item, depth + 1);
                }
                self.path.truncate(len);
            }
            Value::Object(map) if map.is_empty() => {}
            Value::Array(items) if items.is_empty() => {}
            _ => {
                self.withhold();
            }
        }
    }

    /// Lists the current path as withheld, scrubbed: a key the source made up may be a CPR number.
    fn withhold(&mut self) {
        self.withheld.insert(scrub(&self.path).into_owned());
    }

    /// Appends a key that is no valid field name as `["…"]`: scrubbed, shortened, JSON-quoted — so
    /// it can never read as a declared path nor carry a CPR number into a listing.
    fn push_shown_key(&mut self, key: &str) {
        let scrubbed = scrub(key);
        let mut shown: String = scrubbed.chars().take(MAX_SHOWN_KEY_CHARS).collect();
        if shown.len() < scrubbed.len() {
            shown.push('…');
        }
        self.path.push('[');
        self.path
            .push_str(&serde_json::to_string(&shown).unwrap_or_else(|_| "\"?\"".to_owned()));
        self.path.push(']');
    }
}

/// Whether `key` can be a segment of a declared path: non-empty lowercase ASCII letters, digits, `_`
/// (and not absurdly long).
fn is_field_name(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_SHOWN_KEY_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
