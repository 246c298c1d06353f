//! Redaction: what of a source record may leave the gateway under a permit.
//!
//! [`apply`] walks a record against the [`RedactionPlan`](crate::policy::RedactionPlan) of a
//! permit — which only [`decide`](crate::policy::decide) hands out — and keeps exactly the leaves
//! the plan allows (default deny: fields the source invents, declared fields the flow does not
//! list, special-category fields the basis does not cover, and values of the wrong shape never
//! pass). Free-text fields are [`scrub`]bed of e-mail addresses, CPR numbers and phone numbers.
//! The result says which leaf paths were disclosed and which were withheld, for the audit record
//! and the response (API.md §5, §8; invariant 2 of §9).

mod apply;
mod scrub;

pub use apply::{Redacted, WHOLE_RECORD, apply};
pub use scrub::{CPR_MARKER, EMAIL_MARKER, PHONE_MARKER, scrub};

#[cfg(test)]
mod tests;
