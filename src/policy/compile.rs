//! The second stage: raw items → the typed, cross-checked [`PolicyBundle`]. Every check that fails
//! is recorded; the bundle is returned only if none did.

use std::collections::HashMap;

use super::PolicyBundle;
use super::error::Sink;
use super::file::{self, RawDepartment, SourceFile, backticked};
use super::model::{Department, DeptKind};

/// Parses and validates every file; all problems at once.
pub(crate) fn compile(files: &[SourceFile], version: String, sink: &mut Sink) -> PolicyBundle {
    let find = |rel: &str| files.iter().find(|f| f.rel == rel);

    let departments = match find(file::DEPARTMENTS) {
        Some(f) => departments(f, sink),
        None => Vec::new(),
    };

    let mut by_id = HashMap::with_capacity(departments.len());
    for (i, d) in departments.iter().enumerate() {
        by_id.insert(d.id.clone(), i);
    }
    PolicyBundle {
        version: version.into(),
        departments,
        department_index: by_id,
    }
}

fn departments(f: &SourceFile, sink: &mut Sink) -> Vec<Department> {
    let raw = file::parse_items::<RawDepartment>(f, "department", sink);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for item in raw {
        let d = item.into_inner();
        let line = f.line_of(&d.id.span());
        let id = d.id.into_inner();
        if let Some(first) = seen.get(&id) {
            sink.push(
                &f.rel,
                Some(line),
                format!("duplicate department id `{id}` (first defined on line {first})"),
            );
            continue;
        }
        check_id(&id, "department", f, line, sink);
        seen.insert(id.clone(), line);
        let Some(kind) = DeptKind::parse(d.kind.get_ref()) else {
            sink.push(
                &f.rel,
                Some(f.line_of(&d.kind.span())),
                format!(
                    "unknown department kind `{}`: expected one of {}",
                    d.kind.get_ref(),
                    backticked(&DeptKind::ALL.map(DeptKind::as_str))
                ),
            );
            continue;
        };
        out.push(Department {
            id,
            name: d.name,
            kind,
            description: d.description,
        });
    }
    out
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
