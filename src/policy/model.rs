//! The typed policy model: what a validated bundle is made of. Every value here has passed the
//! checks of `compile.rs`; the loader is the only producer of a bundle.

use std::fmt;

use serde::Serialize;

/// The kind of a department: flows are written between kinds, departments are instances of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeptKind {
    /// The municipal youth unit (den kommunale ungeindsats, KUI).
    YouthUnit,
    /// Social services' children and family unit (Barnets lov).
    SocialServices,
    /// A school (folkeskole).
    School,
    /// Pedagogical-psychological counselling (PPR).
    Ppr,
    /// An education institution (FGU, vocational, gymnasium).
    EducationInstitution,
    /// The job centre.
    JobCentre,
    /// Oversight: the DPO's office. Source or recipient of no data flow.
    Oversight,
}

impl DeptKind {
    /// Every kind, in a stable order.
    pub const ALL: [DeptKind; 7] = [
        DeptKind::YouthUnit,
        DeptKind::SocialServices,
        DeptKind::School,
        DeptKind::Ppr,
        DeptKind::EducationInstitution,
        DeptKind::JobCentre,
        DeptKind::Oversight,
    ];

    /// The kind's name as written in the policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            DeptKind::YouthUnit => "youth_unit",
            DeptKind::SocialServices => "social_services",
            DeptKind::School => "school",
            DeptKind::Ppr => "ppr",
            DeptKind::EducationInstitution => "education_institution",
            DeptKind::JobCentre => "job_centre",
            DeptKind::Oversight => "oversight",
        }
    }

    /// Parses a kind's name; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<DeptKind> {
        DeptKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for DeptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A department of the municipality (`departments.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    /// The id tokens carry in `dept` (e.g. `youth-unit`).
    pub id: String,
    /// A human name.
    pub name: String,
    /// What kind of department it is.
    pub kind: DeptKind,
    /// Optional prose.
    pub description: Option<String>,
}
