//! How a subject appears in responses: the CPR number the caller sent (in the body, never a URL), or
//! nothing but the pseudonym when the request did not carry the number.

use serde::{Serialize, Serializer};

use crate::cpr::Cpr;

/// A subject in a response body.
#[derive(Debug, Clone)]
pub enum SubjectView {
    /// Echo of the CPR number the caller sent, as `DDMMYY-SSSS`.
    Echo(String),
    /// The request did not carry the number (e.g. ending an assignment by id): shown as `null`.
    Pseudonymous,
}

impl From<&Cpr> for SubjectView {
    fn from(cpr: &Cpr) -> Self {
        let digits = cpr.expose_digits();
        SubjectView::Echo(format!("{}-{}", &digits[..6], &digits[6..]))
    }
}

impl Serialize for SubjectView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SubjectView::Echo(s) => serializer.serialize_str(s),
            SubjectView::Pseudonymous => serializer.serialize_none(),
        }
    }
}
