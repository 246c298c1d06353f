//! The second stage: raw items → the typed, cross-checked [`PolicyBundle`]. Every check that fails
//! is recorded in the sink and compilation goes on, so that one run reports every problem; the
//! caller hands out the bundle only if the sink stayed empty.

use std::collections::HashMap;

use toml::Spanned;

use super::PolicyBundle;
use super::condition::Condition;
use super::error::Sink;
use super::file::{
    self, RawBasis, RawCategory, RawConsentBand, RawDepartment, RawFlow, RawLegalBasis, RawPurpose,
    SourceFile, backticked,
};
use super::model::{
    AgeRange, BasisPlans, BasisRule, Category, ConsentBand, ConsentRules, Department, DeptKind,
    Field, FieldPath, FieldType, Flow, GiverRole, LegalBasis, Mode, NeedToKnow, Purpose, RuleBasis,
    Sensitivity, SpecialKind,
};
use super::plan::RedactionPlan;
use crate::auth::Role;

/// Where an item was defined, for "first defined at" messages.
#[derive(Debug, Clone)]
struct At {
    file: String,
    line: usize,
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Ids seen so far of one kind of item, to report duplicates.
#[derive(Default)]
struct Seen(HashMap<String, At>);

impl Seen {
    /// Records `id`; false (and an error) if it was seen before.
    fn first(
        &mut self,
        what: &str,
        id: &str,
        f: &SourceFile,
        line: usize,
        sink: &mut Sink,
    ) -> bool {
        if let Some(at) = self.0.get(id) {
            sink.push(
                &f.rel,
                Some(line),
                format!("duplicate {what} id `{id}` (first defined at {at})"),
            );
            return false;
        }
        check_id(id, what, f, line, sink);
        self.0.insert(
            id.to_owned(),
            At {
                file: f.rel.clone(),
                line,
            },
        );
        true
    }
}

/// Parses and validates every file, recording every problem; the bundle is only meaningful if
/// the sink stayed empty.
pub(crate) fn compile(files: &[SourceFile], version: String, sink: &mut Sink) -> PolicyBundle {
    let find = |rel: &str| files.iter().find(|f| f.rel == rel);
    let in_dir = |dir: &str| {
        let prefix = format!("{dir}/");
        files.iter().filter(move |f| f.rel.starts_with(&prefix))
    };

    let departments = find(file::DEPARTMENTS)
        .map(|f| departments(f, sink))
        .unwrap_or_default();
    let purposes = find(file::PURPOSES)
        .map(|f| purposes(f, sink))
        .unwrap_or_default();
    let legal_bases = find(file::LEGAL_BASES)
        .map(|f| legal_bases(f, sink))
        .unwrap_or_default();
    let consent_rules = find(file::CONSENT_RULES)
        .map(|f| consent_rules(f, sink))
        .unwrap_or(ConsentRules { bands: Vec::new() });

    let mut seen = Seen::default();
    let mut notice_kinds: HashMap<String, At> = HashMap::new();
    let mut categories = Vec::new();
    for f in in_dir(file::CATEGORIES_DIR) {
        if let Some(c) = category(f, &mut seen, &mut notice_kinds, sink) {
            categories.push(c);
        }
    }

    let category_index = index(&categories, |c| &c.id);
    let purpose_index = index(&purposes, |p| &p.id);
    let basis_index = index(&legal_bases, |b| &b.id);
    let ctx = Ctx {
        categories: &categories,
        category_index: &category_index,
        purpose_index: &purpose_index,
        legal_bases: &legal_bases,
        basis_index: &basis_index,
    };
    let mut seen = Seen::default();
    let mut flows = Vec::new();
    for f in in_dir(file::FLOWS_DIR) {
        flows.extend(flows_of(f, &ctx, &mut seen, sink));
    }

    // INVARIANT: at most one flow per (source kind, recipient kind, category, purpose, mode), so
    // that a request matches one flow or none and the index needs no scan.
    let mut flow_index: HashMap<(DeptKind, DeptKind, u32, u32), [Option<u32>; 2]> = HashMap::new();
    for (i, flow) in flows.iter().enumerate() {
        let (Some(&c), Some(&p)) = (
            category_index.get(&flow.category),
            purpose_index.get(&flow.purpose),
        ) else {
            continue;
        };
        for &from in &flow.from {
            let slot = &mut flow_index.entry((from, flow.to, c, p)).or_default()[flow.mode.slot()];
            match slot {
                Some(other) => {
                    let other = &flows[*other as usize];
                    sink.push(
                        &flow.file,
                        Some(flow.line),
                        format!(
                            "flow `{}` overlaps flow `{}` ({}:{}): both carry `{}` from `{from}` to `{}` for `{}` as {}; one exchange must have one rule",
                            flow.id, other.id, other.file, other.line, flow.category, flow.to, flow.purpose, flow.mode
                        ),
                    );
                }
                None => *slot = Some(i as u32),
            }
        }
    }

    let mut routes: HashMap<(DeptKind, u32), Vec<(u32, u32)>> = HashMap::new();
    for (d, dept) in departments.iter().enumerate() {
        for (i, flow) in flows.iter().enumerate() {
            if flow.mode != Mode::Notice || flow.to != dept.kind {
                continue;
            }
            let Some(&c) = category_index.get(&flow.category) else {
                continue;
            };
            for &from in &flow.from {
                routes
                    .entry((from, c))
                    .or_default()
                    .push((d as u32, i as u32));
            }
        }
    }
    let notice_kinds = categories
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.notice_kind.clone().map(|k| (k, i as u32)))
        .collect();

    PolicyBundle {
        version: version.into(),
        department_index: index(&departments, |d| &d.id),
        departments,
        category_index,
        categories,
        purpose_index,
        purposes,
        basis_index,
        legal_bases,
        consent_rules,
        flow_ids: index(&flows, |f| &f.id),
        flows,
        flow_index,
        routes,
        notice_kinds,
    }
}

fn index<T>(items: &[T], id: impl Fn(&T) -> &String) -> HashMap<String, u32> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| (id(item).clone(), i as u32))
        .collect()
}

/// Ids are lowercase ASCII letters, digits and `-`, `_`, `.`: safe in URLs, logs and file names.
fn check_id(id: &str, what: &str, f: &SourceFile, line: usize, sink: &mut Sink) {
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if !ok {
        sink.push(
            &f.rel,
            Some(line),
            format!("invalid {what} id `{id}`: use lowercase letters, digits, `-`, `_` and `.`"),
        );
    }
}

/// Parses a department kind, or records an error.
fn kind(f: &SourceFile, raw: &Spanned<String>, sink: &mut Sink) -> Option<DeptKind> {
    let kind = DeptKind::parse(raw.get_ref());
    if kind.is_none() {
        sink.push(
            &f.rel,
            Some(f.line_of(&raw.span())),
            format!(
                "unknown department kind `{}`: expected one of {}",
                raw.get_ref(),
                backticked(&DeptKind::ALL.map(DeptKind::as_str))
            ),
        );
    }
    kind
}

// ------------------------------------------------------------------------------------------------
// departments.toml, purposes.toml, legal_bases.toml, consent_rules.toml
// ------------------------------------------------------------------------------------------------

fn departments(f: &SourceFile, sink: &mut Sink) -> Vec<Department> {
    let mut seen = Seen::default();
    let mut out = Vec::new();
    for item in file::parse_items::<RawDepartment>(f, "department", sink) {
        let d = item.into_inner();
        let line = f.line_of(&d.id.span());
        let kind = kind(f, &d.kind, sink);
        if seen.first("department", d.id.get_ref(), f, line, sink)
            && let Some(kind) = kind
        {
            out.push(Department {
                id: d.id.into_inner(),
                name: d.name,
                kind,
                description: d.description,
            });
        }
    }
    out
}

fn purposes(f: &SourceFile, sink: &mut Sink) -> Vec<Purpose> {
    let mut seen = Seen::default();
    let mut out = Vec::new();
    for item in file::parse_items::<RawPurpose>(f, "purpose", sink) {
        let p = item.into_inner();
        let line = f.line_of(&p.id.span());
        let owner = p.owner.as_ref().map(|o| kind(f, o, sink));
        if let Some(under) = &p.subject_under
            && *under.get_ref() == 0
        {
            sink.push(
                &f.rel,
                Some(f.line_of(&under.span())),
                "`subject_under = 0` would leave the purpose without any subject",
            );
        }
        if seen.first("purpose", p.id.get_ref(), f, line, sink) && owner != Some(None) {
            out.push(Purpose {
                id: p.id.into_inner(),
                name: p.name,
                description: p.description,
                owner: owner.flatten(),
                subject_under: p.subject_under.map(Spanned::into_inner),
            });
        }
    }
    out
}

fn legal_bases(f: &SourceFile, sink: &mut Sink) -> Vec<LegalBasis> {
    let mut seen = Seen::default();
    let mut out = Vec::new();
    for item in file::parse_items::<RawLegalBasis>(f, "basis", sink) {
        let b = item.into_inner();
        let line = f.line_of(&b.id.span());
        if !*b.verified.get_ref() && b.verification_note.as_deref().is_none_or(str::is_empty) {
            sink.push(
                &f.rel,
                Some(f.line_of(&b.verified.span())),
                format!(
                    "legal basis `{}` is not verified: say why, and what a lawyer must confirm, in `verification_note`",
                    b.id.get_ref()
                ),
            );
        }
        if b.source.trim().is_empty() || b.citation.trim().is_empty() {
            sink.push(
                &f.rel,
                Some(line),
                format!(
                    "legal basis `{}` must cite its law in `citation` and say where from in `source`",
                    b.id.get_ref()
                ),
            );
        }
        if seen.first("legal basis", b.id.get_ref(), f, line, sink) {
            out.push(LegalBasis {
                id: b.id.into_inner(),
                title: b.title,
                citation: b.citation,
                old_citation: b.old_citation,
                permits: b.permits,
                conditions: b.conditions,
                overrides_confidentiality: b.overrides_confidentiality,
                special_categories: b.special_categories,
                criminal_offences: b.criminal_offences,
                verified: b.verified.into_inner(),
                verification_note: b.verification_note,
                source: b.source,
            });
        }
    }
    out
}

fn givers(f: &SourceFile, raw: &[Spanned<String>], key: &str, sink: &mut Sink) -> Vec<GiverRole> {
    let mut out = Vec::new();
    for g in raw {
        match GiverRole::parse(g.get_ref()) {
            Some(role) if !out.contains(&role) => out.push(role),
            Some(_) => {}
            None => sink.push(
                &f.rel,
                Some(f.line_of(&g.span())),
                format!(
                    "unknown consent giver `{}` in `{key}`: expected {}",
                    g.get_ref(),
                    backticked(&GiverRole::ALL.map(GiverRole::as_str))
                ),
            ),
        }
    }
    out
}

fn consent_rules(f: &SourceFile, sink: &mut Sink) -> ConsentRules {
    let errors_before = sink.len();
    let raw = file::parse_items::<RawConsentBand>(f, "band", sink);
    let parsed = raw.len();
    let file_parsed = sink.len() == errors_before;
    let mut bands: Vec<(usize, ConsentBand)> = Vec::new();
    for item in raw {
        let line = f.line_of(&item.span());
        let b = item.into_inner();
        let may_give = givers(f, &b.may_give, "may_give", sink);
        let required = givers(f, &b.required, "required", sink);
        if required.is_empty() {
            sink.push(
                &f.rel,
                Some(line),
                "a consent band must say whose consent is `required`",
            );
        }
        for r in &required {
            if !may_give.contains(r) {
                sink.push(
                    &f.rel,
                    Some(line),
                    format!("`required` lists `{r}`, who is not in `may_give`"),
                );
            }
        }
        if let Some(to) = &b.to
            && to.get_ref() < b.from.get_ref()
        {
            sink.push(
                &f.rel,
                Some(f.line_of(&to.span())),
                format!(
                    "empty age band: `to = {}` is below `from = {}`",
                    to.get_ref(),
                    b.from.get_ref()
                ),
            );
        }
        bands.push((
            line,
            ConsentBand {
                from: b.from.into_inner(),
                to: b.to.map(Spanned::into_inner),
                may_give,
                required,
                note: b.note,
            },
        ));
    }
    bands.sort_by_key(|(_, b)| b.from);
    // INVARIANT: the bands tile the ages 0.. without gap or overlap, so every age has one rule.
    let mut next = Some(0u32);
    for (line, band) in &bands {
        match next {
            Some(n) if band.from == n => {}
            Some(n) => sink.push(
                &f.rel,
                Some(*line),
                format!(
                    "consent band from age `{}` leaves a gap or overlap: the previous band ends before age `{n}`",
                    band.from
                ),
            ),
            None => sink.push(
                &f.rel,
                Some(*line),
                format!(
                    "consent band from age `{}` follows a band with no upper end",
                    band.from
                ),
            ),
        }
        next = band.to.map(|t| t.saturating_add(1));
    }
    if parsed > 0 && bands.len() == parsed && next.is_some() {
        sink.push(
            &f.rel,
            bands.last().map(|(line, _)| *line),
            "the last consent band must have no `to`: every age needs a rule",
        );
    }
    if parsed == 0 && file_parsed {
        sink.push(
            &f.rel,
            None,
            "no consent bands: write at least one `[[band]]`",
        );
    }
    ConsentRules {
        bands: bands.into_iter().map(|(_, b)| b).collect(),
    }
}

// ------------------------------------------------------------------------------------------------
// categories/*.toml
// ------------------------------------------------------------------------------------------------

fn category(
    f: &SourceFile,
    seen: &mut Seen,
    notice_kinds: &mut HashMap<String, At>,
    sink: &mut Sink,
) -> Option<Category> {
    let c = file::parse_whole::<RawCategory>(f, sink)?;
    let line = f.line_of(&c.id.span());
    let is_new = seen.first("category", c.id.get_ref(), f, line, sink);

    if let Some(kind) = &c.notice_kind {
        let at = At {
            file: f.rel.clone(),
            line: f.line_of(&kind.span()),
        };
        if let Some(first) = notice_kinds.get(kind.get_ref()) {
            sink.push(
                &f.rel,
                Some(at.line),
                format!(
                    "duplicate notice kind `{}` (first used at {first})",
                    kind.get_ref()
                ),
            );
        } else {
            notice_kinds.insert(kind.get_ref().clone(), at);
        }
    }

    let mut fields: Vec<Field> = Vec::new();
    let mut lines: Vec<usize> = Vec::new();
    for raw in c.field {
        let raw = raw.into_inner();
        let line = f.line_of(&raw.path.span());
        if let Some(field) = field(f, raw, sink) {
            if fields.iter().any(|g| g.path == field.path) {
                sink.push(
                    &f.rel,
                    Some(line),
                    format!(
                        "duplicate field `{}` in category `{}`",
                        field.path,
                        c.id.get_ref()
                    ),
                );
                continue;
            }
            fields.push(field);
            lines.push(line);
        }
    }
    for (a, line) in fields.iter().zip(&lines) {
        for b in &fields {
            if a.path != b.path && a.path.covers(&b.path) {
                sink.push(
                    &f.rel,
                    Some(*line),
                    format!(
                        "field `{}` is also the object of `{}`: declare only the leaves, a flow may name the object",
                        a.path, b.path
                    ),
                );
            }
        }
    }
    if fields.is_empty() {
        sink.push(
            &f.rel,
            Some(line),
            format!("category `{}` declares no fields", c.id.get_ref()),
        );
    }
    is_new.then(|| Category {
        id: c.id.into_inner(),
        name: c.name,
        description: c.description,
        notice_kind: c.notice_kind.map(Spanned::into_inner),
        fields,
    })
}

fn field(f: &SourceFile, raw: file::RawField, sink: &mut Sink) -> Option<Field> {
    let path_line = f.line_of(&raw.path.span());
    let path = FieldPath::parse(raw.path.get_ref());
    if path.is_none() {
        sink.push(
            &f.rel,
            Some(path_line),
            format!(
                "invalid field path `{}`: use lowercase names joined by `.`, a list marked `[]` (e.g. `measures[].type`)",
                raw.path.get_ref()
            ),
        );
    }
    let sensitivity = Sensitivity::parse(raw.sensitivity.get_ref());
    if sensitivity.is_none() {
        sink.push(
            &f.rel,
            Some(f.line_of(&raw.sensitivity.span())),
            format!(
                "unknown sensitivity `{}`: expected one of {}",
                raw.sensitivity.get_ref(),
                backticked(&Sensitivity::ALL.map(Sensitivity::as_str))
            ),
        );
    }
    let special = match (&raw.special, sensitivity) {
        (Some(kind), Some(Sensitivity::Special)) => {
            let parsed = SpecialKind::parse(kind.get_ref());
            if parsed.is_none() {
                sink.push(
                    &f.rel,
                    Some(f.line_of(&kind.span())),
                    format!(
                        "unknown special category `{}`: expected one of {}",
                        kind.get_ref(),
                        backticked(&SpecialKind::ALL.map(SpecialKind::as_str))
                    ),
                );
            }
            parsed
        }
        (None, Some(Sensitivity::Special)) => {
            sink.push(
                &f.rel,
                Some(path_line),
                format!(
                    "special field `{}` must say which special category it is, e.g. `special = \"health\"`",
                    raw.path.get_ref()
                ),
            );
            None
        }
        (Some(kind), Some(other)) => {
            sink.push(
                &f.rel,
                Some(f.line_of(&kind.span())),
                format!(
                    "`special = \"{}\"` on field `{}` of sensitivity `{other}`: only `special` fields have one",
                    kind.get_ref(),
                    raw.path.get_ref()
                ),
            );
            None
        }
        _ => None,
    };
    let ty = raw.ty.as_ref().and_then(|t| {
        let parsed = FieldType::parse(t.get_ref());
        if parsed.is_none() {
            sink.push(
                &f.rel,
                Some(f.line_of(&t.span())),
                format!(
                    "unknown field type `{}`: expected one of {}",
                    t.get_ref(),
                    backticked(&FieldType::ALL.map(FieldType::as_str))
                ),
            );
        }
        parsed
    });
    if raw.values.is_some() && !matches!(ty, None | Some(FieldType::String)) {
        sink.push(
            &f.rel,
            Some(path_line),
            format!(
                "`values` on field `{}` needs `type = \"string\"`",
                raw.path.get_ref()
            ),
        );
    }
    Some(Field {
        path: path?,
        sensitivity: sensitivity?,
        special,
        ty: ty.or(raw.values.as_ref().map(|_| FieldType::String)),
        values: raw.values.unwrap_or_default(),
        description: raw.description,
    })
}

// ------------------------------------------------------------------------------------------------
// flows/*.toml
// ------------------------------------------------------------------------------------------------

struct Ctx<'a> {
    categories: &'a [Category],
    category_index: &'a HashMap<String, u32>,
    purpose_index: &'a HashMap<String, u32>,
    legal_bases: &'a [LegalBasis],
    basis_index: &'a HashMap<String, u32>,
}

fn flows_of(f: &SourceFile, ctx: &Ctx<'_>, seen: &mut Seen, sink: &mut Sink) -> Vec<Flow> {
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
    if leaves.is_empty() {
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
            sink.push(
                &f.rel,
                Some(f.line_of(&raw.category.span())),
                format!("unknown category `{}`", raw.category.get_ref()),
            );
            None
        }
    };
    if !ctx.purpose_index.contains_key(raw.purpose.get_ref()) {
        sink.push(
            &f.rel,
            Some(f.line_of(&raw.purpose.span())),
            format!("unknown purpose `{}`", raw.purpose.get_ref()),
        );
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
        for leaf in resolve(f, raw_field, category, sink) {
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
        for leaf in resolve(f, raw_field, category, sink) {
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
                sink.push(
                    &f.rel,
                    Some(f.line_of(&id.span())),
                    format!("unknown legal basis `{}`", id.get_ref()),
                );
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
        for leaf in resolve(f, raw_field, category, sink) {
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
    use super::condition::Literal;
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
