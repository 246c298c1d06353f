//! `sluse policy explain`: the decision of [`decide`](super::decide), made by the very same code
//! with a trace switched on, and printed for people — the facts used, the flow matched (or the
//! nearest flows and why they do not match), each check, the basis, and the fields that pass or are
//! cut.

use std::fmt;

use jiff::civil::Date;

use super::PolicyBundle;
use super::eval::{self, Decision, Facts, Request, Step, Trace};
use super::model::{Flow, RuleBasis};

/// A decision with the story of how it was reached. Its `Display` is the `policy explain` output.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The decision — identical to what `decide` returns for the same inputs.
    pub decision: Decision,
    request: Request,
    facts: Facts,
    today: Date,
    flow: Option<FlowSummary>,
    nearest: Vec<(FlowSummary, Vec<String>)>,
    steps: Vec<Step>,
    /// For a denial under a matched flow: what would pass under its first basis.
    would_pass: Vec<String>,
    would_cut: Vec<String>,
}

#[derive(Debug, Clone)]
struct FlowSummary {
    id: String,
    at: String,
    shape: String,
    bases: String,
}

impl FlowSummary {
    fn of(bundle: &PolicyBundle, flow: &Flow) -> FlowSummary {
        let from = flow
            .from
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" | ");
        let bases = flow
            .bases
            .iter()
            .map(|b| {
                let mut s = match &b.basis {
                    RuleBasis::Consent => "consent".to_owned(),
                    RuleBasis::Legal(id) => match bundle.legal_basis(id) {
                        Some(l) => format!("legal `{id}` ({})", l.citation),
                        None => format!("legal `{id}`"),
                    },
                };
                if !b.subject_age.is_unbounded() {
                    s.push_str(&format!(", subject {}", b.subject_age));
                }
                for c in &b.when {
                    s.push_str(&format!(", `{c}`"));
                }
                if !b.special_fields.is_empty() {
                    let special = b
                        .special_fields
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>();
                    let how = match b.basis {
                        RuleBasis::Consent => " with explicit consent",
                        RuleBasis::Legal(_) => "",
                    };
                    s.push_str(&format!("; also {}{how}", special.join(", ")));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" / ");
        FlowSummary {
            id: flow.id.clone(),
            at: format!("{}:{}", flow.file, flow.line),
            shape: format!(
                "{from} → {}, `{}`, `{}`, {}",
                flow.to, flow.category, flow.purpose, flow.mode
            ),
            bases,
        }
    }
}

/// Decides `req` as [`decide`](super::decide) does, and keeps the story.
pub fn explain(bundle: &PolicyBundle, req: &Request, facts: &Facts, today: Date) -> Explanation {
    let mut trace = Trace::default();
    let decision = eval::evaluate(bundle, req, facts, today, Some(&mut trace));
    let matched = trace.flow.and_then(|i| bundle.flows().get(i));
    let flow = matched.map(|f| FlowSummary::of(bundle, f));
    let nearest = if matched.is_none() {
        nearest(bundle, req)
    } else {
        Vec::new()
    };
    let (mut would_pass, mut would_cut) = (Vec::new(), Vec::new());
    if let (Some(f), Decision::Deny { .. }) = (matched, &decision)
        && let Some(plans) = f.plans.first()
    {
        would_pass = plans
            .ordinary
            .allowed()
            .iter()
            .map(|p| p.path.to_string())
            .collect();
        would_cut = plans
            .ordinary
            .withheld()
            .iter()
            .map(ToString::to_string)
            .collect();
    }
    Explanation {
        decision,
        request: req.clone(),
        facts: facts.clone(),
        today,
        flow,
        nearest,
        steps: trace.steps,
        would_pass,
        would_cut,
    }
}

/// The flows closest to the request, with what differs (at most two differences, at most three
/// flows). A linear scan — fine here, `explain` is not on the request path.
fn nearest(bundle: &PolicyBundle, req: &Request) -> Vec<(FlowSummary, Vec<String>)> {
    let source = bundle.department(&req.source).map(|d| d.kind);
    let recipient = bundle.department(&req.recipient).map(|d| d.kind);
    let mut scored: Vec<(usize, usize, Vec<String>)> = bundle
        .flows()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut why = Vec::new();
            if !source.is_some_and(|k| f.is_from(k)) {
                let from = f.from.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
                why.push(format!(
                    "its source is {}, `{}` is {}",
                    from.join(" or "),
                    req.source,
                    source.map_or("unknown".to_owned(), |k| format!("a `{k}`"))
                ));
            }
            if recipient != Some(f.to) {
                why.push(format!(
                    "its recipient is a `{}`, `{}` is {}",
                    f.to,
                    req.recipient,
                    recipient.map_or("unknown".to_owned(), |k| format!("a `{k}`"))
                ));
            }
            if f.category != req.category {
                why.push(format!(
                    "it carries `{}`, not `{}`",
                    f.category, req.category
                ));
            }
            if f.purpose != req.purpose {
                why.push(format!(
                    "its purpose is `{}`, not `{}`",
                    f.purpose, req.purpose
                ));
            }
            if f.mode != req.mode {
                why.push(format!("it is a {} flow, not {}", f.mode, req.mode));
            }
            (why.len(), i, why)
        })
        .filter(|(n, _, _)| *n <= 2)
        .collect();
    scored.sort_by_key(|(n, i, _)| (*n, *i));
    scored
        .into_iter()
        .take(3)
        .filter_map(|(_, i, why)| {
            bundle
                .flows()
                .get(i)
                .map(|f| (FlowSummary::of(bundle, f), why))
        })
        .collect()
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.request;
        writeln!(
            f,
            "request: {} of `{}` from `{}` to `{}` for `{}`",
            r.mode, r.category, r.source, r.recipient, r.purpose
        )?;
        writeln!(
            f,
            "  by `{}`, {} of `{}`",
            r.requester.sub, r.requester.role, r.requester.dept
        )?;

        writeln!(f, "facts on {}:", self.today)?;
        writeln!(
            f,
            "  subject aged {} (born {})",
            self.facts.subject_age, self.facts.subject_birth_date
        )?;
        if self.facts.assignments.is_empty() {
            writeln!(f, "  no active contact-person assignments")?;
        }
        for a in &self.facts.assignments {
            writeln!(
                f,
                "  active assignment: contact person `{}` in `{}`",
                a.contact_person, a.department
            )?;
        }
        if self.facts.consents.is_empty() {
            writeln!(f, "  no consents")?;
        }
        for c in &self.facts.consents {
            let givers = c.givers.iter().map(|g| g.as_str()).collect::<Vec<_>>();
            writeln!(
                f,
                "  consent `{}`: by {}; {} to {}; categories {}; recipients {}; purposes {}; special categories {}{}",
                c.id,
                givers.join(" + "),
                c.valid_from,
                c.valid_until,
                c.categories.join(", "),
                c.recipients.join(", "),
                c.purposes.join(", "),
                if c.special_categories { "yes" } else { "no" },
                if c.withdrawn { "; withdrawn" } else { "" }
            )?;
        }

        match &self.flow {
            Some(flow) => {
                writeln!(f, "flow: `{}` ({})", flow.id, flow.at)?;
                writeln!(f, "  {}", flow.shape)?;
                writeln!(f, "  bases: {}", flow.bases)?;
            }
            None if self.nearest.is_empty() => writeln!(f, "flow: none matches, and none is near")?,
            None => {
                writeln!(f, "flow: none matches; the nearest:")?;
                for (flow, why) in &self.nearest {
                    writeln!(f, "  `{}` ({}): {}", flow.id, flow.at, flow.shape)?;
                    for w in why {
                        writeln!(f, "    - {w}")?;
                    }
                }
            }
        }

        if !self.steps.is_empty() {
            writeln!(f, "checks:")?;
            for step in &self.steps {
                writeln!(f, "  [{}] {}", if step.ok { "ok" } else { "no" }, step.text)?;
            }
        }

        match &self.decision {
            Decision::Permit {
                basis,
                plan,
                flow_id,
                ..
            } => {
                let kind = match basis.kind {
                    super::BasisKind::Consent => "consent",
                    super::BasisKind::Legal => "legal basis",
                };
                writeln!(
                    f,
                    "decision: permit under flow `{flow_id}` on {kind} `{}`",
                    basis.id
                )?;
                let pass = plan
                    .allowed()
                    .iter()
                    .map(|p| {
                        if p.scrub {
                            format!("{} (scrubbed)", p.path)
                        } else if p.sensitivity.needs_cover() {
                            format!("{} ({})", p.path, p.sensitivity)
                        } else {
                            p.path.to_string()
                        }
                    })
                    .collect::<Vec<_>>();
                let cut = plan
                    .withheld()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>();
                writeln!(f, "fields that pass: {}", list(&pass))?;
                writeln!(f, "fields cut: {}", list(&cut))?;
            }
            Decision::Deny { reasons, .. } => {
                writeln!(f, "decision: deny")?;
                for reason in reasons {
                    writeln!(f, "  {reason}")?;
                }
                if self.flow.is_some() {
                    writeln!(
                        f,
                        "fields that would pass if permitted: {}",
                        list(&self.would_pass)
                    )?;
                    writeln!(f, "fields cut even then: {}", list(&self.would_cut))?;
                } else {
                    writeln!(f, "fields that pass: none")?;
                }
            }
        }
        write!(f, "policy version {}", self.decision.policy_version())
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
