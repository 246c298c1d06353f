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

#[test]
fn every_reference_flow_permits_and_refuses_as_the_contract_says() {
    let f1 = |pct| {
        notice(
            school(),
            "social-services",
            "school.absence",
            "child_welfare.notification",
            absence(pct),
        )
    };
    let f2 = notice(
        school(),
        "youth-unit",
        "school.absence",
        "kui.contact_person",
        absence(12.0),
    );
    let f2_consent = |age| {
        consent(
            "c-f2",
            givers_for(age),
            "school.absence",
            "youth-unit",
            "kui.contact_person",
        )
    };
    let f4 = pull(anna(), "ppr", "ppr.assessment", "kui.contact_person");
    let f4_consent = consent(
        "c-f4",
        &[Subject, CustodyHolder],
        "ppr.assessment",
        "youth-unit",
        "kui.contact_person",
    );
    let f5 = notice(
        fgu(),
        "youth-unit",
        "education.status",
        "kui.follow_up",
        json!({"institution": "FGU Nord", "programme": "PGU", "event": "dropout", "date": "2026-02-27", "personal_reason": "x"}),
    );
    let f6 = pull(anna(), "jobcenter", "job.status", "kui.contact_person");
    let f6_consent = consent(
        "c-f6",
        &[Subject],
        "job.status",
        "youth-unit",
        "kui.contact_person",
    );
    let f7 = |sender: Principal| {
        notice(
            sender,
            "social-services",
            "concern.notification",
            "child_welfare.notification",
            json!({"concern": "c", "observations": "o"}),
        )
    };
    let kui15d = pull(
        who("fgu-vejleder", "fgu-nord", Role::Caseworker),
        "youth-unit",
        "kui.contact",
        "kui.follow_up",
    );

    let cases: Vec<(&str, Request, Facts, Want)> = vec![
        // F1: the 15 % notice to social services.
        (
            "f1 permits at 15 % under 18",
            f1(15.0),
            facts(14),
            Want::Permit(BasisKind::Legal, "absence-15pct", F1_FIELDS),
        ),
        (
            "f1 needs no consent, at 17 either",
            f1(31.5),
            facts(17),
            Want::Permit(BasisKind::Legal, "absence-15pct", F1_FIELDS),
        ),
        (
            "f1 refuses below 15 %",
            f1(14.9),
            facts(14),
            Want::Deny(&[BasisConditionFailed]),
        ),
        (
            "f1 refuses at 18",
            f1(20.0),
            facts(18),
            Want::Deny(&[BasisConditionFailed]),
        ),
        (
            "f1 refuses at 18 below 15 %, both reasons",
            f1(3.0),
            facts(18),
            Want::Deny(&[BasisConditionFailed, BasisConditionFailed]),
        ),
        (
            "f1 refuses a notice without the percentage",
            notice(
                school(),
                "social-services",
                "school.absence",
                "child_welfare.notification",
                json!({"period": {}}),
            ),
            facts(14),
            Want::Deny(&[BasisConditionFailed]),
        ),
        (
            "f1 refuses a school sender without a sending role",
            notice(
                who("dpo", "nordskolen", Role::Dpo),
                "social-services",
                "school.absence",
                "child_welfare.notification",
                absence(20.0),
            ),
            facts(14),
            Want::Deny(&[RoleNotAllowed]),
        ),
        (
            "a contact person cannot send an absence notice: no flow from a youth unit",
            notice(
                anna(),
                "social-services",
                "school.absence",
                "child_welfare.notification",
                absence(20.0),
            ),
            facts(14),
            Want::Deny(&[NoFlow]),
        ),
        // F2: the same absence, as a band, to the youth unit on consent.
        (
            "f2 permits on consent",
            f2.clone(),
            with(facts(16), f2_consent(16)),
            Want::Permit(
                BasisKind::Consent,
                "c-f2",
                &["period.from", "period.to", "absence_band"],
            ),
        ),
        (
            "f2 refuses without consent",
            f2.clone(),
            facts(16),
            Want::Deny(&[NoConsent]),
        ),
        (
            "f2 refuses at 25, out of scope",
            f2.clone(),
            with(facts(25), f2_consent(25)),
            Want::Deny(&[SubjectOutOfScope]),
        ),
        // F3: active measure and caseworker, to the assigned contact person.
        (
            "f3 permits on consent with an assignment",
            f3(),
            f3_facts(19),
            Want::Permit(
                BasisKind::Consent,
                "c-f3",
                &["active", "caseworker.name", "caseworker.phone"],
            ),
        ),
        (
            "f3 refuses without an assignment",
            f3(),
            with(facts(19), f3_facts(19).consents[0].clone()),
            Want::Deny(&[NotNeedToKnow]),
        ),
        (
            "f3 refuses an assignment held by someone else",
            pull(
                who("cp-bo", "youth-unit", Role::ContactPerson),
                "social-services",
                "social.measures",
                "kui.contact_person",
            ),
            f3_facts(19),
            Want::Deny(&[NotNeedToKnow]),
        ),
        (
            "f3 refuses a caseworker, and names every reason",
            pull(
                who("cw-eva", "youth-unit", Role::Caseworker),
                "social-services",
                "social.measures",
                "kui.contact_person",
            ),
            facts(19),
            Want::Deny(&[RoleNotAllowed, NotNeedToKnow, NoConsent]),
        ),
        (
            "f3 refuses without consent",
            f3(),
            assigned_to_anna(facts(19)),
            Want::Deny(&[NoConsent]),
        ),
        (
            "f3 refuses a consent for another recipient",
            f3(),
            with(
                assigned_to_anna(facts(19)),
                consent(
                    "c-x",
                    &[Subject],
                    "social.measures",
                    "jobcenter",
                    "kui.contact_person",
                ),
            ),
            Want::Deny(&[NoConsent]),
        ),
        (
            "f3 refuses a consent for another purpose",
            f3(),
            with(
                assigned_to_anna(facts(19)),
                consent(
                    "c-x",
                    &[Subject],
                    "social.measures",
                    "youth-unit",
                    "kui.follow_up",
                ),
            ),
            Want::Deny(&[NoConsent]),
        ),
        (
            "f3 refuses a withdrawn consent",
            f3(),
            {
                let mut f = f3_facts(19);
                f.consents[0].withdrawn = true;
                f
            },
            Want::Deny(&[ConsentWithdrawn]),
        ),
        (
            "f3 refuses an expired consent",
            f3(),
            {
                let mut f = f3_facts(19);
                f.consents[0].valid_until = date(2026, 3, 1);
                f
            },
            Want::Deny(&[ConsentExpired]),
        ),
        (
            "f3 permits on the last day of a consent",
            f3(),
            {
                let mut f = f3_facts(19);
                f.consents[0].valid_until = TODAY;
                f
            },
            Want::Permit(
                BasisKind::Consent,
                "c-f3",
                &["active", "caseworker.name", "caseworker.phone"],
            ),
        ),
        (
            "f3 refuses a consent not yet in force: no consent",
            f3(),
            {
                let mut f = f3_facts(19);
                f.consents[0].valid_from = date(2026, 3, 3);
                f
            },
            Want::Deny(&[NoConsent]),
        ),
        (
            "f3 permits on the first day of a consent",
            f3(),
            {
                let mut f = f3_facts(19);
                f.consents[0].valid_from = TODAY;
                f
            },
            Want::Permit(
                BasisKind::Consent,
                "c-f3",
                &["active", "caseworker.name", "caseworker.phone"],
            ),
        ),
        (
            "f3 refuses a custody holder's consent for a 19-year-old",
            f3(),
            with(
                assigned_to_anna(facts(19)),
                consent(
                    "c-old",
                    &[CustodyHolder],
                    "social.measures",
                    "youth-unit",
                    "kui.contact_person",
                ),
            ),
            Want::Deny(&[ConsentGiverInvalid]),
        ),
        (
            "f3 refuses a 16-year-old's own consent without a custody holder",
            f3(),
            with(
                assigned_to_anna(facts(16)),
                consent(
                    "c-own",
                    &[Subject],
                    "social.measures",
                    "youth-unit",
                    "kui.contact_person",
                ),
            ),
            Want::Deny(&[ConsentGiverInvalid]),
        ),
        (
            "f3 permits on a valid consent beside a withdrawn one",
            f3(),
            {
                let mut f = f3_facts(19);
                let mut old = f.consents[0].clone();
                old.id = "c-withdrawn".into();
                old.withdrawn = true;
                f.consents.insert(0, old);
                f
            },
            Want::Permit(
                BasisKind::Consent,
                "c-f3",
                &["active", "caseworker.name", "caseworker.phone"],
            ),
        ),
        (
            "f3 lists every failing consent",
            f3(),
            {
                let mut f = assigned_to_anna(facts(19));
                let mut a = consent(
                    "c-a",
                    &[Subject],
                    "social.measures",
                    "youth-unit",
                    "kui.contact_person",
                );
                a.withdrawn = true;
                let mut b = consent(
                    "c-b",
                    &[Subject],
                    "social.measures",
                    "youth-unit",
                    "kui.contact_person",
                );
                b.valid_until = date(2026, 1, 31);
                f.consents = vec![a, b];
                f
            },
            Want::Deny(&[ConsentWithdrawn, ConsentExpired]),
        ),
        (
            "f3 refuses at 25",
            f3(),
            f3_facts(25),
            Want::Deny(&[SubjectOutOfScope]),
        ),
        // F4: PPR; the diagnosis only on explicit consent.
        (
            "f4 permits without the diagnosis",
            f4.clone(),
            with(assigned_to_anna(facts(16)), f4_consent.clone()),
            Want::Permit(
                BasisKind::Consent,
                "c-f4",
                &["status", "recommended_support"],
            ),
        ),
        (
            "f4 passes the diagnosis on explicit consent",
            f4.clone(),
            with(assigned_to_anna(facts(16)), special(f4_consent.clone())),
            Want::Permit(
                BasisKind::Consent,
                "c-f4",
                &["status", "recommended_support", "diagnosis"],
            ),
        ),
        (
            "f4 prefers an explicit consent when there are two",
            f4.clone(),
            {
                let mut explicit = special(f4_consent.clone());
                explicit.id = "c-f4-explicit".into();
                with(
                    with(assigned_to_anna(facts(16)), f4_consent.clone()),
                    explicit,
                )
            },
            Want::Permit(
                BasisKind::Consent,
                "c-f4-explicit",
                &["status", "recommended_support", "diagnosis"],
            ),
        ),
        (
            "f4 refuses without an assignment",
            f4.clone(),
            with(facts(16), f4_consent.clone()),
            Want::Deny(&[NotNeedToKnow]),
        ),
        (
            "f4 refuses without consent",
            f4.clone(),
            assigned_to_anna(facts(16)),
            Want::Deny(&[NoConsent]),
        ),
        // F5: KUI § 12 c notices, no consent, under 25.
        (
            "f5 permits under 25",
            f5.clone(),
            facts(19),
            Want::Permit(
                BasisKind::Legal,
                "kui-12c",
                &["institution", "programme", "event", "date"],
            ),
        ),
        (
            "f5 refuses at 25",
            f5.clone(),
            facts(25),
            Want::Deny(&[SubjectOutOfScope, BasisConditionFailed]),
        ),
        (
            "f5 refuses a school sending an education notice",
            notice(
                school(),
                "youth-unit",
                "education.status",
                "kui.follow_up",
                json!({}),
            ),
            facts(19),
            Want::Deny(&[NoFlow]),
        ),
        // F6: the job centre; health notes on explicit consent, the criminal record never.
        (
            "f6 permits benefit and mentor",
            f6.clone(),
            with(assigned_to_anna(facts(20)), f6_consent.clone()),
            Want::Permit(BasisKind::Consent, "c-f6", &["benefit_type", "mentor"]),
        ),
        (
            "f6 passes health notes on explicit consent, never the record",
            f6.clone(),
            with(assigned_to_anna(facts(20)), special(f6_consent.clone())),
            Want::Permit(
                BasisKind::Consent,
                "c-f6",
                &["benefit_type", "mentor", "health_notes"],
            ),
        ),
        (
            "f6 refuses without consent",
            f6.clone(),
            assigned_to_anna(facts(20)),
            Want::Deny(&[NoConsent]),
        ),
        // F7: concern, never blocked for want of consent, under 18.
        (
            "f7 from a school",
            f7(school()),
            facts(12),
            Want::Permit(BasisKind::Legal, "barnets-lov-133", F7_FIELDS),
        ),
        (
            "f7 from ppr",
            f7(who("ppr-psych", "ppr", Role::Caseworker)),
            facts(12),
            Want::Permit(BasisKind::Legal, "barnets-lov-133", F7_FIELDS),
        ),
        (
            "f7 from the youth unit",
            f7(anna()),
            facts(17),
            Want::Permit(BasisKind::Legal, "barnets-lov-133", F7_FIELDS),
        ),
        (
            "f7 from the job centre",
            f7(who("jc-1", "jobcenter", Role::Caseworker)),
            facts(16),
            Want::Permit(BasisKind::Legal, "barnets-lov-133", F7_FIELDS),
        ),
        (
            "f7 refuses at 18",
            f7(school()),
            facts(18),
            Want::Deny(&[BasisConditionFailed]),
        ),
        (
            "f7 has no flow from an education institution",
            f7(fgu()),
            facts(16),
            Want::Deny(&[NoFlow]),
        ),
        (
            "f7 refuses the dpo's role",
            f7(who("dpo-1", "nordskolen", Role::Dpo)),
            facts(16),
            Want::Deny(&[RoleNotAllowed]),
        ),
        // KUI § 15 d: the contact person's name to an education institution.
        (
            "kui-15d passes the name only",
            kui15d.clone(),
            facts(20),
            Want::Permit(BasisKind::Legal, "kui-15d", &["contact_person.name"]),
        ),
        (
            "kui-15d refuses at 25",
            kui15d.clone(),
            facts(25),
            Want::Deny(&[SubjectOutOfScope, BasisConditionFailed]),
        ),
        // Ids and shapes that match no flow.
        (
            "a pull of a notice flow",
            pull(
                who("ss-1", "social-services", Role::Caseworker),
                "nordskolen",
                "school.absence",
                "child_welfare.notification",
            ),
            facts(12),
            Want::Deny(&[NoFlow]),
        ),
        (
            "an unknown category",
            pull(anna(), "social-services", "marketing", "kui.contact_person"),
            facts(19),
            Want::Deny(&[NoFlow]),
        ),
        (
            "an unknown purpose and source",
            pull(anna(), "nowhere", "social.measures", "marketing"),
            facts(19),
            Want::Deny(&[NoFlow, NoFlow]),
        ),
        (
            "the dpo office receives nothing",
            pull(
                who("dpo-1", "dpo-office", Role::Dpo),
                "social-services",
                "social.measures",
                "kui.contact_person",
            ),
            facts(19),
            Want::Deny(&[NoFlow]),
        ),
        (
            "a requester of another department",
            Request {
                requester: who("cp-anna", "jobcenter", Role::ContactPerson),
                ..f3()
            },
            f3_facts(19),
            Want::Deny(&[NotNeedToKnow, NotNeedToKnow]),
        ),
    ];
    for (name, req, facts, want) in &cases {
        check(name, req, facts, TODAY, want);
    }
}

/// The day before and the day of a birthday, for a subject who turns `age` on `birthday`.
fn around(age: i64, birthday: Date) -> [(Date, Facts); 2] {
    let birth = birthday - age.years();
    let before = birthday - 1.day();
    [
        (before, facts_born(birth, before)),
        (birthday, facts_born(birth, birthday)),
    ]
}

#[test]
fn ages_change_on_the_birthday_not_a_day_before() {
    let birthday = date(2026, 5, 20);
    for (age, [(before, b), (on, o)]) in [15, 18, 25].map(|a| (a, around(a, birthday))) {
        assert_eq!(
            (b.subject_age, o.subject_age),
            (age as u32 - 1, age as u32),
            "{before} {on}"
        );
    }
    // A 29 February child turns 18 on 1 March in a common year.
    assert_eq!(age_on(date(2008, 2, 29), date(2026, 2, 28)), 17);
    assert_eq!(age_on(date(2008, 2, 29), date(2026, 3, 1)), 18);
}

#[test]
fn the_15th_birthday_lets_the_subject_consent_and_requires_it() {
    let b = bundle();
    let birthday = date(2026, 5, 20);
    let [(before, at14), (on, at15)] = around(15, birthday);

    // Recording: the subject may not consent at 14, may at 15.
    let err = b
        .consent_givers_valid_at_recording(at14.subject_age, &[Subject, CustodyHolder])
        .unwrap_err();
    assert_eq!(err.code, ConsentGiverInvalid);
    assert_eq!(
        err.message,
        "a subject aged 14 may not consent themself: the minimum age is 15"
    );
    assert!(
        b.consent_givers_valid_at_recording(at15.subject_age, &[Subject, CustodyHolder])
            .is_ok()
    );
    assert!(
        b.consent_givers_valid_at_recording(at14.subject_age, &[CustodyHolder])
            .is_ok()
    );

    // Deciding: a custody holder's consent suffices the day before, and no longer on the day.
    let custody = consent(
        "c-ch",
        &[CustodyHolder],
        "social.measures",
        "youth-unit",
        "kui.contact_person",
    );
    let fields: &[&str] = &["active", "caseworker.name", "caseworker.phone"];
    check(
        "custody holder at 14",
        &f3(),
        &with(assigned_to_anna(at14), custody.clone()),
        before,
        &Want::Permit(BasisKind::Consent, "c-ch", fields),
    );
    check(
        "custody holder at 15",
        &f3(),
        &with(assigned_to_anna(at15.clone()), custody),
        on,
        &Want::Deny(&[ConsentGiverInvalid]),
    );
    let joint = consent(
        "c-joint",
        &[Subject, CustodyHolder],
        "social.measures",
        "youth-unit",
        "kui.contact_person",
    );
    check(
        "joint at 15",
        &f3(),
        &with(assigned_to_anna(at15), joint),
        on,
        &Want::Permit(BasisKind::Consent, "c-joint", fields),
    );
}

#[test]
fn a_custody_holders_consent_lapses_on_the_18th_birthday() {
    let b = bundle();
    let [(before, at17), (on, at18)] = around(18, date(2026, 9, 1));
    let joint = consent(
        "c-joint",
        &[Subject, CustodyHolder],
        "social.measures",
        "youth-unit",
        "kui.contact_person",
    );
    let own = consent(
        "c-own",
        &[Subject],
        "social.measures",
        "youth-unit",
        "kui.contact_person",
    );
    let fields: &[&str] = &["active", "caseworker.name", "caseworker.phone"];

    check(
        "joint at 17",
        &f3(),
        &with(assigned_to_anna(at17.clone()), joint.clone()),
        before,
        &Want::Permit(BasisKind::Consent, "c-joint", fields),
    );
    let lapsed = decide(b, &f3(), &with(assigned_to_anna(at18.clone()), joint), on);
    assert_eq!(lapsed.codes(), [ConsentGiverInvalid]);
    assert_eq!(
        lapsed.reasons()[0].message,
        "consent `c-joint` was given by `subject` and `custody_holder`; for a subject aged 18 and over it needs `subject` and may be given only by `subject`"
    );
    // The young person's own consent: not enough at 17, enough at 18.
    check(
        "own at 17",
        &f3(),
        &with(assigned_to_anna(at17.clone()), own.clone()),
        before,
        &Want::Deny(&[ConsentGiverInvalid]),
    );
    check(
        "own at 18",
        &f3(),
        &with(assigned_to_anna(at18.clone()), own),
        on,
        &Want::Permit(BasisKind::Consent, "c-own", fields),
    );

    // Recording: a custody holder may give the day before, not on the day.
    assert!(
        b.consent_givers_valid_at_recording(at17.subject_age, &[CustodyHolder])
            .is_ok()
    );
    let err = b
        .consent_givers_valid_at_recording(at18.subject_age, &[Subject, CustodyHolder])
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            ConsentGiverInvalid,
            "a `custody_holder` may not give consent for a subject aged 18"
        )
    );
    assert!(
        b.consent_givers_valid_at_recording(at18.subject_age, &[])
            .is_err()
    );

    // The duties to notify stop on the same day.
    let f1 = notice(
        school(),
        "social-services",
        "school.absence",
        "child_welfare.notification",
        absence(40.0),
    );
    check(
        "f1 at 17",
        &f1,
        &at17,
        before,
        &Want::Permit(BasisKind::Legal, "absence-15pct", F1_FIELDS),
    );
    check(
        "f1 at 18",
        &f1,
        &at18,
        on,
        &Want::Deny(&[BasisConditionFailed]),
    );
    let f7 = notice(
        school(),
        "social-services",
        "concern.notification",
        "child_welfare.notification",
        json!({}),
    );
    check(
        "f7 at 17",
        &f7,
        &at17,
        before,
        &Want::Permit(BasisKind::Legal, "barnets-lov-133", F7_FIELDS),
    );
    check(
        "f7 at 18",
        &f7,
        &at18,
        on,
        &Want::Deny(&[BasisConditionFailed]),
    );
}

#[test]
fn youth_unit_purposes_end_on_the_25th_birthday() {
    let [(before, at24), (on, at25)] = around(25, date(2026, 11, 30));
    let own = consent(
        "c-own",
        &[Subject],
        "social.measures",
        "youth-unit",
        "kui.contact_person",
    );
    let fields: &[&str] = &["active", "caseworker.name", "caseworker.phone"];
    check(
        "f3 at 24",
        &f3(),
        &with(assigned_to_anna(at24.clone()), own.clone()),
        before,
        &Want::Permit(BasisKind::Consent, "c-own", fields),
    );
    check(
        "f3 at 25",
        &f3(),
        &with(assigned_to_anna(at25.clone()), own),
        on,
        &Want::Deny(&[SubjectOutOfScope]),
    );
    let f5 = notice(
        fgu(),
        "youth-unit",
        "education.status",
        "kui.follow_up",
        json!({"event": "dropout"}),
    );
    check(
        "f5 at 24",
        &f5,
        &at24,
        before,
        &Want::Permit(
            BasisKind::Legal,
            "kui-12c",
            &["institution", "programme", "event", "date"],
        ),
    );
    check(
        "f5 at 25",
        &f5,
        &at25,
        on,
        &Want::Deny(&[SubjectOutOfScope, BasisConditionFailed]),
    );
}

#[test]
fn withdrawal_takes_effect_for_the_next_decision() {
    let mut f = f3_facts(19);
    assert!(decide(bundle(), &f3(), &f, TODAY).is_permit());
    f.consents[0].withdrawn = true;
    let d = decide(bundle(), &f3(), &f, TODAY);
    assert_eq!(d.codes(), [ConsentWithdrawn]);
    assert_eq!(d.reasons()[0].message, "consent `c-f3` has been withdrawn");
}

#[test]
fn denial_messages_name_the_inputs_but_no_payload_values() {
    let req = notice(
        school(),
        "social-services",
        "school.absence",
        "child_welfare.notification",
        absence(14.25),
    );
    let d = decide(bundle(), &req, &facts(18), TODAY);
    let text: Vec<String> = d.reasons().iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "basis_condition_failed: legal basis `absence-15pct` of flow `f1-absence-to-social-services` does not apply: the subject is not under 18",
            "basis_condition_failed: legal basis `absence-15pct` of flow `f1-absence-to-social-services` does not apply: condition `unlawful_absence_pct >= 15` is not met",
        ]
    );
    assert!(!text.concat().contains("14.25"));
}

#[test]
fn notices_are_routed_to_every_department_a_flow_reaches() {
    let b = bundle();
    let routes = |kind, category| -> Vec<(String, String)> {
        b.notice_routes(kind, category)
            .map(|(d, f)| (d.to_owned(), f.id.clone()))
            .collect()
    };
    assert_eq!(
        routes(DeptKind::School, "school.absence"),
        [
            (
                "youth-unit".to_owned(),
                "f2-absence-to-youth-unit".to_owned()
            ),
            (
                "social-services".to_owned(),
                "f1-absence-to-social-services".to_owned()
            ),
        ]
    );
    assert_eq!(
        routes(DeptKind::YouthUnit, "concern.notification"),
        [(
            "social-services".to_owned(),
            "f7-concern-to-social-services".to_owned()
        )]
    );
    assert_eq!(
        routes(DeptKind::EducationInstitution, "education.status"),
        [(
            "youth-unit".to_owned(),
            "f5-education-to-youth-unit".to_owned()
        )]
    );
    assert!(routes(DeptKind::YouthUnit, "school.absence").is_empty());
    assert!(routes(DeptKind::School, "marketing").is_empty());
    // Pull flows are no notice routes.
    assert!(routes(DeptKind::SocialServices, "social.measures").is_empty());

    assert_eq!(
        b.category_for_notice_kind("absence").map(|c| c.id.as_str()),
        Some("school.absence")
    );
    assert_eq!(
        b.category_for_notice_kind("education")
            .map(|c| c.id.as_str()),
        Some("education.status")
    );
    assert_eq!(
        b.category_for_notice_kind("concern").map(|c| c.id.as_str()),
        Some("concern.notification")
    );
    assert!(b.category_for_notice_kind("gossip").is_none());
}

#[test]
fn the_shipped_bundle_holds_the_reference_ids() {
    let b = bundle();
    let kinds = [
        ("youth-unit", DeptKind::YouthUnit),
        ("social-services", DeptKind::SocialServices),
        ("nordskolen", DeptKind::School),
        ("ppr", DeptKind::Ppr),
        ("fgu-nord", DeptKind::EducationInstitution),
        ("jobcenter", DeptKind::JobCentre),
        ("dpo-office", DeptKind::Oversight),
    ];
    for (id, kind) in kinds {
        assert_eq!(b.department(id).map(|d| d.kind), Some(kind), "{id}");
    }
    assert!(b.department("marketing").is_none());
    for p in [
        "kui.contact_person",
        "kui.follow_up",
        "child_welfare.notification",
    ] {
        assert!(b.purpose(p).is_some(), "{p}");
    }
    let fields = |c: &str| -> Vec<(String, Sensitivity)> {
        b.category(c)
            .map(|c| {
                c.fields
                    .iter()
                    .map(|f| (f.path.to_string(), f.sensitivity))
                    .collect()
            })
            .unwrap_or_default()
    };
    use Sensitivity::*;
    let s = |v: &[(&str, Sensitivity)]| -> Vec<(String, Sensitivity)> {
        v.iter().map(|(p, s)| ((*p).to_owned(), *s)).collect()
    };
    assert_eq!(
        fields("school.absence"),
        s(&[
            ("period.from", Ordinary),
            ("period.to", Ordinary),
            ("unlawful_absence_pct", Ordinary),
            ("absence_band", Ordinary),
            ("parent_contacts", Ordinary),
            ("actions_taken", FreeText),
            ("absence_reasons", Special)
        ])
    );
    assert_eq!(
        fields("social.measures"),
        s(&[
            ("active", Ordinary),
            ("caseworker.name", Ordinary),
            ("caseworker.phone", Ordinary),
            ("measures[].type", Ordinary),
            ("measures[].start", Ordinary),
            ("family_notes", FreeText),
            ("reasons", Special)
        ])
    );
    assert_eq!(
        fields("ppr.assessment"),
        s(&[
            ("status", Ordinary),
            ("recommended_support", Ordinary),
            ("diagnosis", Special),
            ("psychologist_notes", FreeText)
        ])
    );
    assert_eq!(
        fields("education.status"),
        s(&[
            ("institution", Ordinary),
            ("programme", Ordinary),
            ("event", Ordinary),
            ("date", Ordinary),
            ("personal_reason", FreeText)
        ])
    );
    assert_eq!(
        fields("job.status"),
        s(&[
            ("benefit_type", Ordinary),
            ("mentor", Ordinary),
            ("health_notes", Special),
            ("criminal_record", Criminal)
        ])
    );
    assert_eq!(
        fields("concern.notification"),
        s(&[("concern", FreeText), ("observations", FreeText)])
    );
    for basis in b.legal_bases() {
        assert!(
            !basis.citation.is_empty() && !basis.source.is_empty(),
            "{}",
            basis.id
        );
        assert!(
            basis.verified || basis.verification_note.is_some(),
            "{}",
            basis.id
        );
    }
    assert_eq!(b.consent_rules().minimum_subject_age(), Some(15));
    assert_eq!(b.version().len(), 64);
    assert_eq!(
        PolicyBundle::load(&shipped_dir())
            .map(|again| again.version().to_owned())
            .ok()
            .as_deref(),
        Some(b.version())
    );
}

#[test]
fn policy_check_summarises_the_shipped_bundle() {
    let summary = super::check(&shipped_dir()).unwrap();
    let text = summary.to_string().replace(&summary.version, "<version>");
    insta::assert_snapshot!(text, @r"
    ok: 7 departments, 7 categories, 3 purposes, 11 legal bases, 8 flows
    unverified legal bases (a lawyer should confirm them): `absence-15pct`, `ssd`
    version <version>
    ");
}

fn explained(req: &Request, facts: &Facts) -> String {
    let b = bundle();
    let e = explain(b, req, facts, TODAY);
    assert_eq!(
        e.decision,
        decide(b, req, facts, TODAY),
        "explain decides as decide does"
    );
    e.to_string().replace(b.version(), "<version>")
}

#[test]
fn explain_a_permit_with_special_categories() {
    let req = pull(anna(), "ppr", "ppr.assessment", "kui.contact_person");
    let f = with(
        assigned_to_anna(facts(16)),
        special(consent(
            "c-emma-ppr",
            &[Subject, CustodyHolder],
            "ppr.assessment",
            "youth-unit",
            "kui.contact_person",
        )),
    );
    insta::assert_snapshot!(explained(&req, &f));
}

#[test]
fn explain_a_denial_with_every_reason() {
    let req = pull(
        who("cw-eva", "youth-unit", Role::Caseworker),
        "social-services",
        "social.measures",
        "kui.contact_person",
    );
    let mut c = consent(
        "c-silas",
        &[CustodyHolder],
        "social.measures",
        "youth-unit",
        "kui.contact_person",
    );
    c.valid_until = date(2026, 2, 28);
    insta::assert_snapshot!(explained(&req, &with(facts(19), c)));
}

#[test]
fn explain_a_notice_under_the_duty_to_notify() {
    let req = notice(
        school(),
        "social-services",
        "school.absence",
        "child_welfare.notification",
        absence(17.0),
    );
    insta::assert_snapshot!(explained(&req, &facts(16)));
}

#[test]
fn explain_names_the_nearest_flows_when_none_matches() {
    let req = pull(anna(), "ppr", "social.measures", "kui.contact_person");
    insta::assert_snapshot!(explained(&req, &assigned_to_anna(facts(16))));
}

// ------------------------------------------------------------------------------------------------
// The invariants, for any request (API.md §9.2-3).
// ------------------------------------------------------------------------------------------------

/// Either the value that fits the target flow (most of the time) or any value, so that the
/// generated requests hit flows often and miss them in every way.
fn mostly(fit: Vec<String>, any: Vec<String>) -> BoxedStrategy<String> {
    prop_oneof![
        4 => proptest::sample::select(fit),
        1 => proptest::sample::select(any),
    ]
    .boxed()
}

fn all_ids(extra: &str, f: impl Fn(&PolicyBundle) -> Vec<String>) -> Vec<String> {
    let mut v = f(bundle());
    v.push(extra.to_owned());
    v
}

fn depts_of(kinds: &[DeptKind]) -> Vec<String> {
    bundle()
        .departments()
        .iter()
        .filter(|d| kinds.contains(&d.kind))
        .map(|d| d.id.clone())
        .collect()
}

/// A request aimed at a random flow, and facts aimed at the same flow.
fn arb_case() -> impl Strategy<Value = (Request, Facts)> {
    let flows = bundle().flows().len();
    (0..flows).prop_flat_map(|i| {
        let flow = &bundle().flows()[i];
        (arb_request(flow), arb_facts(flow))
    })
}

fn arb_request(flow: &Flow) -> impl Strategy<Value = Request> {
    let depts = all_ids("nowhere", |b| {
        b.departments().iter().map(|d| d.id.clone()).collect()
    });
    let cats = all_ids("marketing", |b| {
        b.categories().iter().map(|c| c.id.clone()).collect()
    });
    let purposes = all_ids("marketing", |b| {
        b.purposes().iter().map(|p| p.id.clone()).collect()
    });
    let sources = depts_of(&flow.from);
    let recipients = depts_of(&[flow.to]);
    let asking = if flow.mode == Mode::Pull {
        recipients.clone()
    } else {
        sources.clone()
    };
    let roles = flow.roles.clone();
    let flow_mode = flow.mode;
    (
        prop_oneof![4 => proptest::sample::select(roles), 1 => proptest::sample::select(Role::ALL.to_vec())],
        prop_oneof![4 => Just("cp-anna".to_owned()), 1 => Just("cp-bo".to_owned())],
        mostly(asking, depts.clone()),
        mostly(sources, depts.clone()),
        mostly(recipients, depts),
        mostly(vec![flow.category.clone()], cats),
        mostly(vec![flow.purpose.clone()], purposes),
        prop_oneof![4 => Just(flow_mode), 1 => Just(Mode::Pull), 1 => Just(Mode::Notice)],
        proptest::option::of(0.0f64..40.0),
    )
        .prop_map(|(role, sub, dept, source, recipient, category, purpose, mode, pct)| Request {
            requester: Principal { sub, dept, role },
            category,
            purpose,
            source,
            recipient,
            mode,
            payload: pct.map(absence),
        })
}

fn arb_consent(flow: &Flow, age: u32) -> impl Strategy<Value = ConsentFact> + use<> {
    let depts = all_ids("nowhere", |b| {
        b.departments().iter().map(|d| d.id.clone()).collect()
    });
    let cats = all_ids("marketing", |b| {
        b.categories().iter().map(|c| c.id.clone()).collect()
    });
    let purposes = all_ids("marketing", |b| {
        b.purposes().iter().map(|p| p.id.clone()).collect()
    });
    (
        Just(String::new()),
        prop_oneof![
            3 => Just(givers_for(age).to_vec()),
            1 => proptest::sample::subsequence(vec![Subject, CustodyHolder], 0..=2),
        ],
        mostly(vec![flow.category.clone()], cats),
        mostly(depts_of(&[flow.to]), depts),
        mostly(vec![flow.purpose.clone()], purposes),
        any::<bool>(),
        -300i64..10,
        0i64..400,
        prop_oneof![3 => Just(false), 1 => Just(true)],
    )
        .prop_map(
            |(id, givers, category, recipient, purpose, special, start, len, withdrawn)| {
                let valid_from = TODAY + start.days();
                ConsentFact {
                    id,
                    givers,
                    categories: vec![category],
                    recipients: vec![recipient],
                    purposes: vec![purpose],
                    special_categories: special,
                    valid_from,
                    valid_until: valid_from + len.days(),
                    withdrawn,
                }
            },
        )
}

fn arb_facts(flow: &Flow) -> impl Strategy<Value = Facts> {
    let flow = flow.clone();
    (0u32..30).prop_flat_map(move |age| {
        (
            proptest::collection::vec(
                (
                    prop_oneof![3 => Just("cp-anna"), 1 => Just("cp-zoe")],
                    prop_oneof![3 => Just("youth-unit"), 1 => Just("jobcenter")],
                ),
                0..3,
            ),
            proptest::collection::vec(arb_consent(&flow, age), 0..=3),
        )
            .prop_map(move |(assignments, mut consents)| {
                // Consent ids are unique in the registry.
                for (i, c) in consents.iter_mut().enumerate() {
                    c.id = format!("c-{i}");
                }
                (assignments, consents)
            })
            .prop_map(move |(assignments, consents)| Facts {
                subject_age: age,
                subject_birth_date: TODAY - (age as i64).years(),
                assignments: assignments
                    .into_iter()
                    .map(|(cp, d)| AssignmentFact {
                        contact_person: cp.into(),
                        department: d.into(),
                    })
                    .collect(),
                consents,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn no_permit_without_a_matching_flow_and_a_basis_and_no_field_beyond_the_flow(
        (req, facts) in arb_case(),
    ) {
        let b = bundle();
        let decision = decide(b, &req, &facts, TODAY);
        prop_assert_eq!(decision.policy_version(), b.version());
        let Decision::Permit { basis, plan, flow_id, .. } = &decision else {
            prop_assert!(!decision.reasons().is_empty());
            return Ok(());
        };
        // A flow matches source kind, recipient kind, category, purpose and mode.
        let source = b.department(&req.source).map(|d| d.kind);
        let recipient = b.department(&req.recipient).map(|d| d.kind);
        let flow = match (source, recipient) {
            (Some(s), Some(r)) => b.flow_for(s, r, &req.category, &req.purpose, req.mode),
            _ => None,
        };
        let Some(flow) = flow else { panic!("permit without a flow: {req:?}") };
        prop_assert_eq!(&flow.id, flow_id);
        // The requester is of the asking department, in a role of the flow, with a need to know.
        let asking = if req.mode == Mode::Pull { &req.recipient } else { &req.source };
        prop_assert_eq!(&req.requester.dept, asking);
        prop_assert!(flow.roles.contains(&req.requester.role));
        if flow.need_to_know == NeedToKnow::AssignedContactPerson {
            prop_assert!(facts.assignments.iter().any(|a| a.contact_person == req.requester.sub && a.department == req.requester.dept));
        }
        if let Some(under) = b.purpose(&req.purpose).and_then(|p| p.subject_under) {
            prop_assert!(facts.subject_age < under);
        }
        // A basis of the flow holds.
        let rule = match basis.kind {
            BasisKind::Legal => flow.bases.iter().find(|r| r.basis == RuleBasis::Legal(basis.id.clone())),
            BasisKind::Consent => flow.bases.iter().find(|r| r.basis == RuleBasis::Consent),
        };
        let Some(rule) = rule else { panic!("permit on a basis the flow lacks: {basis:?}") };
        prop_assert!(rule.subject_age.contains(facts.subject_age));
        for cond in &rule.when {
            prop_assert!(req.payload.as_ref().is_some_and(|p| cond.holds(p)));
        }
        let explicit = match basis.kind {
            BasisKind::Legal => true,
            BasisKind::Consent => {
                let c = facts.consents.iter().find(|c| c.id == basis.id && !c.withdrawn
                    && c.valid_from <= TODAY && TODAY <= c.valid_until
                    && c.categories.contains(&req.category)
                    && c.recipients.contains(&req.recipient)
                    && c.purposes.contains(&req.purpose)
                    && b.consent_rules().givers_suffice(facts.subject_age, &c.givers));
                let Some(c) = c else { panic!("permit on a consent that does not hold: {basis:?} {facts:?}") };
                c.special_categories
            }
        };
        // No field beyond the flow's; special ones only under a basis that covers them; `never` never.
        for field in plan.allowed() {
            let listed = flow.fields.contains(&field.path)
                || (explicit && rule.special_fields.contains(&field.path));
            prop_assert!(listed, "field `{}` beyond flow `{}`", field.path, flow.id);
            prop_assert!(!flow.never.contains(&field.path));
            if field.sensitivity.needs_cover() {
                prop_assert!(rule.special_fields.contains(&field.path) && explicit);
            }
        }
        prop_assert_eq!(plan.category(), req.category.as_str());
    }
}
