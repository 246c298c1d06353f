//! The facts of recent subjects, kept in memory between decisions, on both backends (decision
//! 0029).
//!
//! Every decision reads its subject's assignments and consents. Kept here, they cost nothing the
//! next time; on PostgreSQL that saves a round trip and the costliest statement a request runs.
//! The cache may be behind — another replica may have written since — and that is safe: each
//! decision's audit entry carries the versions its facts were read at, and the batch that would
//! make the decision durable refuses it when its subject's facts have been written since
//! ([`Appended::Stale`]). The request then decides again on facts read afresh.
//!
//! INVARIANT: an entry is used only while its version is the newest this process knows of; a
//! registry write or a batch that shows a newer one retires every older entry at once.
//!
//! [`Appended::Stale`]: crate::audit::Appended::Stale

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::store::SubjectRegistry;

/// Subjects kept at most; past it the cache starts afresh (a miss costs one read).
const CAPACITY: usize = 4096;

/// The cache: the newest registry version known, and entries by subject pseudonym.
#[derive(Debug, Default)]
pub(super) struct RegistryCache {
    known: AtomicU64,
    entries: Mutex<HashMap<String, Arc<SubjectRegistry>>>,
}

impl RegistryCache {
    /// The subject's registry, if it was read at the newest version known.
    pub(super) fn get(&self, subject: &str) -> Option<Arc<SubjectRegistry>> {
        let known = self.known.load(Ordering::Acquire);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(subject)
            .filter(|registry| registry.version == known)
            .cloned()
    }

    /// Keeps a registry just read (its `version` read no later than its rows).
    pub(super) fn put(&self, subject: &str, registry: Arc<SubjectRegistry>) {
        if !self.advance(registry.version) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(subject) {
            entries.clear();
        }
        entries.insert(subject.to_owned(), registry);
    }

    /// Records that the registry is at `version` or later, retiring every entry read before it.
    /// Returns whether `version` is the newest known (false: it is already behind).
    pub(super) fn advance(&self, version: u64) -> bool {
        let before = self.known.fetch_max(version, Ordering::AcqRel);
        version >= before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(version: u64) -> Arc<SubjectRegistry> {
        Arc::new(SubjectRegistry {
            version,
            ..SubjectRegistry::default()
        })
    }

    #[test]
    fn an_entry_is_retired_when_a_newer_version_is_known() {
        let cache = RegistryCache::default();
        cache.put("ps_a", registry(3));
        assert_eq!(cache.get("ps_a").map(|r| r.version), Some(3));
        cache.advance(4);
        assert!(cache.get("ps_a").is_none());
        assert!(!cache.advance(2), "an older version does not go back");
        assert!(cache.get("ps_a").is_none());
    }

    #[test]
    fn rows_read_at_an_older_version_are_not_kept() {
        let cache = RegistryCache::default();
        cache.advance(5); // a write was seen while these rows were read
        cache.put("ps_a", registry(4));
        assert!(cache.get("ps_a").is_none());
    }

    #[test]
    fn a_newer_read_retires_the_older_entries() {
        let cache = RegistryCache::default();
        cache.put("ps_a", registry(1));
        cache.put("ps_b", registry(2));
        assert!(cache.get("ps_a").is_none());
        assert!(cache.get("ps_b").is_some());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = RegistryCache::default();
        for i in 0..CAPACITY + 10 {
            cache.put(&format!("ps_{i}"), registry(0));
        }
        let len = cache.entries.lock().map(|e| e.len()).unwrap_or(usize::MAX);
        assert!(len <= CAPACITY, "{len}");
    }
}
