//! The users of `basic_auth_users` (web configuration file): names and bcrypt hashes.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10), so, as Prometheus'
//! exporter-toolkit does, a check's outcome is remembered under a SHA-256 of user, hash
//! and password: a client that sends the same credentials with every request pays once.
//! The cache holds at most [`CACHE_ENTRIES`] outcomes and is emptied when full. An unknown
//! user is checked against a hash of the same cost, so that the time taken does not tell
//! which user names exist. Callers run [`Users::verify`] on a blocking thread.

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::str::FromStr;

/// Most remembered outcomes.
pub const CACHE_ENTRIES: usize = 4096;

/// User names and their bcrypt hashes.
pub struct Users {
    hashes: HashMap<String, String>,
    /// A hash to check unknown users against (same cost as the users' highest).
    decoy: String,
    cache: Mutex<HashMap<[u8; 32], bool>>,
}

impl Users {
    /// Checks every hash; on error, the user whose hash is not bcrypt and why.
    pub fn new(hashes: HashMap<String, String>) -> Result<Users, (String, String)> {
        let mut cost = 4;
        for (user, hash) in &hashes {
            let parts = bcrypt::HashParts::from_str(hash)
                .map_err(|e| (user.clone(), format!("not a bcrypt hash: {e}")))?;
            cost = cost.max(parts.get_cost());
        }
        let decoy = bcrypt::hash("strata: no such user", cost)
            .map_err(|e| (String::new(), format!("bcrypt: {e}")))?;
        Ok(Users {
            hashes,
            decoy,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether `password` is `user`'s. Blocking (bcrypt) unless remembered.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let (hash, known) = match self.hashes.get(user) {
            Some(h) => (h.as_str(), true),
            None => (self.decoy.as_str(), false),
        };
        let mut key = Sha256::new();
        for part in [user, hash, password] {
            key.update((part.len() as u64).to_le_bytes());
            key.update(part.as_bytes());
        }
        let key: [u8; 32] = key.finalize().into();
        if let Some(&ok) = self.cache.lock().get(&key) {
            return ok && known;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false) && known;
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, ok);
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_password_passes_wrong_and_unknown_do_not() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let users = Users::new(HashMap::from([("alice".to_owned(), hash)])).unwrap();
        assert_eq!(users.len(), 1);
        for _ in 0..2 {
            // The second round answers from the cache: same outcomes.
            assert!(users.verify("alice", "s3cret"));
            assert!(!users.verify("alice", "s3cret "));
            assert!(!users.verify("alice", ""));
            assert!(!users.verify("bob", "s3cret"));
            assert!(!users.verify("bob", "strata: no such user"));
        }
    }

    #[test]
    fn a_hash_that_is_not_bcrypt_names_its_user() {
        let e = Users::new(HashMap::from([("bob".to_owned(), "$1$abc".to_owned())]))
            .err()
            .unwrap();
        assert_eq!(e.0, "bob");
        assert!(e.1.contains("not a bcrypt hash"), "{}", e.1);
    }
}
