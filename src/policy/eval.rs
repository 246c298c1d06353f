//! The decision: a pure function of the bundle, the request, the facts gathered before the call and
//! the day. No I/O, no clock — so it is tested exhaustively, benchmarked alone, and `policy explain`
//! runs the very same code with a trace switched on.
//!
//! The order of judgement (API.md §9.3): a flow must match source kind, recipient kind, category,
//! purpose and mode; the purpose must still apply to a subject of this age; the requester must hold
//! one of the flow's roles and have a need to know; and a basis must hold — a legal basis whose
//! conditions are met first, otherwise a consent that covers the exchange today. Every reason that
//! applies is reported, not only the first.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::PolicyBundle;
use super::model::{BasisRule, Flow, GiverRole, Mode, NeedToKnow, RuleBasis};
use super::plan::RedactionPlan;
use crate::auth::Principal;

/// One exchange to decide: who asks, for what, from which department to which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The authenticated caller: for a pull, someone of the recipient department; for a notice,
    /// someone of the sending (source) department.
    pub requester: Principal,
    /// The data category id.
    pub category: String,
    /// The purpose id.
    pub purpose: String,
    /// The department id that holds (pull) or sends (notice) the data.
    pub source: String,
    /// The department id that would receive it.
    pub recipient: String,
    /// Pull or notice.
    pub mode: Mode,
    /// A notice's payload, for the conditions of its bases; `None` for a pull.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
}

/// What the caller gathered about the subject before deciding. The decision trusts these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// The subject's age in whole years on the day of the decision (Europe/Copenhagen).
    pub subject_age: u32,
    /// The subject's birth date (for explanations; the rules use the age).
    pub subject_birth_date: Date,
    /// The subject's active contact-person assignments.
    #[serde(default)]
    pub assignments: Vec<AssignmentFact>,
    /// The subject's consents — active, expired and withdrawn alike; the decision sorts them out.
    #[serde(default)]
    pub consents: Vec<ConsentFact>,
}

/// An active contact-person assignment for the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentFact {
    /// The contact person's `sub`.
    pub contact_person: String,
    /// The department the assignment belongs to (the youth unit).
    pub department: String,
}

/// A recorded consent about the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentFact {
    /// The consent's id.
    pub id: String,
    /// Who gave it.
    pub givers: Vec<GiverRole>,
    /// The categories it covers.
    pub categories: Vec<String>,
    /// The recipient department ids it covers.
    pub recipients: Vec<String>,
    /// The purposes it covers.
    pub purposes: Vec<String>,
    /// Explicit consent to the special-category fields of its categories (GDPR Art. 9(2)(a)).
    #[serde(default)]
    pub special_categories: bool,
    /// The first day it covers.
    pub valid_from: Date,
    /// The last day it covers.
    pub valid_until: Date,
    /// Whether it has been withdrawn (before this decision).
    #[serde(default)]
    pub withdrawn: bool,
}

/// The stable denial reason codes of API.md §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// No flow matches source kind, recipient kind, category, purpose and mode (or an id is unknown).
    NoFlow,
    /// The requester's role may not ask under the flow.
    RoleNotAllowed,
    /// The requester has no need to know (no active assignment, or not of the asking department).
    NotNeedToKnow,
    /// No consent covers the exchange today.
    NoConsent,
    /// The consent that covers the exchange has been withdrawn.
    ConsentWithdrawn,
    /// The consent that covered the exchange has lapsed (`valid_until` has passed).
    ConsentExpired,
    /// The consent's givers do not suffice for the subject's age today.
    ConsentGiverInvalid,
    /// The purpose does not apply to a subject of this age (25+ for the youth unit's purposes).
    SubjectOutOfScope,
    /// A condition of the flow's basis is not met (the subject's age, a value in the notice).
    BasisConditionFailed,
    /// The source failed after a permit; never produced by `decide()`.
    SourceUnavailable,
}

impl ReasonCode {
    /// The code as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::NoFlow => "no_flow",
            ReasonCode::RoleNotAllowed => "role_not_allowed",
            ReasonCode::NotNeedToKnow => "not_need_to_know",
            ReasonCode::NoConsent => "no_consent",
            ReasonCode::ConsentWithdrawn => "consent_withdrawn",
            ReasonCode::ConsentExpired => "consent_expired",
            ReasonCode::ConsentGiverInvalid => "consent_giver_invalid",
            ReasonCode::SubjectOutOfScope => "subject_out_of_scope",
            ReasonCode::BasisConditionFailed => "basis_condition_failed",
            ReasonCode::SourceUnavailable => "source_unavailable",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request is refused: a stable code and a message for people (no payload values, no CPR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The stable code.
    pub code: ReasonCode,
    /// A human explanation, lowercase.
    pub message: String,
}

impl Reason {
    pub(crate) fn new(code: ReasonCode, message: impl Into<String>) -> Reason {
        Reason {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Whether a permit rests on a consent or a legal basis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BasisKind {
    /// A consent in the registry.
    Consent,
    /// A legal basis of the bundle.
    Legal,
}

/// What a permit rests on (API.md §5 `basis: {kind, id}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Basis {
    /// Consent or legal.
    pub kind: BasisKind,
    /// The consent's id or the legal basis's id.
    pub id: String,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The exchange may happen, carrying only what the plan allows.
    Permit {
        /// What it rests on.
        basis: Basis,
        /// What may pass.
        plan: RedactionPlan,
        /// The flow that matched.
        flow_id: String,
        /// The bundle's version.
        policy_version: String,
    },
    /// The exchange may not happen.
    Deny {
        /// Every reason that applies, never empty.
        reasons: Vec<Reason>,
        /// The bundle's version.
        policy_version: String,
    },
}

impl Decision {
    /// Whether it is a permit.
    pub fn is_permit(&self) -> bool {
        matches!(self, Decision::Permit { .. })
    }

    /// The version of the bundle that decided.
    pub fn policy_version(&self) -> &str {
        match self {
            Decision::Permit { policy_version, .. } | Decision::Deny { policy_version, .. } => {
                policy_version
            }
        }
    }

    /// The reasons of a denial; empty for a permit.
    pub fn reasons(&self) -> &[Reason] {
        match self {
            Decision::Permit { .. } => &[],
            Decision::Deny { reasons, .. } => reasons,
        }
    }

    /// The codes of a denial's reasons, in order.
    pub fn codes(&self) -> Vec<ReasonCode> {
        self.reasons().iter().map(|r| r.code).collect()
    }

    /// A permit's basis.
    pub fn basis(&self) -> Option<&Basis> {
        match self {
            Decision::Permit { basis, .. } => Some(basis),
            Decision::Deny { .. } => None,
        }
    }

    /// A permit's plan.
    pub fn plan(&self) -> Option<&RedactionPlan> {
        match self {
            Decision::Permit { plan, .. } => Some(plan),
            Decision::Deny { .. } => None,
        }
    }
}

/// Decides one request. Pure: the same inputs give the same decision.
pub fn decide(bundle: &PolicyBundle, req: &Request, facts: &Facts, today: Date) -> Decision {
    evaluate(bundle, req, facts, today, None)
}

/// One line of an explanation: a check and whether it passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) ok: bool,
    pub(crate) text: String,
}

/// What `explain` records along the way; `decide` passes none and pays nothing for it.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub(crate) flow: Option<usize>,
    pub(crate) steps: Vec<Step>,
}

fn note(trace: &mut Option<&mut Trace>, ok: bool, text: impl FnOnce() -> String) {
    if let Some(t) = trace.as_deref_mut() {
        t.steps.push(Step { ok, text: text() });
    }
}

/// The decision, with an optional trace for `explain`.
pub(crate) fn evaluate(
    bundle: &PolicyBundle,
    req: &Request,
    facts: &Facts,
    today: Date,
    mut trace: Option<&mut Trace>,
) -> Decision {
    let deny = |reasons: Vec<Reason>| Decision::Deny {
        reasons,
        policy_version: bundle.version().to_owned(),
    };
    let mut reasons = Vec::new();
    let age = facts.subject_age;

    // 1. The ids, and the flow they select.
    let source = bundle.department(&req.source);
    let recipient = bundle.department(&req.recipient);
    let category = bundle.category_slot(&req.category);
    let purpose = bundle.purpose_slot(&req.purpose);
    for (known, what, id) in [
        (source.is_some(), "source department", &req.source),
        (recipient.is_some(), "recipient department", &req.recipient),
        (category.is_some(), "category", &req.category),
        (purpose.is_some(), "purpose", &req.purpose),
    ] {
        if !known {
            reasons.push(Reason::new(
                ReasonCode::NoFlow,
                format!("unknown {what} `{id}`"),
            ));
        }
    }
    let flow = match (source, recipient, category, purpose) {
        (Some(s), Some(r), Some(c), Some(p)) => {
            let flow = bundle.flow_slot(s.kind, r.kind, c, p, req.mode);
            if flow.is_none() {
                reasons.push(Reason::new(
                    ReasonCode::NoFlow,
                    format!(
                        "no flow carries `{}` from a `{}` to a `{}` for `{}` as a {}",
                        req.category, s.kind, r.kind, req.purpose, req.mode
                    ),
                ));
            }
            flow
        }
        _ => None,
    };
    if let Some(t) = trace.as_deref_mut() {
        t.flow = flow;
    }

    // 2. The purpose's age scope, which holds whatever the flow.
    if let Some(p) = purpose.and_then(|p| bundle.purposes().get(p as usize))
        && let Some(under) = p.subject_under
    {
        let ok = age < under;
        note(&mut trace, ok, || {
            format!(
                "purpose `{}` applies to a subject under {under}; the subject is {age}",
                p.id
            )
        });
        if !ok {
            reasons.push(Reason::new(
                ReasonCode::SubjectOutOfScope,
                format!("purpose `{}` applies only to a subject under {under}", p.id),
            ));
        }
    }
    let Some(flow) = flow.and_then(|i| bundle.flows().get(i)) else {
        return deny(reasons);
    };

    // 3. The requester: of the asking department, in a role of the flow, with a need to know.
    let asking = match req.mode {
        Mode::Pull => &req.recipient,
        Mode::Notice => &req.source,
    };
    let who = &req.requester;
    if &who.dept != asking {
        note(&mut trace, false, || {
            format!(
                "the requester is of `{}`, not of the asking department `{asking}`",
                who.dept
            )
        });
        reasons.push(Reason::new(
            ReasonCode::NotNeedToKnow,
            format!(
                "a requester of `{}` cannot act for `{asking}` under flow `{}`",
                who.dept, flow.id
            ),
        ));
    }
    if flow.roles.contains(&who.role) {
        note(&mut trace, true, || {
            format!(
                "role `{}` may {} under flow `{}`",
                who.role,
                verb(req.mode),
                flow.id
            )
        });
    } else {
        let allowed = flow
            .roles
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ");
        note(&mut trace, false, || {
            format!(
                "role `{}` may not {}; allowed: {allowed}",
                who.role,
                verb(req.mode)
            )
        });
        reasons.push(Reason::new(
            ReasonCode::RoleNotAllowed,
            format!(
                "role `{}` may not {} under flow `{}` (allowed: {allowed})",
                who.role,
                verb(req.mode),
                flow.id
            ),
        ));
    }
    if flow.need_to_know == NeedToKnow::AssignedContactPerson {
        let assigned = facts
            .assignments
            .iter()
            .any(|a| a.contact_person == who.sub && a.department == who.dept);
        note(&mut trace, assigned, || {
            if assigned {
                format!(
                    "`{}` is the subject's assigned contact person in `{}`",
                    who.sub, who.dept
                )
            } else {
                format!(
                    "`{}` has no active contact-person assignment for the subject in `{}`",
                    who.sub, who.dept
                )
            }
        });
        if !assigned {
            reasons.push(Reason::new(
                ReasonCode::NotNeedToKnow,
                format!(
                    "`{}` has no active contact-person assignment for the subject in `{}`",
                    who.sub, who.dept
                ),
            ));
        }
    }

    // 4. The basis: a legal basis whose conditions hold, otherwise a consent.
    let mut basis_reasons = Vec::new();
    let mut chosen: Option<(usize, Basis, bool)> = None;
    for (i, rule) in flow.bases.iter().enumerate() {
        let RuleBasis::Legal(id) = &rule.basis else {
            continue;
        };
        let failed = rule_failures(rule, age, req.payload.as_ref());
        note(&mut trace, failed.is_empty(), || {
            if failed.is_empty() {
                format!("legal basis `{id}` applies ({})", conditions_text(rule))
            } else {
                format!("legal basis `{id}` does not apply: {}", failed.join("; "))
            }
        });
        if failed.is_empty() {
            chosen = Some((
                i,
                Basis {
                    kind: BasisKind::Legal,
                    id: id.clone(),
                },
                true,
            ));
            break;
        }
        for why in failed {
            basis_reasons.push(Reason::new(
                ReasonCode::BasisConditionFailed,
                format!(
                    "legal basis `{id}` of flow `{}` does not apply: {why}",
                    flow.id
                ),
            ));
        }
    }
    if chosen.is_none()
        && let Some((i, rule)) = flow
            .bases
            .iter()
            .enumerate()
            .find(|(_, r)| r.basis == RuleBasis::Consent)
    {
        let failed = rule_failures(rule, age, req.payload.as_ref());
        if failed.is_empty() {
            match find_consent(bundle, flow, rule, req, facts, today, &mut trace) {
                Ok((id, special)) => {
                    chosen = Some((
                        i,
                        Basis {
                            kind: BasisKind::Consent,
                            id,
                        },
                        special,
                    ));
                }
                Err(mut why) => basis_reasons.append(&mut why),
            }
        } else {
            note(&mut trace, false, || {
                format!("consent cannot be the basis: {}", failed.join("; "))
            });
            for why in failed {
                basis_reasons.push(Reason::new(
                    ReasonCode::BasisConditionFailed,
                    format!("consent under flow `{}` does not apply: {why}", flow.id),
                ));
            }
        }
    }

    match chosen {
        Some((i, basis, special)) if reasons.is_empty() => {
            let Some(plans) = flow.plans.get(i) else {
                // INVARIANT: compile builds one BasisPlans per basis; denying keeps this total.
                return deny(vec![Reason::new(
                    ReasonCode::NoFlow,
                    "internal: flow without plan",
                )]);
            };
            Decision::Permit {
                basis,
                plan: if special {
                    plans.with_special.clone()
                } else {
                    plans.ordinary.clone()
                },
                flow_id: flow.id.clone(),
                policy_version: bundle.version().to_owned(),
            }
        }
        Some(_) => deny(reasons),
        None => {
            reasons.append(&mut basis_reasons);
            deny(reasons)
        }
    }
}

fn verb(mode: Mode) -> &'static str {
    match mode {
        Mode::Pull => "ask",
        Mode::Notice => "send",
    }
}

/// The conditions of a basis that fail, in words (no payload values: they are personal data).
fn rule_failures(rule: &BasisRule, age: u32, payload: Option<&serde_json::Value>) -> Vec<String> {
    let mut failed = Vec::new();
    if !rule.subject_age.contains(age) {
        failed.push(format!("the subject is not {}", rule.subject_age));
    }
    for cond in &rule.when {
        if !payload.is_some_and(|p| cond.holds(p)) {
            failed.push(format!("condition `{cond}` is not met"));
        }
    }
    failed
}

fn conditions_text(rule: &BasisRule) -> String {
    let mut parts = Vec::new();
    if !rule.subject_age.is_unbounded() {
        parts.push(format!("subject {}", rule.subject_age));
    }
    parts.extend(rule.when.iter().map(|c| format!("`{c}`")));
    if parts.is_empty() {
        "no conditions".into()
    } else {
        parts.join(", ")
    }
}

/// A consent that covers the exchange today and whose givers suffice; prefers an explicit one
/// when the basis has special fields. Otherwise every reason the covering consents fail.
fn find_consent(
    bundle: &PolicyBundle,
    flow: &Flow,
    rule: &BasisRule,
    req: &Request,
    facts: &Facts,
    today: Date,
    trace: &mut Option<&mut Trace>,
) -> Result<(String, bool), Vec<Reason>> {
    let rules = bundle.consent_rules();
    let age = facts.subject_age;
    let mut valid: Option<&ConsentFact> = None;
    let mut why = Vec::new();
    for c in &facts.consents {
        let covers = c.categories.contains(&req.category)
            && c.recipients.contains(&req.recipient)
            && c.purposes.contains(&req.purpose);
        if !covers {
            note(trace, false, || {
                format!(
                    "consent `{}` does not cover `{}` to `{}` for `{}`",
                    c.id, req.category, req.recipient, req.purpose
                )
            });
            continue;
        }
        if today < c.valid_from {
            note(trace, false, || {
                format!(
                    "consent `{}` is not yet in force (from {})",
                    c.id, c.valid_from
                )
            });
            continue;
        }
        let reason = if c.withdrawn {
            Some(Reason::new(
                ReasonCode::ConsentWithdrawn,
                format!("consent `{}` has been withdrawn", c.id),
            ))
        } else if today > c.valid_until {
            Some(Reason::new(
                ReasonCode::ConsentExpired,
                format!("consent `{}` lapsed after {}", c.id, c.valid_until),
            ))
        } else if !rules.givers_suffice(age, &c.givers) {
            let needed = rules
                .band(age)
                .map(|b| {
                    let names = |gs: &[GiverRole]| {
                        gs.iter()
                            .map(|g| format!("`{g}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    };
                    let ages = match b.to {
                        Some(to) => format!("{}-{to}", b.from),
                        None => format!("{} and over", b.from),
                    };
                    format!(
                        "for a subject aged {ages} it needs {} and may be given only by {}",
                        names(&b.required),
                        names(&b.may_give)
                    )
                })
                .unwrap_or_else(|| "no consent rule covers the subject's age".into());
            let given = c
                .givers
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>();
            Some(Reason::new(
                ReasonCode::ConsentGiverInvalid,
                format!(
                    "consent `{}` was given by {}; {needed}",
                    c.id,
                    if given.is_empty() {
                        "nobody".to_owned()
                    } else {
                        given.join(" and ")
                    }
                ),
            ))
        } else {
            None
        };
        match reason {
            Some(r) => {
                note(trace, false, || r.message.clone());
                why.push(r);
            }
            None => {
                note(trace, true, || {
                    format!(
                        "consent `{}` covers the exchange ({} to {}, special categories: {})",
                        c.id,
                        c.valid_from,
                        c.valid_until,
                        if c.special_categories { "yes" } else { "no" }
                    )
                });
                let better = valid.is_none()
                    || (!rule.special_fields.is_empty()
                        && c.special_categories
                        && !valid.is_some_and(|v| v.special_categories));
                if better {
                    valid = Some(c);
                }
            }
        }
    }
    match valid {
        Some(c) => Ok((c.id.clone(), c.special_categories)),
        None if why.is_empty() => {
            let r = Reason::new(
                ReasonCode::NoConsent,
                format!(
                    "no consent covers `{}` to `{}` for `{}` on {today} (flow `{}`)",
                    req.category, req.recipient, req.purpose, flow.id
                ),
            );
            note(trace, false, || r.message.clone());
            Err(vec![r])
        }
        None => Err(why),
    }
}
