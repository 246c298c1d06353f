//! Errors of loading a policy bundle: every one points at `file:line` and names the offending input
//! in backticks, in lowercase, so that `sluse policy check` reads like a compiler (cedar's wording).

use std::fmt;

/// One problem found in a policy directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file, relative to the policy directory, with `/` separators (e.g. `flows/school.toml`).
    pub file: String,
    /// The 1-based line the problem is on; `None` when it concerns the file as a whole.
    pub line: Option<usize>,
    /// What is wrong, lowercase, with the offending input in backticks.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem found in a policy directory, in file order then line order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(Vec<PolicyError>);

impl PolicyErrors {
    /// The problems, one per entry.
    pub fn errors(&self) -> &[PolicyError] {
        &self.0
    }

    /// Sorts the problems by file then line, keeping the discovery order within a line.
    pub(crate) fn from_unsorted(mut errors: Vec<PolicyError>) -> PolicyErrors {
        errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        errors.dedup();
        PolicyErrors(errors)
    }
}

impl fmt::Display for PolicyErrors {
    /// One error per line; the last line says how many there were.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.0 {
            writeln!(f, "{error}")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for PolicyErrors {}

/// Collects errors while a stage runs, each tagged with its file and the line of a byte offset.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    errors: Vec<PolicyError>,
}

impl Sink {
    /// Records a problem at a known line (or none).
    pub(crate) fn push(&mut self, file: &str, line: Option<usize>, message: impl Into<String>) {
        self.errors.push(PolicyError {
            file: file.to_owned(),
            line,
            message: message.into(),
        });
    }

    /// How many problems so far.
    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    /// The collected errors, or `Ok(value)` if there are none.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, PolicyErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(PolicyErrors::from_unsorted(self.errors))
        }
    }
}
