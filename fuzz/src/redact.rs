//! `redact::apply` on arbitrary JSON records, under each plan the shipped bundle hands out with a
//! permit (the same requests and facts as the property tests in `src/redact/tests.rs`): never a
//! panic, and nothing leaves that the plan does not allow — every released leaf is an allowed path,
//! free text is scrubbed, a released value is the record's own, and the lists of disclosed and
//! withheld paths are sorted, unique, and scrubbed.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use jiff::civil::{Date, date};
use serde_json::{Value, json};
use sluse::auth::{Principal, Role};
use sluse::policy::{
    AssignmentFact, ConsentFact, Decision, Facts, GiverRole, Mode, RedactionPlan, Request, decide,
};
use sluse::redact::{WHOLE_RECORD, apply, scrub};

use super::shipped;

/// The day every decision is taken on.
const TODAY: Date = date(2026, 3, 2);

/// Checks one input: its first byte picks a plan, the rest is the record as JSON.
pub fn check(data: &[u8]) {
    let Some((&which, json)) = data.split_first() else {
        return;
    };
    let Ok(record) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let plans = plans();
    check_record(&plans[usize::from(which) % plans.len()], &record);
}

/// What must hold for every plan and record.
pub fn check_record(plan: &RedactionPlan, record: &Value) {
    let out = apply(plan, record);
    let Value::Object(data) = &out.data else {
        panic!("the released data is no object: {}", out.data);
    };
    let mut found = Vec::new();
    leaves(&out.data, "", &mut found);
    for (path, value) in &found {
        let Some(field) = plan.field(path) else {
            panic!("`{path}` left but the plan does not allow it");
        };
        if field.scrub {
            let text = value
                .as_str()
                .unwrap_or_else(|| panic!("`{path}`: free text no string"));
            assert_eq!(scrub(text), text, "`{path}` left unscrubbed");
        }
    }
    // A released value outside any list is the record's own (scrubbed if free text).
    for (path, value) in &found {
        if path.contains("[]") {
            continue;
        }
        let original = path
            .split('.')
            .try_fold(record, |v, key| v.get(key))
            .unwrap_or_else(|| panic!("`{path}` left but is not in the record"));
        let expected = match original {
            Value::String(s) if plan.field(path).is_some_and(|f| f.scrub) => {
                Value::String(scrub(s).into_owned())
            }
            other => other.clone(),
        };
        assert_eq!(*value, &expected, "`{path}` changed on the way out");
    }
    let paths: BTreeSet<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    let disclosed: BTreeSet<&str> = out.disclosed.iter().map(String::as_str).collect();
    assert_eq!(disclosed, paths, "`disclosed` is not what left");
    assert!(
        out.disclosed.windows(2).all(|w| w[0] < w[1]),
        "`disclosed` unsorted"
    );
    assert!(
        out.withheld.windows(2).all(|w| w[0] < w[1]),
        "`withheld` unsorted"
    );
    for path in &out.withheld {
        assert_eq!(scrub(path), path.as_str(), "withheld path unscrubbed");
        assert!(
            !disclosed.contains(path.as_str()),
            "`{path}` disclosed and withheld"
        );
    }
    if !record.is_object() {
        assert!(data.is_empty());
        assert_eq!(out.withheld, [WHOLE_RECORD]);
    }
}

/// The paths of the scalar leaves of `value`; panics on an empty object or array below the top.
fn leaves<'v>(value: &'v Value, path: &str, out: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Object(map) => {
            assert!(
                !map.is_empty() || path.is_empty(),
                "empty object at `{path}`"
            );
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        Value::Array(items) => {
            assert!(!items.is_empty(), "empty array at `{path}`");
            for item in items {
                leaves(item, &format!("{path}[]"), out);
            }
        }
        scalar => out.push((path.to_owned(), scalar)),
    }
}

/// Every plan of a permit the shipped bundle gives for the property tests' requests, in a fixed
/// order (the first byte of an input picks one).
pub fn plans() -> &'static [RedactionPlan] {
    static PLANS: OnceLock<Vec<RedactionPlan>> = OnceLock::new();
    PLANS.get_or_init(|| {
        let absence = json!({"unlawful_absence_pct": 15});
        vec![
            notice(
                "school.absence",
                "nordskolen",
                "social-services",
                "child_welfare.notification",
                14,
                &absence,
            ),
            pull("social.measures", "social-services", false),
            pull("social.measures", "social-services", true),
            pull("ppr.assessment", "ppr", false),
            pull("ppr.assessment", "ppr", true),
            notice(
                "education.status",
                "fgu-nord",
                "youth-unit",
                "kui.follow_up",
                19,
                &json!({}),
            ),
            pull("job.status", "jobcenter", false),
            pull("job.status", "jobcenter", true),
            notice(
                "concern.notification",
                "nordskolen",
                "social-services",
                "child_welfare.notification",
                14,
                &json!({}),
            ),
        ]
    })
}

fn permit(req: &Request, facts: &Facts) -> RedactionPlan {
    match decide(shipped::bundle(), req, facts, TODAY) {
        Decision::Permit { plan, .. } => plan,
        Decision::Deny { reasons, .. } => panic!("expected a permit for {req:?}, got {reasons:?}"),
    }
}

/// A pull by the subject's assigned contact person under the subject's (aged 20) consent.
fn pull(category: &str, source: &str, special_categories: bool) -> RedactionPlan {
    let req = Request {
        requester: Principal {
            sub: "cp-1".into(),
            dept: "youth-unit".into(),
            role: Role::ContactPerson,
        },
        category: category.into(),
        purpose: "kui.contact_person".into(),
        source: source.into(),
        recipient: "youth-unit".into(),
        mode: Mode::Pull,
        payload: None,
    };
    let facts = Facts {
        subject_age: 20,
        subject_birth_date: date(2005, 6, 1),
        assignments: vec![AssignmentFact {
            contact_person: "cp-1".into(),
            department: "youth-unit".into(),
        }],
        consents: vec![ConsentFact {
            id: "consent-1".into(),
            givers: vec![GiverRole::Subject],
            categories: vec![category.into()],
            recipients: vec!["youth-unit".into()],
            purposes: vec!["kui.contact_person".into()],
            special_categories,
            valid_from: date(2026, 1, 1),
            valid_until: date(2026, 12, 31),
            withdrawn: false,
        }],
    };
    permit(&req, &facts)
}

/// A notice on a legal basis (no consent) about a subject of `age`.
fn notice(
    category: &str,
    source: &str,
    recipient: &str,
    purpose: &str,
    age: i16,
    payload: &Value,
) -> RedactionPlan {
    let req = Request {
        requester: Principal {
            sub: "system-1".into(),
            dept: source.into(),
            role: Role::System,
        },
        category: category.into(),
        purpose: purpose.into(),
        source: source.into(),
        recipient: recipient.into(),
        mode: Mode::Notice,
        payload: Some(payload.clone()),
    };
    let facts = Facts {
        subject_age: age.unsigned_abs().into(),
        subject_birth_date: date(2026 - age - 1, 6, 1),
        assignments: vec![],
        consents: vec![],
    };
    permit(&req, &facts)
}
