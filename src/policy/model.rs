//! The typed policy model: what a validated bundle is made of. Every value here has passed the
//! checks of `compile.rs`; the loader is the only producer of a bundle.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::plan::RedactionPlan;
use crate::auth::Role;

/// The kind of a department: flows are written between kinds, departments are instances of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

/// How sensitive a field is; decides whether it may pass and how (API.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Ordinary personal data (GDPR Art. 6).
    Ordinary,
    /// A CPR number (Databeskyttelsesloven § 11).
    Cpr,
    /// A special category (GDPR Art. 9): passes only under a basis or explicit consent that covers it.
    Special,
    /// Criminal offences (GDPR Art. 10): passes only under a legal basis that covers it.
    Criminal,
    /// Free text: passes scrubbed of CPR numbers, phone numbers and e-mail addresses.
    FreeText,
}

impl Sensitivity {
    /// Every sensitivity, in a stable order.
    pub const ALL: [Sensitivity; 5] = [
        Sensitivity::Ordinary,
        Sensitivity::Cpr,
        Sensitivity::Special,
        Sensitivity::Criminal,
        Sensitivity::FreeText,
    ];

    /// The name as written in the policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Ordinary => "ordinary",
            Sensitivity::Cpr => "cpr",
            Sensitivity::Special => "special",
            Sensitivity::Criminal => "criminal",
            Sensitivity::FreeText => "free_text",
        }
    }

    /// Parses a name; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<Sensitivity> {
        Sensitivity::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the field needs a basis that names it (special categories and criminal offences).
    pub fn needs_cover(self) -> bool {
        matches!(self, Sensitivity::Special | Sensitivity::Criminal)
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a special-category field: the categories of GDPR Art. 9(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialKind {
    /// Health, including a diagnosis (ADHD, dyslexia) and substance use.
    Health,
    /// Racial or ethnic origin.
    EthnicOrigin,
    /// Political opinions.
    PoliticalOpinions,
    /// Religious or philosophical beliefs.
    Religion,
    /// Trade-union membership.
    TradeUnion,
    /// Genetic data.
    Genetic,
    /// Biometric data used to identify a person.
    Biometric,
    /// Sex life or sexual orientation.
    SexLife,
}

impl SpecialKind {
    /// Every kind, in a stable order.
    pub const ALL: [SpecialKind; 8] = [
        SpecialKind::Health,
        SpecialKind::EthnicOrigin,
        SpecialKind::PoliticalOpinions,
        SpecialKind::Religion,
        SpecialKind::TradeUnion,
        SpecialKind::Genetic,
        SpecialKind::Biometric,
        SpecialKind::SexLife,
    ];

    /// The name as written in the policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialKind::Health => "health",
            SpecialKind::EthnicOrigin => "ethnic_origin",
            SpecialKind::PoliticalOpinions => "political_opinions",
            SpecialKind::Religion => "religion",
            SpecialKind::TradeUnion => "trade_union",
            SpecialKind::Genetic => "genetic",
            SpecialKind::Biometric => "biometric",
            SpecialKind::SexLife => "sex_life",
        }
    }

    /// Parses a name; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<SpecialKind> {
        SpecialKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The type of a field's value, where the category declares one (used to check conditions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A JSON string.
    String,
    /// A JSON number.
    Number,
    /// A JSON boolean.
    Bool,
    /// A `YYYY-MM-DD` string.
    Date,
}

impl FieldType {
    /// Every type, in a stable order.
    pub const ALL: [FieldType; 4] = [
        FieldType::String,
        FieldType::Number,
        FieldType::Bool,
        FieldType::Date,
    ];

    /// The name as written in the policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
        }
    }

    /// Parses a name; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The path of a field in a record: names joined by `.`, a list marked by `[]` —
/// `period.from`, `measures[].type`. Parsed, so every one in a bundle is well formed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct FieldPath(String);

impl FieldPath {
    /// Parses a path: one or more names of lowercase ASCII letters, digits and `_`, joined by `.`,
    /// each optionally followed by `[]`.
    pub fn parse(s: &str) -> Option<FieldPath> {
        let ok = !s.is_empty()
            && s.split('.').all(|segment| {
                let name = segment.strip_suffix("[]").unwrap_or(segment);
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        ok.then(|| FieldPath(s.to_owned()))
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `self` is `other` or an object or list that contains it: `caseworker` covers
    /// `caseworker.name`, `measures` covers `measures[].type`.
    pub fn covers(&self, other: &FieldPath) -> bool {
        match other.0.strip_prefix(self.0.as_str()) {
            Some("") => true,
            Some(rest) => rest.starts_with('.') || rest.starts_with("[]"),
            None => false,
        }
    }

    /// Whether the path goes through a list (`[]`).
    pub fn through_list(&self) -> bool {
        self.0.contains("[]")
    }

    /// The names along the path, without list markers: `measures[].type` → `measures`, `type`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0
            .split('.')
            .map(|segment| segment.strip_suffix("[]").unwrap_or(segment))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One field of a data category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Where the value sits in a record.
    pub path: FieldPath,
    /// How sensitive it is.
    pub sensitivity: Sensitivity,
    /// For a special-category field, which category of Art. 9(1).
    pub special: Option<SpecialKind>,
    /// The value's type, if declared.
    pub ty: Option<FieldType>,
    /// The allowed values of an enumerated string, if declared.
    pub values: Vec<String>,
    /// Optional prose.
    pub description: Option<String>,
}

/// A data category: a kind of record a department holds, and its fields (`categories/*.toml`).
/// Fields it does not declare never pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    /// The id (e.g. `school.absence`).
    pub id: String,
    /// A human name.
    pub name: String,
    /// Optional prose.
    pub description: Option<String>,
    /// The `kind` of a notice (`POST /v1/notices`) that carries this category, if any.
    pub notice_kind: Option<String>,
    /// The fields, as leaves of the record, in file order.
    pub fields: Vec<Field>,
}

impl Category {
    /// The field at exactly this path.
    pub fn field(&self, path: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.path.as_str() == path)
    }
}

/// A legal basis (hjemmel) a flow may rest on (`legal_bases.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalBasis {
    /// The id flows refer to (e.g. `barnets-lov-133`).
    pub id: String,
    /// A short human title.
    pub title: String,
    /// The citation in current numbering (e.g. `Barnets lov § 133`).
    pub citation: String,
    /// The citation in older numbering, as older documents cite it.
    pub old_citation: Option<String>,
    /// What it allows.
    pub permits: String,
    /// Its conditions, in prose (the machine-checked ones are on the flows).
    pub conditions: String,
    /// Whether it overrides the duty of confidentiality (tavshedspligt).
    pub overrides_confidentiality: bool,
    /// Whether it is a statute that allows special-category data (GDPR Art. 9(2)(b)/(g)).
    pub special_categories: bool,
    /// Whether it allows data on criminal offences (GDPR Art. 10, Databeskyttelsesloven § 8).
    pub criminal_offences: bool,
    /// Whether the citation has been confirmed from a public text.
    pub verified: bool,
    /// Why it is not verified, or what remains to confirm.
    pub verification_note: Option<String>,
    /// Where the citation comes from.
    pub source: String,
}

/// A purpose of processing (`purposes.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purpose {
    /// The id (e.g. `kui.contact_person`).
    pub id: String,
    /// A human name.
    pub name: String,
    /// Optional prose.
    pub description: Option<String>,
    /// The kind of department whose task the purpose is, if it belongs to one.
    pub owner: Option<DeptKind>,
    /// The purpose ends when the subject reaches this age (25 for the youth unit's purposes).
    pub subject_under: Option<u32>,
}

/// Who gives a consent (API.md §5 `given_by[].role`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum GiverRole {
    /// The young person themself.
    Subject,
    /// A holder of parental custody (forældremyndighedsindehaver).
    CustodyHolder,
}

impl GiverRole {
    /// Every role, in a stable order.
    pub const ALL: [GiverRole; 2] = [GiverRole::Subject, GiverRole::CustodyHolder];

    /// The name as written in policies and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            GiverRole::Subject => "subject",
            GiverRole::CustodyHolder => "custody_holder",
        }
    }

    /// Parses a name; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<GiverRole> {
        GiverRole::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for GiverRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may consent, and whose consent is needed, for a subject in an age band (`consent_rules.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentBand {
    /// The first age of the band.
    pub from: u32,
    /// The last age of the band (inclusive); `None` for no upper end.
    pub to: Option<u32>,
    /// Who may give consent at all for a subject of this age (checked when a consent is recorded).
    pub may_give: Vec<GiverRole>,
    /// Whose consent is needed for a consent to suffice (checked at every decision, on that day's age).
    pub required: Vec<GiverRole>,
    /// Optional prose.
    pub note: Option<String>,
}

impl ConsentBand {
    /// Whether a subject of `age` falls in the band.
    pub fn contains(&self, age: u32) -> bool {
        age >= self.from && self.to.is_none_or(|to| age <= to)
    }
}

/// The consent rules: contiguous age bands from 0 up, the last one open-ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentRules {
    /// The bands, in age order.
    pub bands: Vec<ConsentBand>,
}

impl ConsentRules {
    /// The band a subject of `age` falls in (always one in a validated bundle).
    pub fn band(&self, age: u32) -> Option<&ConsentBand> {
        self.bands.iter().find(|b| b.contains(age))
    }

    /// The youngest age at which the subject may consent themself (15 in the reference rules).
    pub fn minimum_subject_age(&self) -> Option<u32> {
        self.bands
            .iter()
            .find(|b| b.may_give.contains(&GiverRole::Subject))
            .map(|b| b.from)
    }

    /// Whether a consent given by `givers` suffices for a subject aged `age` today: everyone the
    /// band requires gave it, and nobody gave it who may not give for a subject of this age. So a
    /// joint consent of a 17-year-old and a custody holder lapses on the 18th birthday (the custody
    /// holder's part lapses, and the young person must renew it alone), and a custody holder's
    /// consent for a 14-year-old no longer suffices on the 15th birthday.
    pub fn givers_suffice(&self, age: u32, givers: &[GiverRole]) -> bool {
        self.band(age).is_some_and(|b| {
            b.required.iter().all(|r| givers.contains(r))
                && givers.iter().all(|g| b.may_give.contains(g))
        })
    }
}

/// Whether a flow carries data on request or as a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The recipient asks (`POST /v1/requests`); the data is fetched from the source.
    Pull,
    /// The source sends (`POST /v1/notices`); the payload comes with the request.
    Notice,
}

impl Mode {
    /// The name as written in the policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Pull => "pull",
            Mode::Notice => "notice",
        }
    }

    /// Parses a name; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::Pull, Mode::Notice]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    pub(crate) fn slot(self) -> usize {
        match self {
            Mode::Pull => 0,
            Mode::Notice => 1,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a requester shows a need to know, beyond holding one of the flow's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedToKnow {
    /// The requester (`sub`) must have an active contact-person assignment for the subject in the
    /// requester's department.
    AssignedContactPerson,
    /// Holding one of the flow's roles in the asking department suffices (e.g. a school sending a
    /// notice, a professional's duty to notify).
    Role,
}

impl NeedToKnow {
    /// The name as written in the policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedToKnow::AssignedContactPerson => "assigned_contact_person",
            NeedToKnow::Role => "role",
        }
    }

    /// Parses a name; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<NeedToKnow> {
        [NeedToKnow::AssignedContactPerson, NeedToKnow::Role]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An age range a basis is limited to: `from` inclusive, `under` exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AgeRange {
    /// The youngest age included.
    pub from: Option<u32>,
    /// The first age no longer included.
    pub under: Option<u32>,
}

impl AgeRange {
    /// Whether `age` is in the range.
    pub fn contains(self, age: u32) -> bool {
        self.from.is_none_or(|f| age >= f) && self.under.is_none_or(|u| age < u)
    }

    /// Whether the range limits anything.
    pub fn is_unbounded(self) -> bool {
        self.from.is_none() && self.under.is_none()
    }
}

impl fmt::Display for AgeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.from, self.under) {
            (None, None) => f.write_str("of any age"),
            (None, Some(u)) => write!(f, "under {u}"),
            (Some(from), None) => write!(f, "aged {from} or more"),
            (Some(from), Some(u)) => write!(f, "aged {from} to {}", u.saturating_sub(1)),
        }
    }
}

/// What a basis of a flow rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleBasis {
    /// A consent in the registry that covers the exchange.
    Consent,
    /// A legal basis of `legal_bases.toml`, by id.
    Legal(String),
}

/// One basis a flow may rest on, with the conditions under which it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct BasisRule {
    /// Consent or a legal basis.
    pub basis: RuleBasis,
    /// The subject's age must be in this range on the day of the decision.
    pub subject_age: AgeRange,
    /// Conditions on a notice's payload; all must hold.
    pub when: Vec<Condition>,
    /// Special-category (and, for a legal basis, criminal-offence) fields that pass under this basis
    /// only — for consent, only when the consent is explicit (`special_categories = true`). Leaves.
    pub special_fields: Vec<FieldPath>,
    /// The line of `[[flow.basis]]`.
    pub line: usize,
}

/// A permitted flow: who may send what to whom, for which purpose, on which bases, and which fields
/// pass (`flows/*.toml`). Written between department kinds.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The id (e.g. `f1-absence-to-social-services`).
    pub id: String,
    /// A human name.
    pub name: String,
    /// Optional prose.
    pub description: Option<String>,
    /// The kinds of department that hold (pull) or send (notice) the data.
    pub from: Vec<DeptKind>,
    /// The kind of department that receives it.
    pub to: DeptKind,
    /// The data category.
    pub category: String,
    /// The purpose.
    pub purpose: String,
    /// Pull or notice.
    pub mode: Mode,
    /// The roles that may ask (pull) or send (notice), in the asking department.
    pub roles: Vec<Role>,
    /// What else shows a need to know.
    pub need_to_know: NeedToKnow,
    /// The fields that pass under every basis of the flow (leaves; never special or criminal).
    pub fields: Vec<FieldPath>,
    /// Fields that never pass, said out loud (leaves).
    pub never: Vec<FieldPath>,
    /// The bases, in order; legal bases are tried before consent.
    pub bases: Vec<BasisRule>,
    /// The file the flow is written in.
    pub file: String,
    /// The line of its `[[flow]]`.
    pub line: usize,
    /// One pair of plans per basis: without and with its special fields.
    pub(crate) plans: Vec<BasisPlans>,
}

impl Flow {
    /// Whether the flow carries data from a department of `kind`.
    pub fn is_from(&self, kind: DeptKind) -> bool {
        self.from.contains(&kind)
    }
}

/// The precomputed plans of one basis of a flow.
#[derive(Debug, Clone)]
pub(crate) struct BasisPlans {
    /// The flow's `fields` only.
    pub(crate) ordinary: RedactionPlan,
    /// The flow's `fields` and the basis's `special_fields`.
    pub(crate) with_special: RedactionPlan,
}
