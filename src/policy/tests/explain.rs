//! `sluse policy explain`: why a request is permitted or refused, in words.

use super::*;

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
