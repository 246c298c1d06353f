//! `categories/*.toml`: one data category per file, its fields as leaf paths with a sensitivity.

use std::collections::HashMap;

use toml::Spanned;

use super::{At, Seen};
use crate::policy::error::Sink;
use crate::policy::file::{self, RawCategory, SourceFile, backticked};
use crate::policy::model::{Category, Field, FieldPath, FieldType, Sensitivity, SpecialKind};

/// A category file that could not be read at all: the id it defines is unknown.
pub(super) struct Unreadable;

/// Compiles one category file; `Ok(None)` if its id is a duplicate.
pub(super) fn category(
    f: &SourceFile,
    seen: &mut Seen,
    notice_kinds: &mut HashMap<String, At>,
    broken: &mut HashMap<String, Vec<String>>,
    sink: &mut Sink,
) -> Result<Option<Category>, Unreadable> {
    let c = file::parse_whole::<RawCategory>(f, sink).ok_or(Unreadable)?;
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
        let written = raw.path.get_ref().clone();
        let Some(field) = field(f, raw, sink) else {
            broken
                .entry(c.id.get_ref().clone())
                .or_default()
                .push(written);
            continue;
        };
        {
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
    Ok(is_new.then(|| Category {
        id: c.id.into_inner(),
        name: c.name,
        description: c.description,
        notice_kind: c.notice_kind.map(Spanned::into_inner),
        fields,
    }))
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
