//! Decisions over the shipped bundle (`policies/`): every flow of API.md §8 permitted and refused for
//! each reason that applies to it, the age boundaries, consent in time, and a property test of the
//! invariants of API.md §9.2-3.

use std::path::PathBuf;
use std::sync::OnceLock;

use jiff::ToSpan;
use jiff::civil::{Date, date};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::auth::{Principal, Role};

mod ages;
mod bundle;
mod decisions;
mod explain;
mod flows;
mod invariants;

fn shipped_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}

fn bundle() -> &'static PolicyBundle {
    static BUNDLE: OnceLock<PolicyBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| match PolicyBundle::load(&shipped_dir()) {
        Ok(b) => b,
        Err(e) => panic!("the shipped bundle does not load:\n{e}"),
    })
}

const TODAY: Date = date(2026, 3, 2);

/// Whole years from `birth` to `today` (a 29 February child ages on 1 March in other years).
fn age_on(birth: Date, today: Date) -> u32 {
    let had_birthday = (today.month(), today.day()) >= (birth.month(), birth.day());
    (today.year() - birth.year() - i16::from(!had_birthday)) as u32
}

fn facts_born(birth: Date, today: Date) -> Facts {
    Facts {
        subject_age: age_on(birth, today),
        subject_birth_date: birth,
        assignments: Vec::new(),
        consents: Vec::new(),
    }
}

fn facts(age: u32) -> Facts {
    facts_born(TODAY - (age as i64).years(), TODAY)
}

fn who(sub: &str, dept: &str, role: Role) -> Principal {
    Principal {
        sub: sub.into(),
        dept: dept.into(),
        role,
    }
}

fn anna() -> Principal {
    who("cp-anna", "youth-unit", Role::ContactPerson)
}

fn school() -> Principal {
    who("nordskolen-system", "nordskolen", Role::System)
}

fn fgu() -> Principal {
    who("fgu-system", "fgu-nord", Role::System)
}

/// A pull: the requester's department receives.
fn pull(requester: Principal, source: &str, category: &str, purpose: &str) -> Request {
    Request {
        recipient: requester.dept.clone(),
        requester,
        category: category.into(),
        purpose: purpose.into(),
        source: source.into(),
        mode: Mode::Pull,
        payload: None,
    }
}

/// A notice: the requester's department sends.
fn notice(
    requester: Principal,
    recipient: &str,
    category: &str,
    purpose: &str,
    payload: Value,
) -> Request {
    Request {
        source: requester.dept.clone(),
        requester,
        category: category.into(),
        purpose: purpose.into(),
        recipient: recipient.into(),
        mode: Mode::Notice,
        payload: Some(payload),
    }
}

use GiverRole::{CustodyHolder, Subject};

fn consent(
    id: &str,
    givers: &[GiverRole],
    category: &str,
    recipient: &str,
    purpose: &str,
) -> ConsentFact {
    ConsentFact {
        id: id.into(),
        givers: givers.to_vec(),
        categories: vec![category.into()],
        recipients: vec![recipient.into()],
        purposes: vec![purpose.into()],
        special_categories: false,
        valid_from: date(2026, 1, 1),
        valid_until: date(2026, 12, 31),
        withdrawn: false,
    }
}

fn special(mut c: ConsentFact) -> ConsentFact {
    c.special_categories = true;
    c
}

fn assigned_to_anna(mut f: Facts) -> Facts {
    f.assignments.push(AssignmentFact {
        contact_person: "cp-anna".into(),
        department: "youth-unit".into(),
    });
    f
}

fn with(mut f: Facts, c: ConsentFact) -> Facts {
    f.consents.push(c);
    f
}

/// The givers that suffice at an age under the reference rules.
fn givers_for(age: u32) -> &'static [GiverRole] {
    match age {
        0..=14 => &[CustodyHolder],
        15..=17 => &[Subject, CustodyHolder],
        _ => &[Subject],
    }
}

/// F3's request by Anna with her assignment and a consent that suffices at `age`.
fn f3_facts(age: u32) -> Facts {
    let c = consent(
        "c-f3",
        givers_for(age),
        "social.measures",
        "youth-unit",
        "kui.contact_person",
    );
    with(assigned_to_anna(facts(age)), c)
}

fn f3() -> Request {
    pull(
        anna(),
        "social-services",
        "social.measures",
        "kui.contact_person",
    )
}

#[derive(Debug)]
enum Want {
    Permit(BasisKind, &'static str, &'static [&'static str]),
    Deny(&'static [ReasonCode]),
}

use ReasonCode::*;

fn check(name: &str, req: &Request, facts: &Facts, today: Date, want: &Want) {
    let decision = decide(bundle(), req, facts, today);
    assert_eq!(decision.policy_version(), bundle().version(), "{name}");
    match (want, &decision) {
        (
            Want::Permit(kind, id, fields),
            Decision::Permit {
                basis,
                plan,
                flow_id,
                ..
            },
        ) => {
            assert_eq!(
                (basis.kind, basis.id.as_str()),
                (*kind, *id),
                "{name}: basis"
            );
            let got: Vec<&str> = plan.allowed().iter().map(|f| f.path.as_str()).collect();
            assert_eq!(got, *fields, "{name}: fields under flow `{flow_id}`");
            for f in plan.allowed() {
                assert_eq!(
                    f.scrub,
                    f.sensitivity == Sensitivity::FreeText,
                    "{name}: {}",
                    f.path
                );
            }
        }
        (Want::Deny(codes), Decision::Deny { reasons, .. }) => {
            let got: Vec<ReasonCode> = reasons.iter().map(|r| r.code).collect();
            assert_eq!(got, *codes, "{name}: {reasons:#?}");
        }
        _ => panic!("{name}: wanted {want:?}, got {decision:#?}"),
    }
}

const F1_FIELDS: &[&str] = &[
    "period.from",
    "period.to",
    "unlawful_absence_pct",
    "parent_contacts",
    "actions_taken",
];
const F7_FIELDS: &[&str] = &["concern", "observations"];

fn absence(pct: f64) -> Value {
    json!({
        "period": {"from": "2026-01-01", "to": "2026-03-31"},
        "unlawful_absence_pct": pct,
        "absence_band": if pct >= 15.0 { ">=15" } else if pct >= 10.0 { "10-15" } else { "<10" },
        "parent_contacts": 3,
        "actions_taken": "called the parents",
        "absence_reasons": "illness",
    })
}
