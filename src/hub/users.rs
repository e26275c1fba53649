//! Accounts of the hub: the [`UserStore`] trait and the in-memory
//! [`MemoryUsers`]. Passwords are never kept: only salted SCRAM verifiers
//! (SHA-1 and SHA-256), from which PLAIN is checked too.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::store::Store;
use crate::jid::{BareJid, JidError};
use crate::sasl::{MIN_ITERATIONS, ScramCredentials, ScramHash, ServerCredentials};

/// Where the hub finds its accounts. Implement it to log users in from
/// your own database; [`MemoryUsers`] is the default.
///
/// Every method may be called for an account that does not exist: answer
/// `None` / `false` (the SASL layer then runs a decoy exchange, so the
/// client cannot tell unknown users from wrong passwords).
pub trait UserStore: Send + Sync + 'static {
    /// The SCRAM verifier of `user` for `hash`.
    fn scram(&self, user: &BareJid, hash: ScramHash) -> Option<ScramCredentials>;
    /// Whether `password` is `user`'s (PLAIN over TLS).
    fn verify_plain(&self, user: &BareJid, password: &str) -> bool;
    /// Whether the account exists (for routing: stanzas to an unknown
    /// account get `service-unavailable`).
    fn exists(&self, user: &BareJid) -> bool;
}

/// Why an account could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The address is not a valid bare JID with a local part.
    #[error("invalid account address: {0}")]
    Jid(#[from] JidError),
    /// The address has no local part (`user@domain` is needed).
    #[error("an account needs a local part: {0}")]
    NoLocalPart(String),
    /// The password is empty.
    #[error("the password is empty")]
    EmptyPassword,
    /// The store is full.
    #[error("the store holds its maximum of {0} accounts")]
    Full(usize),
}

/// Accounts in memory: SCRAM-SHA-1 and SCRAM-SHA-256 verifiers with a
/// random salt per account. Cheap to clone (shared).
#[derive(Clone)]
pub struct MemoryUsers {
    inner: Arc<RwLock<HashMap<BareJid, Vec<ScramCredentials>>>>,
    iterations: u32,
    max_accounts: usize,
}

impl std::fmt::Debug for MemoryUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.inner.read().map_or(0, |users| users.len());
        f.debug_struct("MemoryUsers")
            .field("accounts", &count)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryUsers {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryUsers {
    /// An empty store: 4096 PBKDF2 iterations (RFC 7677's minimum), at
    /// most a million accounts.
    pub fn new() -> Self {
        Self {
            inner: Arc::default(),
            iterations: MIN_ITERATIONS,
            max_accounts: 1_000_000,
        }
    }

    /// Uses `iterations` for verifiers made from now on (at least
    /// [`MIN_ITERATIONS`]).
    #[must_use]
    pub fn with_iterations(mut self, iterations: u32) -> Self {
        self.iterations = iterations.max(MIN_ITERATIONS);
        self
    }

    /// Adds or replaces the account `jid` (`user@domain`) with `password`.
    ///
    /// # Errors
    /// [`UserError`] for an invalid address, an empty password or a full
    /// store.
    pub fn add(&self, jid: &str, password: &str) -> Result<(), UserError> {
        let jid = check_account(jid, password)?;
        let verifiers = verifiers(password, self.iterations);
        let mut users = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if users.len() >= self.max_accounts && !users.contains_key(&jid) {
            return Err(UserError::Full(self.max_accounts));
        }
        users.insert(jid, verifiers);
        Ok(())
    }

    /// Removes the account; `true` if it existed.
    pub fn remove(&self, jid: &BareJid) -> bool {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(jid)
            .is_some()
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.inner.read().map_or(0, |users| users.len())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl UserStore for MemoryUsers {
    fn scram(&self, user: &BareJid, hash: ScramHash) -> Option<ScramCredentials> {
        let users = self.inner.read().unwrap_or_else(|e| e.into_inner());
        users.get(user)?.iter().find(|c| c.hash == hash).cloned()
    }

    fn verify_plain(&self, user: &BareJid, password: &str) -> bool {
        let verifier = {
            let users = self.inner.read().unwrap_or_else(|e| e.into_inner());
            users.get(user).and_then(|c| c.last().cloned())
        };
        match verifier {
            Some(verifier) => verifier.verify_password(password),
            None => {
                decoy(password, self.iterations);
                false
            }
        }
    }

    fn exists(&self, user: &BareJid) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(user)
    }
}

/// SCRAM-SHA-1 and SCRAM-SHA-256 verifiers of `password` with one random
/// salt.
pub(crate) fn verifiers(password: &str, iterations: u32) -> Vec<ScramCredentials> {
    let seed = crate::rt::client::os_seed();
    let salt = seed.get(..16).unwrap_or(&seed).to_vec();
    [ScramHash::Sha1, ScramHash::Sha256]
        .into_iter()
        .map(|hash| ScramCredentials::derive(hash, password, &salt, iterations))
        .collect()
}

/// Checks an account's address and password before it is stored.
pub(crate) fn check_account(jid: &str, password: &str) -> Result<BareJid, UserError> {
    let jid: BareJid = jid.parse()?;
    if jid.node().is_none() {
        return Err(UserError::NoLocalPart(jid.to_string()));
    }
    if password.is_empty() {
        return Err(UserError::EmptyPassword);
    }
    Ok(jid)
}

/// Runs the work of a PLAIN check for an account that does not exist, so
/// timing tells nothing.
fn decoy(password: &str, iterations: u32) {
    let _ = ScramCredentials::derive(
        ScramHash::Sha256,
        password,
        b"xmpp-kit hub decoy",
        iterations,
    );
}

/// The accounts of a [`Store`]: the hub's default [`UserStore`].
pub(crate) struct StoreUsers(pub(crate) Arc<dyn Store>);

impl UserStore for StoreUsers {
    fn scram(&self, user: &BareJid, hash: ScramHash) -> Option<ScramCredentials> {
        // A store that fails cannot log anyone in: the client sees a
        // failed authentication, as for an unknown user.
        self.0
            .account(user)
            .ok()
            .flatten()?
            .into_iter()
            .find(|c| c.hash == hash)
    }

    fn verify_plain(&self, user: &BareJid, password: &str) -> bool {
        match self
            .0
            .account(user)
            .ok()
            .flatten()
            .and_then(|v| v.last().cloned())
        {
            Some(verifier) => verifier.verify_password(password),
            None => {
                decoy(password, MIN_ITERATIONS);
                false
            }
        }
    }

    fn exists(&self, user: &BareJid) -> bool {
        self.0.account_exists(user).unwrap_or(false)
    }
}

/// The [`ServerCredentials`] of one domain, over a [`UserStore`].
pub(crate) struct DomainCredentials {
    pub(crate) domain: String,
    pub(crate) store: Arc<dyn UserStore>,
}

impl DomainCredentials {
    fn jid(&self, username: &str) -> Option<BareJid> {
        BareJid::new(Some(username), &self.domain).ok()
    }
}

impl ServerCredentials for DomainCredentials {
    fn scram(&self, username: &str, hash: ScramHash) -> Option<ScramCredentials> {
        self.store.scram(&self.jid(username)?, hash)
    }

    fn verify_plain(&self, username: &str, password: &str) -> bool {
        match self.jid(username) {
            Some(jid) => self.store.verify_plain(&jid, password),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_verify() {
        let users = MemoryUsers::new();
        users.add("alice@hub.test", "pw").unwrap();
        let alice: BareJid = "alice@hub.test".parse().unwrap();
        assert!(users.exists(&alice));
        assert!(users.verify_plain(&alice, "pw"));
        assert!(!users.verify_plain(&alice, "wrong"));
        let bob: BareJid = "bob@hub.test".parse().unwrap();
        assert!(!users.verify_plain(&bob, "pw"));
        let sha256 = users.scram(&alice, ScramHash::Sha256).unwrap();
        assert!(sha256.is_well_formed());
        assert!(users.scram(&alice, ScramHash::Sha512).is_none());
        assert!(!format!("{users:?}").contains("pw\""));
    }

    #[test]
    fn refuses_bad_accounts() {
        let users = MemoryUsers::new();
        assert!(matches!(
            users.add("hub.test", "pw"),
            Err(UserError::NoLocalPart(_))
        ));
        assert_eq!(users.add("a@hub.test", ""), Err(UserError::EmptyPassword));
        assert!(matches!(users.add("a@@hub", "pw"), Err(UserError::Jid(_))));
        assert!(users.is_empty());
    }

    #[test]
    fn domain_credentials_scope_by_domain() {
        let users = MemoryUsers::new();
        users.add("alice@one.test", "pw").unwrap();
        let one = DomainCredentials {
            domain: "one.test".into(),
            store: Arc::new(users.clone()),
        };
        let two = DomainCredentials {
            domain: "two.test".into(),
            store: Arc::new(users),
        };
        assert!(one.verify_plain("alice", "pw"));
        assert!(!two.verify_plain("alice", "pw"));
        assert!(one.scram("alice", ScramHash::Sha1).is_some());
        assert!(two.scram("alice", ScramHash::Sha1).is_none());
    }
}
