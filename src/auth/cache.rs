//! The verified-token cache: one signature check costs more than the rest of a request, and clients
//! send the same bearer token many times.
//!
//! Keyed by the SHA-256 digest of the token, so the cache never holds a usable token.
//! INVARIANT: an entry is served only while `now < exp`; a cached token never outlives its `exp`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ring::digest;

use super::Principal;

/// The SHA-256 digest of a token.
pub(crate) type TokenDigest = [u8; 32];

/// The cache key for a token; `None` only if SHA-256 stopped producing 32 bytes (then: no caching).
pub(crate) fn token_digest(token: &str) -> Option<TokenDigest> {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .try_into()
        .ok()
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Verifications answered from the cache.
    pub hits: u64,
    /// Verifications that had to check a signature (including cached entries found expired).
    pub misses: u64,
    /// Entries currently held.
    pub entries: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    principal: Principal,
    /// `exp` of the token, in seconds since the Unix epoch.
    exp: i64,
}

/// A bounded map from token digest to the verified principal.
#[derive(Debug)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<TokenDigest, Entry>>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens; `0` disables caching.
    pub(crate) fn new(capacity: usize) -> Self {
        TokenCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The principal of a cached, unexpired token; counts a hit or a miss.
    pub(crate) fn get(&self, key: &TokenDigest, now: i64) -> Option<Principal> {
        let found = {
            let mut entries = self.lock();
            match entries.get(key) {
                Some(entry) if now < entry.exp => Some(entry.principal.clone()),
                Some(_) => {
                    entries.remove(key);
                    None
                }
                None => None,
            }
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Remembers a verified token until its `exp`. Evicts expired entries first when full, then
    /// an arbitrary eighth, so that the O(n) sweep runs at most once per `capacity / 8` inserts.
    pub(crate) fn insert(&self, key: TokenDigest, principal: Principal, exp: i64, now: i64) {
        if self.capacity == 0 || now >= exp {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, entry| now < entry.exp);
            if entries.len() >= self.capacity {
                let victims: Vec<TokenDigest> = entries
                    .keys()
                    .take((self.capacity / 8).max(1))
                    .copied()
                    .collect();
                for victim in &victims {
                    entries.remove(victim);
                }
            }
        }
        entries.insert(key, Entry { principal, exp });
    }

    /// Current counters.
    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.lock().len(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TokenDigest, Entry>> {
        // A panic while holding the lock cannot leave a half-written entry that grants more than
        // it should (each operation is one map call), so a poisoned map is still safe to use.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn principal(sub: &str) -> Principal {
        Principal {
            sub: sub.into(),
            dept: "school".into(),
            role: Role::School,
        }
    }

    fn key(n: u32) -> TokenDigest {
        token_digest(&n.to_string()).unwrap()
    }

    #[test]
    fn an_entry_is_served_until_its_exp_and_not_after() {
        let cache = TokenCache::new(10);
        cache.insert(key(1), principal("a"), 100, 50);
        assert_eq!(cache.get(&key(1), 99), Some(principal("a")));
        assert_eq!(cache.get(&key(1), 100), None);
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 1,
                misses: 1,
                entries: 0
            }
        );
    }

    #[test]
    fn a_full_cache_evicts_expired_entries_first() {
        let cache = TokenCache::new(3);
        cache.insert(key(1), principal("old"), 10, 0);
        cache.insert(key(2), principal("b"), 100, 0);
        cache.insert(key(3), principal("c"), 100, 0);
        cache.insert(key(4), principal("d"), 100, 20);
        assert_eq!(cache.stats().entries, 3);
        for n in 2..=4 {
            assert!(cache.get(&key(n), 20).is_some(), "entry {n} was evicted");
        }
    }

    #[test]
    fn a_full_cache_of_live_entries_stays_bounded() {
        let cache = TokenCache::new(16);
        for n in 0..1000 {
            cache.insert(key(n), principal("p"), 100, 0);
            assert!(cache.stats().entries <= 16);
        }
        assert!(
            cache.get(&key(999), 0).is_some(),
            "the newest entry is kept"
        );
    }

    #[test]
    fn capacity_zero_disables_the_cache() {
        let cache = TokenCache::new(0);
        cache.insert(key(1), principal("a"), 100, 0);
        assert_eq!(cache.get(&key(1), 0), None);
    }
}
