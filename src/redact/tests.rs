//! Redaction over the shipped bundle's real plans, and property tests of `apply` and `scrub`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use jiff::civil::{Date, date};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};

use super::*;
use crate::auth::{Principal, Role};
use crate::policy::{
    AssignmentFact, ConsentFact, Decision, Facts, GiverRole, Mode, PolicyBundle, RedactionPlan,
    Request, decide,
};

const TODAY: Date = date(2026, 3, 2);

fn bundle() -> &'static PolicyBundle {
    static BUNDLE: OnceLock<PolicyBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        PolicyBundle::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap()
    })
}

fn permit(req: &Request, facts: &Facts) -> RedactionPlan {
    match decide(bundle(), req, facts, TODAY) {
        Decision::Permit { plan, .. } => plan,
        Decision::Deny { reasons, .. } => panic!("expected a permit, got {reasons:?}"),
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
    age: u32,
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
        subject_age: age,
        subject_birth_date: date(2026 - i16::try_from(age).unwrap() - 1, 6, 1),
        assignments: vec![],
        consents: vec![],
    };
    permit(&req, &facts)
}

fn f1(payload: &Value) -> RedactionPlan {
    notice(
        "school.absence",
        "nordskolen",
        "social-services",
        "child_welfare.notification",
        14,
        payload,
    )
}

fn f3(special: bool) -> RedactionPlan {
    pull("social.measures", "social-services", special)
}

fn f4(special: bool) -> RedactionPlan {
    pull("ppr.assessment", "ppr", special)
}

fn f6(special: bool) -> RedactionPlan {
    pull("job.status", "jobcenter", special)
}

fn f5() -> RedactionPlan {
    notice(
        "education.status",
        "fgu-nord",
        "youth-unit",
        "kui.follow_up",
        19,
        &json!({}),
    )
}

fn f7() -> RedactionPlan {
    notice(
        "concern.notification",
        "nordskolen",
        "social-services",
        "child_welfare.notification",
        14,
        &json!({}),
    )
}

/// TEST ONLY: a plan no flow of the shipped bundle yields, over the real `social.measures`
/// category, that lets the list `measures[]` through — to test arrays of objects.
fn measures_plan() -> RedactionPlan {
    let category = bundle().category("social.measures").unwrap();
    RedactionPlan::build(category, |p| {
        matches!(
            p.as_str(),
            "active" | "measures[].type" | "measures[].start"
        )
    })
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn f3_passes_active_and_the_caseworker_and_nothing_else() {
    let record = json!({
        "active": true,
        "caseworker": {"name": "Hanne Berg", "phone": "+45 12 34 56 78", "email": "hb@kommune.dk"},
        "measures": [{"type": "forebyggende", "start": "2025-01-01"}],
        "family_notes": "Mor ringer fra 12345678",
        "reasons": "misbrug",
        "cpr": "0102031234",
    });
    let out = apply(&f3(false), &record);
    assert_eq!(
        out.data,
        json!({"active": true, "caseworker": {"name": "Hanne Berg", "phone": "+45 12 34 56 78"}})
    );
    assert_eq!(
        out.disclosed,
        strings(&["active", "caseworker.name", "caseworker.phone"])
    );
    assert_eq!(
        out.withheld,
        strings(&[
            "caseworker.email",
            "cpr",
            "family_notes",
            "measures[].start",
            "measures[].type",
            "reasons",
        ])
    );
}

#[test]
fn a_special_field_the_plan_does_not_name_never_passes_even_with_explicit_consent() {
    // F3 names no special field: `reasons` (health) stays behind under explicit consent too.
    let plan = f3(true);
    assert!(!plan.allows("reasons"));
    let out = apply(&plan, &json!({"active": false, "reasons": "ADHD"}));
    assert_eq!(out.data, json!({"active": false}));
    assert_eq!(out.withheld, strings(&["reasons"]));
}

#[test]
fn f4_passes_the_diagnosis_only_with_explicit_consent() {
    let record = json!({
        "status": "done",
        "recommended_support": "støtte i dansk",
        "diagnosis": "ADHD",
        "psychologist_notes": "Samtale 2026-02-01",
    });
    let without = apply(&f4(false), &record);
    assert_eq!(
        without.data,
        json!({"status": "done", "recommended_support": "støtte i dansk"})
    );
    assert_eq!(
        without.withheld,
        strings(&["diagnosis", "psychologist_notes"])
    );

    let with = apply(&f4(true), &record);
    assert_eq!(
        with.data,
        json!({"status": "done", "recommended_support": "støtte i dansk", "diagnosis": "ADHD"})
    );
    assert_eq!(
        with.disclosed,
        strings(&["diagnosis", "recommended_support", "status"])
    );
    assert_eq!(with.withheld, strings(&["psychologist_notes"]));
}

#[test]
fn f6_never_passes_the_criminal_record() {
    let record = json!({
        "benefit_type": "uddannelseshjælp",
        "mentor": true,
        "health_notes": "angst",
        "criminal_record": "dom 2025",
    });
    for special in [false, true] {
        let plan = f6(special);
        assert!(!plan.allows("criminal_record"));
        let out = apply(&plan, &record);
        assert!(out.data.get("criminal_record").is_none());
        assert!(out.withheld.contains(&"criminal_record".to_owned()));
        assert_eq!(out.data.get("health_notes").is_some(), special, "{special}");
    }
    assert_eq!(
        apply(&f6(true), &record).disclosed,
        strings(&["benefit_type", "health_notes", "mentor"])
    );
}

#[test]
fn f1_scrubs_the_free_text_and_keeps_the_period_nested() {
    let record = json!({
        "period": {"from": "2025-11-01", "to": "2026-01-31"},
        "unlawful_absence_pct": 18.5,
        "absence_band": ">=15",
        "parent_contacts": 3,
        "actions_taken": "Samtale med mor (tlf. 12 34 56 78, mor@mail.dk) om 010203-1234 den 2026-02-01, 3 dage.",
        "absence_reasons": "sygdom",
    });
    let out = apply(&f1(&record), &record);
    assert_eq!(
        out.data,
        json!({
            "period": {"from": "2025-11-01", "to": "2026-01-31"},
            "unlawful_absence_pct": 18.5,
            "parent_contacts": 3,
            "actions_taken": "Samtale med mor (tlf. [phone], [email]) om [cpr] den 2026-02-01, 3 dage.",
        })
    );
    assert_eq!(
        out.disclosed,
        strings(&[
            "actions_taken",
            "parent_contacts",
            "period.from",
            "period.to",
            "unlawful_absence_pct",
        ])
    );
    assert_eq!(out.withheld, strings(&["absence_band", "absence_reasons"]));
}

#[test]
fn free_text_that_is_not_a_string_is_withheld() {
    let payload = json!({"unlawful_absence_pct": 20});
    let plan = f1(&payload);
    for bad in [
        json!(12345678),
        json!(null),
        json!(true),
        json!(["a"]),
        json!({"a": "b"}),
    ] {
        let out = apply(&plan, &json!({"actions_taken": bad}));
        assert_eq!(out.data, json!({}), "{bad}");
        assert!(out.disclosed.is_empty());
        assert_eq!(out.withheld, strings(&["actions_taken"]), "{bad}");
    }
}

#[test]
fn f5_and_f7_pass_what_the_reference_says() {
    let out = apply(
        &f5(),
        &json!({"institution": "FGU Nord", "programme": "AGU", "event": "dropout",
                "date": "2026-02-27", "personal_reason": "kæreste flyttet"}),
    );
    assert_eq!(
        out.disclosed,
        strings(&["date", "event", "institution", "programme"])
    );
    assert_eq!(out.withheld, strings(&["personal_reason"]));

    let out = apply(
        &f7(),
        &json!({"concern": "Ring til far på 87654321", "observations": "Mail: far@x.dk"}),
    );
    assert_eq!(
        out.data,
        json!({"concern": "Ring til far på [phone]", "observations": "Mail: [email]"})
    );
}

#[test]
fn arrays_of_objects_keep_order_and_only_allowed_children() {
    let record = json!({
        "active": true,
        "measures": [
            {"type": "a", "start": "2025-01-01", "why": "x"},
            {"why": "only an invented child"},
            {"type": "b"},
            {"type": {"nested": 1}},
            "a scalar item",
            [],
            {},
            {"type": "c", "start": null},
        ],
    });
    let out = apply(&measures_plan(), &record);
    assert_eq!(
        out.data,
        json!({"active": true, "measures": [
            {"type": "a", "start": "2025-01-01"},
            {"type": "b"},
            {"type": "c", "start": null},
        ]})
    );
    assert_eq!(
        out.disclosed,
        strings(&["active", "measures[].start", "measures[].type"])
    );
    assert_eq!(
        out.withheld,
        strings(&["measures[]", "measures[].type", "measures[].why"])
    );

    // Nothing left of any item: no empty list.
    let out = apply(
        &measures_plan(),
        &json!({"measures": [{"why": 1}, {}], "x": []}),
    );
    assert_eq!(out.data, json!({}));
    assert_eq!(out.withheld, strings(&["measures[].why"]));

    // An object where a list is declared: its paths are not the declared ones.
    let out = apply(&measures_plan(), &json!({"measures": {"type": "a"}}));
    assert_eq!(out.data, json!({}));
    assert_eq!(out.withheld, strings(&["measures.type"]));
}

#[test]
fn wrong_shapes_are_withheld() {
    let plan = f3(false);
    let out = apply(
        &plan,
        &json!({"active": {"really": true}, "caseworker": "Hanne"}),
    );
    assert_eq!(out.data, json!({}));
    assert_eq!(out.withheld, strings(&["active", "caseworker"]));

    let out = apply(
        &plan,
        &json!({"active": [true], "caseworker": [{"name": "Hanne"}]}),
    );
    assert_eq!(out.data, json!({}));
    assert_eq!(out.withheld, strings(&["active", "caseworker[].name"]));

    for record in [
        json!([{"active": true}]),
        json!("active"),
        json!(null),
        json!(1),
    ] {
        let out = apply(&plan, &record);
        assert_eq!(out.data, json!({}), "{record}");
        assert!(out.disclosed.is_empty());
        assert_eq!(out.withheld, strings(&[WHOLE_RECORD]), "{record}");
    }
}

#[test]
fn keys_that_are_no_field_names_cannot_pose_as_paths() {
    let record = json!({
        "caseworker.name": "posing",
        "Active": true,
        "caseworker": {"Name": "y", "name": "z", "": 1},
        "0102031234": {"deep": 1},
        "anna@x.dk": 1,
        "measures[]": {"type": "x"},
    });
    let out = apply(&f3(false), &record);
    assert_eq!(out.data, json!({"caseworker": {"name": "z"}}));
    assert_eq!(out.disclosed, strings(&["caseworker.name"]));
    let mut expected = strings(&[
        "[cpr].deep",
        r#"["[email]"]"#,
        r#"["Active"]"#,
        r#"["caseworker.name"]"#,
        r#"["measures[]"].type"#,
        r#"caseworker[""]"#,
        r#"caseworker["Name"]"#,
    ]);
    expected.sort();
    assert_eq!(out.withheld, expected);
    assert!(out.withheld.iter().all(|p| !p.contains("0102031234")));

    // A made-up key of valid characters but absurd length is shown shortened.
    let long = "a".repeat(1000);
    let out = apply(&f3(false), &json!({ long.clone(): 1 }));
    assert_eq!(out.withheld.len(), 1);
    assert!(out.withheld[0].len() < 100, "{}", out.withheld[0]);
}

#[test]
fn a_very_deep_invented_record_is_cut_off_not_overflowed() {
    let mut deep = json!("bottom");
    for _ in 0..200 {
        deep = json!({"x": deep});
    }
    let mut deep_list = json!(1);
    for _ in 0..200 {
        deep_list = json!([deep_list]);
    }
    let out = apply(
        &f3(false),
        &json!({"active": true, "x": deep, "Y": deep_list}),
    );
    assert_eq!(out.data, json!({"active": true}));
    assert_eq!(out.withheld.len(), 2);
    assert!(out.withheld.iter().all(|p| p.len() < 200));
}

// ---- properties ----

/// Every plan the tests know, real ones from `decide` and the test-only list plan.
fn plans() -> &'static [RedactionPlan] {
    static PLANS: OnceLock<Vec<RedactionPlan>> = OnceLock::new();
    PLANS.get_or_init(|| {
        vec![
            f1(&json!({"unlawful_absence_pct": 15})),
            f3(false),
            f3(true),
            f4(false),
            f4(true),
            f5(),
            f6(false),
            f6(true),
            f7(),
            measures_plan(),
        ]
    })
}

/// The names along every declared path of every category, as record keys.
fn segments() -> Vec<String> {
    let set: BTreeSet<String> = bundle()
        .categories()
        .iter()
        .flat_map(|c| c.fields.iter())
        .flat_map(|f| f.path.segments().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    set.into_iter().collect()
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(segments()),
        1 => "[a-z_]{1,8}",
        1 => "[A-Za-z0-9.\\[\\] ]{0,8}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9@ .+-]{0,24}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn record() -> impl Strategy<Value = Value> {
    prop_oneof![
        5 => prop::collection::vec((key(), json_value()), 0..8)
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        1 => json_value(),
    ]
}

/// The paths of the scalar leaves of `value`; fails on an empty object or array.
fn leaves<'v>(value: &'v Value, path: &str, out: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Object(map) => {
            assert!(!map.is_empty() || path.is_empty(), "empty object at {path}");
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
            assert!(!items.is_empty(), "empty array at {path}");
            for item in items {
                leaves(item, &format!("{path}[]"), out);
            }
        }
        scalar => out.push((path.to_owned(), scalar)),
    }
}

/// Puts `value` into `obj` at a declared `path`, creating the objects and lists on the way; in a
/// list, into item number `item`.
fn insert(obj: &mut Map<String, Value>, path: &str, value: Value, item: usize) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    if let Some(name) = head.strip_suffix("[]") {
        let Value::Array(items) = obj.entry(name).or_insert_with(|| json!([])) else {
            return;
        };
        while items.len() <= item {
            items.push(json!({}));
        }
        match rest {
            Some(rest) => {
                if let Value::Object(m) = &mut items[item] {
                    insert(m, rest, value, item);
                }
            }
            None => items[item] = value,
        }
    } else {
        match rest {
            Some(rest) => {
                if let Value::Object(m) = obj.entry(head).or_insert_with(|| json!({})) {
                    insert(m, rest, value, item);
                }
            }
            None => {
                obj.insert(head.to_owned(), value);
            }
        }
    }
}

/// A plan and a record shaped like its category: some declared fields, mostly scalars but now and
/// then of the wrong shape, in lists of a few items, and some fields the source made up.
fn shaped() -> impl Strategy<Value = (usize, Value)> {
    (0..plans().len())
        .prop_flat_map(|i| {
            let category = bundle().category(plans()[i].category()).unwrap();
            let fields: Vec<String> = category
                .fields
                .iter()
                .map(|f| f.path.as_str().to_owned())
                .collect();
            let n = fields.len();
            (
                Just(i),
                Just(fields),
                prop::collection::vec(
                    (
                        prop::bool::weighted(0.7),
                        prop_oneof![6 => leaf(), 1 => json_value()],
                        0..3usize,
                    ),
                    n,
                ),
                prop::collection::vec((key(), json_value()), 0..4),
            )
        })
        .prop_map(|(i, fields, values, invented)| {
            let mut obj = Map::new();
            for (path, (present, value, item)) in fields.iter().zip(values) {
                if present {
                    insert(&mut obj, path, value, item);
                }
            }
            for (k, v) in invented {
                obj.insert(k, v);
            }
            (i, Value::Object(obj))
        })
}

/// What must hold for every plan and record.
fn only_allowed_leaves(plan: &RedactionPlan, record: &Value) -> Result<(), TestCaseError> {
    let out = apply(plan, record);
    prop_assert!(out.data.is_object());
    let mut found = Vec::new();
    leaves(&out.data, "", &mut found);
    for (path, value) in &found {
        let field = plan.field(path);
        prop_assert!(field.is_some(), "{path} left but is not allowed");
        if field.is_some_and(|f| f.scrub) {
            let text = value.as_str();
            prop_assert!(text.is_some_and(|t| scrub(t) == t), "{path} not scrubbed");
        }
    }
    let paths: BTreeSet<String> = found.into_iter().map(|(p, _)| p).collect();
    prop_assert_eq!(
        out.disclosed.iter().cloned().collect::<BTreeSet<_>>(),
        paths
    );
    for path in &out.disclosed {
        prop_assert!(plan.allows(path));
    }
    prop_assert!(out.disclosed.windows(2).all(|w| w[0] < w[1]));
    prop_assert!(out.withheld.windows(2).all(|w| w[0] < w[1]));
    if !record.is_object() {
        prop_assert_eq!(out.withheld, vec![WHOLE_RECORD.to_owned()]);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_leaves_that_the_plan_does_not_allow(
        which in 0..10usize,
        record in record(),
    ) {
        only_allowed_leaves(&plans()[which % plans().len()], &record)?;
    }

    #[test]
    fn nothing_leaves_of_a_record_shaped_like_the_category_that_the_plan_does_not_allow(
        (which, record) in shaped(),
    ) {
        only_allowed_leaves(&plans()[which], &record)?;
    }
}

// Scrubbing.

fn to_full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0xFF10 + d).unwrap(),
            None => c,
        })
        .collect()
}

fn cpr() -> impl Strategy<Value = String> {
    (
        1u32..=28,
        1u32..=12,
        0u32..=99,
        0u32..=9999,
        0..3usize,
        any::<bool>(),
    )
        .prop_map(|(d, m, y, s, sep, wide)| {
            let sep = ["", "-", " "][sep];
            let text = format!("{d:02}{m:02}{y:02}{sep}{s:04}");
            if wide { to_full_width(&text) } else { text }
        })
}

fn phone() -> impl Strategy<Value = String> {
    (
        10_000_000u32..=99_999_999,
        0..5usize,
        0..5usize,
        any::<bool>(),
    )
        .prop_map(|(n, grouping, prefix, wide)| {
            let d = n.to_string();
            let body = match grouping {
                0 => d.clone(),
                1 => format!("{} {}", &d[..4], &d[4..]),
                2 => format!("{} {} {} {}", &d[..2], &d[2..4], &d[4..6], &d[6..]),
                3 => format!("{}-{}-{}-{}", &d[..2], &d[2..4], &d[4..6], &d[6..]),
                _ => format!("{} {} {}", &d[..3], &d[3..5], &d[5..]),
            };
            let prefix = ["", "+45", "+45 ", "0045", "0045 "][prefix];
            let text = format!("{prefix}{body}");
            if wide { to_full_width(&text) } else { text }
        })
}

fn email() -> impl Strategy<Value = String> {
    "[a-z0-9._%+-]{0,8}[a-z0-9]@[a-z0-9-]{1,8}\\.(dk|com|net|org)"
}

/// Text around the secrets: no digits, so every digit in the output came from a secret or a safe
/// token.
fn filler() -> impl Strategy<Value = String> {
    "[a-zA-ZæøåÆØÅ ,.;:!?()]{0,12}"
}

/// Numbers that must survive, each bounded by letters.
const SAFE: [&str; 5] = [
    "den 2026-11-29 var",
    "15 % fravær",
    "i 3 dage",
    "kl. 10.30 i",
    "fra 29-11-2026 og",
];
const SAFE_DATES: [&str; 2] = ["2026-11-29", "29-11-2026"];

fn piece(secrets: bool) -> BoxedStrategy<String> {
    let safe = prop::sample::select(SAFE.to_vec()).prop_map(str::to_owned);
    if secrets {
        prop_oneof![3 => filler(), 1 => safe, 2 => cpr(), 2 => phone(), 2 => email()].boxed()
    } else {
        prop_oneof![3 => filler(), 1 => safe].boxed()
    }
}

fn leaks(text: &str) -> Vec<String> {
    static RES: OnceLock<[regex::Regex; 3]> = OnceLock::new();
    let [cpr, run, email] = RES.get_or_init(|| {
        [
            regex::Regex::new(r"\d{6}[ -]?\d{4}").unwrap(),
            regex::Regex::new(r"\d(?:[ -]?\d)*").unwrap(),
            regex::Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").unwrap(),
        ]
    });
    let mut found: Vec<String> = cpr.find_iter(text).map(|m| m.as_str().to_owned()).collect();
    found.extend(
        run.find_iter(text)
            .map(|m| m.as_str())
            .filter(|m| m.chars().filter(|c| c.is_numeric()).count() >= 8)
            .filter(|m| !SAFE_DATES.contains(m))
            .map(str::to_owned),
    );
    found.extend(email.find_iter(text).map(|m| m.as_str().to_owned()));
    found
}

#[test]
fn the_leak_checker_sees_what_it_should() {
    assert_eq!(leaks("x 010203-1234 y").len(), 2);
    assert_eq!(leaks("１２ ３４ ５６ ７８").len(), 1);
    assert_eq!(leaks("a@b.dk").len(), 1);
    assert!(leaks("den 2026-11-29 var [phone] [cpr] [email]").is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn scrubbed_text_holds_no_cpr_phone_or_email(
        pieces in prop::collection::vec(piece(true), 0..12),
    ) {
        let text = pieces.concat();
        let out = scrub(&text);
        prop_assert!(leaks(&out).is_empty(), "{:?} → {:?}: {:?}", text, out, leaks(&out));
    }

    #[test]
    fn text_without_secrets_is_untouched(
        pieces in prop::collection::vec(piece(false), 0..12),
    ) {
        let text = pieces.concat();
        prop_assert_eq!(scrub(&text), text.as_str());
    }

    #[test]
    fn scrub_never_panics_and_is_idempotent(text in any::<String>()) {
        let once = scrub(&text);
        prop_assert_eq!(scrub(&once), once.as_ref());
    }

    #[test]
    fn scrub_is_idempotent_on_digit_heavy_text(
        pieces in prop::collection::vec(
            prop_oneof![
                3 => "[0-9 +.\\-@a-z０-９－\u{00A0}]{0,8}".boxed(),
                1 => prop::sample::select(vec!["2026-11-29", "29-11-2026", "29.11.2026", "2012-12-12", " - "])
                    .prop_map(str::to_owned)
                    .boxed(),
            ],
            0..10,
        ),
    ) {
        let text = pieces.concat();
        static RES: OnceLock<[regex::Regex; 2]> = OnceLock::new();
        let [eight, cpr] = RES.get_or_init(|| {
            [
                regex::Regex::new(r"\d{8}").unwrap(),
                regex::Regex::new(r"\d{6}[ -]?\d{4}").unwrap(),
            ]
        });
        let once = scrub(&text);
        prop_assert_eq!(scrub(&once), once.as_ref());
        // Whatever dates the text happens to hold, no 8 digits in a row and no CPR shape remain.
        prop_assert!(!eight.is_match(&once), "{:?} → {:?}", text, once);
        prop_assert!(!cpr.is_match(&once), "{:?} → {:?}", text, once);
    }
}
