//! The second stage: raw items → the typed, cross-checked [`PolicyBundle`]. Every check that fails
//! is recorded in the sink and compilation goes on, so that one run reports every problem; the
//! caller hands out the bundle only if the sink stayed empty.

mod category;
mod flow;

use std::collections::HashMap;

use toml::Spanned;

use super::PolicyBundle;
use super::error::Sink;
use super::file::{
    self, RawConsentBand, RawDepartment, RawLegalBasis, RawPurpose, SourceFile, backticked,
};
use super::model::{
    Category, ConsentBand, ConsentRules, Department, DeptKind, GiverRole, LegalBasis, Mode, Purpose,
};

/// Where an item was defined, for "first defined at" messages.
#[derive(Debug, Clone)]
pub(super) struct At {
    pub(super) file: String,
    pub(super) line: usize,
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Ids seen so far of one kind of item, to report duplicates.
#[derive(Default)]
pub(super) struct Seen(HashMap<String, At>);

impl Seen {
    /// Records `id`; false (and an error) if it was seen before.
    pub(super) fn first(
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

    // A definition file that is missing or has problems may define ids we cannot see; references
    // to such ids are then not reported as unknown, so that one mistake does not cascade.
    let mut complete = Complete::default();
    let departments = find(file::DEPARTMENTS)
        .map(|f| departments(f, sink))
        .unwrap_or_default();
    let purposes = find(file::PURPOSES)
        .map(|f| purposes(f, &mut complete.purposes, sink))
        .unwrap_or_default();
    let legal_bases = find(file::LEGAL_BASES)
        .map(|f| legal_bases(f, &mut complete.bases, sink))
        .unwrap_or_default();
    let consent_rules = find(file::CONSENT_RULES)
        .map(|f| consent_rules(f, sink))
        .unwrap_or(ConsentRules { bands: Vec::new() });

    let mut seen = Seen::default();
    let mut notice_kinds: HashMap<String, At> = HashMap::new();
    let mut categories = Vec::new();
    let mut broken_fields = HashMap::new();
    complete.categories = true;
    for f in in_dir(file::CATEGORIES_DIR) {
        match category::category(f, &mut seen, &mut notice_kinds, &mut broken_fields, sink) {
            Ok(Some(c)) => categories.push(c),
            Ok(None) => {}
            Err(category::Unreadable) => complete.categories = false,
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
        complete,
        broken_fields: &broken_fields,
    };
    let mut seen = Seen::default();
    let mut flows = Vec::new();
    for f in in_dir(file::FLOWS_DIR) {
        flows.extend(flow::flows_of(f, &ctx, &mut seen, sink));
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
pub(super) fn check_id(id: &str, what: &str, f: &SourceFile, line: usize, sink: &mut Sink) {
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
pub(super) fn kind(f: &SourceFile, raw: &Spanned<String>, sink: &mut Sink) -> Option<DeptKind> {
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

/// Sets `complete` if every item of the file was read (so every id it defines is known).
fn purposes(f: &SourceFile, complete: &mut bool, sink: &mut Sink) -> Vec<Purpose> {
    let mut seen = Seen::default();
    let mut out = Vec::new();
    let before = sink.len();
    let items = file::parse_items::<RawPurpose>(f, "purpose", sink);
    *complete = sink.len() == before;
    for item in items {
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
        if seen.first("purpose", p.id.get_ref(), f, line, sink) {
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

/// Sets `complete` if every item of the file was read (so every id it defines is known).
fn legal_bases(f: &SourceFile, complete: &mut bool, sink: &mut Sink) -> Vec<LegalBasis> {
    let mut seen = Seen::default();
    let mut out = Vec::new();
    let before = sink.len();
    let items = file::parse_items::<RawLegalBasis>(f, "basis", sink);
    *complete = sink.len() == before;
    for item in items {
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

/// Which definition files were read without problems (see `compile`).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Complete {
    pub(super) purposes: bool,
    pub(super) bases: bool,
    pub(super) categories: bool,
}

/// What the flows are checked against.
pub(super) struct Ctx<'a> {
    pub(super) categories: &'a [Category],
    pub(super) category_index: &'a HashMap<String, u32>,
    pub(super) purpose_index: &'a HashMap<String, u32>,
    pub(super) legal_bases: &'a [LegalBasis],
    pub(super) basis_index: &'a HashMap<String, u32>,
    pub(super) complete: Complete,
    /// Per category id, the paths of fields dropped for a problem already reported.
    pub(super) broken_fields: &'a HashMap<String, Vec<String>>,
}
