//! `PolicyBundle::from_files` on the shipped bundle with one file replaced by arbitrary text (or one
//! file added): never a panic; loading is deterministic; every error points at a file of the bundle
//! and a line inside it, lowercase, sorted, without duplicates; and a bundle that loads keeps its
//! promises — 64-hex version, flows that name existing categories and purposes and pass only
//! declared, non-special leaves — and `decide` and `explain` agree on it without a panic, a permit
//! releasing no field its flow and basis do not name.

use std::collections::BTreeSet;

use jiff::civil::{Date, date};
use serde_json::json;
use sluse::auth::{Principal, Role};
use sluse::policy::{
    AssignmentFact, ConsentFact, Decision, DeptKind, Facts, Flow, GiverRole, Mode, PolicyBundle,
    Request, Sensitivity, decide, explain,
};

use super::shipped;

/// The day every decision is taken on.
const TODAY: Date = date(2026, 3, 2);

/// Checks one input: its first byte picks the file to replace (or a new flow or category file to
/// add), the rest is that file's text.
pub fn check(data: &[u8]) {
    let Some((&slot, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut files = shipped::owned();
    let n = files.len();
    match usize::from(slot) % (n + 2) {
        i if i < n => files[i].1 = text.to_owned(),
        i if i == n => files.push(("flows/fuzz.toml".into(), text.to_owned())),
        _ => files.push(("categories/fuzz.toml".into(), text.to_owned())),
    }
    check_files(&files);
}

/// What must hold for a bundle given as (path, text) pairs, all of them policy files.
pub fn check_files(files: &[(String, String)]) {
    let loaded = PolicyBundle::from_files(files.to_vec());
    let again = PolicyBundle::from_files(files.to_vec());
    match (&loaded, &again) {
        (Ok(a), Ok(b)) => assert_eq!(a.version(), b.version(), "the version is not stable"),
        (Err(a), Err(b)) => assert_eq!(a, b, "the errors are not stable"),
        _ => panic!("loaded once, refused once"),
    }
    match loaded {
        Ok(bundle) => check_bundle(&bundle),
        Err(errors) => {
            let errors = errors.errors();
            assert!(!errors.is_empty(), "refused without an error");
            for pair in errors.windows(2) {
                assert!(
                    (&pair[0].file, pair[0].line) <= (&pair[1].file, pair[1].line),
                    "unsorted: {} before {}",
                    pair[0],
                    pair[1]
                );
                assert_ne!(pair[0], pair[1], "duplicate error {}", pair[0]);
            }
            for error in errors {
                let Some((_, text)) = files.iter().find(|(rel, _)| *rel == error.file) else {
                    panic!("{error}: no such file");
                };
                if let Some(line) = error.line {
                    let lines = text.matches('\n').count() + 1;
                    assert!(
                        (1..=lines).contains(&line),
                        "{error}: the file has {lines} lines"
                    );
                }
                assert!(!error.message.is_empty(), "{error}: empty message");
                assert!(
                    !error.message.starts_with(char::is_uppercase),
                    "{error}: the message starts in uppercase"
                );
                let shown = error.to_string();
                assert!(shown.starts_with(&format!("{}:", error.file)), "{shown}");
            }
        }
    }
}

/// The promises of a bundle that loaded.
fn check_bundle(bundle: &PolicyBundle) {
    let version = bundle.version();
    assert!(
        version.len() == 64
            && version
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "version `{version}`"
    );
    for flow in bundle.flows() {
        assert!(
            bundle.flow(&flow.id).is_some(),
            "flow `{}` not indexed",
            flow.id
        );
        let Some(category) = bundle.category(&flow.category) else {
            panic!("flow `{}`: unknown category `{}`", flow.id, flow.category);
        };
        assert!(
            bundle.purpose(&flow.purpose).is_some(),
            "flow `{}`: purpose",
            flow.id
        );
        for path in &flow.fields {
            let Some(field) = category.field(path.as_str()) else {
                panic!("flow `{}` passes undeclared `{}`", flow.id, path.as_str());
            };
            assert!(
                field.special.is_none()
                    && !matches!(
                        field.sensitivity,
                        Sensitivity::Special | Sensitivity::Criminal
                    ),
                "flow `{}` passes `{}` under every basis",
                flow.id,
                path.as_str()
            );
        }
        for facts in facts_for(flow, bundle) {
            decide_flow(bundle, flow, &facts);
        }
    }
}

/// Decides one request the flow is written for, checks the permit's plan against the flow, and
/// that `explain` reaches the same decision.
fn decide_flow(bundle: &PolicyBundle, flow: &Flow, facts: &Facts) {
    let Some(req) = request_for(flow, bundle) else {
        return;
    };
    let decision = decide(bundle, &req, facts, TODAY);
    let explanation = explain(bundle, &req, facts, TODAY);
    assert_eq!(
        explanation.decision, decision,
        "explain and decide disagree"
    );
    let _shown = explanation.to_string();
    if let Decision::Permit { plan, flow_id, .. } = &decision {
        let Some(matched) = bundle.flow(flow_id) else {
            panic!("permit under unknown flow `{flow_id}`");
        };
        assert_eq!(plan.category(), req.category);
        assert_eq!(matched.category, req.category);
        let may_pass: BTreeSet<&str> = matched
            .fields
            .iter()
            .chain(matched.bases.iter().flat_map(|b| b.special_fields.iter()))
            .map(|p| p.as_str())
            .collect();
        for field in plan.allowed() {
            assert!(
                may_pass.contains(field.path.as_str()),
                "flow `{flow_id}` releases `{}`, which it does not name",
                field.path.as_str()
            );
        }
    }
}

/// A request the flow is written for, between departments of its kinds, by its first role.
fn request_for(flow: &Flow, bundle: &PolicyBundle) -> Option<Request> {
    let dept_of = |kind: DeptKind| bundle.departments().iter().find(|d| d.kind == kind);
    let source = flow.from.iter().find_map(|&kind| dept_of(kind))?;
    let recipient = dept_of(flow.to)?;
    let asking = match flow.mode {
        Mode::Pull => recipient,
        Mode::Notice => source,
    };
    Some(Request {
        requester: Principal {
            sub: "cp-1".into(),
            dept: asking.id.clone(),
            role: flow.roles.first().copied().unwrap_or(Role::System),
        },
        category: flow.category.clone(),
        purpose: flow.purpose.clone(),
        source: source.id.clone(),
        recipient: recipient.id.clone(),
        mode: flow.mode,
        payload: (flow.mode == Mode::Notice).then(|| json!({"unlawful_absence_pct": 20})),
    })
}

/// Facts at three ages, each with an assignment and an explicit consent covering the flow.
fn facts_for(flow: &Flow, bundle: &PolicyBundle) -> Vec<Facts> {
    let recipient = bundle
        .departments()
        .iter()
        .find(|d| d.kind == flow.to)
        .map_or_else(String::new, |d| d.id.clone());
    [
        (14, date(2011, 6, 1)),
        (16, date(2009, 6, 1)),
        (20, date(2005, 6, 1)),
    ]
    .into_iter()
    .map(|(age, birth)| Facts {
        subject_age: age,
        subject_birth_date: birth,
        assignments: vec![AssignmentFact {
            contact_person: "cp-1".into(),
            department: recipient.clone(),
        }],
        consents: vec![ConsentFact {
            id: "consent-1".into(),
            givers: vec![GiverRole::Subject, GiverRole::CustodyHolder],
            categories: vec![flow.category.clone()],
            recipients: vec![recipient.clone()],
            purposes: vec![flow.purpose.clone()],
            special_categories: true,
            valid_from: date(2026, 1, 1),
            valid_until: date(2026, 12, 31),
            withdrawn: false,
        }],
    })
    .collect()
}
