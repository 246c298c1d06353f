//! Consent in time, what a denial may say, and where a notice goes.

use super::*;

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
