//! Console sessions: a random id in an HttpOnly, Secure, SameSite=Strict cookie, mapped in memory
//! to who signed in and the session's CSRF token. The token pasted at sign-in is never kept.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use ring::rand::{SecureRandom, SystemRandom};

use crate::audit::Verification;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sluse_dpo";
/// The sign-in form's double-submit cookie (CSRF protection before there is a session).
pub const LOGIN_COOKIE: &str = "sluse_dpo_login";
/// A session ends this long after its last use…
pub const IDLE: SignedDuration = SignedDuration::from_mins(30);
/// …and at the latest this long after sign-in.
pub const ABSOLUTE: SignedDuration = SignedDuration::from_hours(8);
/// At most this many live sessions (a DPO office is a handful of people).
const MAX_SESSIONS: usize = 1000;

/// A signed-in DPO.
#[derive(Debug, Clone)]
pub struct Session {
    /// The DPO's `sub`.
    pub sub: String,
    /// The DPO's department.
    pub dept: String,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// This session's last "verify now", running or done.
    pub verification: Option<Arc<VerifyJob>>,
    signed_in: Timestamp,
    last_used: Timestamp,
}

/// The live sessions, by id.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes, base64url: a session id or a CSRF token. `None` if the system RNG fails.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// Starts a session; returns its id. `None` if no random id could be made.
    pub fn start(&self, sub: &str, dept: &str, now: Timestamp) -> Option<String> {
        let id = random_token()?;
        let session = Session {
            sub: sub.to_owned(),
            dept: dept.to_owned(),
            csrf: random_token()?,
            verification: None,
            signed_in: now,
            last_used: now,
        };
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, s| s.is_live(now));
        if map.len() >= MAX_SESSIONS {
            // Drop the least recently used rather than refuse the DPO who is signing in.
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), session);
        Some(id)
    }

    /// The live session `id`, marked as used now.
    pub fn get(&self, id: &str, now: Timestamp) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(id) {
            Some(s) if s.is_live(now) => {
                s.last_used = now;
                Some(s.clone())
            }
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Keeps `job` as the session's verification, unless one is still running: then returns
    /// `false` and keeps that one.
    pub fn start_verification(&self, id: &str, job: Arc<VerifyJob>) -> bool {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(id) {
            Some(s)
                if s.verification
                    .as_ref()
                    .is_none_or(|j| j.outcome().is_some()) =>
            {
                s.verification = Some(job);
                true
            }
            _ => false,
        }
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(id);
    }
}

/// A "verify now" running in the background: how far it got, and its outcome once done.
#[derive(Debug)]
pub struct VerifyJob {
    /// The chain head's seq when it started.
    pub total: u64,
    /// When it started.
    pub started: Timestamp,
    checked: AtomicU64,
    outcome: Mutex<Option<Result<Verification, String>>>,
}

impl VerifyJob {
    /// A job over a chain of `total` records, started at `started`.
    pub fn new(total: u64, started: Timestamp) -> VerifyJob {
        VerifyJob {
            total,
            started,
            checked: AtomicU64::new(0),
            outcome: Mutex::new(None),
        }
    }

    /// Records checked so far.
    pub fn checked(&self) -> u64 {
        self.checked.load(Ordering::Relaxed)
    }

    /// Notes progress.
    pub fn progress(&self, checked: u64) {
        self.checked.store(checked, Ordering::Relaxed);
    }

    /// The outcome: `None` while running.
    pub fn outcome(&self) -> Option<Result<Verification, String>> {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets the outcome.
    pub fn finish(&self, outcome: Result<Verification, String>) {
        if let Ok(v) = &outcome {
            self.progress(v.records);
        }
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
    }
}

impl Session {
    fn is_live(&self, now: Timestamp) -> bool {
        now.duration_since(self.last_used) < IDLE && now.duration_since(self.signed_in) < ABSOLUTE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_or_old() {
        let sessions = Sessions::default();
        let t0: Timestamp = "2026-03-01T09:00:00Z".parse().unwrap();
        let id = sessions.start("dpo-1", "dpo-office", t0).unwrap();
        assert!(
            sessions
                .get(&id, t0 + SignedDuration::from_mins(29))
                .is_some()
        );
        assert!(
            sessions
                .get(&id, t0 + SignedDuration::from_mins(58))
                .is_some()
        );
        assert!(
            sessions
                .get(&id, t0 + SignedDuration::from_mins(100))
                .is_none()
        );
        let id = sessions.start("dpo-1", "dpo-office", t0).unwrap();
        let mut t = t0;
        for _ in 0..20 {
            t += SignedDuration::from_mins(25);
        }
        // Used every 25 minutes, yet over 8 hours old.
        let mut alive = true;
        let mut u = t0;
        while u < t {
            u += SignedDuration::from_mins(25);
            alive = sessions.get(&id, u).is_some();
        }
        assert!(!alive);
        assert!(sessions.get("nope", t0).is_none());
    }

    #[test]
    fn secrets_compare_equal_only_when_equal_and_non_empty() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", ""));
    }
}
