//! The first stage: a policy directory on disk → its files, their version hash, and raw
//! (syntactically valid, still unchecked) items that remember where in which file they were written.

use std::ops::Range;
use std::path::Path;

use ring::digest;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::Sink;

/// The top-level files of a bundle; every one must exist.
pub(crate) const DEPARTMENTS: &str = "departments.toml";
/// Legal bases (hjemler).
pub(crate) const LEGAL_BASES: &str = "legal_bases.toml";
/// Who may consent at which age.
pub(crate) const CONSENT_RULES: &str = "consent_rules.toml";
/// Purposes of processing.
pub(crate) const PURPOSES: &str = "purposes.toml";
/// The directory of data categories, one per file.
pub(crate) const CATEGORIES_DIR: &str = "categories";
/// The directory of flows, any number per file.
pub(crate) const FLOWS_DIR: &str = "flows";

const TOP_LEVEL: [&str; 4] = [DEPARTMENTS, LEGAL_BASES, CONSENT_RULES, PURPOSES];

/// One policy file, read whole, with a table of line starts for `file:line` messages.
#[derive(Debug)]
pub(crate) struct SourceFile {
    /// Path relative to the policy directory, `/`-separated.
    pub(crate) rel: String,
    /// The contents.
    pub(crate) text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub(crate) fn new(rel: String, text: String) -> SourceFile {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            rel,
            text,
            line_starts,
        }
    }

    /// The 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    /// The 1-based line where a span starts.
    pub(crate) fn line_of(&self, span: &Range<usize>) -> usize {
        self.line(span.start)
    }
}

/// Reads the policy files of `dir`: the four top-level files and `categories/*.toml`, `flows/*.toml`,
/// sorted by relative path. Other `*.toml` files at the top are errors (a misspelt file would
/// otherwise be silently ignored); anything else (README.md, notes) is not policy and is skipped.
pub(crate) fn read_dir(dir: &Path, sink: &mut Sink) -> Vec<SourceFile> {
    let mut files = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if path.is_dir() {
                    if name == CATEGORIES_DIR || name == FLOWS_DIR {
                        read_subdir(&path, &name, &mut files, sink);
                    }
                } else if name.ends_with(".toml") {
                    if TOP_LEVEL.contains(&name.as_str()) {
                        read_one(&path, name, &mut files, sink);
                    } else {
                        sink.push(
                            &name,
                            None,
                            format!(
                                "unknown policy file `{name}`: expected one of {}, or a file in `categories/` or `flows/`",
                                backticked(&TOP_LEVEL)
                            ),
                        );
                    }
                }
            }
        }
        Err(e) => {
            sink.push(
                &dir.display().to_string(),
                None,
                format!(
                    "cannot read the policy directory: {}",
                    lower(&e.to_string())
                ),
            );
            return files;
        }
    }
    finish(files, sink)
}

/// The policy files of a bundle given in memory as (relative path, contents) pairs, kept and
/// refused by the rules [`read_dir`] applies to a directory: a top-level `*.toml` must be one of
/// the four known files, `categories/*.toml` and `flows/*.toml` are policy, and anything else
/// (README.md, a nested directory) is skipped. A path given twice is an error.
pub(crate) fn from_memory(
    given: impl IntoIterator<Item = (String, String)>,
    sink: &mut Sink,
) -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = Vec::new();
    for (rel, text) in given {
        let in_subdir = [CATEGORIES_DIR, FLOWS_DIR].iter().any(|dir| {
            rel.strip_prefix(dir)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| name.ends_with(".toml") && !name.contains('/'))
        });
        let top_level = !rel.contains('/') && rel.ends_with(".toml");
        if !in_subdir && !top_level {
            continue;
        }
        if top_level && !TOP_LEVEL.contains(&rel.as_str()) {
            sink.push(
                &rel,
                None,
                format!(
                    "unknown policy file `{rel}`: expected one of {}, or a file in `categories/` or `flows/`",
                    backticked(&TOP_LEVEL)
                ),
            );
        } else if files.iter().any(|f| f.rel == rel) {
            sink.push(&rel, None, format!("duplicate policy file `{rel}`"));
        } else {
            files.push(SourceFile::new(rel, text));
        }
    }
    finish(files, sink)
}

/// Reports every missing top-level file and sorts the files by relative path.
fn finish(mut files: Vec<SourceFile>, sink: &mut Sink) -> Vec<SourceFile> {
    for required in TOP_LEVEL {
        if !files.iter().any(|f| f.rel == required) {
            sink.push(required, None, format!("missing policy file `{required}`"));
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    files
}

fn read_subdir(path: &Path, dir_name: &str, files: &mut Vec<SourceFile>, sink: &mut Sink) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if name.ends_with(".toml") && path.is_file() {
                    read_one(&path, format!("{dir_name}/{name}"), files, sink);
                }
            }
        }
        Err(e) => sink.push(
            dir_name,
            None,
            format!("cannot read directory: {}", lower(&e.to_string())),
        ),
    }
}

fn read_one(path: &Path, rel: String, files: &mut Vec<SourceFile>, sink: &mut Sink) {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => files.push(SourceFile::new(rel, text)),
            Err(_) => sink.push(&rel, None, "the file is not valid utf-8"),
        },
        Err(e) => sink.push(
            &rel,
            None,
            format!("cannot read the file: {}", lower(&e.to_string())),
        ),
    }
}

/// The bundle version: SHA-256 (hex) over every policy file in path order, each as its relative path,
/// a NUL byte, its length as 8 bytes big-endian, and its contents — so that no two different bundles
/// share an encoding.
pub(crate) fn version(files: &[SourceFile]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for file in files {
        ctx.update(file.rel.as_bytes());
        ctx.update(&[0]);
        ctx.update(&(file.text.len() as u64).to_be_bytes());
        ctx.update(file.text.as_bytes());
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses a file as TOML, reporting every syntax error; `None` if there was any.
fn parse_document<'a>(file: &'a SourceFile, sink: &mut Sink) -> Option<Spanned<DeTable<'a>>> {
    let (table, errors) = DeTable::parse_recoverable(&file.text);
    if errors.is_empty() {
        return Some(table);
    }
    for error in errors {
        let line = error.span().map(|s| file.line_of(&s));
        sink.push(
            &file.rel,
            line,
            format!("toml syntax: {}", toml_message(&error)),
        );
    }
    None
}

/// Parses a file whose top level holds one array of tables, `[[key]]`, and deserialises each
/// element on its own, so that one bad item does not hide the problems of the next.
pub(crate) fn parse_items<T: DeserializeOwned>(
    file: &SourceFile,
    key: &str,
    sink: &mut Sink,
) -> Vec<Spanned<T>> {
    let Some(table) = parse_document(file, sink) else {
        return Vec::new();
    };
    let mut items = Vec::new();
    for (k, value) in table.get_ref().iter() {
        if k.get_ref() != key {
            sink.push(
                &file.rel,
                Some(file.line_of(&k.span())),
                format!("unknown key `{}`: expected `[[{key}]]`", k.get_ref()),
            );
            continue;
        }
        let DeValue::Array(array) = value.get_ref() else {
            sink.push(
                &file.rel,
                Some(file.line_of(&value.span())),
                format!("`{key}` must be an array of tables, written `[[{key}]]`"),
            );
            continue;
        };
        for element in array.iter() {
            let span = element.span();
            match T::deserialize(ValueDeserializer::from(element.clone())) {
                Ok(item) => items.push(Spanned::new(span, item)),
                Err(error) => {
                    let at = error.span().unwrap_or(span);
                    sink.push(
                        &file.rel,
                        Some(file.line_of(&at)),
                        format!("in `[[{key}]]`: {}", toml_message(&error)),
                    );
                }
            }
        }
    }
    items
}

/// Parses a file whose top level is one item (a category file).
pub(crate) fn parse_whole<T: DeserializeOwned>(file: &SourceFile, sink: &mut Sink) -> Option<T> {
    let table = parse_document(file, sink)?;
    let span = table.span();
    let value = Spanned::new(span.clone(), DeValue::Table(table.into_inner()));
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(item) => Some(item),
        Err(error) => {
            let at = error.span().unwrap_or(span);
            sink.push(&file.rel, Some(file.line_of(&at)), toml_message(&error));
            None
        }
    }
}

/// A toml/serde message on one line, starting lowercase.
fn toml_message(error: &toml::de::Error) -> String {
    let joined = error
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    lower(&joined)
}

/// The message with its first letter in lowercase (cedar style).
pub(crate) fn lower(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `` `a`, `b`, `c` ``
pub(crate) fn backticked<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Raw items: what the files say, with spans, before any cross-reference is checked.
// ---------------------------------------------------------------------------------------------

/// `[[department]]` in `departments.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDepartment {
    pub(crate) id: Spanned<String>,
    pub(crate) name: String,
    pub(crate) kind: Spanned<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

/// A file in `categories/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCategory {
    pub(crate) id: Spanned<String>,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) notice_kind: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) field: Vec<Spanned<RawField>>,
}

/// `[[field]]` in a category file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    pub(crate) path: Spanned<String>,
    pub(crate) sensitivity: Spanned<String>,
    #[serde(default)]
    pub(crate) special: Option<Spanned<String>>,
    #[serde(default, rename = "type")]
    pub(crate) ty: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) values: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

/// `[[basis]]` in `legal_bases.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLegalBasis {
    pub(crate) id: Spanned<String>,
    pub(crate) title: String,
    pub(crate) citation: String,
    #[serde(default)]
    pub(crate) old_citation: Option<String>,
    pub(crate) permits: String,
    pub(crate) conditions: String,
    #[serde(default)]
    pub(crate) overrides_confidentiality: bool,
    #[serde(default)]
    pub(crate) special_categories: bool,
    #[serde(default)]
    pub(crate) criminal_offences: bool,
    pub(crate) verified: Spanned<bool>,
    #[serde(default)]
    pub(crate) verification_note: Option<String>,
    pub(crate) source: String,
}

/// `[[purpose]]` in `purposes.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPurpose {
    pub(crate) id: Spanned<String>,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) owner: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) subject_under: Option<Spanned<u32>>,
}

/// `[[band]]` in `consent_rules.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConsentBand {
    pub(crate) from: Spanned<u32>,
    #[serde(default)]
    pub(crate) to: Option<Spanned<u32>>,
    pub(crate) may_give: Vec<Spanned<String>>,
    pub(crate) required: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) note: Option<String>,
}

/// `[[flow]]` in a file of `flows/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    pub(crate) id: Spanned<String>,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    pub(crate) from: Vec<Spanned<String>>,
    pub(crate) to: Spanned<String>,
    pub(crate) category: Spanned<String>,
    pub(crate) purpose: Spanned<String>,
    pub(crate) mode: Spanned<String>,
    pub(crate) roles: Vec<Spanned<String>>,
    pub(crate) need_to_know: Spanned<String>,
    pub(crate) fields: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) never: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) basis: Vec<Spanned<RawBasis>>,
}

/// `[[flow.basis]]`: one basis a flow may rest on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasis {
    #[serde(default)]
    pub(crate) consent: Option<Spanned<bool>>,
    #[serde(default)]
    pub(crate) legal: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) subject_age: Option<Spanned<RawAge>>,
    #[serde(default)]
    pub(crate) when: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) special_fields: Vec<Spanned<String>>,
}

/// `subject_age = { from = 15, under = 25 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAge {
    #[serde(default)]
    pub(crate) from: Option<u32>,
    #[serde(default)]
    pub(crate) under: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_count_newlines() {
        let f = SourceFile::new("x.toml".into(), "a\nbb\n\nc".into());
        assert_eq!(f.line(0), 1);
        assert_eq!(f.line(1), 1);
        assert_eq!(f.line(2), 2);
        assert_eq!(f.line(5), 3);
        assert_eq!(f.line(6), 4);
    }

    #[test]
    fn the_version_depends_on_paths_and_contents() {
        let a = version(&[SourceFile::new("a.toml".into(), "x".into())]);
        let b = version(&[SourceFile::new("b.toml".into(), "x".into())]);
        let c = version(&[SourceFile::new("a.toml".into(), "y".into())]);
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
