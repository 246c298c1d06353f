//! Every flow of API.md §8, permitted and refused for each reason that applies to it.

use super::*;

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
