//! The redaction plan of a permit: which fields of the category may leave the gateway, how
//! (free text scrubbed), and which are withheld.
//!
//! INVARIANT: a [`RedactionPlan`] exists only inside a [`Decision::Permit`](super::Decision) —
//! it has no public constructor, so no handler can release data without a permit. The plans are
//! built once per flow and basis when the bundle is compiled, and `decide()` hands out a shared copy.

use std::sync::Arc;

use serde::Serialize;

use super::model::{Category, FieldPath, Sensitivity, SpecialKind};

/// A field that may pass, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedField {
    /// Where it sits in the record (`caseworker.name`, `measures[].type`).
    pub path: FieldPath,
    /// Its sensitivity, as the category declares it.
    pub sensitivity: Sensitivity,
    /// For a special-category field, which one.
    pub special: Option<SpecialKind>,
    /// Whether the value must be scrubbed (CPR numbers, phone numbers, e-mail addresses replaced)
    /// before it leaves: true for free text.
    pub scrub: bool,
}

/// What of a record may pass under a permit. Cheap to clone (shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionPlan {
    inner: Arc<PlanInner>,
}

#[derive(Debug, PartialEq, Eq)]
struct PlanInner {
    category: String,
    allowed: Vec<PlannedField>,
    withheld: Vec<FieldPath>,
}

impl RedactionPlan {
    /// The plan that lets through exactly the fields of `category` for which `allow` says yes.
    pub(crate) fn build(category: &Category, allow: impl Fn(&FieldPath) -> bool) -> RedactionPlan {
        let mut allowed = Vec::new();
        let mut withheld = Vec::new();
        for field in &category.fields {
            if allow(&field.path) {
                allowed.push(PlannedField {
                    path: field.path.clone(),
                    sensitivity: field.sensitivity,
                    special: field.special,
                    scrub: field.sensitivity == Sensitivity::FreeText,
                });
            } else {
                withheld.push(field.path.clone());
            }
        }
        RedactionPlan {
            inner: Arc::new(PlanInner {
                category: category.id.clone(),
                allowed,
                withheld,
            }),
        }
    }

    /// The category the plan is for.
    pub fn category(&self) -> &str {
        &self.inner.category
    }

    /// The fields that may pass, in the category's order. Anything else in a record — declared
    /// or not — is withheld (default deny).
    pub fn allowed(&self) -> &[PlannedField] {
        &self.inner.allowed
    }

    /// The category's declared fields that are withheld under this permit.
    pub fn withheld(&self) -> &[FieldPath] {
        &self.inner.withheld
    }

    /// The planned field at exactly `path`, if it may pass.
    pub fn field(&self, path: &str) -> Option<&PlannedField> {
        self.inner.allowed.iter().find(|f| f.path.as_str() == path)
    }

    /// Whether the field at exactly `path` may pass.
    pub fn allows(&self, path: &str) -> bool {
        self.field(path).is_some()
    }
}
