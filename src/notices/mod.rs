//! Push notices (a school's absence notice, an education institution's KUI notice, a concern) and
//! the departments' inboxes.
//!
//! A notice is decided once per recipient department that a notice flow from the sender's kind
//! reaches; each permitted recipient gets its own redacted copy in its inbox and its own audit record;
//! each refused one is listed in `withheld` and audited. The `Idempotency-Key` makes retries safe.

pub mod seal;
pub mod service;
mod store;
pub mod withdrawal;

pub use seal::{Sealed, Sealer};
pub use store::{InboxItem, NoticeRecord, NoticeStore, Received};
