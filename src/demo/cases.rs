//! The demo's young people, from the ministry's guide to the contact-person scheme (the seeds): Emma,
//! Silas and Mohammed, with fictitious CPR numbers whose birth dates keep their ages right on the day
//! the demo runs, their contact-person assignment, and consents that make flows F2–F6 visible.

use jiff::{
    Timestamp, ToSpan,
    civil::{Date, date},
};

use crate::{
    consent::{Consent, ConsentStore, Giver, Scope},
    cpr::{Cpr, PseudonymKey},
    policy::GiverRole,
    registry::{Assignment, AssignmentStatus, AssignmentStore},
    store::{Store, StoreError},
};

/// The contact person of all three (a `sub` with a demo token).
pub const CONTACT_PERSON: &str = "jonas.kp";
/// The youth-unit caseworker who assigned him.
pub const CASEWORKER: &str = "anna.kui";

/// One demo young person.
#[derive(Debug, Clone)]
pub struct Case {
    /// First name.
    pub name: &'static str,
    /// Age on the demo's day.
    pub age: i16,
    /// The fictitious CPR number, `DDMMYY-SSSS`.
    pub cpr: String,
    /// Their story, in one line.
    pub story: &'static str,
}

/// The three cases, with birth dates computed from `today` so the ages hold whenever the demo runs.
pub fn cases(today: Date) -> Vec<Case> {
    [
        (
            "Emma",
            16,
            4_121,
            "9th grade, much absence after her parents' divorce; coordination with PPR",
        ),
        (
            "Silas",
            19,
            4_217,
            "ADHD and cannabis use, misses appointments; job centre and social services",
        ),
        (
            "Mohammed",
            15,
            4_305,
            "8th grade, dyslexic, a long PPR assessment; parents worried",
        ),
    ]
    .into_iter()
    .map(|(name, age, serial, story)| Case {
        name,
        age,
        cpr: fictitious_cpr(today, age, serial),
        story,
    })
    .collect()
}

/// A CPR number for someone who turned `age` 100 days ago. The serial's first digit 4 puts birth
/// years 2000–2036 in the 2000s, which covers every demo age until 2036.
fn fictitious_cpr(today: Date, age: i16, serial: u16) -> String {
    let born = today
        .checked_sub(age.years())
        .and_then(|d| d.checked_sub(100.days()))
        .unwrap_or(date(2010, 1, 1));
    format!(
        "{:02}{:02}{:02}-{serial:04}",
        born.day(),
        born.month(),
        born.year().rem_euclid(100)
    )
}

/// Records the cases' assignments and consents, unless the data directory already has them.
pub async fn load(
    store: &Store,
    key: &PseudonymKey,
    policy_version: &str,
    today: Date,
    now: Timestamp,
) -> Result<Vec<Case>, StoreError> {
    let cases = cases(today);
    for case in &cases {
        let Ok(cpr) = Cpr::parse(&case.cpr) else {
            continue;
        };
        let subject = cpr.pseudonym(key);
        if !store.assignments_of(&subject).await?.is_empty() {
            continue;
        }
        store
            .insert_assignment(&Assignment {
                id: uuid::Uuid::now_v7().to_string(),
                subject: subject.clone(),
                contact_person: CONTACT_PERSON.to_owned(),
                department: "youth-unit".to_owned(),
                start: today.checked_sub(60.days()).unwrap_or(today),
                status: AssignmentStatus::Active,
                end_reason: None,
                ended_at: None,
                created_by: CASEWORKER.to_owned(),
                created_at: now,
            })
            .await?;
        let (givers, categories, special): (&[GiverRole], &[&str], bool) = match case.name {
            // 15–17: the young person and a custody holder.
            "Emma" => (
                &[GiverRole::Subject, GiverRole::CustodyHolder],
                &["school.absence", "social.measures", "ppr.assessment"],
                false,
            ),
            // Mohammed's parents and he agree to PPR and school data, but not to the diagnosis.
            "Mohammed" => (
                &[GiverRole::Subject, GiverRole::CustodyHolder],
                &["school.absence", "ppr.assessment"],
                false,
            ),
            // 18+: the young person alone, with explicit consent to his health data.
            _ => (
                &[GiverRole::Subject],
                &["job.status", "social.measures"],
                true,
            ),
        };
        store
            .insert_consent(&Consent {
                id: uuid::Uuid::now_v7().to_string(),
                subject,
                givers: givers
                    .iter()
                    .map(|&role| Giver {
                        role,
                        pseudonym: None,
                    })
                    .collect(),
                scope: Scope {
                    categories: categories.iter().map(|c| (*c).to_owned()).collect(),
                    recipients: vec!["youth-unit".to_owned()],
                    purposes: vec!["kui.contact_person".to_owned()],
                    special_categories: special,
                },
                valid_from: today.checked_sub(30.days()).unwrap_or(today),
                valid_until: today.checked_add(335.days()).unwrap_or(today),
                evidence: format!("demo journal note: consent meeting with {}", case.name),
                policy_version: policy_version.to_owned(),
                recorded_by: CONTACT_PERSON.to_owned(),
                recorded_by_dept: "youth-unit".to_owned(),
                recorded_at: now,
                withdrawal: None,
            })
            .await?;
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cases_have_their_ages_on_any_day() {
        for today in [date(2026, 11, 29), date(2030, 2, 28), date(2035, 12, 31)] {
            for case in cases(today) {
                let cpr = Cpr::parse(&case.cpr).unwrap();
                assert_eq!(
                    i64::from(cpr.age_on(today)),
                    i64::from(case.age),
                    "{}",
                    case.name
                );
            }
        }
    }
}
