//! `sluse::policy::decide()` against the same decisions written as Cedar policies, in one process.
//!
//! 1. A mix of requests over the shipped bundle's flows F1–F7 (and the contact person's name to an
//!    education institution): permits under legal bases and under consent, and denials of each kind.
//! 2. The same mix through Cedar's `Authorizer::is_authorized` with `cedar/shipped.cedar` — checked,
//!    before anything is timed, to agree with `decide()` on permit/deny (and on the flow) for every
//!    request of the mix.
//! 3. The shipped bundle grown to ~2,000 flows (100 categories × 20 purposes added), written to a
//!    temporary directory and loaded with `PolicyBundle::load`, with the same mix — and a second mix
//!    spread over the synthetic flows, so the lookups do not all hit the same few index entries.
//!
//! The agreement is also checked on every request of the mix at ten ages around the boundaries
//! (15, 18, 25), and on the grown bundle. Then a percentile pass (each call timed alone with
//! `Instant`: p50/p90/p99/p99.9), then criterion.
//!
//! `cd benches/policy && cargo bench` runs both; `cargo bench -- --percentiles-only` only the first;
//! `SLUSE_BENCH_VERBOSE=1` adds each request's reason codes and its own p50 for both engines;
//! `cargo test --benches` only builds the bundles and checks the agreement.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityUid, PolicySet,
    Request as CedarRequest, Response, RestrictedExpression,
};
use criterion::Criterion;
use jiff::civil::{Date, date};
use serde_json::{Value, json};
use sluse::auth::{Principal, Role};
use sluse::policy::{
    AssignmentFact, ConsentFact, Decision, Facts, GiverRole, Mode, PolicyBundle, Request, decide,
};

const TODAY: Date = date(2026, 3, 2);
const SUBJECT: &str = "subject-1";

/// The department of each kind in the shipped bundle (one per kind).
const KINDS: [(&str, &str); 6] = [
    ("youth_unit", "youth-unit"),
    ("social_services", "social-services"),
    ("school", "nordskolen"),
    ("ppr", "ppr"),
    ("education_institution", "fgu-nord"),
    ("job_centre", "jobcenter"),
];

/// How the synthetic bundle grows: categories × purposes extra flows.
const SYNTH_CATEGORIES: usize = 100;
const SYNTH_PURPOSES: usize = 20;

// --- Requests --------------------------------------------------------------------------------------

/// One request of a mix, with the facts gathered for it.
struct Case {
    name: String,
    req: Request,
    facts: Facts,
}

fn who(sub: &str, dept: &str, role: Role) -> Principal {
    Principal {
        sub: sub.into(),
        dept: dept.into(),
        role,
    }
}

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

fn facts(age: u32) -> Facts {
    Facts {
        subject_age: age,
        subject_birth_date: date(2026 - age as i16, 1, 15),
        assignments: Vec::new(),
        consents: Vec::new(),
    }
}

fn assigned(mut f: Facts, sub: &str) -> Facts {
    f.assignments.push(AssignmentFact {
        contact_person: sub.into(),
        department: "youth-unit".into(),
    });
    f
}

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

fn with(mut f: Facts, c: ConsentFact) -> Facts {
    f.consents.push(c);
    f
}

use GiverRole::{CustodyHolder, Subject};

/// The mix over the shipped flows: half permits (legal bases and consents), half denials.
fn shipped_mix() -> Vec<Case> {
    let anna = || who("cp-anna", "youth-unit", Role::ContactPerson);
    let school = || who("nordskolen-system", "nordskolen", Role::System);
    let fgu = || who("fgu-system", "fgu-nord", Role::System);
    let ppr = || who("ppr-cw", "ppr", Role::Caseworker);
    let absence = |pct: i64| json!({"period": {"from": "2026-01-01", "to": "2026-03-31"}, "unlawful_absence_pct": pct, "absence_band": ">=15"});
    let f3 = || {
        pull(
            anna(),
            "social-services",
            "social.measures",
            "kui.contact_person",
        )
    };
    let f3c = |givers: &[GiverRole]| {
        consent(
            "c-f3",
            givers,
            "social.measures",
            "youth-unit",
            "kui.contact_person",
        )
    };
    let f4 = || pull(anna(), "ppr", "ppr.assessment", "kui.contact_person");
    let f6 = || pull(anna(), "jobcenter", "job.status", "kui.contact_person");
    let mut withdrawn = f3c(&[Subject]);
    withdrawn.withdrawn = true;
    let mut expired = consent(
        "c-f4",
        &[Subject],
        "ppr.assessment",
        "youth-unit",
        "kui.contact_person",
    );
    expired.valid_until = date(2026, 2, 28);
    let mut explicit = consent(
        "c-f4",
        &[Subject],
        "ppr.assessment",
        "youth-unit",
        "kui.contact_person",
    );
    explicit.special_categories = true;
    let mut f6c = consent(
        "c-f6",
        &[Subject, CustodyHolder],
        "job.status",
        "youth-unit",
        "kui.contact_person",
    );
    f6c.special_categories = true;
    // A consent that covers several scopes, and an unrelated one the decision must look past.
    let mut wide = consent(
        "c-wide",
        &[Subject, CustodyHolder],
        "school.absence",
        "youth-unit",
        "kui.contact_person",
    );
    wide.categories.push("ppr.assessment".into());
    wide.purposes.push("kui.follow_up".into());
    let other = consent(
        "c-other",
        &[Subject, CustodyHolder],
        "job.status",
        "youth-unit",
        "kui.contact_person",
    );
    let education = json!({"institution": "FGU Nord", "programme": "AGU", "event": "dropout", "date": "2026-02-20"});
    let concern =
        json!({"concern": "Tired and hungry", "observations": "Often alone after school"});

    let cases: Vec<(&str, Request, Facts)> = vec![
        // F1
        (
            "F1 permit: 20 % absence, 12",
            notice(
                school(),
                "social-services",
                "school.absence",
                "child_welfare.notification",
                absence(20),
            ),
            facts(12),
        ),
        (
            "F1 deny: 10 % absence",
            notice(
                school(),
                "social-services",
                "school.absence",
                "child_welfare.notification",
                absence(10),
            ),
            facts(12),
        ),
        (
            "F1 deny: subject 18",
            notice(
                school(),
                "social-services",
                "school.absence",
                "child_welfare.notification",
                absence(20),
            ),
            facts(18),
        ),
        // F2
        (
            "F2 permit: joint consent, 16",
            notice(
                school(),
                "youth-unit",
                "school.absence",
                "kui.contact_person",
                absence(20),
            ),
            with(with(facts(16), other.clone()), wide.clone()),
        ),
        (
            "F2 deny: no consent",
            notice(
                school(),
                "youth-unit",
                "school.absence",
                "kui.contact_person",
                absence(20),
            ),
            with(facts(16), other.clone()),
        ),
        // F3
        (
            "F3 permit: joint consent, 16",
            f3(),
            with(
                assigned(facts(16), "cp-anna"),
                f3c(&[Subject, CustodyHolder]),
            ),
        ),
        (
            "F3 permit: own consent, 19",
            f3(),
            with(assigned(facts(19), "cp-anna"), f3c(&[Subject])),
        ),
        (
            "F3 deny: not assigned",
            f3(),
            with(assigned(facts(16), "cp-bo"), f3c(&[Subject, CustodyHolder])),
        ),
        (
            "F3 deny: withdrawn",
            f3(),
            with(assigned(facts(19), "cp-anna"), withdrawn),
        ),
        (
            "F3 deny: custody holder alone at 15",
            f3(),
            with(assigned(facts(15), "cp-anna"), f3c(&[CustodyHolder])),
        ),
        // F4
        (
            "F4 permit: explicit consent, 19",
            f4(),
            with(assigned(facts(19), "cp-anna"), explicit),
        ),
        (
            "F4 deny: consent expired",
            f4(),
            with(assigned(facts(19), "cp-anna"), expired),
        ),
        // F5
        (
            "F5 permit: dropout, 19",
            notice(
                fgu(),
                "youth-unit",
                "education.status",
                "kui.follow_up",
                education.clone(),
            ),
            facts(19),
        ),
        (
            "F5 deny: subject 25",
            notice(
                fgu(),
                "youth-unit",
                "education.status",
                "kui.follow_up",
                education,
            ),
            facts(25),
        ),
        // F6
        (
            "F6 permit: joint explicit consent, 17",
            f6(),
            with(assigned(facts(17), "cp-anna"), f6c.clone()),
        ),
        (
            "F6 deny: a caseworker asks",
            pull(
                who("cw-eva", "youth-unit", Role::Caseworker),
                "jobcenter",
                "job.status",
                "kui.contact_person",
            ),
            with(assigned(facts(17), "cp-anna"), f6c),
        ),
        // F7
        (
            "F7 permit: PPR's concern, 10",
            notice(
                ppr(),
                "social-services",
                "concern.notification",
                "child_welfare.notification",
                concern.clone(),
            ),
            facts(10),
        ),
        (
            "F7 deny: subject 18",
            notice(
                ppr(),
                "social-services",
                "concern.notification",
                "child_welfare.notification",
                concern,
            ),
            facts(18),
        ),
        // The contact person's name to an education institution.
        (
            "KUI name permit: 20",
            pull(fgu(), "youth-unit", "kui.contact", "kui.follow_up"),
            facts(20),
        ),
        // No flow: a school asks the job centre; an unknown purpose.
        (
            "deny: no flow",
            pull(
                who("skole-cw", "nordskolen", Role::Caseworker),
                "jobcenter",
                "job.status",
                "kui.contact_person",
            ),
            facts(16),
        ),
        (
            "deny: unknown purpose",
            pull(anna(), "social-services", "social.measures", "marketing"),
            with(
                assigned(facts(16), "cp-anna"),
                f3c(&[Subject, CustodyHolder]),
            ),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, req, facts)| Case {
            name: name.into(),
            req,
            facts,
        })
        .collect()
}

// --- The synthetic bundle --------------------------------------------------------------------------

/// One synthetic flow: category `c`, purpose `p`.
struct SynthFlow {
    id: String,
    category: String,
    purpose: String,
    from: usize,
    to: usize,
    mode: Mode,
    consent: bool,
}

fn synth_flows() -> Vec<SynthFlow> {
    let mut flows = Vec::new();
    for c in 0..SYNTH_CATEGORIES {
        for p in 0..SYNTH_PURPOSES {
            let i = c * SYNTH_PURPOSES + p;
            let from = i % KINDS.len();
            let to = (from + 1 + (i / KINDS.len()) % (KINDS.len() - 1)) % KINDS.len();
            flows.push(SynthFlow {
                id: format!("synth-c{c:03}-p{p:02}"),
                category: format!("synth.c{c:03}"),
                purpose: format!("synth.p{p:02}"),
                from,
                to,
                mode: if i.is_multiple_of(2) {
                    Mode::Pull
                } else {
                    Mode::Notice
                },
                consent: i.is_multiple_of(3),
            });
        }
    }
    flows
}

fn mode_str(mode: Mode) -> &'static str {
    match mode {
        Mode::Pull => "pull",
        Mode::Notice => "notice",
    }
}

/// Copies the shipped bundle to `dir` and adds the synthetic categories, purposes and flows.
fn write_synthetic_bundle(shipped: &Path, dir: &Path, flows: &[SynthFlow]) {
    let copy = |rel: &str| {
        std::fs::copy(shipped.join(rel), dir.join(rel))
            .unwrap_or_else(|e| panic!("copy {rel}: {e}"));
    };
    std::fs::create_dir_all(dir.join("categories")).unwrap();
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    for rel in ["departments.toml", "legal_bases.toml", "consent_rules.toml"] {
        copy(rel);
    }
    for sub in ["categories", "flows"] {
        for entry in std::fs::read_dir(shipped.join(sub)).unwrap() {
            let name = entry.unwrap().file_name();
            copy(&format!("{sub}/{}", name.to_string_lossy()));
        }
    }
    let mut purposes = std::fs::read_to_string(shipped.join("purposes.toml")).unwrap();
    for p in 0..SYNTH_PURPOSES {
        write!(
            purposes,
            "\n[[purpose]]\nid = \"synth.p{p:02}\"\nname = \"Synthetic purpose {p}\"\n"
        )
        .unwrap();
    }
    std::fs::write(dir.join("purposes.toml"), purposes).unwrap();
    for c in 0..SYNTH_CATEGORIES {
        let text = format!(
            r#"id = "synth.c{c:03}"
name = "Synthetic category {c}"

[[field]]
path = "status"
sensitivity = "ordinary"
values = ["open", "closed"]

[[field]]
path = "contact.name"
sensitivity = "ordinary"

[[field]]
path = "contact.phone"
sensitivity = "ordinary"

[[field]]
path = "notes"
sensitivity = "free_text"

[[field]]
path = "health"
sensitivity = "special"
special = "health"
"#
        );
        std::fs::write(dir.join(format!("categories/synth.c{c:03}.toml")), text).unwrap();
    }
    let mut files: HashMap<&str, String> = HashMap::new();
    for f in flows {
        let text = files.entry(&f.category).or_default();
        write!(
            text,
            r#"
[[flow]]
id = "{id}"
name = "Synthetic flow {id}"
from = ["{from}"]
to = "{to}"
category = "{category}"
purpose = "{purpose}"
mode = "{mode}"
roles = ["caseworker", "system"]
need_to_know = "role"
fields = ["status", "contact", "notes"]

[[flow.basis]]
"#,
            id = f.id,
            from = KINDS[f.from].0,
            to = KINDS[f.to].0,
            category = f.category,
            purpose = f.purpose,
            mode = mode_str(f.mode),
        )
        .unwrap();
        if f.consent {
            text.push_str("consent = true\nspecial_fields = [\"health\"]\n");
        } else {
            text.push_str("legal = \"kui-12c\"\nsubject_age = { under = 25 }\n");
            if f.mode == Mode::Notice {
                text.push_str("when = [\"status == \\\"open\\\"\"]\n");
            }
        }
    }
    for (category, text) in files {
        std::fs::write(dir.join(format!("flows/{category}.toml")), text).unwrap();
    }
}

/// A mix over the synthetic flows, spread over the whole index: a permit and a denial per flow.
fn synthetic_mix(flows: &[SynthFlow]) -> Vec<Case> {
    let mut cases = Vec::new();
    for k in 0..12 {
        let f = &flows[(k * 167 + 13) % flows.len()];
        let (source, recipient) = (KINDS[f.from].1, KINDS[f.to].1);
        let asking = match f.mode {
            Mode::Pull => recipient,
            Mode::Notice => source,
        };
        let req = Request {
            requester: who("synth-cw", asking, Role::Caseworker),
            category: f.category.clone(),
            purpose: f.purpose.clone(),
            source: source.into(),
            recipient: recipient.into(),
            mode: f.mode,
            payload: (f.mode == Mode::Notice).then(|| json!({"status": "open", "notes": "x"})),
        };
        let (permit, deny) = if f.consent {
            let c = consent("c-synth", &[Subject], &f.category, recipient, &f.purpose);
            (with(facts(20), c), facts(20))
        } else {
            (facts(20), facts(30))
        };
        cases.push(Case {
            name: format!("{} permit", f.id),
            req: req.clone(),
            facts: permit,
        });
        cases.push(Case {
            name: format!("{} deny", f.id),
            req,
            facts: deny,
        });
    }
    cases
}

/// Cedar policies for the synthetic flows: one per flow (a consent flow's bands in one policy).
fn synthetic_cedar(flows: &[SynthFlow]) -> String {
    let mut text = String::new();
    for f in flows {
        let basis = if f.consent {
            let scope = |givers: &str| {
                format!(
                    "resource.consents.contains({{category: \"{}\", recipient: resource.recipient, purpose: \"{}\", givers: [{givers}]}})",
                    f.category, f.purpose
                )
            };
            format!(
                "((resource.subject_age < 15 && {}) || (resource.subject_age >= 15 && resource.subject_age < 18 && {}) || (resource.subject_age >= 18 && {}))",
                scope("\"custody_holder\""),
                scope("\"subject\", \"custody_holder\""),
                scope("\"subject\"")
            )
        } else if f.mode == Mode::Notice {
            "resource.subject_age < 25 && context.payload has status && context.payload.status == \"open\"".into()
        } else {
            "resource.subject_age < 25".into()
        };
        write!(
            text,
            "@flow(\"{id}\")\npermit (principal, action == Action::\"{mode}:{purpose}\", resource)\nwhen {{\n  resource.source_kind == \"{from}\" &&\n  resource.recipient_kind == \"{to}\" &&\n  resource.category == \"{category}\" &&\n  [\"caseworker\", \"system\"].contains(principal.role) &&\n  {basis}\n}};\n\n",
            id = f.id,
            mode = mode_str(f.mode),
            purpose = f.purpose,
            from = KINDS[f.from].0,
            to = KINDS[f.to].0,
            category = f.category,
        )
        .unwrap();
    }
    text
}

// --- Cedar: the adapter from a sluse request to a Cedar one ------------------------------------------

fn uid(text: &str) -> EntityUid {
    EntityUid::from_str(text).unwrap_or_else(|e| panic!("entity uid {text}: {e}"))
}

fn s(v: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(v.to_owned())
}

fn json_to_cedar(v: &Value) -> Option<RestrictedExpression> {
    Some(match v {
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        // Cedar has no floats: round down, which keeps `>= <integer>` exact.
        Value::Number(n) => RestrictedExpression::new_long(
            n.as_i64()
                .or_else(|| n.as_f64().map(|f| f.floor() as i64))?,
        ),
        Value::String(t) => s(t),
        Value::Array(items) => {
            RestrictedExpression::new_set(items.iter().filter_map(json_to_cedar))
        }
        Value::Object(map) => RestrictedExpression::new_record(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), json_to_cedar(v)?))),
        )
        .ok()?,
        Value::Null => return None,
    })
}

/// What Cedar needs for a request: the policies, and the action entities (members of the
/// `Action::"pull"` / `Action::"notice"` groups), built once per bundle.
struct CedarSide {
    policies: PolicySet,
    actions: Vec<Entity>,
    kinds: HashMap<String, &'static str>,
}

impl CedarSide {
    fn new(bundle: &PolicyBundle, policy_text: &str) -> CedarSide {
        let policies =
            PolicySet::from_str(policy_text).unwrap_or_else(|e| panic!("cedar policies: {e:?}"));
        let mut actions = Vec::new();
        for mode in ["pull", "notice"] {
            actions.push(Entity::new_no_attrs(
                uid(&format!("Action::\"{mode}\"")),
                HashSet::new(),
            ));
            for p in bundle.purposes() {
                actions.push(Entity::new_no_attrs(
                    uid(&format!("Action::\"{mode}:{}\"", p.id)),
                    HashSet::from([uid(&format!("Action::\"{mode}\""))]),
                ));
            }
        }
        let kinds = bundle
            .departments()
            .iter()
            .map(|d| (d.id.clone(), d.kind.as_str()))
            .collect();
        CedarSide {
            policies,
            actions,
            kinds,
        }
    }

    /// The Cedar request and entities for a sluse request and its facts: consents are cut to those
    /// in force today (in their period, not withdrawn); whether their givers suffice, and whether
    /// they cover the exchange, is left to the policies.
    fn adapt(&self, req: &Request, facts: &Facts, today: Date) -> (CedarRequest, Entities) {
        let p = &req.requester;
        let kind = |dept: &str| s(self.kinds.get(dept).copied().unwrap_or(""));
        let assigned = facts
            .assignments
            .iter()
            .filter(|a| a.contact_person == p.sub && a.department == p.dept)
            .map(|_| s(SUBJECT));
        let principal = Entity::new(
            uid(&format!("Principal::{:?}", p.sub)),
            HashMap::from([
                ("role".to_owned(), s(p.role.as_str())),
                ("dept".to_owned(), s(&p.dept)),
                ("dept_kind".to_owned(), kind(&p.dept)),
                (
                    "assigned_subjects".to_owned(),
                    RestrictedExpression::new_set(assigned),
                ),
            ]),
            HashSet::new(),
        )
        .unwrap();
        let mut consents = Vec::new();
        for c in facts
            .consents
            .iter()
            .filter(|c| !c.withdrawn && c.valid_from <= today && today <= c.valid_until)
        {
            let givers = || RestrictedExpression::new_set(c.givers.iter().map(|g| s(g.as_str())));
            for cat in &c.categories {
                for rec in &c.recipients {
                    for pur in &c.purposes {
                        consents.push(
                            RestrictedExpression::new_record([
                                ("category".to_owned(), s(cat)),
                                ("recipient".to_owned(), s(rec)),
                                ("purpose".to_owned(), s(pur)),
                                ("givers".to_owned(), givers()),
                            ])
                            .unwrap(),
                        );
                    }
                }
            }
        }
        let resource = Entity::new(
            uid("Exchange::\"request\""),
            HashMap::from([
                ("subject".to_owned(), s(SUBJECT)),
                ("category".to_owned(), s(&req.category)),
                ("source".to_owned(), s(&req.source)),
                ("source_kind".to_owned(), kind(&req.source)),
                ("recipient".to_owned(), s(&req.recipient)),
                ("recipient_kind".to_owned(), kind(&req.recipient)),
                (
                    "subject_age".to_owned(),
                    RestrictedExpression::new_long(i64::from(facts.subject_age)),
                ),
                (
                    "consents".to_owned(),
                    RestrictedExpression::new_set(consents),
                ),
            ]),
            HashSet::new(),
        )
        .unwrap();
        let payload = req
            .payload
            .as_ref()
            .and_then(json_to_cedar)
            .unwrap_or_else(|| RestrictedExpression::new_record([]).unwrap());
        let context = Context::from_pairs([("payload".to_owned(), payload)]).unwrap();
        let request = CedarRequest::new(
            principal.uid(),
            uid(&format!(
                "Action::\"{}:{}\"",
                mode_str(req.mode),
                req.purpose
            )),
            resource.uid(),
            context,
            None,
        )
        .unwrap();
        let entities = Entities::from_entities(
            self.actions.iter().cloned().chain([principal, resource]),
            None,
        )
        .unwrap();
        (request, entities)
    }

    fn authorize(
        &self,
        authorizer: &Authorizer,
        req: &CedarRequest,
        entities: &Entities,
    ) -> Response {
        authorizer.is_authorized(req, &self.policies, entities)
    }
}

/// Asserts that Cedar and `decide()` agree on every request of the mix — permit or deny, and the
/// flow of a permit — and that no Cedar policy errored (an erroring policy is silently skipped).
fn check_agreement(
    label: &str,
    bundle: &PolicyBundle,
    cedar: &CedarSide,
    mix: &[Case],
    prepared: &[(CedarRequest, Entities)],
) -> (usize, usize) {
    let authorizer = Authorizer::new();
    let mut permits = 0;
    for (case, (creq, entities)) in mix.iter().zip(prepared) {
        let ours = decide(bundle, &case.req, &case.facts, TODAY);
        let theirs = cedar.authorize(&authorizer, creq, entities);
        let errors: Vec<String> = theirs
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{label}: {}: cedar errors: {errors:?}",
            case.name
        );
        let cedar_permit = theirs.decision() == CedarDecision::Allow;
        assert_eq!(
            ours.is_permit(),
            cedar_permit,
            "{label}: {}: decide() {ours:?}\ncedar {theirs:?}",
            case.name
        );
        if let Decision::Permit { flow_id, .. } = &ours {
            permits += 1;
            for id in theirs.diagnostics().reason() {
                let flow = cedar.policies.policy(id).and_then(|p| p.annotation("flow"));
                assert_eq!(
                    flow,
                    Some(flow_id.as_str()),
                    "{label}: {}: cedar permitted by another flow",
                    case.name
                );
            }
        }
    }
    (permits, mix.len() - permits)
}

// --- Timing ---------------------------------------------------------------------------------------

struct Stats {
    label: String,
    calls: usize,
    mean: f64,
    p50: u64,
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
}

/// Times `calls` calls of `f(i)` one by one (after a warm-up), cycling `i` over `0..n`.
fn percentiles(label: &str, n: usize, calls: usize, mut f: impl FnMut(usize)) -> Stats {
    for i in 0..calls / 10 {
        f(i % n);
    }
    let mut ns = Vec::with_capacity(calls);
    for i in 0..calls {
        let start = Instant::now();
        f(i % n);
        ns.push(start.elapsed().as_nanos() as u64);
    }
    let mean = ns.iter().sum::<u64>() as f64 / calls as f64;
    ns.sort_unstable();
    let at = |q: f64| ns[((calls as f64 * q) as usize).min(calls - 1)];
    Stats {
        label: label.into(),
        calls,
        mean,
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        max: ns[calls - 1],
    }
}

fn print_stats(rows: &[Stats]) {
    println!(
        "\n{:<44} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "per call (ns)", "calls", "mean", "p50", "p90", "p99", "p99.9", "max"
    );
    for r in rows {
        println!(
            "{:<44} {:>8} {:>10.0} {:>9} {:>9} {:>9} {:>9} {:>10}",
            r.label, r.calls, r.mean, r.p50, r.p90, r.p99, r.p999, r.max
        );
    }
}

struct Setup {
    shipped: PolicyBundle,
    grown: PolicyBundle,
    mix: Vec<Case>,
    spread: Vec<Case>,
    cedar_shipped: CedarSide,
    cedar_grown: CedarSide,
    prepared_shipped: Vec<(CedarRequest, Entities)>,
    prepared_grown: Vec<(CedarRequest, Entities)>,
    prepared_spread: Vec<(CedarRequest, Entities)>,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shipped_dir = here.join("../../policies");
    let shipped =
        PolicyBundle::load(&shipped_dir).unwrap_or_else(|e| panic!("shipped bundle:\n{e}"));
    let flows = synth_flows();
    let dir = tempfile::tempdir().unwrap();
    write_synthetic_bundle(&shipped_dir, dir.path(), &flows);
    let grown = PolicyBundle::load(dir.path()).unwrap_or_else(|e| panic!("synthetic bundle:\n{e}"));
    let shipped_text = std::fs::read_to_string(here.join("cedar/shipped.cedar")).unwrap();
    let grown_text = format!("{shipped_text}\n{}", synthetic_cedar(&flows));
    let cedar_shipped = CedarSide::new(&shipped, &shipped_text);
    let cedar_grown = CedarSide::new(&grown, &grown_text);
    let mix = shipped_mix();
    let spread = synthetic_mix(&flows);
    let prep = |c: &CedarSide, m: &[Case]| {
        m.iter()
            .map(|k| c.adapt(&k.req, &k.facts, TODAY))
            .collect::<Vec<_>>()
    };
    let prepared_shipped = prep(&cedar_shipped, &mix);
    let prepared_grown = prep(&cedar_grown, &mix);
    let prepared_spread = prep(&cedar_grown, &spread);

    println!(
        "shipped bundle: {} flows; Cedar: {} policies",
        shipped.flows().len(),
        cedar_shipped.policies.policies().count()
    );
    println!(
        "grown bundle:   {} flows; Cedar: {} policies",
        grown.flows().len(),
        cedar_grown.policies.policies().count()
    );
    let (p, d) = check_agreement("shipped", &shipped, &cedar_shipped, &mix, &prepared_shipped);
    println!(
        "Cedar agrees with decide() on all {} requests of the shipped mix ({p} permits, {d} denials)",
        mix.len()
    );
    // Beyond the timed mix: every request of it at the ages around each boundary (15, 18, 25).
    let mut aged = Vec::new();
    for case in &mix {
        for age in [10, 14, 15, 16, 17, 18, 19, 24, 25, 30] {
            let mut facts = case.facts.clone();
            facts.subject_age = age;
            aged.push(Case {
                name: format!("{} at {age}", case.name),
                req: case.req.clone(),
                facts,
            });
        }
    }
    let prepared_aged = prep(&cedar_shipped, &aged);
    let (pa, da) = check_agreement(
        "shipped/ages",
        &shipped,
        &cedar_shipped,
        &aged,
        &prepared_aged,
    );
    println!(
        "... and on the same requests at 10 ages each ({} requests: {pa} permits, {da} denials)",
        aged.len()
    );
    if std::env::var_os("SLUSE_BENCH_VERBOSE").is_some() {
        for case in &mix {
            let d = decide(&shipped, &case.req, &case.facts, TODAY);
            println!(
                "  {:<40} {:?} {:?}",
                case.name,
                d.basis().map(|b| &b.id),
                d.codes()
            );
        }
    }
    let (p2, d2) = check_agreement("grown", &grown, &cedar_grown, &mix, &prepared_grown);
    assert_eq!(
        (p2, d2),
        (p, d),
        "the grown bundle decides the shipped mix as the shipped one does"
    );
    let (p, d) = check_agreement(
        "grown/spread",
        &grown,
        &cedar_grown,
        &spread,
        &prepared_spread,
    );
    println!(
        "... and on the grown bundle, the same mix and {} requests spread over synthetic flows ({p} permits, {d} denials)",
        spread.len()
    );
    Setup {
        shipped,
        grown,
        mix,
        spread,
        cedar_shipped,
        cedar_grown,
        prepared_shipped,
        prepared_grown,
        prepared_spread,
        _dir: dir,
    }
}

fn run_percentiles(s: &Setup) {
    const CALLS: usize = 100_000;
    let authorizer = Authorizer::new();
    let n = s.mix.len();
    let mut rows = vec![percentiles(
        "(timer overhead: an empty call)",
        n,
        CALLS,
        |i| {
            black_box(i);
        },
    )];
    rows.push(percentiles("decide(), shipped bundle", n, CALLS, |i| {
        let c = &s.mix[i];
        black_box(decide(
            black_box(&s.shipped),
            black_box(&c.req),
            black_box(&c.facts),
            TODAY,
        ));
    }));
    rows.push(percentiles("decide(), 2,000-flow bundle", n, CALLS, |i| {
        let c = &s.mix[i];
        black_box(decide(
            black_box(&s.grown),
            black_box(&c.req),
            black_box(&c.facts),
            TODAY,
        ));
    }));
    let m = s.spread.len();
    rows.push(percentiles(
        "decide(), 2,000-flow bundle, spread mix",
        m,
        CALLS,
        |i| {
            let c = &s.spread[i];
            black_box(decide(
                black_box(&s.grown),
                black_box(&c.req),
                black_box(&c.facts),
                TODAY,
            ));
        },
    ));
    rows.push(percentiles(
        "Cedar is_authorized, shipped (19 policies)",
        n,
        CALLS,
        |i| {
            let (r, e) = &s.prepared_shipped[i];
            black_box(
                s.cedar_shipped
                    .authorize(&authorizer, black_box(r), black_box(e)),
            );
        },
    ));
    rows.push(percentiles(
        "Cedar adapter + is_authorized, shipped",
        n,
        CALLS / 2,
        |i| {
            let c = &s.mix[i];
            let (r, e) = s
                .cedar_shipped
                .adapt(black_box(&c.req), black_box(&c.facts), TODAY);
            black_box(s.cedar_shipped.authorize(&authorizer, &r, &e));
        },
    ));
    rows.push(percentiles(
        "Cedar is_authorized, 2,000-flow (2,019 pol.)",
        n,
        2_000,
        |i| {
            let (r, e) = &s.prepared_grown[i];
            black_box(
                s.cedar_grown
                    .authorize(&authorizer, black_box(r), black_box(e)),
            );
        },
    ));
    let m = s.spread.len();
    rows.push(percentiles(
        "Cedar is_authorized, 2,000-flow, spread mix",
        m,
        2_000,
        |i| {
            let (r, e) = &s.prepared_spread[i];
            black_box(
                s.cedar_grown
                    .authorize(&authorizer, black_box(r), black_box(e)),
            );
        },
    ));
    print_stats(&rows);
    if std::env::var_os("SLUSE_BENCH_VERBOSE").is_some() {
        println!(
            "\n{:<44} {:>12} {:>12}",
            "p50 per request (ns)", "decide()", "Cedar"
        );
        for (k, case) in s.mix.iter().enumerate() {
            let ours = percentiles("", 1, 20_000, |_| {
                black_box(decide(
                    &s.shipped,
                    black_box(&case.req),
                    black_box(&case.facts),
                    TODAY,
                ));
            });
            let (r, e) = &s.prepared_shipped[k];
            let theirs = percentiles("", 1, 5_000, |_| {
                black_box(
                    s.cedar_shipped
                        .authorize(&authorizer, black_box(r), black_box(e)),
                );
            });
            println!("{:<44} {:>12} {:>12}", case.name, ours.p50, theirs.p50);
        }
    }
    // Ratios on p50 and p99: the mean is at the mercy of a few calls preempted for a time slice.
    let at = |label: &str, q: fn(&Stats) -> u64| {
        rows.iter()
            .find(|r| r.label.starts_with(label))
            .map(|r| q(r) as f64)
            .unwrap_or(f64::NAN)
    };
    let p50: fn(&Stats) -> u64 = |r| r.p50;
    let p99: fn(&Stats) -> u64 = |r| r.p99;
    println!(
        "\nCedar is_authorized / decide(), shipped: {:.1}x at p50, {:.1}x at p99",
        at("Cedar is_authorized, shipped", p50) / at("decide(), shipped", p50),
        at("Cedar is_authorized, shipped", p99) / at("decide(), shipped", p99),
    );
    println!(
        "decide() 2,000-flow / shipped: {:.2}x at p50, {:.2}x at p99; spread mix: {:.2}x at p50, {:.2}x at p99",
        at("decide(), 2,000-flow bundle", p50) / at("decide(), shipped", p50),
        at("decide(), 2,000-flow bundle", p99) / at("decide(), shipped", p99),
        at("decide(), 2,000-flow bundle, spread", p50) / at("decide(), shipped", p50),
        at("decide(), 2,000-flow bundle, spread", p99) / at("decide(), shipped", p99),
    );
}

fn run_criterion(s: &Setup, c: &mut Criterion) {
    let authorizer = Authorizer::new();
    let n = s.mix.len();
    let mut g = c.benchmark_group("policy");
    // Each iteration is one decision, cycling through the mix: the figure is per decision.
    let mut i = 0;
    g.bench_function("decide/shipped", |b| {
        b.iter(|| {
            let c = &s.mix[i % n];
            i += 1;
            decide(
                black_box(&s.shipped),
                black_box(&c.req),
                black_box(&c.facts),
                TODAY,
            )
        })
    });
    g.bench_function("decide/grown-2000", |b| {
        b.iter(|| {
            let c = &s.mix[i % n];
            i += 1;
            decide(
                black_box(&s.grown),
                black_box(&c.req),
                black_box(&c.facts),
                TODAY,
            )
        })
    });
    let m = s.spread.len();
    g.bench_function("decide/grown-2000-spread", |b| {
        b.iter(|| {
            let c = &s.spread[i % m];
            i += 1;
            decide(
                black_box(&s.grown),
                black_box(&c.req),
                black_box(&c.facts),
                TODAY,
            )
        })
    });
    g.bench_function("cedar/shipped", |b| {
        b.iter(|| {
            let (r, e) = &s.prepared_shipped[i % n];
            i += 1;
            s.cedar_shipped
                .authorize(&authorizer, black_box(r), black_box(e))
        })
    });
    g.bench_function("cedar+adapter/shipped", |b| {
        b.iter(|| {
            let c = &s.mix[i % n];
            i += 1;
            let (r, e) = s
                .cedar_shipped
                .adapt(black_box(&c.req), black_box(&c.facts), TODAY);
            s.cedar_shipped.authorize(&authorizer, &r, &e)
        })
    });
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("cedar/grown-2000", |b| {
        b.iter(|| {
            let (r, e) = &s.prepared_grown[i % n];
            i += 1;
            s.cedar_grown
                .authorize(&authorizer, black_box(r), black_box(e))
        })
    });
    g.finish();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then check the set-up only.
    let smoke = !args.iter().any(|a| a == "--bench");
    let only_percentiles = args.iter().any(|a| a == "--percentiles-only");
    let s = setup();
    if smoke {
        return;
    }
    run_percentiles(&s);
    if only_percentiles {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    run_criterion(&s, &mut c);
    c.final_summary();
}
