//! The invariants of API.md §9.2-3, for any request (property tests).

use super::*;

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
