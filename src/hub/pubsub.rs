//! The hub's publish-subscribe service (XEP-0060) and the Personal
//! Eventing Protocol (XEP-0163), as logic without I/O.
//!
//! [`Pubsub`] answers the iqs of one pubsub service domain (such as
//! `pubsub.localhost`) and of every account's PEP service (its bare JID).
//! Each call of [`Pubsub::handle_iq`] returns the iq's answer and the event
//! notifications to route, in that order; it never blocks on anything but
//! the [`Store`]. Every change is written to the store before the answer is
//! made, so an answer means the change is durable; on a store error the
//! answer is `internal-server-error` (type `wait`) and what the service
//! holds in memory (nodes, their configuration, affiliations and
//! subscriptions) still agrees with the store. Items live in the store
//! only.
//!
//! # What is supported
//! Leaf nodes: create (named or instant, with a configuration form),
//! configure (`pubsub#access_model` open, presence or whitelist,
//! `pubsub#max_items`, `pubsub#persist_items`, `pubsub#notification_type`,
//! `pubsub#deliver_payloads`, `pubsub#title`), delete, purge, publish
//! (with publish-options as preconditions), retract, subscribe and
//! unsubscribe, items retrieval (all, the newest N, by id), the
//! requester's own subscriptions and affiliations, and the owner's
//! affiliations and subscriptions (get and set). Service discovery of the
//! service, its nodes and their items (with the node meta-data form).
//! What is not: collections, subscription options, pending subscriptions
//! (the `authorize` and `roster` access models), the `publish-only`
//! affiliation, configuration change notifications, sending the last
//! published item on subscription. These are refused with
//! `feature-not-implemented` and the `unsupported` feature, or
//! `not-acceptable` for a configuration value.
//!
//! # Who may do what
//! - **Owners** (the creator; more with the owner affiliations set)
//!   configure, delete and purge the node and manage its affiliations and
//!   subscriptions. A node keeps at least one owner.
//! - **Publishers**: owners and entities with the `publisher` affiliation
//!   publish and retract (`pubsub#publish_model` is `publishers`, the only
//!   value accepted). They may also subscribe and retrieve items whatever
//!   the access model.
//! - **Subscribing and retrieving items** follow the access model:
//!   `open` lets anyone; `presence` lets the owners and entities with a
//!   presence subscription to an owner (as [`PubsubAccess`] says);
//!   `whitelist` lets the `member`, `publisher` and `owner` affiliations.
//!   An `outcast` is refused everywhere (`forbidden`), and loses its
//!   subscriptions when it becomes one. Notifications follow the same
//!   rule when they are sent, so a contact that loses its presence
//!   subscription stops getting them.
//! - Anyone with an address may create nodes on the pubsub service
//!   (within [`PubsubLimits`]).
//!
//! # PEP
//! An account's bare JID is its PEP service. Only the account creates,
//! configures, deletes, purges, publishes and retracts (others get
//! `forbidden`), and it owns every node there (its affiliation cannot be
//! changed; others may be made `member` or `outcast` only). Publishing to a
//! node that does not exist creates it with the `presence` access model
//! (and the publish-options as its configuration). Notifications go to the
//! node's subscribers and to the account's bare JID. The hub does not
//! implement notifications filtered by entity capabilities (`+notify`,
//! XEP-0115): a contact gets an account's PEP notifications by subscribing
//! to the node explicitly.
//!
//! # Items
//! A node keeps its `pubsub#max_items` newest items (the oldest go first);
//! a node with `pubsub#persist_items` false keeps its newest item only, so
//! that it still tells its current state. Items are returned oldest first.
//! An answer stays within [`PubsubLimits::max_reply_bytes`]: an items
//! result holds the newest items that fit, and longer lists (nodes,
//! subscriptions, affiliations) are cut.
//!
//! # Notifications
//! `<message from=service to=subscriber type=headline|normal>` with an
//! `<event xmlns='http://jabber.org/protocol/pubsub#event'/>`: `<items>`
//! with the published `<item>` (its payload when `pubsub#deliver_payloads`)
//! or the `<retract>`ed ids (when the retract asks `notify`), `<delete>` and
//! `<purge>`. Headlines reach available resources only; `normal` messages
//! are delivered like any other message to an account (and stored offline
//! when the hub does that).

// A refused request ends in its error answer at once: boxing the error
// would cost an allocation for nothing.
#![allow(clippy::result_large_err)]

mod config;
mod owner;
mod publish;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use minidom::Element;

use self::config::{META_DATA, NodeConfig, NotificationType};
use super::store::{Store, StoreError, StoredNode};
use crate::ext::Payload as _;
use crate::ext::data_forms::{DataForm, FORM_TYPE, Field, FieldType, FormType};
use crate::ext::disco::{self, DiscoInfo, DiscoItem, DiscoItems, Identity};
use crate::ext::ping::Ping;
use crate::ext::pubsub::{
    AccessModel, Affiliation, ErrorCondition, PubSub, PubSubError, PubSubOwner,
};
use crate::jid::{BareJid, Jid};
use crate::stanza::{
    DefinedCondition, ErrorType, IdGenerator, Iq, IqKind, Message, MessageType, Stanza, StanzaError,
};

/// Limits of the pubsub service and of PEP. A request that would pass one
/// fails with the error given here and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PubsubLimits {
    /// Nodes on the pubsub service, every owner together (default 10 000):
    /// beyond, `not-allowed` with `max-nodes-exceeded`.
    pub max_nodes: usize,
    /// Nodes one entity may own on the pubsub service, and nodes of one
    /// account's PEP service (default 100): beyond, `not-allowed` with
    /// `max-nodes-exceeded`.
    pub max_nodes_per_owner: usize,
    /// The highest `pubsub#max_items` of a node, at least 1 (default 256;
    /// a new node keeps 10, or this if lower): a larger value is
    /// `not-acceptable`.
    pub max_items: usize,
    /// Bytes of one item's payload, serialized (default 64 KiB): beyond,
    /// `not-acceptable` with `payload-too-big`.
    pub max_payload_bytes: usize,
    /// Subscriptions to one node (default 1000): beyond,
    /// `policy-violation` with `too-many-subscriptions`.
    pub max_subscriptions: usize,
    /// Affiliations on one node (default 1000): beyond,
    /// `resource-constraint`.
    pub max_affiliations: usize,
    /// Bytes of one answer, about (default 192 KiB, under the 256 KiB a
    /// client accepts by default): an items result holds the newest items
    /// that fit; longer lists (nodes, subscriptions, affiliations) are cut.
    pub max_reply_bytes: usize,
}

impl Default for PubsubLimits {
    fn default() -> Self {
        Self {
            max_nodes: 10_000,
            max_nodes_per_owner: 100,
            max_items: 256,
            max_payload_bytes: 64 * 1024,
            max_subscriptions: 1000,
            max_affiliations: 1000,
            max_reply_bytes: 192 * 1024,
        }
    }
}

/// What the service asks the hub about its accounts.
pub(crate) trait PubsubAccess {
    /// Whether `subscriber` has a subscription to `owner`'s presence.
    fn is_subscribed_to(&self, subscriber: &BareJid, owner: &BareJid) -> bool;
}

/// The pubsub features of the service (XEP-0060 section 10), each
/// implemented as described in the [module documentation](self).
const FEATURES: &[&str] = &[
    "access-open",
    "access-presence",
    "access-whitelist",
    "config-node",
    "create-and-configure",
    "create-nodes",
    "delete-items",
    "delete-nodes",
    "instant-nodes",
    "item-ids",
    "manage-subscriptions",
    "member-affiliation",
    "meta-data",
    "modify-affiliations",
    "outcast-affiliation",
    "persistent-items",
    "publish",
    "publish-options",
    "publisher-affiliation",
    "purge-nodes",
    "retract-items",
    "retrieve-affiliations",
    "retrieve-default",
    "retrieve-items",
    "retrieve-subscriptions",
    "subscribe",
];

/// The features of the pubsub service, for its disco#info.
fn service_features() -> Vec<String> {
    let mut features = vec![
        disco::NS_INFO.to_owned(),
        disco::NS_ITEMS.to_owned(),
        crate::ext::ping::NS.to_owned(),
        crate::ext::pubsub::NS.to_owned(),
    ];
    features.extend(FEATURES.iter().map(|f| crate::ext::pubsub::feature(f)));
    features
}

/// The pubsub features of an account's PEP service, for the account's
/// disco#info: those of the service (but node meta-data, which PEP
/// disco does not carry), and `auto-create`.
pub(crate) fn pep_features() -> Vec<String> {
    let mut features = vec![crate::ext::pubsub::NS.to_owned()];
    features.extend(
        FEATURES
            .iter()
            .filter(|f| **f != "meta-data")
            .chain(&["auto-create"])
            .map(|f| crate::ext::pubsub::feature(f)),
    );
    features.sort();
    features
}

/// Bytes of a node name or item id, at most.
const MAX_NAME_BYTES: usize = 1024;

/// The state of every stored subscription (the only one this service
/// has).
const SUBSCRIBED: &str = "subscribed";

/// A node by service address and name.
type NodeKey = (String, String);

/// A node as the service holds it in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    config: NodeConfig,
    /// Everyone with an affiliation but `none`; the owners among them.
    affiliations: BTreeMap<BareJid, Affiliation>,
    /// Subscribed JIDs (bare or full) and their subscription ids.
    subscriptions: BTreeMap<Jid, String>,
}

impl Node {
    fn affiliation(&self, who: &BareJid) -> Affiliation {
        self.affiliations
            .get(who)
            .copied()
            .unwrap_or(Affiliation::None)
    }

    fn owners(&self) -> impl Iterator<Item = &BareJid> {
        self.affiliations
            .iter()
            .filter(|(_, a)| **a == Affiliation::Owner)
            .map(|(jid, _)| jid)
    }
}

struct Inner {
    nodes: BTreeMap<NodeKey, Node>,
    ids: IdGenerator,
}

/// The pubsub service and PEP. See the [module documentation](self).
pub(crate) struct Pubsub {
    store: Arc<dyn Store>,
    limits: PubsubLimits,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Pubsub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pubsub")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Pubsub {
    /// The service with the nodes and subscriptions of `store`.
    ///
    /// # Errors
    /// The store's error, or [`StoreError::Corrupt`] for a node or
    /// subscription this service did not write.
    pub(crate) fn load(store: Arc<dyn Store>, limits: PubsubLimits) -> Result<Self, StoreError> {
        let mut nodes = BTreeMap::new();
        for stored in store.nodes()? {
            let corrupt = |e: String| {
                StoreError::Corrupt(format!(
                    "pubsub node {:?} of {}: {e}",
                    stored.node, stored.service
                ))
            };
            let (config, affiliations) = config::decode(&stored.config).map_err(corrupt)?;
            let mut subscriptions = BTreeMap::new();
            for sub in store.subscriptions(&stored.service, &stored.node)? {
                if sub.state != SUBSCRIBED {
                    return Err(corrupt(format!("subscription state {:?}", sub.state)));
                }
                let jid = sub
                    .jid
                    .parse::<Jid>()
                    .map_err(|e| corrupt(format!("subscription jid {:?}: {e}", sub.jid)))?;
                subscriptions.insert(jid, sub.subid);
            }
            nodes.insert(
                (stored.service, stored.node),
                Node {
                    config,
                    affiliations,
                    subscriptions,
                },
            );
        }
        let seed = crate::rt::client::os_seed()
            .iter()
            .take(8)
            .fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        let limits = PubsubLimits {
            max_items: limits.max_items.max(1),
            ..limits
        };
        Ok(Self {
            store,
            limits,
            inner: Mutex::new(Inner {
                nodes,
                ids: IdGenerator::new(seed),
            }),
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers an iq to `service` (the pubsub domain, or an account's bare
    /// JID for PEP), from `iq.from` (stamped by the hub). Returns the
    /// answer (to `iq.from`) first, then the notifications (from the
    /// service, to each subscriber); nothing for an iq that is itself an
    /// answer.
    pub(crate) fn handle_iq(
        &self,
        service: &Jid,
        iq: &Iq,
        access: &dyn PubsubAccess,
    ) -> Vec<Stanza> {
        let (set, payload) = match &iq.kind {
            IqKind::Get(payload) => (false, payload),
            IqKind::Set(payload) => (true, payload),
            IqKind::Result(_) | IqKind::Error { .. } => return Vec::new(),
        };
        let outcome = match &iq.from {
            None => Err(bad_request("no sender")),
            Some(from) => {
                let mut inner = self.inner();
                let mut op = Op {
                    store: &*self.store,
                    limits: &self.limits,
                    inner: &mut inner,
                    service: Service::new(service),
                    from: from.clone(),
                    requester: from.to_bare(),
                    access,
                };
                op.dispatch(set, payload)
            }
        };
        match outcome {
            Ok(done) => {
                let mut out = Vec::with_capacity(1 + done.notifications.len());
                out.push(Stanza::Iq(Iq::result_for(iq, done.reply)));
                out.extend(done.notifications);
                out
            }
            Err(error) => iq.error_reply(error).map(Stanza::Iq).into_iter().collect(),
        }
    }

    /// Every node with its state, for the tests.
    #[cfg(test)]
    fn snapshot(&self) -> BTreeMap<NodeKey, Node> {
        self.inner().nodes.clone()
    }
}

/// The service an iq is for.
struct Service {
    /// Its address (bare).
    jid: Jid,
    /// The address as the store keys it.
    key: String,
    /// The account, for PEP.
    pep: Option<BareJid>,
}

impl Service {
    fn new(jid: &Jid) -> Self {
        let bare = jid.to_bare();
        let pep = bare.node().is_some().then(|| bare.clone());
        Self {
            key: bare.as_str().to_owned(),
            jid: bare.into(),
            pep,
        }
    }
}

/// What a successful request gives.
#[derive(Default)]
struct Done {
    /// The payload of the answer.
    reply: Option<Element>,
    notifications: Vec<Stanza>,
}

impl Done {
    fn reply(payload: Element) -> Self {
        Self {
            reply: Some(payload),
            notifications: Vec::new(),
        }
    }
}

type Outcome = Result<Done, StanzaError>;

// ---- errors ----------------------------------------------------------------

fn error_with(condition: DefinedCondition, application: ErrorCondition) -> StanzaError {
    StanzaError::new(condition).with_application(PubSubError::new(application).to_element())
}

fn bad_request(text: &str) -> StanzaError {
    StanzaError::new(DefinedCondition::BadRequest).with_text(text)
}

fn not_acceptable(text: impl Into<String>) -> StanzaError {
    StanzaError::new(DefinedCondition::NotAcceptable).with_text(text)
}

fn forbidden(text: &str) -> StanzaError {
    StanzaError::new(DefinedCondition::Forbidden).with_text(text)
}

fn unsupported(feature: &str) -> StanzaError {
    StanzaError::new(DefinedCondition::FeatureNotImplemented)
        .with_application(PubSubError::unsupported(feature).to_element())
}

fn no_such_node() -> StanzaError {
    StanzaError::new(DefinedCondition::ItemNotFound).with_text("no such node")
}

fn node_required() -> StanzaError {
    error_with(DefinedCondition::BadRequest, ErrorCondition::NodeidRequired)
}

/// The answer to a store failure: nothing changed, try again later.
fn store_failed(_: StoreError) -> StanzaError {
    StanzaError::with_type(ErrorType::Wait, DefinedCondition::InternalServerError)
        .with_text("storage failed")
}

/// A node name or an item id: not empty, at most [`MAX_NAME_BYTES`].
fn check_name(what: &str, name: &str) -> Result<(), StanzaError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(not_acceptable(format!(
            "a {what} has 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Whether `who` may subscribe to `node` and retrieve its items.
fn check_access(node: &Node, who: &BareJid, access: &dyn PubsubAccess) -> Result<(), StanzaError> {
    match node.affiliation(who) {
        Affiliation::Outcast => return Err(forbidden("banned from this node")),
        Affiliation::Owner | Affiliation::Publisher | Affiliation::Member => return Ok(()),
        Affiliation::None | Affiliation::PublishOnly => {}
    }
    match node.config.access_model {
        AccessModel::Open => Ok(()),
        AccessModel::Presence => {
            if node
                .owners()
                .any(|owner| owner == who || access.is_subscribed_to(who, owner))
            {
                Ok(())
            } else {
                Err(error_with(
                    DefinedCondition::NotAuthorized,
                    ErrorCondition::PresenceSubscriptionRequired,
                ))
            }
        }
        // Whitelist (the only other model a node can have).
        _ => Err(error_with(
            DefinedCondition::NotAllowed,
            ErrorCondition::ClosedNode,
        )),
    }
}

/// What is left of [`PubsubLimits::max_reply_bytes`] for the entries of
/// an answer.
struct Budget(usize);

impl Budget {
    /// The markup of one entry, about (an element with two attributes).
    const MARKUP: usize = 64;

    fn new(limits: &PubsubLimits) -> Self {
        Self(limits.max_reply_bytes)
    }

    /// Takes room for an entry holding `bytes` of text; `false` when the
    /// answer is full.
    fn take(&mut self, bytes: usize) -> bool {
        match self.0.checked_sub(bytes.saturating_add(Self::MARKUP)) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => false,
        }
    }
}

/// The nodes of one service, by name.
fn service_nodes<'a>(
    nodes: &'a BTreeMap<NodeKey, Node>,
    service: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Node)> {
    nodes
        .range((service.to_owned(), String::new())..)
        .take_while(move |((s, _), _)| s == service)
        .map(|((_, name), node)| (name.as_str(), node))
}

/// The notification messages of `event` about `node`: to its subscribers
/// that may still access it, and to the account of a PEP service.
fn notify(
    service: &Service,
    ids: &mut IdGenerator,
    node: &Node,
    event: &Element,
    access: &dyn PubsubAccess,
) -> Vec<Stanza> {
    let kind = match node.config.notification_type {
        NotificationType::Headline => MessageType::Headline,
        NotificationType::Normal => MessageType::Normal,
    };
    let mut targets: Vec<&Jid> = node
        .subscriptions
        .keys()
        .filter(|jid| check_access(node, &jid.to_bare(), access).is_ok())
        .collect();
    let account = service.pep.clone().map(Jid::from);
    if let Some(account) = &account
        && !targets.contains(&account)
    {
        targets.push(account);
    }
    targets
        .into_iter()
        .map(|to| {
            let mut message = Message::new(kind)
                .with_from(service.jid.clone())
                .with_to(to.clone())
                .with_id(ids.next_id());
            message.payloads.push(event.clone().into());
            Stanza::Message(message)
        })
        .collect()
}

// ---- requests --------------------------------------------------------------

/// One request, under the service's lock.
struct Op<'a> {
    store: &'a dyn Store,
    limits: &'a PubsubLimits,
    inner: &'a mut Inner,
    service: Service,
    from: Jid,
    requester: BareJid,
    access: &'a dyn PubsubAccess,
}

impl Op<'_> {
    fn dispatch(&mut self, set: bool, payload: &Element) -> Outcome {
        if PubSub::matches(payload) {
            let request =
                PubSub::parse(payload).map_err(|_| bad_request("invalid pubsub request"))?;
            return self.pubsub(set, request);
        }
        if PubSubOwner::matches(payload) {
            let request = PubSubOwner::parse(payload)
                .map_err(|_| bad_request("invalid pubsub#owner request"))?;
            return self.owner(set, request);
        }
        // Discovery and ping of the service itself (PEP discovery is the
        // account's, answered by the hub).
        if self.service.pep.is_none() && !set {
            if DiscoInfo::matches(payload) {
                let node = DiscoInfo::parse(payload)
                    .map_err(|_| bad_request("invalid disco#info request"))?
                    .node;
                return self.disco_info(node.as_deref());
            }
            if DiscoItems::matches(payload) {
                let node = DiscoItems::parse(payload)
                    .map_err(|_| bad_request("invalid disco#items request"))?
                    .node;
                return self.disco_items(node.as_deref());
            }
            if Ping::matches(payload) {
                return Ok(Done::default());
            }
        }
        Err(StanzaError::new(DefinedCondition::ServiceUnavailable))
    }

    fn pubsub(&mut self, set: bool, request: PubSub) -> Outcome {
        match (set, request) {
            (true, PubSub::Create { node, configure }) => self.create(node, configure),
            (
                true,
                PubSub::Publish {
                    node,
                    items,
                    publish_options,
                },
            ) => self.publish(&node, items, publish_options),
            (true, PubSub::Retract { node, notify, ids }) => self.retract(&node, notify, &ids),
            (true, PubSub::Subscribe { node, jid, options }) => self.subscribe(node, jid, options),
            (true, PubSub::Unsubscribe { node, jid, subid }) => self.unsubscribe(node, &jid, subid),
            (
                false,
                PubSub::Items {
                    node,
                    max_items,
                    items,
                    ..
                },
            ) => self.items(&node, max_items, &items),
            (false, PubSub::Subscriptions { node, .. }) => self.own_subscriptions(node),
            (false, PubSub::Affiliations { node, .. }) => self.own_affiliations(node),
            (_, PubSub::Options { .. } | PubSub::Default { .. }) => {
                Err(unsupported("subscription-options"))
            }
            _ => Err(bad_request("not a request of this type")),
        }
    }

    fn owner(&mut self, set: bool, request: PubSubOwner) -> Outcome {
        match (set, request) {
            (false, PubSubOwner::Configure { node, .. }) => self.configure_get(node),
            (true, PubSubOwner::Configure { node, form }) => self.configure_set(node, form),
            (false, PubSubOwner::Default { .. }) => {
                let config = NodeConfig::new(self.default_access(), self.limits);
                let form = config.to_form(self.limits).to_element();
                Ok(Done::reply(
                    PubSubOwner::Default { form: Some(form) }.to_element(),
                ))
            }
            (true, PubSubOwner::Delete { node, redirect }) => self.delete(&node, redirect),
            (true, PubSubOwner::Purge { node }) => self.purge(&node),
            (false, PubSubOwner::Subscriptions { node, .. }) => self.subscriptions_get(&node),
            (
                true,
                PubSubOwner::Subscriptions {
                    node,
                    subscriptions,
                },
            ) => self.subscriptions_set(&node, subscriptions),
            (false, PubSubOwner::Affiliations { node, .. }) => self.affiliations_get(&node),
            (true, PubSubOwner::Affiliations { node, affiliations }) => {
                self.affiliations_set(&node, affiliations)
            }
            _ => Err(bad_request("not a request of this type")),
        }
    }

    // ---- helpers ------------------------------------------------------------

    fn key(&self, name: &str) -> NodeKey {
        (self.service.key.clone(), name.to_owned())
    }

    fn node(&self, name: &str) -> Result<&Node, StanzaError> {
        self.inner
            .nodes
            .get(&self.key(name))
            .ok_or_else(no_such_node)
    }

    fn default_access(&self) -> AccessModel {
        if self.service.pep.is_some() {
            AccessModel::Presence
        } else {
            AccessModel::Open
        }
    }

    /// On PEP, only the account itself.
    fn check_account(&self) -> Result<(), StanzaError> {
        match &self.service.pep {
            Some(account) if *account != self.requester => {
                Err(forbidden("only the account manages its PEP nodes"))
            }
            _ => Ok(()),
        }
    }

    /// The node `name`, if the requester owns it.
    fn owned_node(&self, name: &str) -> Result<&Node, StanzaError> {
        self.check_account()?;
        let node = self.node(name)?;
        if node.affiliation(&self.requester) != Affiliation::Owner {
            return Err(forbidden("only an owner may do this"));
        }
        Ok(node)
    }

    fn stored_node(&self, name: &str, config: &NodeConfig, node: &Node) -> StoredNode {
        StoredNode {
            service: self.service.key.clone(),
            node: name.to_owned(),
            config: config::encode(config, &node.affiliations),
        }
    }

    // ---- discovery ------------------------------------------------------------

    fn disco_info(&self, node: Option<&str>) -> Outcome {
        let mut info = DiscoInfo::request(node);
        match node {
            None => {
                info.identities
                    .push(Identity::new("pubsub", "service").with_name("xmpp-kit hub pubsub"));
                info.features = service_features();
            }
            Some(name) => {
                let node = self.node(name)?;
                info.identities.push(Identity::new("pubsub", "leaf"));
                info.features = vec![
                    disco::NS_INFO.to_owned(),
                    disco::NS_ITEMS.to_owned(),
                    crate::ext::pubsub::NS.to_owned(),
                ];
                let mut owners = Field::new("pubsub#owner", FieldType::JidMulti);
                for owner in node.owners() {
                    owners = owners.with_value(owner.as_str());
                }
                info.extensions.push(
                    DataForm::new(FormType::Result)
                        .with_field(Field::hidden(FORM_TYPE, META_DATA))
                        .with_field(
                            Field::new("pubsub#title", FieldType::TextSingle)
                                .with_value(node.config.title.as_str()),
                        )
                        .with_field(owners)
                        .with_field(
                            Field::new("pubsub#access_model", FieldType::ListSingle)
                                .with_value(node.config.access_model.as_str()),
                        )
                        .with_field(
                            Field::new("pubsub#max_items", FieldType::TextSingle)
                                .with_value(node.config.max_items.to_string()),
                        ),
                );
            }
        }
        Ok(Done::reply(info.to_element()))
    }

    fn disco_items(&self, node: Option<&str>) -> Outcome {
        let mut items = DiscoItems::request(node);
        let mut budget = Budget::new(self.limits);
        match node {
            None => {
                for (name, n) in service_nodes(&self.inner.nodes, &self.service.key) {
                    if check_access(n, &self.requester, self.access).is_err() {
                        continue;
                    }
                    if !budget.take(name.len() + n.config.title.len() + self.service.key.len()) {
                        break;
                    }
                    let mut item = DiscoItem::new(self.service.jid.clone()).with_node(name);
                    if !n.config.title.is_empty() {
                        item = item.with_name(n.config.title.as_str());
                    }
                    items.items.push(item);
                }
            }
            Some(name) => {
                let n = self.node(name)?;
                check_access(n, &self.requester, self.access)?;
                let stored = self
                    .store
                    .items(&self.service.key, name)
                    .map_err(store_failed)?;
                let excess = stored.len().saturating_sub(n.config.kept_items());
                for item in stored.into_iter().skip(excess) {
                    if !budget.take(item.id.len() + self.service.key.len()) {
                        break;
                    }
                    items
                        .items
                        .push(DiscoItem::new(self.service.jid.clone()).with_name(item.id));
                }
            }
        }
        Ok(Done::reply(items.to_element()))
    }
}
