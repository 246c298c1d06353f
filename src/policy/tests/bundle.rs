//! The shipped bundle itself: its reference ids and `policy check`'s summary of it.

use super::*;

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
    let summary = crate::policy::check(&shipped_dir()).unwrap();
    let text = summary.to_string().replace(&summary.version, "<version>");
    insta::assert_snapshot!(text, @r"
    ok: 7 departments, 7 categories, 3 purposes, 11 legal bases, 8 flows
    unverified legal bases (a lawyer should confirm them): `absence-15pct`, `ssd`
    version <version>
    ");
}
