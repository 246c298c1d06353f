//! `flows/*.toml`: each flow checked against the categories, purposes and legal bases, its field
//! lists resolved to the category's leaves, and its redaction plans built.

use toml::Spanned;

use super::{Ctx, Seen, kind};
use crate::auth::Role;
use crate::policy::condition::{Condition, Literal};
use crate::policy::error::Sink;
use crate::policy::file::{self, RawBasis, RawFlow, SourceFile, backticked};
use crate::policy::model::{
    AgeRange, BasisPlans, BasisRule, Category, DeptKind, Field, FieldPath, FieldType, Flow, Mode,
    NeedToKnow, RuleBasis, Sensitivity, SpecialKind,
};
use crate::policy::plan::RedactionPlan;

pub(super) fn flows_of(
    f: &SourceFile,
    ctx: &Ctx<'_>,
    seen: &mut Seen,
    sink: &mut Sink,
) -> Vec<Flow> {
    file::parse_items::<RawFlow>(f, "flow", sink)
        .into_iter()
        .filter_map(|item| {
            let line = f.line_of(&item.span());
            flow(f, line, item.into_inner(), ctx, seen, sink)
        })
        .collect()
}

/// The leaves of `category` that a path written in a flow names (itself, or all under an object).
fn resolve(
    f: &SourceFile,
    raw: &Spanned<String>,
    category: &Category,
    ctx: &Ctx<'_>,
    sink: &mut Sink,
) -> Vec<FieldPath> {
    let line = Some(f.line_of(&raw.span()));
    let Some(path) = FieldPath::parse(raw.get_ref()) else {
        sink.push(
            &f.rel,
            line,
            format!("invalid field path `{}`", raw.get_ref()),
        );
        return Vec::new();
    };
    let leaves: Vec<FieldPath> = category
        .fields
        .iter()
        .filter(|field| path.covers(&field.path))
        .map(|field| field.path.clone())
        .collect();
    if leaves.is_empty() && !broken(ctx, category, raw.get_ref()) {
        sink.push(
            &f.rel,
            line,
            format!(
                "unknown field `{}`: category `{}` has no such field",
                raw.get_ref(),
                category.id
            ),
        );
    }
    leaves
}

fn flow(
    f: &SourceFile,
    line: usize,
    raw: RawFlow,
    ctx: &Ctx<'_>,
    seen: &mut Seen,
    sink: &mut Sink,
) -> Option<Flow> {
    let id = raw.id.get_ref().clone();
    let is_new = seen.first("flow", &id, f, f.line_of(&raw.id.span()), sink);
    let mut ok = is_new;

    let mut from = Vec::new();
    for k in &raw.from {
        match kind(f, k, sink) {
            Some(DeptKind::Oversight) => {
                oversight(f, k, sink);
                ok = false;
            }
            Some(k) if !from.contains(&k) => from.push(k),
            Some(_) => {}
            None => ok = false,
        }
    }
    if raw.from.is_empty() {
        sink.push(
            &f.rel,
            Some(line),
            format!("flow `{id}` has an empty `from`"),
        );
        ok = false;
    }
    let to = kind(f, &raw.to, sink);
    if to == Some(DeptKind::Oversight) {
        oversight(f, &raw.to, sink);
        ok = false;
    }

    let category = match ctx.category_index.get(raw.category.get_ref()) {
        Some(&i) => ctx.categories.get(i as usize),
        None => {
            if ctx.complete.categories {
                sink.push(
                    &f.rel,
                    Some(f.line_of(&raw.category.span())),
                    format!("unknown category `{}`", raw.category.get_ref()),
                );
            }
            None
        }
    };
    if !ctx.purpose_index.contains_key(raw.purpose.get_ref()) {
        if ctx.complete.purposes {
            sink.push(
                &f.rel,
                Some(f.line_of(&raw.purpose.span())),
                format!("unknown purpose `{}`", raw.purpose.get_ref()),
            );
        }
        ok = false;
    }
    let mode = Mode::parse(raw.mode.get_ref());
    if mode.is_none() {
        sink.push(
            &f.rel,
            Some(f.line_of(&raw.mode.span())),
            format!(
                "unknown mode `{}`: expected `pull` or `notice`",
                raw.mode.get_ref()
            ),
        );
    }
    let mut roles = Vec::new();
    for r in &raw.roles {
        match Role::parse(r.get_ref()) {
            Some(role) if !roles.contains(&role) => roles.push(role),
            Some(_) => {}
            None => {
                sink.push(
                    &f.rel,
                    Some(f.line_of(&r.span())),
                    format!(
                        "unknown role `{}`: expected one of {}",
                        r.get_ref(),
                        backticked(&Role::ALL.map(Role::as_str))
                    ),
                );
                ok = false;
            }
        }
    }
    if raw.roles.is_empty() {
        sink.push(
            &f.rel,
            Some(line),
            format!("flow `{id}` lets no role ask: `roles` is empty"),
        );
        ok = false;
    }
    let need_to_know = NeedToKnow::parse(raw.need_to_know.get_ref());
    if need_to_know.is_none() {
        sink.push(
            &f.rel,
            Some(f.line_of(&raw.need_to_know.span())),
            format!(
                "unknown need-to-know rule `{}`: expected `assigned_contact_person` or `role`",
                raw.need_to_know.get_ref()
            ),
        );
    }
    if raw.basis.is_empty() {
        sink.push(
            &f.rel,
            Some(line),
            format!("flow `{id}` rests on no basis: add a `[[flow.basis]]`"),
        );
        ok = false;
    }

    let category = category?;
    let mut fields: Vec<FieldPath> = Vec::new();
    for raw_field in &raw.fields {
        for leaf in resolve(f, raw_field, category, ctx, sink) {
            if let Some(field) = category.fields.iter().find(|x| x.path == leaf)
                && field.sensitivity.needs_cover()
            {
                sink.push(&f.rel, Some(f.line_of(&raw_field.span())), uncovered(field));
                ok = false;
                continue;
            }
            if !fields.contains(&leaf) {
                fields.push(leaf);
            }
        }
    }
    let mut never: Vec<FieldPath> = Vec::new();
    for raw_field in &raw.never {
        for leaf in resolve(f, raw_field, category, ctx, sink) {
            if fields.contains(&leaf) {
                sink.push(
                    &f.rel,
                    Some(f.line_of(&raw_field.span())),
                    format!("field `{leaf}` is both in `fields` and in `never`"),
                );
                ok = false;
            }
            if !never.contains(&leaf) {
                never.push(leaf);
            }
        }
    }

    let mut bases = Vec::new();
    for raw_basis in raw.basis {
        let line = f.line_of(&raw_basis.span());
        match basis(
            f,
            line,
            raw_basis.into_inner(),
            mode,
            category,
            &never,
            ctx,
            sink,
        ) {
            Some(b) => {
                if bases.iter().any(|other: &BasisRule| other.basis == b.basis) {
                    sink.push(
                        &f.rel,
                        Some(line),
                        format!("flow `{id}` names the same basis twice"),
                    );
                    ok = false;
                }
                bases.push(b);
            }
            None => ok = false,
        }
    }

    let (Some(to), Some(mode), Some(need_to_know), true) = (to, mode, need_to_know, ok) else {
        return None;
    };
    let plans = bases
        .iter()
        .map(|b| {
            let ordinary = RedactionPlan::build(category, |p| fields.contains(p));
            let with_special = RedactionPlan::build(category, |p| {
                fields.contains(p) || b.special_fields.contains(p)
            });
            match b.basis {
                // A legal basis that lists special fields covers them (checked above): one plan.
                RuleBasis::Legal(_) => BasisPlans {
                    ordinary: with_special.clone(),
                    with_special,
                },
                RuleBasis::Consent => BasisPlans {
                    ordinary,
                    with_special,
                },
            }
        })
        .collect();
    Some(Flow {
        id,
        name: raw.name,
        description: raw.description,
        from,
        to,
        category: category.id.clone(),
        purpose: raw.purpose.into_inner(),
        mode,
        roles,
        need_to_know,
        fields,
        never,
        bases,
        file: f.rel.clone(),
        line,
        plans,
    })
}

fn oversight(f: &SourceFile, raw: &Spanned<String>, sink: &mut Sink) {
    sink.push(
        &f.rel,
        Some(f.line_of(&raw.span())),
        format!(
            "department kind `{}` neither sends nor receives personal data: the DPO reads the audit trail",
            raw.get_ref()
        ),
    );
}

fn uncovered(field: &Field) -> String {
    match field.sensitivity {
        Sensitivity::Criminal => format!(
            "field `{}` concerns criminal offences and may pass only under a legal basis that covers them: list it in the `special_fields` of such a `[[flow.basis]]`, or in `never`",
            field.path
        ),
        _ => format!(
            "field `{}` is special ({}) and may pass only under a basis that covers it: list it in a `[[flow.basis]]`'s `special_fields`, not in `fields`",
            field.path,
            field.special.map_or("special", SpecialKind::as_str)
        ),
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
fn basis(
    f: &SourceFile,
    line: usize,
    raw: RawBasis,
    mode: Option<Mode>,
    category: &Category,
    never: &[FieldPath],
    ctx: &Ctx<'_>,
    sink: &mut Sink,
) -> Option<BasisRule> {
    let mut ok = true;
    let (rule, legal) = match (&raw.consent, &raw.legal) {
        (Some(c), None) if *c.get_ref() => (Some(RuleBasis::Consent), None),
        (None, Some(id)) => match ctx.basis_index.get(id.get_ref()) {
            Some(&i) => (
                Some(RuleBasis::Legal(id.get_ref().clone())),
                ctx.legal_bases.get(i as usize),
            ),
            None => {
                if ctx.complete.bases {
                    sink.push(
                        &f.rel,
                        Some(f.line_of(&id.span())),
                        format!("unknown legal basis `{}`", id.get_ref()),
                    );
                }
                (None, None)
            }
        },
        _ => {
            sink.push(
                &f.rel,
                Some(line),
                "a `[[flow.basis]]` is either `consent = true` or `legal = \"<legal basis id>\"`",
            );
            (None, None)
        }
    };

    let subject_age = match &raw.subject_age {
        Some(age) => {
            let a = age.get_ref();
            let range = AgeRange {
                from: a.from,
                under: a.under,
            };
            if let (Some(from), Some(under)) = (a.from, a.under)
                && from >= under
            {
                sink.push(
                    &f.rel,
                    Some(f.line_of(&age.span())),
                    format!("empty age range: `from = {from}` is not below `under = {under}`"),
                );
                ok = false;
            }
            range
        }
        None => AgeRange::default(),
    };

    let mut when = Vec::new();
    for text in &raw.when {
        let at = Some(f.line_of(&text.span()));
        let cond = match Condition::parse(text.get_ref()) {
            Ok(c) => c,
            Err(why) => {
                sink.push(
                    &f.rel,
                    at,
                    format!("invalid condition `{}`: {why}", text.get_ref()),
                );
                ok = false;
                continue;
            }
        };
        if mode == Some(Mode::Pull) {
            sink.push(
                &f.rel,
                at,
                format!(
                    "condition `{}` needs a payload, and only notice flows have one",
                    text.get_ref()
                ),
            );
            ok = false;
        }
        let Some(field) = category.field(cond.field.as_str()) else {
            if broken(ctx, category, cond.field.as_str()) {
                ok = false;
                continue;
            }
            sink.push(
                &f.rel,
                at,
                format!(
                    "condition on unknown field `{}`: category `{}` has no such field",
                    cond.field, category.id
                ),
            );
            ok = false;
            continue;
        };
        if let Some(why) = mismatch(&cond, field) {
            sink.push(&f.rel, at, format!("condition `{}` {why}", text.get_ref()));
            ok = false;
            continue;
        }
        when.push(cond);
    }

    let mut special_fields = Vec::new();
    for raw_field in &raw.special_fields {
        let at = Some(f.line_of(&raw_field.span()));
        for leaf in resolve(f, raw_field, category, ctx, sink) {
            let Some(field) = category.fields.iter().find(|x| x.path == leaf) else {
                continue;
            };
            let problem = match (&rule, field.sensitivity) {
                (_, s) if !s.needs_cover() => Some(format!(
                    "field `{leaf}` is `{s}`, not special or criminal: list it in the flow's `fields`"
                )),
                (_, _) if never.contains(&leaf) => Some(format!(
                    "field `{leaf}` is both in `special_fields` and in `never`"
                )),
                (Some(RuleBasis::Consent), Sensitivity::Criminal) => Some(format!(
                    "field `{leaf}` concerns criminal offences: explicit consent does not cover it here, only a legal basis with `criminal_offences = true`"
                )),
                (Some(RuleBasis::Legal(id)), Sensitivity::Special)
                    if !legal.is_some_and(|b| b.special_categories) =>
                {
                    Some(format!(
                        "legal basis `{id}` does not cover special-category data (`special_categories` is not set in legal_bases.toml), so field `{leaf}` cannot pass under it"
                    ))
                }
                (Some(RuleBasis::Legal(id)), Sensitivity::Criminal)
                    if !legal.is_some_and(|b| b.criminal_offences) =>
                {
                    Some(format!(
                        "legal basis `{id}` does not cover criminal offences (`criminal_offences` is not set in legal_bases.toml), so field `{leaf}` cannot pass under it"
                    ))
                }
                _ => None,
            };
            match problem {
                Some(message) => {
                    sink.push(&f.rel, at, message);
                    ok = false;
                }
                None if !special_fields.contains(&leaf) => special_fields.push(leaf),
                None => {}
            }
        }
    }

    let rule = rule?;
    ok.then_some(BasisRule {
        basis: rule,
        subject_age,
        when,
        special_fields,
        line,
    })
}

/// Why a condition cannot be evaluated against the field it names, if it cannot.
fn mismatch(cond: &Condition, field: &Field) -> Option<String> {
    if field.path.through_list() {
        return Some(format!(
            "names a field inside a list, `{}`; a condition needs one value",
            field.path
        ));
    }
    let want = match &cond.value {
        Literal::Number(_) => FieldType::Number,
        Literal::Text(_) => FieldType::String,
        Literal::Bool(_) => FieldType::Bool,
    };
    match field.ty {
        Some(ty) if ty != want && !(ty == FieldType::Date && want == FieldType::String) => {
            Some(format!(
                "compares `{}`, a {}, with a {}",
                field.path,
                ty.as_str(),
                want.as_str()
            ))
        }
        _ => match &cond.value {
            Literal::Text(v) if !field.values.is_empty() && !field.values.contains(v) => {
                Some(format!(
                    "compares `{}` with `{v}`, which is not one of its values {}",
                    field.path,
                    backticked(&field.values)
                ))
            }
            _ => None,
        },
    }
}

/// Whether `written` may name a field of `category` that was dropped for a problem already reported.
fn broken(ctx: &Ctx<'_>, category: &Category, written: &str) -> bool {
    ctx.broken_fields.get(&category.id).is_some_and(|paths| {
        paths
            .iter()
            .any(|p| p.starts_with(written) || written.starts_with(p.as_str()))
    })
}
