//! The facts of recent subjects, kept in memory between decisions (SQLite only).
//!
//! Every decision reads its subject's assignments and consents; on SQLite that is two statements
//! on a pooled connection, each a round trip to the connection's thread, and the biggest share of a
//! notice's CPU after the commit itself. Only this process writes to its SQLite file, and every
//! registry write takes [`SqliteStore::registry_write`], so the process knows exactly when its
//! copy goes stale.
//!
//! INVARIANT: an entry is used only while the registry generation is the one read *before* its
//! rows were read. A write bumps the generation after its commit and before it returns, so a
//! decision that starts after a withdrawal was answered never sees the consent as in force.
//!
//! [`SqliteStore::registry_write`]: super::SqliteStore::registry_write

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

/// The cache: one generation for the whole registry, entries by subject pseudonym.
#[derive(Debug, Default)]
pub(super) struct RegistryCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, (u64, Arc<SubjectRegistry>)>>,
}

impl RegistryCache {
    /// The generation to stamp on rows about to be read.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The subject's registry, if cached in the current generation.
    pub(super) fn get(&self, subject: &str) -> Option<Arc<SubjectRegistry>> {
        let current = self.generation();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(subject) {
            Some((generation, registry)) if *generation == current => Some(registry.clone()),
            _ => None,
        }
    }

    /// Keeps rows read in `generation` (unless a write has happened since: then they may be stale).
    pub(super) fn put(&self, subject: &str, generation: u64, registry: Arc<SubjectRegistry>) {
        if generation != self.generation() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(subject) {
            entries.clear();
        }
        entries.insert(subject.to_owned(), (generation, registry));
    }

    /// Marks every entry stale: called after each registry write.
    pub(super) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Held for a registry write: the process's write lock, and on drop (after the write committed,
/// failed or was cancelled) the cache's invalidation.
pub(in crate::store) struct RegistryWrite<'a> {
    _lock: tokio::sync::MutexGuard<'a, ()>,
    cache: &'a RegistryCache,
}

impl<'a> RegistryWrite<'a> {
    pub(super) fn new(lock: tokio::sync::MutexGuard<'a, ()>, cache: &'a RegistryCache) -> Self {
        RegistryWrite { _lock: lock, cache }
    }
}

impl Drop for RegistryWrite<'_> {
    fn drop(&mut self) {
        self.cache.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Arc<SubjectRegistry> {
        Arc::new(SubjectRegistry::default())
    }

    #[test]
    fn an_entry_read_before_a_write_is_not_used_after_it() {
        let cache = RegistryCache::default();
        let before = cache.generation();
        cache.put("ps_a", before, registry());
        assert!(cache.get("ps_a").is_some());
        cache.invalidate();
        assert!(cache.get("ps_a").is_none());
    }

    #[test]
    fn rows_read_while_a_write_committed_are_not_kept() {
        let cache = RegistryCache::default();
        let stamped = cache.generation();
        cache.invalidate(); // the write lands between the stamp and the put
        cache.put("ps_a", stamped, registry());
        assert!(cache.get("ps_a").is_none());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = RegistryCache::default();
        let generation = cache.generation();
        for i in 0..CAPACITY + 10 {
            cache.put(&format!("ps_{i}"), generation, registry());
        }
        let len = cache.entries.lock().map(|e| e.len()).unwrap_or(usize::MAX);
        assert!(len <= CAPACITY, "{len}");
    }
}
