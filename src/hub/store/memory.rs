//! [`MemoryStore`]: the [`Store`] in memory, for tests and throwaway hubs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{
    Spooled, Store, StoreError, StoreResult, StoredItem, StoredNode, StoredSession,
    StoredSubscription,
};
use crate::jid::BareJid;
use crate::sasl::ScramCredentials;

/// Everything in memory: lost with the process. Cheap and exact, for tests
/// and for hubs that need no durability.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    meta: HashMap<String, String>,
    accounts: HashMap<BareJid, Vec<ScramCredentials>>,
    rosters: HashMap<BareJid, String>,
    spool: BTreeMap<u64, Spooled>,
    next_spool: u64,
    sessions: HashMap<String, StoredSession>,
    nodes: BTreeMap<(String, String), StoredNode>,
    /// Per node, oldest first.
    items: HashMap<(String, String), Vec<StoredItem>>,
    subscriptions: HashMap<(String, String), Vec<StoredSubscription>>,
}

fn key(service: &str, node: &str) -> (String, String) {
    (service.to_owned(), node.to_owned())
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.inner().meta.get(key).cloned())
    }

    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.inner().meta.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn put_account(&self, user: &BareJid, verifiers: &[ScramCredentials]) -> StoreResult<()> {
        self.inner()
            .accounts
            .insert(user.clone(), verifiers.to_vec());
        Ok(())
    }

    fn account(&self, user: &BareJid) -> StoreResult<Option<Vec<ScramCredentials>>> {
        Ok(self.inner().accounts.get(user).cloned())
    }

    fn account_exists(&self, user: &BareJid) -> StoreResult<bool> {
        Ok(self.inner().accounts.contains_key(user))
    }

    fn remove_account(&self, user: &BareJid) -> StoreResult<bool> {
        Ok(self.inner().accounts.remove(user).is_some())
    }

    fn account_count(&self) -> StoreResult<usize> {
        Ok(self.inner().accounts.len())
    }

    fn put_roster(&self, user: &BareJid, roster: &str) -> StoreResult<()> {
        self.inner().rosters.insert(user.clone(), roster.to_owned());
        Ok(())
    }

    fn remove_roster(&self, user: &BareJid) -> StoreResult<()> {
        self.inner().rosters.remove(user);
        Ok(())
    }

    fn rosters(&self) -> StoreResult<Vec<(BareJid, String)>> {
        Ok(self
            .inner()
            .rosters
            .iter()
            .map(|(u, r)| (u.clone(), r.clone()))
            .collect())
    }

    fn spool(
        &self,
        user: &BareJid,
        stanza: &str,
        stamp_ms: u64,
        limit: usize,
        sender: Option<&StoredSession>,
    ) -> StoreResult<u64> {
        let mut inner = self.inner();
        let count = inner.spool.values().filter(|s| s.user == *user).count();
        if count >= limit {
            return Err(StoreError::Full {
                what: "the spool of this account",
                limit,
            });
        }
        inner.next_spool += 1;
        let id = inner.next_spool;
        inner.spool.insert(
            id,
            Spooled {
                id,
                user: user.clone(),
                stanza: stanza.to_owned(),
                stamp_ms,
                sent: None,
            },
        );
        if let Some(session) = sender {
            inner.sessions.insert(session.id.clone(), session.clone());
        }
        Ok(id)
    }

    fn spool_sent(&self, id: u64, session: &StoredSession, seq: u32) -> StoreResult<()> {
        let mut inner = self.inner();
        if let Some(entry) = inner.spool.get_mut(&id) {
            entry.sent = Some((session.id.clone(), seq));
        }
        inner.sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }

    fn spool_remove(&self, id: u64) -> StoreResult<()> {
        self.inner().spool.remove(&id);
        Ok(())
    }

    fn spool_acked(&self, session: &str, h: u32) -> StoreResult<()> {
        self.inner()
            .spool
            .retain(|_, s| !matches!(&s.sent, Some((id, seq)) if id == session && *seq <= h));
        Ok(())
    }

    fn spool_release(&self, session: &str) -> StoreResult<()> {
        let mut inner = self.inner();
        for entry in inner.spool.values_mut() {
            if entry.sent.as_ref().is_some_and(|(id, _)| id == session) {
                entry.sent = None;
            }
        }
        inner.sessions.remove(session);
        Ok(())
    }

    fn spooled(&self, user: &BareJid) -> StoreResult<Vec<Spooled>> {
        Ok(self
            .inner()
            .spool
            .values()
            .filter(|s| s.user == *user)
            .cloned()
            .collect())
    }

    fn spool_count(&self, user: &BareJid) -> StoreResult<usize> {
        Ok(self
            .inner()
            .spool
            .values()
            .filter(|s| s.user == *user)
            .count())
    }

    fn put_session(&self, session: &StoredSession) -> StoreResult<()> {
        self.inner()
            .sessions
            .insert(session.id.clone(), session.clone());
        Ok(())
    }

    fn remove_session(&self, id: &str) -> StoreResult<()> {
        self.inner().sessions.remove(id);
        Ok(())
    }

    fn sessions(&self) -> StoreResult<Vec<StoredSession>> {
        Ok(self.inner().sessions.values().cloned().collect())
    }

    fn put_node(&self, node: &StoredNode) -> StoreResult<()> {
        self.inner()
            .nodes
            .insert(key(&node.service, &node.node), node.clone());
        Ok(())
    }

    fn remove_node(&self, service: &str, node: &str) -> StoreResult<bool> {
        let mut inner = self.inner();
        let k = key(service, node);
        inner.items.remove(&k);
        inner.subscriptions.remove(&k);
        Ok(inner.nodes.remove(&k).is_some())
    }

    fn nodes(&self) -> StoreResult<Vec<StoredNode>> {
        Ok(self.inner().nodes.values().cloned().collect())
    }

    fn put_item(&self, item: &StoredItem, max_items: usize) -> StoreResult<()> {
        let mut inner = self.inner();
        let items = inner
            .items
            .entry(key(&item.service, &item.node))
            .or_default();
        items.retain(|i| i.id != item.id);
        items.push(item.clone());
        let excess = items.len().saturating_sub(max_items);
        items.drain(..excess);
        Ok(())
    }

    fn remove_item(&self, service: &str, node: &str, id: &str) -> StoreResult<bool> {
        let mut inner = self.inner();
        let Some(items) = inner.items.get_mut(&key(service, node)) else {
            return Ok(false);
        };
        let before = items.len();
        items.retain(|i| i.id != id);
        Ok(items.len() != before)
    }

    fn purge_items(&self, service: &str, node: &str) -> StoreResult<()> {
        self.inner().items.remove(&key(service, node));
        Ok(())
    }

    fn items(&self, service: &str, node: &str) -> StoreResult<Vec<StoredItem>> {
        Ok(self
            .inner()
            .items
            .get(&key(service, node))
            .cloned()
            .unwrap_or_default())
    }

    fn put_subscription(&self, subscription: &StoredSubscription) -> StoreResult<()> {
        let mut inner = self.inner();
        let subs = inner
            .subscriptions
            .entry(key(&subscription.service, &subscription.node))
            .or_default();
        subs.retain(|s| !(s.jid == subscription.jid && s.subid == subscription.subid));
        subs.push(subscription.clone());
        Ok(())
    }

    fn remove_subscription(
        &self,
        service: &str,
        node: &str,
        jid: &str,
        subid: Option<&str>,
    ) -> StoreResult<usize> {
        let mut inner = self.inner();
        let Some(subs) = inner.subscriptions.get_mut(&key(service, node)) else {
            return Ok(0);
        };
        let before = subs.len();
        subs.retain(|s| !(s.jid == jid && subid.is_none_or(|id| s.subid == id)));
        Ok(before - subs.len())
    }

    fn subscriptions(&self, service: &str, node: &str) -> StoreResult<Vec<StoredSubscription>> {
        Ok(self
            .inner()
            .subscriptions
            .get(&key(service, node))
            .cloned()
            .unwrap_or_default())
    }
}
