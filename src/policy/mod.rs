//! The policy bundle: the TOML files of `policies/` parsed (`file.rs`), checked and compiled into
//! a typed [`PolicyBundle`](crate::policy::PolicyBundle) (`compile/`), and the pure decision over
//! it, [`decide`](crate::policy::decide) (`eval.rs`), which
//! [`explain`](crate::policy::explain) runs again with a trace.
//!
//! parse → validate → evaluate, with a typed error at each stage:
//! [`PolicyBundle::load`](crate::policy::PolicyBundle::load) returns every problem of a directory at
//! once as [`PolicyErrors`](crate::policy::PolicyErrors), each displayed as `file:line: message`.
//! The format is described in `policies/README.md`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

mod compile;
mod condition;
mod error;
mod eval;
mod explain;
mod file;
mod model;
mod plan;

pub use condition::{CmpOp, Condition, Literal};
pub use error::{PolicyError, PolicyErrors};
pub use eval::{
    AssignmentFact, Basis, BasisKind, ConsentFact, Decision, Facts, Reason, ReasonCode, Request,
    decide,
};
pub use explain::{Explanation, explain};
pub use model::{
    AgeRange, BasisRule, Category, ConsentBand, ConsentRules, Department, DeptKind, Field,
    FieldPath, FieldType, Flow, GiverRole, LegalBasis, Mode, NeedToKnow, Purpose, RuleBasis,
    Sensitivity, SpecialKind,
};
pub use plan::{PlannedField, RedactionPlan};

/// A validated policy bundle. Only [`PolicyBundle::load`] makes one, so holding one means the files
/// passed every check. Immutable; share it behind an `Arc` and swap the whole bundle to reload.
#[derive(Debug)]
pub struct PolicyBundle {
    version: Arc<str>,
    departments: Vec<Department>,
    department_index: HashMap<String, u32>,
    categories: Vec<Category>,
    category_index: HashMap<String, u32>,
    purposes: Vec<Purpose>,
    purpose_index: HashMap<String, u32>,
    legal_bases: Vec<LegalBasis>,
    basis_index: HashMap<String, u32>,
    consent_rules: ConsentRules,
    flows: Vec<Flow>,
    flow_ids: HashMap<String, u32>,
    /// (source kind, recipient kind, category, purpose) → the flow for each mode (pull, notice).
    flow_index: HashMap<(DeptKind, DeptKind, u32, u32), [Option<u32>; 2]>,
    /// (sender kind, category) → (recipient department, notice flow), for notice routing.
    routes: HashMap<(DeptKind, u32), Vec<(u32, u32)>>,
    /// A notice's `kind` → its category.
    notice_kinds: HashMap<String, u32>,
}

impl PolicyBundle {
    /// Reads, parses and validates the policy directory `dir`; all problems at once.
    pub fn load(dir: &Path) -> Result<PolicyBundle, PolicyErrors> {
        let mut sink = error::Sink::default();
        let files = file::read_dir(dir, &mut sink);
        let version = file::version(&files);
        let bundle = compile::compile(&files, version, &mut sink);
        sink.finish(bundle)
    }

    /// Parses and validates a bundle given in memory as (path relative to the policy directory,
    /// contents) pairs — `("flows/school.toml", "[[flow]] …")` — with the checks of
    /// [`PolicyBundle::load`] once a directory's files are read, and the same version for the same
    /// files. Paths that would not be policy files in a directory (`README.md`) are skipped; a path
    /// given twice is an error. For the fuzz targets (`fuzz/`) and tests: the gateway loads from disk.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<PolicyBundle, PolicyErrors> {
        let mut sink = error::Sink::default();
        let files = file::from_memory(files, &mut sink);
        let version = file::version(&files);
        let bundle = compile::compile(&files, version, &mut sink);
        sink.finish(bundle)
    }

    /// The bundle's version: SHA-256 (lowercase hex) of its files, carried by every decision.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The department with this id, if any.
    pub fn department(&self, id: &str) -> Option<&Department> {
        self.department_index
            .get(id)
            .and_then(|&i| self.departments.get(i as usize))
    }

    /// Every department, in file order.
    pub fn departments(&self) -> &[Department] {
        &self.departments
    }

    /// The category with this id, if any.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.category_slot(id)
            .and_then(|i| self.categories.get(i as usize))
    }

    /// Every category, in file-path order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The category a notice of this `kind` carries (`absence` → `school.absence`).
    pub fn category_for_notice_kind(&self, kind: &str) -> Option<&Category> {
        self.notice_kinds
            .get(kind)
            .and_then(|&i| self.categories.get(i as usize))
    }

    /// The purpose with this id, if any.
    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.purpose_slot(id)
            .and_then(|i| self.purposes.get(i as usize))
    }

    /// Every purpose, in file order.
    pub fn purposes(&self) -> &[Purpose] {
        &self.purposes
    }

    /// The legal basis with this id, if any.
    pub fn legal_basis(&self, id: &str) -> Option<&LegalBasis> {
        self.basis_index
            .get(id)
            .and_then(|&i| self.legal_bases.get(i as usize))
    }

    /// Every legal basis, in file order.
    pub fn legal_bases(&self) -> &[LegalBasis] {
        &self.legal_bases
    }

    /// Who may consent, and whose consent is needed, at which age.
    pub fn consent_rules(&self) -> &ConsentRules {
        &self.consent_rules
    }

    /// The flow with this id, if any.
    pub fn flow(&self, id: &str) -> Option<&Flow> {
        self.flow_ids
            .get(id)
            .and_then(|&i| self.flows.get(i as usize))
    }

    /// Every flow, in file-path then file order.
    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }

    /// The one flow, if any, for this exchange (an index lookup, no scan).
    pub fn flow_for(
        &self,
        source: DeptKind,
        recipient: DeptKind,
        category: &str,
        purpose: &str,
        mode: Mode,
    ) -> Option<&Flow> {
        let c = self.category_slot(category)?;
        let p = self.purpose_slot(purpose)?;
        self.flow_slot(source, recipient, c, p, mode)
            .and_then(|i| self.flows.get(i))
    }

    /// Every recipient department that some notice flow from a `sender` kind for `category`
    /// reaches, with that flow — so that the notice path can decide each recipient on its own.
    /// In department-file order, then flow order.
    pub fn notice_routes(
        &self,
        sender: DeptKind,
        category: &str,
    ) -> impl Iterator<Item = (&str, &Flow)> + '_ {
        self.category_slot(category)
            .and_then(|c| self.routes.get(&(sender, c)))
            .into_iter()
            .flatten()
            .filter_map(|&(d, f)| {
                let dept = self.departments.get(d as usize)?;
                let flow = self.flows.get(f as usize)?;
                Some((dept.id.as_str(), flow))
            })
    }

    /// Whether `givers` may give a consent for a subject aged `age` on the day it is recorded
    /// (API.md §5, 422 `consent_giver_invalid`): the subject only from the minimum age (15 in the
    /// reference rules), a custody holder only for a subject under 18. Whether the givers
    /// *suffice* is judged at each decision instead.
    pub fn consent_givers_valid_at_recording(
        &self,
        age: u32,
        givers: &[GiverRole],
    ) -> Result<(), Reason> {
        let invalid = |message: String| Err(Reason::new(ReasonCode::ConsentGiverInvalid, message));
        let Some(band) = self.consent_rules.band(age) else {
            return invalid(format!("no consent rule covers a subject aged {age}"));
        };
        if givers.is_empty() {
            return invalid("a consent needs at least one giver".into());
        }
        for giver in givers {
            if band.may_give.contains(giver) {
                continue;
            }
            return invalid(match (giver, self.consent_rules.minimum_subject_age()) {
                (GiverRole::Subject, Some(min)) if age < min => format!(
                    "a subject aged {age} may not consent themself: the minimum age is {min}"
                ),
                _ => format!("a `{giver}` may not give consent for a subject aged {age}"),
            });
        }
        Ok(())
    }

    pub(crate) fn category_slot(&self, id: &str) -> Option<u32> {
        self.category_index.get(id).copied()
    }

    pub(crate) fn purpose_slot(&self, id: &str) -> Option<u32> {
        self.purpose_index.get(id).copied()
    }

    pub(crate) fn flow_slot(
        &self,
        source: DeptKind,
        recipient: DeptKind,
        category: u32,
        purpose: u32,
        mode: Mode,
    ) -> Option<usize> {
        let slots = self
            .flow_index
            .get(&(source, recipient, category, purpose))?;
        slots
            .get(mode.slot())
            .copied()
            .flatten()
            .map(|i| i as usize)
    }
}

/// What `sluse policy check` reports for a valid directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The bundle's version.
    pub version: String,
    /// How many departments.
    pub departments: usize,
    /// How many categories.
    pub categories: usize,
    /// How many purposes.
    pub purposes: usize,
    /// How many legal bases.
    pub legal_bases: usize,
    /// The ids of the legal bases whose citation is not verified.
    pub unverified_bases: Vec<String>,
    /// How many flows.
    pub flows: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ok: {} departments, {} categories, {} purposes, {} legal bases, {} flows",
            self.departments, self.categories, self.purposes, self.legal_bases, self.flows
        )?;
        if !self.unverified_bases.is_empty() {
            writeln!(
                f,
                "unverified legal bases (a lawyer should confirm them): {}",
                file::backticked(&self.unverified_bases)
            )?;
        }
        write!(f, "version {}", self.version)
    }
}

/// Validates the policy directory `dir` for `sluse policy check`: a summary, or every problem.
pub fn check(dir: &Path) -> Result<Summary, PolicyErrors> {
    let bundle = PolicyBundle::load(dir)?;
    Ok(Summary {
        version: bundle.version().to_owned(),
        departments: bundle.departments.len(),
        categories: bundle.categories.len(),
        purposes: bundle.purposes.len(),
        legal_bases: bundle.legal_bases.len(),
        unverified_bases: bundle
            .legal_bases
            .iter()
            .filter(|b| !b.verified)
            .map(|b| b.id.clone())
            .collect(),
        flows: bundle.flows.len(),
    })
}

#[cfg(test)]
mod load_tests;
#[cfg(test)]
mod tests;
