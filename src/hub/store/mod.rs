//! Where the hub keeps what must outlive a connection: accounts (salted
//! SCRAM verifiers, never passwords), rosters, the message spool (offline
//! messages and messages not yet acknowledged by their recipient),
//! XEP-0198 sessions that may be resumed after a restart, and pubsub nodes,
//! items and subscriptions.
//!
//! Two stores come with the hub: [`MemoryStore`] (for tests; everything is
//! lost with the process) and, with the `sqlite` feature,
//! [`SqliteStore`](sqlite::SqliteStore), the durable store: one SQLite
//! file in WAL mode, migrated at open ([`HubBuilder::database`]; without
//! it or [`HubBuilder::store`] a hub keeps everything in memory).
//! Implement [`Store`] to keep the hub's state in your own database.
//!
//! [`HubBuilder::database`]: super::HubBuilder::database
//! [`HubBuilder::store`]: super::HubBuilder::store
//!
//! Every method is called from the hub's tasks and should return quickly
//! (SQLite on a local disk takes microseconds). Values that only the hub
//! interprets (a roster, a node's configuration) are opaque strings: a
//! store keeps them as they are.

#[cfg(test)]
mod conformance;
mod memory;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use memory::MemoryStore;

use crate::jid::{BareJid, FullJid};
use crate::sasl::ScramCredentials;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (I/O, a locked or corrupt database, ...).
    #[error("storage failed: {0}")]
    Backend(String),
    /// Stored data could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A bounded collection is at its limit.
    #[error("{what} is full (at most {limit})")]
    Full {
        /// What is full.
        what: &'static str,
        /// Its limit.
        limit: usize,
    },
    /// The database was written by a newer version of this crate.
    #[error("the database has schema version {found}; this build knows up to {supported}")]
    Version {
        /// The schema version found.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
}

/// What a store operation returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// A message waiting in the spool for its recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    /// Its id, unique in the store, ascending in the order of spooling.
    pub id: u64,
    /// The account it is for.
    pub user: BareJid,
    /// The stanza, serialized.
    pub stanza: String,
    /// When the hub accepted it, in milliseconds since the Unix epoch.
    pub stamp_ms: u64,
    /// The XEP-0198 session it was last sent on, and its sequence number
    /// there (the `h` that acknowledges it); `None` while it waits.
    pub sent: Option<(String, u32)>,
}

/// A stream-management session that may be resumed (after a restart, too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The XEP-0198 id (`previd` of a resumption).
    pub id: String,
    /// The bound address.
    pub jid: FullJid,
    /// How many stanzas from the client the hub has handled (the `h` it
    /// answers at resumption).
    pub inbound: u32,
}

/// A pubsub node: the service it belongs to (a pubsub domain, or an
/// account's bare JID for PEP), its name, and its configuration and
/// affiliations as the hub serialized them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNode {
    /// The service's address.
    pub service: String,
    /// The node's name.
    pub node: String,
    /// Configuration and affiliations (opaque to the store).
    pub config: String,
}

/// A published item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// The service's address.
    pub service: String,
    /// The node.
    pub node: String,
    /// The item id.
    pub id: String,
    /// Who published it (a JID).
    pub publisher: String,
    /// The payload element, serialized (may be empty).
    pub payload: String,
    /// When it was published, in milliseconds since the Unix epoch.
    pub stamp_ms: u64,
}

/// A subscription to a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    /// The service's address.
    pub service: String,
    /// The node.
    pub node: String,
    /// The subscriber (a JID, bare or full).
    pub jid: String,
    /// The subscription id.
    pub subid: String,
    /// Its state (`subscribed`, `pending`, ...) and options, as the hub
    /// serialized them.
    pub state: String,
}

/// The hub's persistent state. See the [module documentation](self).
///
/// Implementations must be safe to call from several threads; each method
/// is atomic (a crash leaves it done or not done), and a method that
/// returns `Ok` has made its change durable against a crash of the
/// process.
pub trait Store: Send + Sync + 'static {
    // ---- the hub's own values ------------------------------------------

    /// A value the hub keeps for itself (its local CA, ...).
    fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets such a value.
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;

    // ---- accounts ---------------------------------------------------------

    /// Adds or replaces an account with its verifiers (one per hash).
    fn put_account(&self, user: &BareJid, verifiers: &[ScramCredentials]) -> StoreResult<()>;
    /// The verifiers of an account; `None` if it does not exist.
    fn account(&self, user: &BareJid) -> StoreResult<Option<Vec<ScramCredentials>>>;
    /// Whether the account exists (asked for every routed stanza: a store
    /// can answer it without reading the verifiers).
    fn account_exists(&self, user: &BareJid) -> StoreResult<bool> {
        Ok(self.account(user)?.is_some())
    }
    /// Removes an account (not its roster or spool); `true` if it existed.
    fn remove_account(&self, user: &BareJid) -> StoreResult<bool>;
    /// How many accounts there are.
    fn account_count(&self) -> StoreResult<usize>;

    // ---- rosters ------------------------------------------------------------

    /// Replaces `user`'s roster (the hub's serialization).
    fn put_roster(&self, user: &BareJid, roster: &str) -> StoreResult<()>;
    /// Removes `user`'s roster.
    fn remove_roster(&self, user: &BareJid) -> StoreResult<()>;
    /// Every stored roster.
    fn rosters(&self) -> StoreResult<Vec<(BareJid, String)>>;

    // ---- the spool ----------------------------------------------------------

    /// Spools `stanza` for `user`, stamped `stamp_ms`, unless `user`
    /// already has `limit` stanzas spooled ([`StoreError::Full`]). When
    /// `sender` is given, its session is stored too (created or updated)
    /// in the same transaction, so its `inbound` count and the spooled
    /// stanza become durable together. Returns the new id.
    fn spool(
        &self,
        user: &BareJid,
        stanza: &str,
        stamp_ms: u64,
        limit: usize,
        sender: Option<&StoredSession>,
    ) -> StoreResult<u64>;
    /// Records that spooled stanza `id` was sent on `session` with
    /// sequence number `seq` (storing the session, created or updated, in
    /// the same transaction).
    fn spool_sent(&self, id: u64, session: &StoredSession, seq: u32) -> StoreResult<()>;
    /// Removes a spooled stanza (delivered for good).
    fn spool_remove(&self, id: u64) -> StoreResult<()>;
    /// Removes the stanzas sent on `session` with a sequence number up to
    /// `h` (the client acknowledged them).
    fn spool_acked(&self, session: &str, h: u32) -> StoreResult<()>;
    /// The session ended without acknowledging: its stanzas wait again
    /// (their `sent` is cleared) and the session is removed.
    fn spool_release(&self, session: &str) -> StoreResult<()>;
    /// Everything spooled for `user`, oldest first.
    fn spooled(&self, user: &BareJid) -> StoreResult<Vec<Spooled>>;
    /// How many stanzas are spooled for `user`.
    fn spool_count(&self, user: &BareJid) -> StoreResult<usize>;

    // ---- sessions -------------------------------------------------------------

    /// Stores a session (created or updated).
    fn put_session(&self, session: &StoredSession) -> StoreResult<()>;
    /// Removes a session (its spooled stanzas stay as they are).
    fn remove_session(&self, id: &str) -> StoreResult<()>;
    /// Every stored session.
    fn sessions(&self) -> StoreResult<Vec<StoredSession>>;

    // ---- pubsub ---------------------------------------------------------------

    /// Creates or replaces a node.
    fn put_node(&self, node: &StoredNode) -> StoreResult<()>;
    /// Removes a node with its items and subscriptions; `true` if it existed.
    fn remove_node(&self, service: &str, node: &str) -> StoreResult<bool>;
    /// Every node of every service.
    fn nodes(&self) -> StoreResult<Vec<StoredNode>>;
    /// Stores an item as the newest of its node (replacing one with the
    /// same id), then removes the oldest beyond `max_items`.
    fn put_item(&self, item: &StoredItem, max_items: usize) -> StoreResult<()>;
    /// Removes an item; `true` if it existed.
    fn remove_item(&self, service: &str, node: &str, id: &str) -> StoreResult<bool>;
    /// Removes every item of a node.
    fn purge_items(&self, service: &str, node: &str) -> StoreResult<()>;
    /// The items of a node, oldest first.
    fn items(&self, service: &str, node: &str) -> StoreResult<Vec<StoredItem>>;
    /// Creates or replaces the subscription of `jid` (and `subid`).
    fn put_subscription(&self, subscription: &StoredSubscription) -> StoreResult<()>;
    /// Removes the subscriptions of `jid` to a node (all of them when
    /// `subid` is `None`); how many were removed.
    fn remove_subscription(
        &self,
        service: &str,
        node: &str,
        jid: &str,
        subid: Option<&str>,
    ) -> StoreResult<usize>;
    /// The subscriptions of a node.
    fn subscriptions(&self, service: &str, node: &str) -> StoreResult<Vec<StoredSubscription>>;
}

/// An element as the hub stores it: text with its namespaces, written by
/// the crate's own writer (which refuses what XML cannot carry instead of
/// panicking); `None` if it cannot be written.
pub(crate) fn element_text(element: &minidom::Element) -> Option<String> {
    let mut out = bytes::BytesMut::new();
    crate::xml::StreamWriter::new()
        .write_element(element, &mut out)
        .ok()?;
    String::from_utf8(out.to_vec()).ok()
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
