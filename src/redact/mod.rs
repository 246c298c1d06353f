//! Redaction: what of a source record may leave the gateway under a permit.
//!
//! Free-text fields are [`scrub`]bed of e-mail addresses, CPR numbers and phone numbers.

mod scrub;

pub use scrub::{CPR_MARKER, EMAIL_MARKER, PHONE_MARKER, scrub};
