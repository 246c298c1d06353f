//! `ConsentStore` for the backend-neutral [`Store`], and the row conversion both backends share.

use super::{Store, StoreError, assignments::parse_instant};
use crate::{
    consent::{Consent, ConsentStore, Giver, Scope, Withdrawal},
    cpr::Pseudonym,
};

/// A consent row as both backends return it (lists as JSON text).
#[derive(Debug, sqlx::FromRow, serde::Deserialize)]
pub(super) struct ConsentRow {
    pub id: String,
    pub subject_pseudonym: String,
    pub givers: String,
    pub categories: String,
    pub recipients: String,
    pub purposes: String,
    pub special_categories: bool,
    pub valid_from: String,
    pub valid_until: String,
    pub evidence: String,
    pub policy_version: String,
    pub recorded_by: String,
    pub recorded_by_dept: String,
    pub recorded_at: String,
    pub withdrawn_at: Option<String>,
    pub withdrawn_by: Option<String>,
    pub withdraw_reason: Option<String>,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = StoreError;

    fn try_from(row: ConsentRow) -> Result<Self, Self::Error> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("consent {}: {what}", row.id));
        let list = |text: &str, what: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|_| corrupt(what))
        };
        let givers: Vec<Giver> =
            serde_json::from_str(&row.givers).map_err(|_| corrupt("givers"))?;
        let withdrawal = match (&row.withdrawn_at, &row.withdrawn_by) {
            (Some(at), Some(by)) => Some(Withdrawal {
                at: parse_instant(at).ok_or_else(|| corrupt("withdrawn_at"))?,
                by: by.clone(),
                reason: row.withdraw_reason.clone(),
            }),
            (None, None) => None,
            _ => return Err(corrupt("withdrawal")),
        };
        Ok(Consent {
            scope: Scope {
                categories: list(&row.categories, "categories")?,
                recipients: list(&row.recipients, "recipients")?,
                purposes: list(&row.purposes, "purposes")?,
                special_categories: row.special_categories,
            },
            givers,
            valid_from: row.valid_from.parse().map_err(|_| corrupt("valid_from"))?,
            valid_until: row
                .valid_until
                .parse()
                .map_err(|_| corrupt("valid_until"))?,
            recorded_at: parse_instant(&row.recorded_at).ok_or_else(|| corrupt("recorded_at"))?,
            withdrawal,
            id: row.id,
            subject: Pseudonym::from_stored(row.subject_pseudonym),
            evidence: row.evidence,
            policy_version: row.policy_version,
            recorded_by: row.recorded_by,
            recorded_by_dept: row.recorded_by_dept,
        })
    }
}

/// The JSON text of a list column.
pub(super) fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

impl ConsentStore for Store {
    async fn insert_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.insert_consent(consent).await,
            Store::Postgres(s) => s.insert_consent(consent).await,
        }
    }

    async fn withdraw_consent(
        &self,
        id: &str,
        withdrawal: &Withdrawal,
    ) -> Result<Option<Consent>, StoreError> {
        match self {
            Store::Sqlite(s) => s.withdraw_consent(id, withdrawal).await,
            Store::Postgres(s) => s.withdraw_consent(id, withdrawal).await,
        }
    }

    async fn consent(&self, id: &str) -> Result<Option<Consent>, StoreError> {
        match self {
            Store::Sqlite(s) => s.consent(id).await,
            Store::Postgres(s) => s.consent(id).await,
        }
    }

    async fn consents_of(&self, subject: &Pseudonym) -> Result<Vec<Consent>, StoreError> {
        match self {
            Store::Sqlite(s) => s.consents_of(subject).await,
            Store::Postgres(s) => s.consents_of(subject).await,
        }
    }
}
