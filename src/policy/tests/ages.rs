//! The age boundaries: the 15th birthday (consent), the 18th (custody), the 25th (the youth unit).

use super::*;

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
