//! Gathering the facts a decision needs — the subject's age today, the active assignments, the
//! consents — from the store, before the pure `policy::decide` runs. The request path and
//! `sluse policy explain` gather them the same way.

use jiff::civil::Date;

use crate::{
    consent::{Consent, ConsentStore},
    cpr::{Cpr, PseudonymKey},
    policy::{AssignmentFact, ConsentFact, Facts},
    registry::{AssignmentStatus, AssignmentStore},
    store::{Store, StoreError},
};

/// The facts about `subject` on `today`.
pub async fn gather(
    store: &Store,
    key: &PseudonymKey,
    subject: &Cpr,
    today: Date,
) -> Result<Facts, StoreError> {
    let pseudonym = subject.pseudonym(key);
    let (assignments, consents) = tokio::try_join!(
        store.assignments_of(&pseudonym),
        store.consents_of(&pseudonym)
    )?;
    Ok(Facts {
        subject_age: subject.age_on(today),
        subject_birth_date: subject.birth_date(),
        assignments: assignments
            .into_iter()
            .filter(|a| a.status == AssignmentStatus::Active)
            .map(|a| AssignmentFact {
                contact_person: a.contact_person,
                department: a.department,
            })
            .collect(),
        consents: consents.iter().map(consent_fact).collect(),
    })
}

/// What `decide` needs to know of a recorded consent.
pub fn consent_fact(consent: &Consent) -> ConsentFact {
    ConsentFact {
        id: consent.id.clone(),
        givers: consent.giver_roles(),
        categories: consent.scope.categories.clone(),
        recipients: consent.scope.recipients.clone(),
        purposes: consent.scope.purposes.clone(),
        special_categories: consent.scope.special_categories,
        valid_from: consent.valid_from,
        valid_until: consent.valid_until,
        withdrawn: consent.withdrawal.is_some(),
    }
}
