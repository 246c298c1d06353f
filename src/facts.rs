//! Gathering the facts a decision needs — the subject's age today, the active assignments, the
//! consents — from the store, before the pure `policy::decide` runs. The request path and
//! `sluse policy explain` gather them the same way.

use jiff::civil::Date;

use crate::{
    audit::FactsStamp,
    consent::Consent,
    cpr::{Cpr, PseudonymKey},
    policy::{AssignmentFact, ConsentFact, Facts},
    registry::AssignmentStatus,
    store::{Store, StoreError},
};

/// The facts of a decision, and the versions they were read at.
#[derive(Debug)]
pub struct Gathered {
    /// What `decide` takes.
    pub facts: Facts,
    /// What the decision's audit entry carries ([`crate::audit::Entry::facts`]), so that it is
    /// made durable only while the facts still hold.
    pub stamp: FactsStamp,
}

/// The facts about `subject` on `today`.
pub async fn gather(
    store: &Store,
    key: &PseudonymKey,
    subject: &Cpr,
    today: Date,
) -> Result<Gathered, StoreError> {
    let pseudonym = subject.pseudonym(key);
    let registry = store.registry_of(&pseudonym).await?;
    let facts = Facts {
        subject_age: subject.age_on(today),
        subject_birth_date: subject.birth_date(),
        assignments: registry
            .assignments
            .iter()
            .filter(|a| a.status == AssignmentStatus::Active)
            .map(|a| AssignmentFact {
                contact_person: a.contact_person.clone(),
                department: a.department.clone(),
            })
            .collect(),
        consents: registry.consents.iter().map(consent_fact).collect(),
    };
    Ok(Gathered {
        facts,
        stamp: FactsStamp {
            registry: registry.version,
            subject: pseudonym.as_str().to_owned(),
            subject_version: registry.subject_version,
        },
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
