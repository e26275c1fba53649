//! Rosters and presence subscriptions of the hub's accounts (RFC 6121
//! sections 2 and 3, and the state tables of Appendix A).
//!
//! [`Rosters`] is pure state: it does no I/O, reads no clock and is fully
//! deterministic. Every account of the hub is local, so one call applies both
//! halves of a subscription exchange: the sender's server side (the
//! "outbound" rules) and the contact's server side (the "inbound" rules).
//! Contacts elsewhere are not supported: built with
//! [`Rosters::with_domains`], [`Rosters::subscription`] refuses a contact at
//! any other domain with [`DefinedCondition::RemoteServerNotFound`]; built
//! with [`Rosters::new`], every domain counts as the hub's and the caller
//! filters.
//!
//! The methods sort into three kinds:
//! - getters: [`get`](Rosters::get), [`version`](Rosters::version),
//!   [`item`](Rosters::item), [`pending_in`](Rosters::pending_in),
//!   [`presence_subscribers`](Rosters::presence_subscribers),
//!   [`presence_subscriptions`](Rosters::presence_subscriptions),
//!   [`is_subscribed_to`](Rosters::is_subscribed_to);
//! - inputs from a user's client: [`set`](Rosters::set) (a roster set) and
//!   [`subscription`](Rosters::subscription) (a presence of type subscribe,
//!   subscribed, unsubscribe or unsubscribed);
//! - account management: [`remove_user`](Rosters::remove_user).
//!
//! Inputs either fail without changing anything, or succeed and return the
//! [`RosterEffect`]s the hub must carry out, in order. The order follows the
//! protocol: the sender's roster push, then the contact's side (the stamped
//! presence and the contact's roster push, or else the answer the hub makes
//! on the contact's behalf, which follows the same pattern), then the
//! presence that starts or stops flowing as a result.
//!
//! What stays with the caller:
//! - checking that a contact is an account of the hub before calling
//!   [`subscription`](Rosters::subscription) (RFC 6121 sections 3.1.3 and
//!   8.5.1 say what to do with subscription presence for an account that
//!   does not exist);
//! - knowing which resources are "interested" (requested the roster) and
//!   which are "available" (sent initial presence);
//! - re-delivering [`pending_in`](Rosters::pending_in) when a resource sends
//!   initial presence;
//! - advertising the pre-approval stream feature
//!   (`<sub xmlns='urn:xmpp:features:pre-approval'/>`, RFC 6121 section
//!   3.4), since pre-approvals are supported;
//! - roster versioning on a get (RFC 6121 section 2.6): compare the client's
//!   `ver` with [`version`](Rosters::version).
//!
//! ```
//! use xmpp_kit::hub::roster::{RosterEffect, RosterLimits, Rosters};
//! use xmpp_kit::stanza::PresenceType;
//!
//! let mut rosters = Rosters::with_domains(RosterLimits::default(), ["example.net"]);
//! let romeo = "romeo@example.net".parse()?;
//! let juliet = "juliet@example.net".parse()?;
//! // Romeo asks to see Juliet's presence: his roster gets an item with
//! // ask='subscribe' and Juliet gets the request.
//! let effects = rosters
//!     .subscription(&romeo, PresenceType::Subscribe, &juliet, None)
//!     .map_err(|condition| condition.as_str())?;
//! assert!(matches!(&effects[0], RosterEffect::Push { user, item, .. } if *user == romeo && item.ask));
//! assert!(matches!(&effects[1], RosterEffect::Deliver { to, .. } if *to == juliet));
//! assert_eq!(rosters.pending_in(&juliet).len(), 1);
//! // Juliet approves: Romeo now receives her presence.
//! let effects = rosters
//!     .subscription(&juliet, PresenceType::Subscribed, &romeo, None)
//!     .map_err(|condition| condition.as_str())?;
//! assert!(effects.contains(&RosterEffect::SendPresence { of: juliet.clone(), to: romeo.clone() }));
//! assert!(rosters.is_subscribed_to(&romeo, &juliet));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use minidom::Element;

use crate::ext::Payload as _;
use crate::ext::roster::{Item, Roster, Subscription};

/// The namespace of a roster as the hub stores it.
const NS_STORED: &str = "urn:xmpp-kit:hub:roster:0";
use crate::jid::{BareJid, Jid};
use crate::stanza::{DefinedCondition, Presence, PresenceType};

/// Limits on what one account may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RosterLimits {
    /// Items per roster (default 1000). A roster set or a subscription
    /// presence that would add one more fails with `resource-constraint`.
    pub max_items: usize,
    /// Groups per item (default 32). More fail with `not-acceptable`.
    pub max_groups_per_item: usize,
    /// Bytes of an item's name (default 1024). Longer fails with
    /// `not-acceptable` (RFC 6121 section 2.3.3).
    pub max_name_bytes: usize,
    /// Bytes of a group name (default 1024). Longer fails with
    /// `not-acceptable` (RFC 6121 section 2.3.3).
    pub max_group_bytes: usize,
    /// Pending inbound subscription requests per account (default 100). A
    /// subscribe that would store one more fails with `resource-constraint`
    /// and changes nothing on either side.
    pub max_pending_in: usize,
}

impl Default for RosterLimits {
    fn default() -> Self {
        Self {
            max_items: 1000,
            max_groups_per_item: 32,
            max_name_bytes: 1024,
            max_group_bytes: 1024,
            max_pending_in: 100,
        }
    }
}

/// What the hub must do after a roster operation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// Effects are short-lived and few; boxing the presence would cost an
// allocation per delivery for nothing.
#[allow(clippy::large_enum_variant)]
pub enum RosterEffect {
    /// Send a roster push with `item` (and `ver`) to every interested
    /// resource of `user` (RFC 6121 section 2.1.6). A removed item has
    /// subscription [`Subscription::Remove`].
    Push {
        /// The owner of the roster.
        user: BareJid,
        /// The item as it is now.
        item: Item,
        /// The roster version after the change (RFC 6121 section 2.6).
        ver: String,
    },
    /// Deliver this subscription presence (subscribe, subscribed,
    /// unsubscribe or unsubscribed; `to` and `from` already set, `from` the
    /// bare JID of the sender) to every available resource of `to`. A
    /// subscribe is also kept for [`Rosters::pending_in`], so it may be
    /// dropped when no resource is available; the others have already
    /// changed the roster and may be dropped too.
    Deliver {
        /// The recipient.
        to: BareJid,
        /// The stamped presence.
        presence: Presence,
    },
    /// Send the current presence of every available resource of `of` to the
    /// available resources of `to`: `to` has just been allowed to see it
    /// (RFC 6121 sections 3.1.5 and 3.1.6).
    SendPresence {
        /// Whose presence.
        of: BareJid,
        /// Who now sees it.
        to: BareJid,
    },
    /// Send presence of type unavailable from every available resource of
    /// `of` to `to`: `to` may no longer see `of`'s presence (RFC 6121
    /// sections 3.2 and 3.3).
    SendUnavailable {
        /// Whose presence.
        of: BareJid,
        /// Who no longer sees it.
        to: BareJid,
    },
}

impl RosterEffect {
    /// The account the effect is addressed to.
    fn target(&self) -> &BareJid {
        match self {
            Self::Push { user, .. } => user,
            Self::Deliver { to, .. }
            | Self::SendPresence { to, .. }
            | Self::SendUnavailable { to, .. } => to,
        }
    }
}

/// The four subscription presence types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
}

impl Kind {
    #[cfg(test)]
    const ALL: [Self; 4] = [
        Self::Subscribe,
        Self::Subscribed,
        Self::Unsubscribe,
        Self::Unsubscribed,
    ];

    fn from_presence(kind: PresenceType) -> Option<Self> {
        Some(match kind {
            PresenceType::Subscribe => Self::Subscribe,
            PresenceType::Subscribed => Self::Subscribed,
            PresenceType::Unsubscribe => Self::Unsubscribe,
            PresenceType::Unsubscribed => Self::Unsubscribed,
            _ => return None,
        })
    }

    fn presence_type(self) -> PresenceType {
        match self {
            Self::Subscribe => PresenceType::Subscribe,
            Self::Subscribed => PresenceType::Subscribed,
            Self::Unsubscribe => PresenceType::Unsubscribe,
            Self::Unsubscribed => PresenceType::Unsubscribed,
        }
    }
}

/// The subscription state of an owner with respect to a peer (RFC 6121
/// Appendix A.1). "To" means the owner sees the peer's presence, "From" the
/// peer sees the owner's; "Pending Out" is the owner's unanswered request
/// (`ask='subscribe'` on the item), "Pending In" the peer's (kept apart from
/// the items, in the pending list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    None,
    NonePendingOut,
    NonePendingIn,
    NonePendingOutIn,
    To,
    ToPendingIn,
    From,
    FromPendingOut,
    Both,
}

impl State {
    #[cfg(test)]
    const ALL: [Self; 9] = [
        Self::None,
        Self::NonePendingOut,
        Self::NonePendingIn,
        Self::NonePendingOutIn,
        Self::To,
        Self::ToPendingIn,
        Self::From,
        Self::FromPendingOut,
        Self::Both,
    ];

    /// The state stored as an item's subscription and ask, and whether a
    /// request from the peer is pending. Combinations the tables never
    /// reach (a pending request in a direction already granted) read as the
    /// granted state.
    fn from_parts(subscription: Subscription, ask: bool, pending_in: bool) -> Self {
        match (subscription, ask, pending_in) {
            (Subscription::None | Subscription::Remove, false, false) => Self::None,
            (Subscription::None | Subscription::Remove, true, false) => Self::NonePendingOut,
            (Subscription::None | Subscription::Remove, false, true) => Self::NonePendingIn,
            (Subscription::None | Subscription::Remove, true, true) => Self::NonePendingOutIn,
            (Subscription::To, _, false) => Self::To,
            (Subscription::To, _, true) => Self::ToPendingIn,
            (Subscription::From, false, _) => Self::From,
            (Subscription::From, true, _) => Self::FromPendingOut,
            (Subscription::Both, _, _) => Self::Both,
        }
    }

    fn subscription(self) -> Subscription {
        match self {
            Self::None | Self::NonePendingOut | Self::NonePendingIn | Self::NonePendingOutIn => {
                Subscription::None
            }
            Self::To | Self::ToPendingIn => Subscription::To,
            Self::From | Self::FromPendingOut => Subscription::From,
            Self::Both => Subscription::Both,
        }
    }

    /// Pending Out: the item shows `ask='subscribe'`.
    fn ask(self) -> bool {
        matches!(
            self,
            Self::NonePendingOut | Self::NonePendingOutIn | Self::FromPendingOut
        )
    }

    /// Pending In: the peer's request waits in the pending list.
    fn pending_in(self) -> bool {
        matches!(
            self,
            Self::NonePendingIn | Self::NonePendingOutIn | Self::ToPendingIn
        )
    }

    /// The owner sees the peer's presence.
    fn has_to(self) -> bool {
        matches!(self.subscription(), Subscription::To | Subscription::Both)
    }

    /// The peer sees the owner's presence.
    fn has_from(self) -> bool {
        matches!(self.subscription(), Subscription::From | Subscription::Both)
    }

    /// Whether the state must be stored as a roster item.
    fn needs_item(self) -> bool {
        self.subscription() != Subscription::None || self.ask()
    }

    /// The states in which a subscribed without a pending request is a
    /// pre-approval (RFC 6121 section 3.4).
    fn can_pre_approve(self) -> bool {
        matches!(self, Self::None | Self::NonePendingOut | Self::To)
    }

    /// The same relation seen from the peer's side.
    #[cfg(test)]
    fn mirror(self) -> Self {
        match self {
            Self::None => Self::None,
            Self::NonePendingOut => Self::NonePendingIn,
            Self::NonePendingIn => Self::NonePendingOut,
            Self::NonePendingOutIn => Self::NonePendingOutIn,
            Self::To => Self::From,
            Self::ToPendingIn => Self::FromPendingOut,
            Self::From => Self::To,
            Self::FromPendingOut => Self::ToPendingIn,
            Self::Both => Self::Both,
        }
    }
}

/// RFC 6121 Appendix A.2: the owner's server handling a subscription
/// presence the owner sends to the peer. Returns whether to route it to the
/// peer and the owner's new state. Pre-approval (the subscribed rows marked
/// in A.2.2) is handled before this table.
fn outbound_rule(kind: Kind, state: State) -> (bool, State) {
    use State as S;
    match kind {
        // A.2.1: always routed, so that a lost request can be sent again.
        Kind::Subscribe => (
            true,
            match state {
                S::None => S::NonePendingOut,
                S::NonePendingIn => S::NonePendingOutIn,
                S::From => S::FromPendingOut,
                other => other,
            },
        ),
        // A.2.2: routed only when it answers a pending request.
        Kind::Subscribed => match state {
            S::NonePendingIn => (true, S::From),
            S::NonePendingOutIn => (true, S::FromPendingOut),
            S::ToPendingIn => (true, S::Both),
            other => (false, other),
        },
        // A.2.3: always routed.
        Kind::Unsubscribe => (
            true,
            match state {
                S::NonePendingOut | S::To => S::None,
                S::NonePendingOutIn | S::ToPendingIn => S::NonePendingIn,
                S::FromPendingOut | S::Both => S::From,
                other => other,
            },
        ),
        // A.2.4: routed only when it denies a request or cancels a
        // subscription.
        Kind::Unsubscribed => match state {
            S::NonePendingIn | S::From => (true, S::None),
            S::NonePendingOutIn | S::FromPendingOut => (true, S::NonePendingOut),
            S::ToPendingIn | S::Both => (true, S::To),
            other => (false, other),
        },
    }
}

/// RFC 6121 Appendix A.3: the owner's server handling a subscription
/// presence the peer sent to the owner. Returns whether to deliver it to the
/// owner and the owner's new state. The auto-replies of A.3.1 (a subscribe
/// in From, From + Pending Out or Both, or pre-approved) are handled before
/// this table.
fn inbound_rule(kind: Kind, state: State) -> (bool, State) {
    use State as S;
    match (kind, state) {
        // A.3.1
        (Kind::Subscribe, S::None) => (true, S::NonePendingIn),
        (Kind::Subscribe, S::NonePendingOut) => (true, S::NonePendingOutIn),
        (Kind::Subscribe, S::To) => (true, S::ToPendingIn),
        // A.3.2
        (Kind::Subscribed, S::NonePendingOut) => (true, S::To),
        (Kind::Subscribed, S::NonePendingOutIn) => (true, S::ToPendingIn),
        (Kind::Subscribed, S::FromPendingOut) => (true, S::Both),
        // A.3.3
        (Kind::Unsubscribe, S::NonePendingIn | S::From) => (true, S::None),
        (Kind::Unsubscribe, S::NonePendingOutIn | S::FromPendingOut) => (true, S::NonePendingOut),
        (Kind::Unsubscribe, S::ToPendingIn | S::Both) => (true, S::To),
        // A.3.4
        (Kind::Unsubscribed, S::NonePendingOut | S::To) => (true, S::None),
        (Kind::Unsubscribed, S::NonePendingOutIn | S::ToPendingIn) => (true, S::NonePendingIn),
        (Kind::Unsubscribed, S::FromPendingOut | S::Both) => (true, S::From),
        (_, other) => (false, other),
    }
}

/// What the contact's side does with a routed subscription presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inbound {
    /// A subscribe from a peer that already has a subscription: answer
    /// subscribed on the owner's behalf (RFC 6121 section 3.1.3).
    AutoReply,
    /// A subscribe the owner pre-approved (RFC 6121 section 3.4): move to
    /// this state and answer subscribed on the owner's behalf.
    PreApproved(State),
    /// Appendix A.3: deliver or not, and the new state.
    Table { deliver: bool, after: State },
}

/// One account's roster and pending requests.
#[derive(Debug, Default)]
struct UserRoster {
    /// The items, ordered by JID.
    items: BTreeMap<BareJid, Item>,
    /// The roster version; 0 for a roster never changed.
    ver: u64,
    /// Subscription requests from peers waiting for an answer, oldest
    /// first, with the subscribe presence to re-deliver.
    pending_in: Vec<(BareJid, Presence)>,
}

impl UserRoster {
    fn has_pending(&self, peer: &BareJid) -> bool {
        self.pending_in.iter().any(|(jid, _)| jid == peer)
    }
}

/// `user`'s roster changed (to `item`): it takes the next version from the
/// shared counter, and the push that announces the change.
fn changed(
    last_ver: &mut u64,
    roster: &mut UserRoster,
    user: &BareJid,
    item: Item,
) -> RosterEffect {
    *last_ver += 1;
    roster.ver = *last_ver;
    RosterEffect::Push {
        user: user.clone(),
        item,
        ver: roster.ver.to_string(),
    }
}

/// The rosters and presence subscriptions of every account of the hub.
///
/// Versions are drawn from one counter shared by all accounts, so a version
/// never comes back, not even for an account deleted and created again.
#[derive(Debug, Default)]
pub struct Rosters {
    users: HashMap<BareJid, UserRoster>,
    limits: RosterLimits,
    /// The hub's domains; `None`: every domain.
    domains: Option<HashSet<String>>,
    last_ver: u64,
}

impl Rosters {
    /// No rosters yet; contacts at every domain count as accounts of the
    /// hub (the caller keeps remote contacts away from
    /// [`subscription`](Self::subscription)).
    pub fn new(limits: RosterLimits) -> Self {
        Self {
            users: HashMap::new(),
            limits,
            domains: None,
            last_ver: 0,
        }
    }

    /// No rosters yet; only contacts at `domains` are accounts of the hub,
    /// [`subscription`](Self::subscription) refuses the others with
    /// `remote-server-not-found`. Domains are compared in their normalized
    /// form; a string that is not a valid domain matches nothing.
    pub fn with_domains<I>(limits: RosterLimits, domains: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let domains = domains
            .into_iter()
            .filter_map(|domain| BareJid::domain_only(domain.as_ref()).ok())
            .map(|jid| jid.domain().to_owned())
            .collect();
        Self {
            domains: Some(domains),
            ..Self::new(limits)
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &RosterLimits {
        &self.limits
    }

    /// The roster of `user` (RFC 6121 section 2.1.3), items ordered by JID,
    /// with its version (section 2.6). An account with no roster yet has an
    /// empty one, version `"0"`.
    pub fn get(&self, user: &BareJid) -> Roster {
        Roster {
            ver: Some(self.version(user)),
            items: self
                .users
                .get(user)
                .map(|roster| roster.items.values().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// The version of `user`'s roster (RFC 6121 section 2.6): when a client's
    /// roster get carries this `ver`, its cached copy is current.
    pub fn version(&self, user: &BareJid) -> String {
        self.users
            .get(user)
            .map_or(0, |roster| roster.ver)
            .to_string()
    }

    /// `user`'s roster, version and pending requests in the form the hub
    /// stores; `None` if the account has none.
    pub(crate) fn export(&self, user: &BareJid) -> Option<Element> {
        let roster = self.users.get(user)?;
        let items = Roster {
            ver: Some(roster.ver.to_string()),
            items: roster.items.values().cloned().collect(),
        };
        let mut stored = Element::builder("stored", NS_STORED)
            .append(items.to_element())
            .build();
        crate::ext::set_attr(&mut stored, "ver", roster.ver.to_string());
        for (from, presence) in &roster.pending_in {
            let mut pending = Element::builder("pending", NS_STORED)
                .append(Element::from(crate::stanza::Stanza::Presence(
                    presence.clone(),
                )))
                .build();
            crate::ext::set_attr(&mut pending, "jid", from.as_str());
            stored.append_child(pending);
        }
        Some(stored)
    }

    /// Puts back a roster [`export`](Self::export)ed earlier (at start).
    ///
    /// # Errors
    /// A description of what is unreadable; nothing changes then.
    pub(crate) fn import(&mut self, user: BareJid, stored: &Element) -> Result<(), String> {
        if !stored.is("stored", NS_STORED) {
            return Err("not a stored roster".into());
        }
        let ver: u64 = stored
            .attr("ver")
            .and_then(|v| v.parse().ok())
            .ok_or("no version")?;
        let mut roster = UserRoster {
            ver,
            ..UserRoster::default()
        };
        for child in stored.children() {
            if child.is("pending", NS_STORED) {
                let from: BareJid = child
                    .attr("jid")
                    .and_then(|j| j.parse().ok())
                    .ok_or("a pending request without a valid jid")?;
                let presence = child
                    .children()
                    .next()
                    .and_then(|p| crate::stanza::Stanza::try_from(p.clone()).ok());
                let Some(crate::stanza::Stanza::Presence(presence)) = presence else {
                    return Err("a pending request without its presence".into());
                };
                roster.pending_in.push((from, presence));
            } else if Roster::matches(child) {
                let items = Roster::parse(child).map_err(|e| e.to_string())?;
                for item in items.items {
                    roster.items.insert(item.jid.clone(), item);
                }
            }
        }
        self.last_ver = self.last_ver.max(ver);
        self.users.insert(user, roster);
        Ok(())
    }

    /// The item for `contact` in `user`'s roster.
    pub fn item(&self, user: &BareJid, contact: &BareJid) -> Option<&Item> {
        self.users.get(user)?.items.get(contact)
    }

    /// A roster set from `user`: add or update an item (RFC 6121 sections
    /// 2.3 and 2.4) or remove one (`subscription='remove'`, section 2.5).
    ///
    /// An add or update replaces the item's name and groups; the
    /// `subscription` (other than remove), `ask` and `approved` the client
    /// sent are ignored (sections 2.1.2.2, 2.1.2.5, 2.1.5). It yields one
    /// push. A removal first cancels the subscriptions in both directions
    /// and any pending request, as if `user` had sent unsubscribe and
    /// unsubscribed (section 2.5.2; the requests are cancelled too, which
    /// the RFC leaves open), then yields the push with subscription remove
    /// followed by those effects.
    ///
    /// # Errors
    /// Nothing changes on error.
    /// - `bad-request`: not exactly one item, or duplicate groups (section
    ///   2.3.3).
    /// - `not-acceptable`: an empty group, a name or group longer than the
    ///   limits (section 2.3.3), or more groups than the limit.
    /// - `not-allowed`: the item is `user` itself.
    /// - `item-not-found`: removing an item that is not there (section
    ///   2.5.3).
    /// - `resource-constraint`: adding an item to a full roster.
    ///
    /// `forbidden` (a roster set for another account, section 2.3.3) is for
    /// the caller to answer.
    pub fn set(
        &mut self,
        user: &BareJid,
        roster: &Roster,
    ) -> Result<Vec<RosterEffect>, DefinedCondition> {
        let [item] = roster.items.as_slice() else {
            return Err(DefinedCondition::BadRequest);
        };
        if item.jid == *user {
            return Err(DefinedCondition::NotAllowed);
        }
        if item.is_remove() {
            return self.remove_item(user, &item.jid);
        }
        self.validate(item)?;
        let exists = self.item(user, &item.jid).is_some();
        if !exists && self.item_count(user) >= self.limits.max_items {
            return Err(DefinedCondition::ResourceConstraint);
        }
        let roster = self.users.entry(user.clone()).or_default();
        let stored = roster
            .items
            .entry(item.jid.clone())
            .or_insert_with(|| Item::new(item.jid.clone()));
        stored.name.clone_from(&item.name);
        stored.groups.clone_from(&item.groups);
        let item = stored.clone();
        Ok(vec![changed(&mut self.last_ver, roster, user, item)])
    }

    /// `user` sends a presence of type `kind` (subscribe, subscribed,
    /// unsubscribe or unsubscribed) to `contact`, with an optional status
    /// text. Applies `user`'s side (RFC 6121 sections 3.1.2, 3.1.5, 3.2.2,
    /// 3.3.2, Appendix A.2) and `contact`'s side (sections 3.1.3, 3.1.6,
    /// 3.2.3, 3.3.3, Appendix A.3):
    /// - a presence that changes nothing is dropped, as the tables say (no
    ///   effects);
    /// - a subscribe to a contact who already grants the subscription is
    ///   answered subscribed on the contact's behalf (section 3.1.3);
    /// - a subscribe that asks the contact is delivered and kept in the
    ///   contact's [`pending_in`](Self::pending_in) until answered;
    /// - a subscribed with no request pending is a pre-approval (section
    ///   3.4): the item shows `approved='true'` and the contact's next
    ///   subscribe is approved at once without reaching `user`; an
    ///   unsubscribed cancels the pre-approval.
    ///
    /// # Errors
    /// Nothing changes on error.
    /// - `bad-request`: `kind` is not a subscription type.
    /// - `not-allowed`: `contact` is `user` itself.
    /// - `remote-server-not-found`: `contact` is not at one of the hub's
    ///   domains (see [`with_domains`](Self::with_domains); the hub has no
    ///   server-to-server).
    /// - `resource-constraint`: the request would add an item to `user`'s
    ///   full roster, or a request to `contact`'s full pending list.
    pub fn subscription(
        &mut self,
        user: &BareJid,
        kind: PresenceType,
        contact: &BareJid,
        status: Option<&str>,
    ) -> Result<Vec<RosterEffect>, DefinedCondition> {
        let kind = Kind::from_presence(kind).ok_or(DefinedCondition::BadRequest)?;
        if contact == user {
            return Err(DefinedCondition::NotAllowed);
        }
        if !self.is_local(contact) {
            return Err(DefinedCondition::RemoteServerNotFound);
        }
        let mut effects = Vec::new();
        self.outbound(user, kind, contact, status, true, &mut effects)?;
        Ok(effects)
    }

    /// The subscription requests waiting for `user`'s answer, oldest first:
    /// the stamped subscribe presences, to deliver again when a resource of
    /// `user` sends initial presence (RFC 6121 sections 3.1.3 and 4.2.2).
    pub fn pending_in(&self, user: &BareJid) -> Vec<Presence> {
        self.users
            .get(user)
            .map(|roster| {
                roster
                    .pending_in
                    .iter()
                    .map(|(_, presence)| presence.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The contacts that receive `user`'s presence broadcasts: subscription
    /// from or both (RFC 6121 sections 4.2.2 and 4.4.2), ordered by JID.
    pub fn presence_subscribers(&self, user: &BareJid) -> Vec<BareJid> {
        self.contacts_where(user, |s| {
            matches!(s, Subscription::From | Subscription::Both)
        })
    }

    /// The contacts whose presence `user` receives: subscription to or both
    /// (the contacts to probe, RFC 6121 section 4.3), ordered by JID.
    pub fn presence_subscriptions(&self, user: &BareJid) -> Vec<BareJid> {
        self.contacts_where(user, |s| matches!(s, Subscription::To | Subscription::Both))
    }

    /// Whether `subscriber` may see `user`'s presence: `user`'s item for
    /// `subscriber` has subscription from or both. False for `user` itself,
    /// whose own resources the caller handles.
    pub fn is_subscribed_to(&self, subscriber: &BareJid, user: &BareJid) -> bool {
        self.item(user, subscriber).is_some_and(|item| {
            matches!(item.subscription, Subscription::From | Subscription::Both)
        })
    }

    /// Forgets everything about `user` (the account is deleted). Every
    /// subscription and request between `user` and a contact is cancelled
    /// as for a roster removal, so the contacts get unsubscribe and
    /// unsubscribed and their roster pushes; the contacts keep their items
    /// for `user`, with subscription none. Effects addressed to `user` are
    /// left out; [`RosterEffect::SendUnavailable`] from `user` is kept, for
    /// resources still connected.
    pub fn remove_user(&mut self, user: &BareJid) -> Vec<RosterEffect> {
        let peers: BTreeSet<BareJid> = self
            .users
            .get(user)
            .map(|roster| {
                roster
                    .items
                    .keys()
                    .chain(roster.pending_in.iter().map(|(jid, _)| jid))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut effects = Vec::new();
        for peer in &peers {
            self.cancel_all(user, peer, &mut effects);
        }
        self.users.remove(user);
        for roster in self.users.values_mut() {
            roster.pending_in.retain(|(jid, _)| jid != user);
        }
        effects.retain(|effect| effect.target() != user);
        effects
    }

    // -----------------------------------------------------------------
    // Internals
    // -----------------------------------------------------------------

    /// Whether `contact` is at one of the hub's domains.
    fn is_local(&self, contact: &BareJid) -> bool {
        self.domains
            .as_ref()
            .is_none_or(|domains| domains.contains(contact.domain()))
    }

    fn item_count(&self, user: &BareJid) -> usize {
        self.users.get(user).map_or(0, |roster| roster.items.len())
    }

    fn contacts_where(&self, user: &BareJid, keep: impl Fn(Subscription) -> bool) -> Vec<BareJid> {
        self.users
            .get(user)
            .map(|roster| {
                roster
                    .items
                    .values()
                    .filter(|item| keep(item.subscription))
                    .map(|item| item.jid.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// RFC 6121 section 2.3.3, and the limits.
    fn validate(&self, item: &Item) -> Result<(), DefinedCondition> {
        if item.groups.len() > self.limits.max_groups_per_item {
            return Err(DefinedCondition::NotAcceptable);
        }
        if item
            .name
            .as_ref()
            .is_some_and(|name| name.len() > self.limits.max_name_bytes)
        {
            return Err(DefinedCondition::NotAcceptable);
        }
        let mut seen = HashSet::new();
        for group in &item.groups {
            if group.is_empty() || group.len() > self.limits.max_group_bytes {
                return Err(DefinedCondition::NotAcceptable);
            }
            if !seen.insert(group.as_str()) {
                return Err(DefinedCondition::BadRequest);
            }
        }
        Ok(())
    }

    /// The state of `owner` with respect to `peer`.
    fn state(&self, owner: &BareJid, peer: &BareJid) -> State {
        let Some(roster) = self.users.get(owner) else {
            return State::None;
        };
        let (subscription, ask) = roster
            .items
            .get(peer)
            .map_or((Subscription::None, false), |item| {
                (item.subscription, item.ask)
            });
        State::from_parts(subscription, ask, roster.has_pending(peer))
    }

    fn approved(&self, owner: &BareJid, peer: &BareJid) -> bool {
        self.item(owner, peer).is_some_and(|item| item.approved)
    }

    /// Fails when `owner` has no item for `peer` and no room for one.
    fn check_room(&self, owner: &BareJid, peer: &BareJid) -> Result<(), DefinedCondition> {
        if self.item(owner, peer).is_none() && self.item_count(owner) >= self.limits.max_items {
            return Err(DefinedCondition::ResourceConstraint);
        }
        Ok(())
    }

    /// Moves `owner` to `after` with respect to `peer`: updates or creates
    /// the item (creation only when the state needs one; room was checked)
    /// and drops the pending request when `after` has none. Pushes the item
    /// if it changed and `push` is set.
    fn transition(
        &mut self,
        owner: &BareJid,
        peer: &BareJid,
        after: State,
        push: bool,
        effects: &mut Vec<RosterEffect>,
    ) {
        let roster = self.users.entry(owner.clone()).or_default();
        if !after.pending_in() {
            roster.pending_in.retain(|(jid, _)| jid != peer);
        }
        let changed_item = match roster.items.get_mut(peer) {
            Some(item) => {
                let before = item.clone();
                item.subscription = after.subscription();
                item.ask = after.ask();
                if after.has_from() {
                    // A pre-approval is used up once the peer is subscribed.
                    item.approved = false;
                }
                (*item != before).then(|| item.clone())
            }
            None if after.needs_item() => {
                let mut item = Item::new(peer.clone()).with_subscription(after.subscription());
                item.ask = after.ask();
                roster.items.insert(peer.clone(), item.clone());
                Some(item)
            }
            None => None,
        };
        if let Some(item) = changed_item {
            let effect = changed(&mut self.last_ver, roster, owner, item);
            if push {
                effects.push(effect);
            }
        }
    }

    /// Sets or clears `owner`'s pre-approval of `peer` (RFC 6121 section
    /// 3.4), creating the item if needed (room was checked).
    fn set_approved(
        &mut self,
        owner: &BareJid,
        peer: &BareJid,
        approved: bool,
        push: bool,
        effects: &mut Vec<RosterEffect>,
    ) {
        let roster = self.users.entry(owner.clone()).or_default();
        let item = roster
            .items
            .entry(peer.clone())
            .or_insert_with(|| Item::new(peer.clone()));
        if item.approved == approved {
            return;
        }
        item.approved = approved;
        let item = item.clone();
        let effect = changed(&mut self.last_ver, roster, owner, item);
        if push {
            effects.push(effect);
        }
    }

    /// `user`'s side of a subscription presence to `contact`, then, if it is
    /// routed, `contact`'s side. All checks come before any change.
    fn outbound(
        &mut self,
        user: &BareJid,
        kind: Kind,
        contact: &BareJid,
        status: Option<&str>,
        push_user: bool,
        effects: &mut Vec<RosterEffect>,
    ) -> Result<(), DefinedCondition> {
        let before = self.state(user, contact);
        if before.can_pre_approve() {
            match kind {
                Kind::Subscribed => {
                    if !self.approved(user, contact) {
                        self.check_room(user, contact)?;
                        self.set_approved(user, contact, true, push_user, effects);
                    }
                    return Ok(());
                }
                Kind::Unsubscribed if self.approved(user, contact) => {
                    self.set_approved(user, contact, false, push_user, effects);
                    return Ok(());
                }
                _ => {}
            }
        }
        let (route, after) = outbound_rule(kind, before);
        if after.needs_item() {
            self.check_room(user, contact)?;
        }
        let inbound = if route {
            Some(self.plan_inbound(contact, kind, user)?)
        } else {
            None
        };
        self.transition(user, contact, after, push_user, effects);
        if let Some(inbound) = inbound {
            self.apply_inbound(contact, kind, user, status, inbound, effects);
        }
        match kind {
            // RFC 6121 section 3.1.5: the contact's server sends the
            // contact's presence to the newly subscribed user.
            Kind::Subscribed if route => effects.push(RosterEffect::SendPresence {
                of: user.clone(),
                to: contact.clone(),
            }),
            // Section 3.2.2: the subscription is cancelled.
            Kind::Unsubscribed if before.has_from() && !after.has_from() => {
                effects.push(RosterEffect::SendUnavailable {
                    of: user.clone(),
                    to: contact.clone(),
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// What `owner` does with a routed `kind` from `peer`; fails when a
    /// request would overflow `owner`'s pending list.
    fn plan_inbound(
        &self,
        owner: &BareJid,
        kind: Kind,
        peer: &BareJid,
    ) -> Result<Inbound, DefinedCondition> {
        let before = self.state(owner, peer);
        if kind == Kind::Subscribe {
            if before.has_from() {
                return Ok(Inbound::AutoReply);
            }
            if before.can_pre_approve() && self.approved(owner, peer) {
                let after = match before {
                    State::NonePendingOut => State::FromPendingOut,
                    State::To => State::Both,
                    _ => State::From,
                };
                return Ok(Inbound::PreApproved(after));
            }
        }
        let (deliver, after) = inbound_rule(kind, before);
        if after.pending_in() && !before.pending_in() {
            let pending = self
                .users
                .get(owner)
                .map_or(0, |roster| roster.pending_in.len());
            if pending >= self.limits.max_pending_in {
                return Err(DefinedCondition::ResourceConstraint);
            }
        }
        Ok(Inbound::Table { deliver, after })
    }

    /// `owner`'s side of a routed `kind` from `peer`.
    fn apply_inbound(
        &mut self,
        owner: &BareJid,
        kind: Kind,
        peer: &BareJid,
        status: Option<&str>,
        inbound: Inbound,
        effects: &mut Vec<RosterEffect>,
    ) {
        match inbound {
            Inbound::AutoReply => self.auto_subscribed(owner, peer, effects),
            Inbound::PreApproved(after) => {
                self.transition(owner, peer, after, true, effects);
                self.auto_subscribed(owner, peer, effects);
            }
            Inbound::Table { deliver: false, .. } => {}
            Inbound::Table {
                deliver: true,
                after,
            } => {
                let before = self.state(owner, peer);
                let presence = stamp(kind, peer, owner, status);
                if after.pending_in() && !before.pending_in() {
                    self.users
                        .entry(owner.clone())
                        .or_default()
                        .pending_in
                        .push((peer.clone(), presence.clone()));
                }
                effects.push(RosterEffect::Deliver {
                    to: owner.clone(),
                    presence,
                });
                self.transition(owner, peer, after, true, effects);
                // RFC 6121 section 3.3.3: the peer no longer sees the owner.
                if kind == Kind::Unsubscribe && before.has_from() && !after.has_from() {
                    effects.push(RosterEffect::SendUnavailable {
                        of: owner.clone(),
                        to: peer.clone(),
                    });
                }
            }
        }
    }

    /// `owner`'s server answers subscribed to `peer` on `owner`'s behalf
    /// (RFC 6121 sections 3.1.3 and 3.4): `peer`'s side handles it as an
    /// inbound subscribed and, if it changed `peer`'s state, `owner`'s
    /// presence starts flowing to `peer`.
    fn auto_subscribed(
        &mut self,
        owner: &BareJid,
        peer: &BareJid,
        effects: &mut Vec<RosterEffect>,
    ) {
        let (deliver, after) = inbound_rule(Kind::Subscribed, self.state(peer, owner));
        if !deliver {
            return;
        }
        effects.push(RosterEffect::Deliver {
            to: peer.clone(),
            presence: stamp(Kind::Subscribed, owner, peer, None),
        });
        self.transition(peer, owner, after, true, effects);
        effects.push(RosterEffect::SendPresence {
            of: owner.clone(),
            to: peer.clone(),
        });
    }

    /// Cancels every subscription and request between `user` and `contact`
    /// (RFC 6121 section 2.5.2) without pushing to `user`.
    fn cancel_all(&mut self, user: &BareJid, contact: &BareJid, effects: &mut Vec<RosterEffect>) {
        if contact == user || !self.is_local(contact) {
            return;
        }
        // Unsubscribe and unsubscribed neither add items nor pending
        // requests, so they cannot fail.
        let state = self.state(user, contact);
        if state.has_to() || state.ask() {
            let _ = self.outbound(user, Kind::Unsubscribe, contact, None, false, effects);
        }
        let state = self.state(user, contact);
        if state.has_from() || state.pending_in() {
            let _ = self.outbound(user, Kind::Unsubscribed, contact, None, false, effects);
        }
    }

    /// A roster set removing `contact` from `user`'s roster.
    fn remove_item(
        &mut self,
        user: &BareJid,
        contact: &BareJid,
    ) -> Result<Vec<RosterEffect>, DefinedCondition> {
        if self.item(user, contact).is_none() {
            return Err(DefinedCondition::ItemNotFound);
        }
        let mut effects = Vec::new();
        self.cancel_all(user, contact, &mut effects);
        let roster = self.users.entry(user.clone()).or_default();
        roster.items.remove(contact);
        roster.pending_in.retain(|(jid, _)| jid != contact);
        let removed = Item::remove(contact.clone());
        effects.insert(0, changed(&mut self.last_ver, roster, user, removed));
        Ok(effects)
    }
}

/// A subscription presence from `from` to `to`, stamped with bare JIDs
/// (RFC 6121 sections 3.1.2 and 3.1.5).
fn stamp(kind: Kind, from: &BareJid, to: &BareJid, status: Option<&str>) -> Presence {
    let mut presence = Presence::new(kind.presence_type())
        .with_from(Jid::from(from.clone()))
        .with_to(Jid::from(to.clone()));
    if let Some(status) = status {
        presence = presence.with_status(status);
    }
    presence
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> BareJid {
        s.parse().unwrap()
    }

    fn a() -> BareJid {
        jid("romeo@example.net")
    }

    fn b() -> BareJid {
        jid("juliet@example.net")
    }

    fn c() -> BareJid {
        jid("nurse@example.net")
    }

    /// An effect without roster versions, for comparisons.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum E {
        /// user, contact, subscription, ask, approved
        Push(BareJid, BareJid, Subscription, bool, bool),
        /// to, from, type, status
        Deliver(BareJid, BareJid, PresenceType, Option<String>),
        Presence(BareJid, BareJid),
        Unavailable(BareJid, BareJid),
    }

    fn simple(effects: &[RosterEffect]) -> Vec<E> {
        effects
            .iter()
            .map(|effect| match effect {
                RosterEffect::Push { user, item, .. } => E::Push(
                    user.clone(),
                    item.jid.clone(),
                    item.subscription,
                    item.ask,
                    item.approved,
                ),
                RosterEffect::Deliver { to, presence } => {
                    assert_eq!(presence.to.as_ref().unwrap(), to);
                    let from = presence.from.clone().unwrap();
                    assert!(from.is_bare());
                    E::Deliver(
                        to.clone(),
                        from.to_bare(),
                        presence.kind,
                        presence.status().map(str::to_owned),
                    )
                }
                RosterEffect::SendPresence { of, to } => E::Presence(of.clone(), to.clone()),
                RosterEffect::SendUnavailable { of, to } => E::Unavailable(of.clone(), to.clone()),
            })
            .collect()
    }

    fn push(user: &BareJid, contact: &BareJid, subscription: Subscription, ask: bool) -> E {
        E::Push(user.clone(), contact.clone(), subscription, ask, false)
    }

    fn deliver(to: &BareJid, from: &BareJid, kind: PresenceType) -> E {
        E::Deliver(to.clone(), from.clone(), kind, None)
    }

    fn send(
        rosters: &mut Rosters,
        user: &BareJid,
        kind: PresenceType,
        contact: &BareJid,
    ) -> Vec<E> {
        simple(&rosters.subscription(user, kind, contact, None).unwrap())
    }

    /// Puts `user` in `state` towards `contact` and `contact` in the mirror
    /// state, as a consistent exchange would have left them.
    fn set_pair(rosters: &mut Rosters, user: &BareJid, contact: &BareJid, state: State) {
        let mut ignored = Vec::new();
        for (owner, peer, state) in [(user, contact, state), (contact, user, state.mirror())] {
            rosters.transition(owner, peer, state, false, &mut ignored);
            if state.pending_in() {
                let presence = stamp(Kind::Subscribe, peer, owner, None);
                rosters
                    .users
                    .entry(owner.clone())
                    .or_default()
                    .pending_in
                    .push((peer.clone(), presence));
            }
        }
        assert_eq!(rosters.state(user, contact), state);
        assert_eq!(rosters.state(contact, user), state.mirror());
    }

    // -----------------------------------------------------------------
    // Appendix A tables
    // -----------------------------------------------------------------

    /// RFC 6121 Appendix A.2, every row: (kind, state, route, new state).
    #[test]
    fn outbound_table() {
        use Kind as K;
        use State as S;
        let rows = [
            // A.2.1 subscribe
            (K::Subscribe, S::None, true, S::NonePendingOut),
            (K::Subscribe, S::NonePendingOut, true, S::NonePendingOut),
            (K::Subscribe, S::NonePendingIn, true, S::NonePendingOutIn),
            (K::Subscribe, S::NonePendingOutIn, true, S::NonePendingOutIn),
            (K::Subscribe, S::To, true, S::To),
            (K::Subscribe, S::ToPendingIn, true, S::ToPendingIn),
            (K::Subscribe, S::From, true, S::FromPendingOut),
            (K::Subscribe, S::FromPendingOut, true, S::FromPendingOut),
            (K::Subscribe, S::Both, true, S::Both),
            // A.2.2 subscribed (None, None + Pending Out and To are
            // pre-approvals, handled before the table)
            (K::Subscribed, S::None, false, S::None),
            (K::Subscribed, S::NonePendingOut, false, S::NonePendingOut),
            (K::Subscribed, S::NonePendingIn, true, S::From),
            (K::Subscribed, S::NonePendingOutIn, true, S::FromPendingOut),
            (K::Subscribed, S::To, false, S::To),
            (K::Subscribed, S::ToPendingIn, true, S::Both),
            (K::Subscribed, S::From, false, S::From),
            (K::Subscribed, S::FromPendingOut, false, S::FromPendingOut),
            (K::Subscribed, S::Both, false, S::Both),
            // A.2.3 unsubscribe
            (K::Unsubscribe, S::None, true, S::None),
            (K::Unsubscribe, S::NonePendingOut, true, S::None),
            (K::Unsubscribe, S::NonePendingIn, true, S::NonePendingIn),
            (K::Unsubscribe, S::NonePendingOutIn, true, S::NonePendingIn),
            (K::Unsubscribe, S::To, true, S::None),
            (K::Unsubscribe, S::ToPendingIn, true, S::NonePendingIn),
            (K::Unsubscribe, S::From, true, S::From),
            (K::Unsubscribe, S::FromPendingOut, true, S::From),
            (K::Unsubscribe, S::Both, true, S::From),
            // A.2.4 unsubscribed
            (K::Unsubscribed, S::None, false, S::None),
            (K::Unsubscribed, S::NonePendingOut, false, S::NonePendingOut),
            (K::Unsubscribed, S::NonePendingIn, true, S::None),
            (
                K::Unsubscribed,
                S::NonePendingOutIn,
                true,
                S::NonePendingOut,
            ),
            (K::Unsubscribed, S::To, false, S::To),
            (K::Unsubscribed, S::ToPendingIn, true, S::To),
            (K::Unsubscribed, S::From, true, S::None),
            (K::Unsubscribed, S::FromPendingOut, true, S::NonePendingOut),
            (K::Unsubscribed, S::Both, true, S::To),
        ];
        assert_eq!(rows.len(), 36);
        for (kind, state, route, after) in rows {
            assert_eq!(
                outbound_rule(kind, state),
                (route, after),
                "outbound {kind:?} in {state:?}"
            );
        }
    }

    /// RFC 6121 Appendix A.3, every row: (kind, state, deliver, new state).
    #[test]
    fn inbound_table() {
        use Kind as K;
        use State as S;
        let rows = [
            // A.3.1 subscribe (From, From + Pending Out and Both auto-reply)
            (K::Subscribe, S::None, true, S::NonePendingIn),
            (K::Subscribe, S::NonePendingOut, true, S::NonePendingOutIn),
            (K::Subscribe, S::NonePendingIn, false, S::NonePendingIn),
            (
                K::Subscribe,
                S::NonePendingOutIn,
                false,
                S::NonePendingOutIn,
            ),
            (K::Subscribe, S::To, true, S::ToPendingIn),
            (K::Subscribe, S::ToPendingIn, false, S::ToPendingIn),
            (K::Subscribe, S::From, false, S::From),
            (K::Subscribe, S::FromPendingOut, false, S::FromPendingOut),
            (K::Subscribe, S::Both, false, S::Both),
            // A.3.2 subscribed
            (K::Subscribed, S::None, false, S::None),
            (K::Subscribed, S::NonePendingOut, true, S::To),
            (K::Subscribed, S::NonePendingIn, false, S::NonePendingIn),
            (K::Subscribed, S::NonePendingOutIn, true, S::ToPendingIn),
            (K::Subscribed, S::To, false, S::To),
            (K::Subscribed, S::ToPendingIn, false, S::ToPendingIn),
            (K::Subscribed, S::From, false, S::From),
            (K::Subscribed, S::FromPendingOut, true, S::Both),
            (K::Subscribed, S::Both, false, S::Both),
            // A.3.3 unsubscribe
            (K::Unsubscribe, S::None, false, S::None),
            (K::Unsubscribe, S::NonePendingOut, false, S::NonePendingOut),
            (K::Unsubscribe, S::NonePendingIn, true, S::None),
            (K::Unsubscribe, S::NonePendingOutIn, true, S::NonePendingOut),
            (K::Unsubscribe, S::To, false, S::To),
            (K::Unsubscribe, S::ToPendingIn, true, S::To),
            (K::Unsubscribe, S::From, true, S::None),
            (K::Unsubscribe, S::FromPendingOut, true, S::NonePendingOut),
            (K::Unsubscribe, S::Both, true, S::To),
            // A.3.4 unsubscribed
            (K::Unsubscribed, S::None, false, S::None),
            (K::Unsubscribed, S::NonePendingOut, true, S::None),
            (K::Unsubscribed, S::NonePendingIn, false, S::NonePendingIn),
            (K::Unsubscribed, S::NonePendingOutIn, true, S::NonePendingIn),
            (K::Unsubscribed, S::To, true, S::None),
            (K::Unsubscribed, S::ToPendingIn, true, S::NonePendingIn),
            (K::Unsubscribed, S::From, false, S::From),
            (K::Unsubscribed, S::FromPendingOut, true, S::From),
            (K::Unsubscribed, S::Both, true, S::From),
        ];
        assert_eq!(rows.len(), 36);
        for (kind, state, deliver, after) in rows {
            assert_eq!(
                inbound_rule(kind, state),
                (deliver, after),
                "inbound {kind:?} in {state:?}"
            );
        }
    }

    #[test]
    fn states_round_trip_through_items() {
        for state in State::ALL {
            let back = State::from_parts(state.subscription(), state.ask(), state.pending_in());
            assert_eq!(back, state);
            assert_eq!(state.mirror().mirror(), state);
        }
    }

    /// Both sides applied together, from every consistent pair of states:
    /// (kind, a's state, a's new state, delivered to b, presence effect).
    /// Afterwards b's state is always the mirror of a's.
    #[test]
    fn every_kind_from_every_state_keeps_both_sides_consistent() {
        use Kind as K;
        use State as S;
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Flow {
            No,
            /// b's presence to a stops.
            BStopsToA,
            /// a's presence to b starts.
            AStartsToB,
            /// a's presence to b stops.
            AStopsToB,
            /// b answers subscribed automatically.
            AutoReply,
        }
        #[rustfmt::skip]
        let rows = [
            (K::Subscribe,    S::None,             S::NonePendingOut,   true,  Flow::No),
            (K::Subscribe,    S::NonePendingOut,   S::NonePendingOut,   false, Flow::No),
            (K::Subscribe,    S::NonePendingIn,    S::NonePendingOutIn, true,  Flow::No),
            (K::Subscribe,    S::NonePendingOutIn, S::NonePendingOutIn, false, Flow::No),
            (K::Subscribe,    S::To,               S::To,               false, Flow::AutoReply),
            (K::Subscribe,    S::ToPendingIn,      S::ToPendingIn,      false, Flow::AutoReply),
            (K::Subscribe,    S::From,             S::FromPendingOut,   true,  Flow::No),
            (K::Subscribe,    S::FromPendingOut,   S::FromPendingOut,   false, Flow::No),
            (K::Subscribe,    S::Both,             S::Both,             false, Flow::AutoReply),
            (K::Subscribed,   S::None,             S::None,             false, Flow::No),
            (K::Subscribed,   S::NonePendingOut,   S::NonePendingOut,   false, Flow::No),
            (K::Subscribed,   S::NonePendingIn,    S::From,             true,  Flow::AStartsToB),
            (K::Subscribed,   S::NonePendingOutIn, S::FromPendingOut,   true,  Flow::AStartsToB),
            (K::Subscribed,   S::To,               S::To,               false, Flow::No),
            (K::Subscribed,   S::ToPendingIn,      S::Both,             true,  Flow::AStartsToB),
            (K::Subscribed,   S::From,             S::From,             false, Flow::No),
            (K::Subscribed,   S::FromPendingOut,   S::FromPendingOut,   false, Flow::No),
            (K::Subscribed,   S::Both,             S::Both,             false, Flow::No),
            (K::Unsubscribe,  S::None,             S::None,             false, Flow::No),
            (K::Unsubscribe,  S::NonePendingOut,   S::None,             true,  Flow::No),
            (K::Unsubscribe,  S::NonePendingIn,    S::NonePendingIn,    false, Flow::No),
            (K::Unsubscribe,  S::NonePendingOutIn, S::NonePendingIn,    true,  Flow::No),
            (K::Unsubscribe,  S::To,               S::None,             true,  Flow::BStopsToA),
            (K::Unsubscribe,  S::ToPendingIn,      S::NonePendingIn,    true,  Flow::BStopsToA),
            (K::Unsubscribe,  S::From,             S::From,             false, Flow::No),
            (K::Unsubscribe,  S::FromPendingOut,   S::From,             true,  Flow::No),
            (K::Unsubscribe,  S::Both,             S::From,             true,  Flow::BStopsToA),
            (K::Unsubscribed, S::None,             S::None,             false, Flow::No),
            (K::Unsubscribed, S::NonePendingOut,   S::NonePendingOut,   false, Flow::No),
            (K::Unsubscribed, S::NonePendingIn,    S::None,             true,  Flow::No),
            (K::Unsubscribed, S::NonePendingOutIn, S::NonePendingOut,   true,  Flow::No),
            (K::Unsubscribed, S::To,               S::To,               false, Flow::No),
            (K::Unsubscribed, S::ToPendingIn,      S::To,               true,  Flow::No),
            (K::Unsubscribed, S::From,             S::None,             true,  Flow::AStopsToB),
            (K::Unsubscribed, S::FromPendingOut,   S::NonePendingOut,   true,  Flow::AStopsToB),
            (K::Unsubscribed, S::Both,             S::To,               true,  Flow::AStopsToB),
        ];
        assert_eq!(rows.len(), 36);
        let (a, b) = (a(), b());
        for (kind, before, after, delivered, flow) in rows {
            let case = format!("{kind:?} from {before:?}");
            let mut rosters = Rosters::default();
            set_pair(&mut rosters, &a, &b, before);
            let effects = send(&mut rosters, &a, kind.presence_type(), &b);
            assert_eq!(rosters.state(&a, &b), after, "{case}: a's state");
            assert_eq!(rosters.state(&b, &a), after.mirror(), "{case}: b's state");
            let to_b = effects
                .iter()
                .any(|e| matches!(e, E::Deliver(to, _, _, _) if *to == b));
            assert_eq!(to_b, delivered, "{case}: delivered to b: {effects:?}");
            let has = |e: &E| effects.contains(e);
            let b_stops = has(&E::Unavailable(b.clone(), a.clone()));
            let a_starts = has(&E::Presence(a.clone(), b.clone()));
            let a_stops = has(&E::Unavailable(a.clone(), b.clone()));
            let auto = has(&deliver(&a, &b, PresenceType::Subscribed));
            assert_eq!(b_stops, flow == Flow::BStopsToA, "{case}: {effects:?}");
            assert_eq!(a_starts, flow == Flow::AStartsToB, "{case}: {effects:?}");
            assert_eq!(a_stops, flow == Flow::AStopsToB, "{case}: {effects:?}");
            // A consistent pair never needs the auto-reply to change a's
            // state, so it is dropped as redundant.
            assert!(!auto, "{case}: {effects:?}");
            // a's roster is pushed when its item changes (Pending In is not
            // shown in items), or for a pre-approval.
            let pushes_a = effects
                .iter()
                .any(|e| matches!(e, E::Push(user, ..) if *user == a));
            let pre_approval = kind == K::Subscribed && before.can_pre_approve();
            let shown = |s: State| (s.subscription(), s.ask());
            assert_eq!(
                pushes_a,
                shown(before) != shown(after) || pre_approval,
                "{case}: {effects:?}"
            );
            // Whatever changes nothing anywhere has no effects at all.
            if before == after && !pre_approval {
                assert!(effects.is_empty(), "{case}: {effects:?}");
            }
        }
    }

    // -----------------------------------------------------------------
    // Scenarios
    // -----------------------------------------------------------------

    /// RFC 6121 section 3.1, then the reverse direction: both end in Both.
    #[test]
    fn full_handshake() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        // A asks B (3.1.2, 3.1.3).
        let effects = rosters
            .subscription(&a, PresenceType::Subscribe, &b, Some("I'm Romeo"))
            .unwrap();
        assert_eq!(
            simple(&effects),
            [
                push(&a, &b, Subscription::None, true),
                E::Deliver(
                    b.clone(),
                    a.clone(),
                    PresenceType::Subscribe,
                    Some("I'm Romeo".into())
                ),
            ]
        );
        // The push is the item with ask='subscribe', versioned.
        let RosterEffect::Push { ver, .. } = &effects[0] else {
            panic!("expected a push")
        };
        assert_eq!(*ver, rosters.version(&a));
        // B has no item for A yet (None + Pending In is not shown).
        assert!(rosters.get(&b).items.is_empty());
        assert_eq!(rosters.pending_in(&b).len(), 1);
        // B approves (3.1.5, 3.1.6).
        assert_eq!(
            send(&mut rosters, &b, PresenceType::Subscribed, &a),
            [
                push(&b, &a, Subscription::From, false),
                deliver(&a, &b, PresenceType::Subscribed),
                push(&a, &b, Subscription::To, false),
                E::Presence(b.clone(), a.clone()),
            ]
        );
        assert!(rosters.pending_in(&b).is_empty());
        // B asks A back.
        assert_eq!(
            send(&mut rosters, &b, PresenceType::Subscribe, &a),
            [
                push(&b, &a, Subscription::From, true),
                deliver(&a, &b, PresenceType::Subscribe),
            ]
        );
        assert_eq!(rosters.state(&a, &b), State::ToPendingIn);
        // A approves.
        assert_eq!(
            send(&mut rosters, &a, PresenceType::Subscribed, &b),
            [
                push(&a, &b, Subscription::Both, false),
                deliver(&b, &a, PresenceType::Subscribed),
                push(&b, &a, Subscription::Both, false),
                E::Presence(a.clone(), b.clone()),
            ]
        );
        assert_eq!(
            rosters.item(&a, &b).unwrap().subscription,
            Subscription::Both
        );
        assert_eq!(
            rosters.item(&b, &a).unwrap().subscription,
            Subscription::Both
        );
        assert!(rosters.is_subscribed_to(&a, &b));
        assert!(rosters.is_subscribed_to(&b, &a));
        assert_eq!(rosters.presence_subscribers(&a), vec![b.clone()]);
        assert_eq!(rosters.presence_subscriptions(&a), vec![b.clone()]);
        assert!(rosters.pending_in(&a).is_empty());
    }

    #[test]
    fn unsubscribe_and_unsubscribed_from_both() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        set_pair(&mut rosters, &a, &b, State::Both);
        // A stops seeing B (3.3).
        assert_eq!(
            send(&mut rosters, &a, PresenceType::Unsubscribe, &b),
            [
                push(&a, &b, Subscription::From, false),
                deliver(&b, &a, PresenceType::Unsubscribe),
                push(&b, &a, Subscription::To, false),
                E::Unavailable(b.clone(), a.clone()),
            ]
        );
        // A cancels B's subscription (3.2).
        assert_eq!(
            send(&mut rosters, &a, PresenceType::Unsubscribed, &b),
            [
                push(&a, &b, Subscription::None, false),
                deliver(&b, &a, PresenceType::Unsubscribed),
                push(&b, &a, Subscription::None, false),
                E::Unavailable(a.clone(), b.clone()),
            ]
        );
        // Again: nothing changes, nothing happens for unsubscribed; the
        // unsubscribe is routed but the contact's side drops it.
        assert!(send(&mut rosters, &a, PresenceType::Unsubscribed, &b).is_empty());
        assert!(send(&mut rosters, &a, PresenceType::Unsubscribe, &b).is_empty());
        assert!(rosters.presence_subscribers(&a).is_empty());
        assert!(!rosters.is_subscribed_to(&b, &a));
    }

    #[test]
    fn denying_a_request() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        send(&mut rosters, &a, PresenceType::Subscribe, &b);
        assert_eq!(
            send(&mut rosters, &b, PresenceType::Unsubscribed, &a),
            [
                deliver(&a, &b, PresenceType::Unsubscribed),
                push(&a, &b, Subscription::None, false),
            ]
        );
        assert!(rosters.pending_in(&b).is_empty());
        assert!(rosters.item(&b, &a).is_none());
        assert_eq!(rosters.state(&a, &b), State::None);
    }

    #[test]
    fn withdrawing_a_request_clears_the_pending_one() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        send(&mut rosters, &a, PresenceType::Subscribe, &b);
        assert_eq!(
            send(&mut rosters, &a, PresenceType::Unsubscribe, &b),
            [
                push(&a, &b, Subscription::None, false),
                deliver(&b, &a, PresenceType::Unsubscribe),
            ]
        );
        assert!(rosters.pending_in(&b).is_empty());
    }

    #[test]
    fn redundant_subscribed_has_no_effects() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        set_pair(&mut rosters, &a, &b, State::From);
        let ver = rosters.version(&a);
        assert!(send(&mut rosters, &a, PresenceType::Subscribed, &b).is_empty());
        set_pair(&mut rosters, &a, &b, State::Both);
        assert!(send(&mut rosters, &a, PresenceType::Subscribed, &b).is_empty());
        assert_ne!(rosters.version(&a), ver, "set_pair changed it");
        let ver = rosters.version(&a);
        assert!(send(&mut rosters, &a, PresenceType::Subscribed, &b).is_empty());
        assert_eq!(rosters.version(&a), ver);
    }

    /// RFC 6121 section 3.1.3: B already lets A see its presence, but A's
    /// side lost track (None + Pending Out after the request).
    #[test]
    fn auto_reply_when_already_from() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        let mut ignored = Vec::new();
        rosters.transition(&b, &a, State::From, false, &mut ignored);
        assert_eq!(
            send(&mut rosters, &a, PresenceType::Subscribe, &b),
            [
                push(&a, &b, Subscription::None, true),
                deliver(&a, &b, PresenceType::Subscribed),
                push(&a, &b, Subscription::To, false),
                E::Presence(b.clone(), a.clone()),
            ]
        );
        assert!(rosters.pending_in(&b).is_empty());
        assert_eq!(rosters.state(&a, &b), State::To);
        assert_eq!(rosters.state(&b, &a), State::From);
    }

    /// RFC 6121 section 3.4.
    #[test]
    fn pre_approval() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        // B pre-approves A: an item with approved='true', nothing sent.
        assert_eq!(
            send(&mut rosters, &b, PresenceType::Subscribed, &a),
            [E::Push(
                b.clone(),
                a.clone(),
                Subscription::None,
                false,
                true
            )]
        );
        assert!(rosters.item(&b, &a).unwrap().approved);
        // Again: no change.
        assert!(send(&mut rosters, &b, PresenceType::Subscribed, &a).is_empty());
        // A asks: approved at once, B is not asked.
        assert_eq!(
            send(&mut rosters, &a, PresenceType::Subscribe, &b),
            [
                push(&a, &b, Subscription::None, true),
                push(&b, &a, Subscription::From, false),
                deliver(&a, &b, PresenceType::Subscribed),
                push(&a, &b, Subscription::To, false),
                E::Presence(b.clone(), a.clone()),
            ]
        );
        assert!(rosters.pending_in(&b).is_empty());
        assert!(!rosters.item(&b, &a).unwrap().approved);
    }

    #[test]
    fn pre_approval_can_be_cancelled() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        send(&mut rosters, &b, PresenceType::Subscribed, &a);
        assert_eq!(
            send(&mut rosters, &b, PresenceType::Unsubscribed, &a),
            [push(&b, &a, Subscription::None, false)]
        );
        // A's request now reaches B.
        let effects = send(&mut rosters, &a, PresenceType::Subscribe, &b);
        assert!(effects.contains(&deliver(&b, &a, PresenceType::Subscribe)));
        assert_eq!(rosters.state(&b, &a), State::NonePendingIn);
    }

    #[test]
    fn pending_requests_are_kept_for_redelivery() {
        let (a, b, c) = (a(), b(), c());
        let mut rosters = Rosters::default();
        rosters
            .subscription(&a, PresenceType::Subscribe, &b, Some("Romeo here"))
            .unwrap();
        rosters
            .subscription(&c, PresenceType::Subscribe, &b, None)
            .unwrap();
        // A asks again: not delivered again, the first one stays.
        assert!(
            rosters
                .subscription(&a, PresenceType::Subscribe, &b, Some("again"))
                .unwrap()
                .is_empty()
        );
        let pending = rosters.pending_in(&b);
        assert_eq!(pending.len(), 2);
        let first = &pending[0];
        assert_eq!(first.kind, PresenceType::Subscribe);
        assert_eq!(first.from.as_ref().unwrap(), &a);
        assert_eq!(first.to.as_ref().unwrap(), &b);
        assert_eq!(first.status(), Some("Romeo here"));
        assert_eq!(pending[1].from.as_ref().unwrap(), &c);
        // Answering removes them.
        send(&mut rosters, &b, PresenceType::Subscribed, &a);
        send(&mut rosters, &b, PresenceType::Unsubscribed, &c);
        assert!(rosters.pending_in(&b).is_empty());
        assert!(rosters.pending_in(&a).is_empty());
    }

    #[test]
    fn pending_requests_are_bounded() {
        let b = b();
        let mut rosters = Rosters::new(RosterLimits {
            max_pending_in: 2,
            ..RosterLimits::default()
        });
        for name in ["one", "two"] {
            let asker = jid(&format!("{name}@example.net"));
            send(&mut rosters, &asker, PresenceType::Subscribe, &b);
        }
        let third = jid("three@example.net");
        assert_eq!(
            rosters.subscription(&third, PresenceType::Subscribe, &b, None),
            Err(DefinedCondition::ResourceConstraint)
        );
        // Nothing changed on either side.
        assert!(rosters.item(&third, &b).is_none());
        assert_eq!(rosters.pending_in(&b).len(), 2);
        // A request already pending is not counted twice.
        let one = jid("one@example.net");
        assert!(send(&mut rosters, &one, PresenceType::Subscribe, &b).is_empty());
    }

    #[test]
    fn subscription_errors() {
        let (a, b) = (a(), b());
        let mut rosters =
            Rosters::with_domains(RosterLimits::default(), ["EXAMPLE.net", "example.com"]);
        let remote = jid("benvolio@example.org");
        for kind in Kind::ALL {
            assert_eq!(
                rosters.subscription(&a, kind.presence_type(), &remote, None),
                Err(DefinedCondition::RemoteServerNotFound)
            );
            assert_eq!(
                rosters.subscription(&a, kind.presence_type(), &a, None),
                Err(DefinedCondition::NotAllowed)
            );
        }
        for kind in [
            PresenceType::Available,
            PresenceType::Unavailable,
            PresenceType::Probe,
            PresenceType::Error,
        ] {
            assert_eq!(
                rosters.subscription(&a, kind, &b, None),
                Err(DefinedCondition::BadRequest)
            );
        }
        assert!(rosters.get(&a).items.is_empty());
        assert_eq!(rosters.version(&a), "0");
        // Another domain of the hub is local.
        let other = jid("mercutio@example.com");
        send(&mut rosters, &a, PresenceType::Subscribe, &other);
        assert_eq!(rosters.pending_in(&other).len(), 1);
        // Without domains, every contact is local.
        let mut open = Rosters::new(RosterLimits::default());
        send(&mut open, &a, PresenceType::Subscribe, &remote);
        assert_eq!(open.pending_in(&remote).len(), 1);
    }

    #[test]
    fn subscribing_to_a_full_roster_fails() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::new(RosterLimits {
            max_items: 1,
            ..RosterLimits::default()
        });
        rosters.set(&a, &Roster::set(Item::new(c()))).unwrap();
        assert_eq!(
            rosters.subscription(&a, PresenceType::Subscribe, &b, None),
            Err(DefinedCondition::ResourceConstraint)
        );
        assert_eq!(
            rosters.subscription(&a, PresenceType::Subscribed, &b, None),
            Err(DefinedCondition::ResourceConstraint)
        );
        assert!(rosters.pending_in(&b).is_empty());
        // B asks A: the request waits, but approving it needs an item.
        send(&mut rosters, &b, PresenceType::Subscribe, &a);
        assert_eq!(
            rosters.subscription(&a, PresenceType::Subscribed, &b, None),
            Err(DefinedCondition::ResourceConstraint)
        );
        assert_eq!(rosters.state(&a, &b), State::NonePendingIn);
        assert_eq!(rosters.state(&b, &a), State::NonePendingOut);
        // An existing item has room for a subscription.
        send(&mut rosters, &a, PresenceType::Subscribe, &c());
        assert_eq!(rosters.state(&a, &c()), State::NonePendingOut);
    }

    // -----------------------------------------------------------------
    // Roster sets
    // -----------------------------------------------------------------

    #[test]
    fn roster_set_adds_and_updates() {
        let a = a();
        let mut rosters = Rosters::default();
        assert_eq!(
            rosters.get(&a),
            Roster {
                ver: Some("0".into()),
                items: Vec::new()
            }
        );
        let nurse = Item::new(c()).with_name("Nurse").with_group("Servants");
        let effects = rosters.set(&a, &Roster::set(nurse.clone())).unwrap();
        let v1 = rosters.version(&a);
        assert_eq!(
            effects,
            [RosterEffect::Push {
                user: a.clone(),
                item: nurse.clone(),
                ver: v1.clone()
            }]
        );
        assert_eq!(
            rosters.get(&a),
            Roster {
                ver: Some(v1.clone()),
                items: vec![nurse.clone()]
            }
        );
        // An update replaces name and groups; the client's subscription,
        // ask and approved are ignored.
        let mut update = Item::new(c())
            .with_group("Friends")
            .with_subscription(Subscription::Both);
        update.ask = true;
        update.approved = true;
        let effects = rosters.set(&a, &Roster::set(update)).unwrap();
        let expected = Item::new(c()).with_group("Friends");
        let v2 = rosters.version(&a);
        assert_ne!(v1, v2);
        assert_eq!(
            effects,
            [RosterEffect::Push {
                user: a.clone(),
                item: expected.clone(),
                ver: v2
            }]
        );
        // The subscription state survives an update.
        send(&mut rosters, &a, PresenceType::Subscribe, &c());
        rosters.set(&a, &Roster::set(nurse)).unwrap();
        let item = rosters.item(&a, &c()).unwrap();
        assert!(item.ask);
        assert_eq!(item.name.as_deref(), Some("Nurse"));
        // Items come ordered by JID.
        rosters.set(&a, &Roster::set(Item::new(b()))).unwrap();
        let jids: Vec<_> = rosters.get(&a).items.into_iter().map(|i| i.jid).collect();
        assert_eq!(jids, [b(), c()]);
    }

    /// RFC 6121 sections 2.3.3 and 2.5.3.
    #[test]
    fn roster_set_errors() {
        let a = a();
        let mut rosters = Rosters::new(RosterLimits {
            max_items: 2,
            max_groups_per_item: 2,
            max_name_bytes: 5,
            max_group_bytes: 5,
            max_pending_in: 100,
        });
        let bad = |item: Item| Roster::set(item);
        let cases = [
            (Roster::request(None), DefinedCondition::BadRequest),
            (
                Roster {
                    ver: None,
                    items: vec![Item::new(b()), Item::new(c())],
                },
                DefinedCondition::BadRequest,
            ),
            (
                bad(Item::new(b()).with_group("x").with_group("x")),
                DefinedCondition::BadRequest,
            ),
            (
                bad(Item::new(b()).with_group("")),
                DefinedCondition::NotAcceptable,
            ),
            (
                bad(Item::new(b()).with_name("toolong")),
                DefinedCondition::NotAcceptable,
            ),
            (
                bad(Item::new(b()).with_group("toolong")),
                DefinedCondition::NotAcceptable,
            ),
            (
                bad(Item::new(b())
                    .with_group("1")
                    .with_group("2")
                    .with_group("3")),
                DefinedCondition::NotAcceptable,
            ),
            (bad(Item::new(a.clone())), DefinedCondition::NotAllowed),
            (bad(Item::remove(a.clone())), DefinedCondition::NotAllowed),
            (bad(Item::remove(b())), DefinedCondition::ItemNotFound),
        ];
        for (roster, condition) in cases {
            assert_eq!(rosters.set(&a, &roster), Err(condition), "{roster:?}");
        }
        assert_eq!(rosters.version(&a), "0");
        // Limits that are met are fine (name and group of 5 bytes, 2
        // groups); multi-byte characters count in bytes.
        rosters
            .set(
                &a,
                &bad(Item::new(b())
                    .with_name("Romeo")
                    .with_group("1")
                    .with_group("2")),
            )
            .unwrap();
        assert_eq!(
            rosters.set(&a, &bad(Item::new(b()).with_name("Roméo"))),
            Err(DefinedCondition::NotAcceptable)
        );
        // max_items: a third item does not fit, updates still do.
        rosters.set(&a, &bad(Item::new(c()))).unwrap();
        assert_eq!(
            rosters.set(&a, &bad(Item::new(jid("tybalt@example.net")))),
            Err(DefinedCondition::ResourceConstraint)
        );
        rosters
            .set(&a, &bad(Item::new(c()).with_name("N")))
            .unwrap();
        assert_eq!(rosters.get(&a).items.len(), 2);
        // Remote contacts may be stored (only subscriptions need the
        // contact to be local).
        rosters.set(&a, &bad(Item::remove(c()))).unwrap();
        rosters
            .set(&a, &bad(Item::new(jid("benvolio@example.org"))))
            .unwrap();
    }

    /// RFC 6121 section 2.5.2.
    #[test]
    fn roster_remove_cancels_subscriptions() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        set_pair(&mut rosters, &a, &b, State::Both);
        let effects = rosters
            .set(&a, &Roster::set(Item::remove(b.clone())))
            .unwrap();
        let RosterEffect::Push { ver, .. } = &effects[0] else {
            panic!("expected a push")
        };
        assert_eq!(*ver, rosters.version(&a));
        assert_eq!(
            simple(&effects),
            [
                push(&a, &b, Subscription::Remove, false),
                deliver(&b, &a, PresenceType::Unsubscribe),
                push(&b, &a, Subscription::To, false),
                E::Unavailable(b.clone(), a.clone()),
                deliver(&b, &a, PresenceType::Unsubscribed),
                push(&b, &a, Subscription::None, false),
                E::Unavailable(a.clone(), b.clone()),
            ]
        );
        assert!(rosters.item(&a, &b).is_none());
        assert_eq!(rosters.state(&b, &a), State::None);
        assert!(rosters.get(&a).items.is_empty());
    }

    #[test]
    fn roster_remove_withdraws_and_denies_requests() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        set_pair(&mut rosters, &a, &b, State::NonePendingOutIn);
        let effects = rosters
            .set(&a, &Roster::set(Item::remove(b.clone())))
            .unwrap();
        assert_eq!(
            simple(&effects),
            [
                push(&a, &b, Subscription::Remove, false),
                deliver(&b, &a, PresenceType::Unsubscribe),
                deliver(&b, &a, PresenceType::Unsubscribed),
                push(&b, &a, Subscription::None, false),
            ]
        );
        assert!(rosters.pending_in(&a).is_empty());
        assert!(rosters.pending_in(&b).is_empty());
        assert_eq!(rosters.state(&b, &a), State::None);
    }

    #[test]
    fn roster_remove_without_subscription() {
        let a = a();
        let mut rosters = Rosters::default();
        rosters.set(&a, &Roster::set(Item::new(c()))).unwrap();
        let effects = rosters.set(&a, &Roster::set(Item::remove(c()))).unwrap();
        assert_eq!(
            simple(&effects),
            [push(&a, &c(), Subscription::Remove, false)]
        );
    }

    #[test]
    fn remove_user_tells_the_contacts() {
        let (a, b, c) = (a(), b(), c());
        let mut rosters = Rosters::default();
        set_pair(&mut rosters, &a, &b, State::Both);
        set_pair(&mut rosters, &a, &c, State::NonePendingIn);
        let effects = rosters.remove_user(&a);
        assert_eq!(
            simple(&effects),
            [
                deliver(&b, &a, PresenceType::Unsubscribe),
                push(&b, &a, Subscription::To, false),
                deliver(&b, &a, PresenceType::Unsubscribed),
                push(&b, &a, Subscription::None, false),
                E::Unavailable(a.clone(), b.clone()),
                deliver(&c, &a, PresenceType::Unsubscribed),
                push(&c, &a, Subscription::None, false),
            ]
        );
        assert_eq!(rosters.version(&a), "0");
        assert!(rosters.get(&a).items.is_empty());
        assert_eq!(rosters.state(&b, &a), State::None);
        assert_eq!(rosters.state(&c, &a), State::None);
        assert!(rosters.item(&b, &a).is_some(), "contacts keep their items");
        assert!(rosters.remove_user(&a).is_empty());
    }

    #[test]
    fn versions_never_repeat() {
        let (a, b) = (a(), b());
        let mut rosters = Rosters::default();
        rosters.set(&a, &Roster::set(Item::new(c()))).unwrap();
        let first = rosters.version(&a);
        rosters.remove_user(&a);
        rosters.set(&b, &Roster::set(Item::new(c()))).unwrap();
        rosters.set(&a, &Roster::set(Item::new(c()))).unwrap();
        assert_ne!(rosters.version(&a), first);
        assert_ne!(rosters.version(&a), rosters.version(&b));
    }

    #[test]
    fn subscriber_queries() {
        let (a, b, c) = (a(), b(), c());
        let d = jid("tybalt@example.net");
        let mut rosters = Rosters::default();
        set_pair(&mut rosters, &a, &b, State::From);
        set_pair(&mut rosters, &a, &c, State::To);
        set_pair(&mut rosters, &a, &d, State::FromPendingOut);
        assert_eq!(rosters.presence_subscribers(&a), [b.clone(), d.clone()]);
        assert_eq!(rosters.presence_subscriptions(&a), vec![c.clone()]);
        assert!(rosters.is_subscribed_to(&b, &a));
        assert!(!rosters.is_subscribed_to(&c, &a));
        assert!(rosters.is_subscribed_to(&a, &c));
        assert!(!rosters.is_subscribed_to(&a, &a));
        assert_eq!(rosters.presence_subscribers(&c), vec![a.clone()]);
        assert!(
            rosters
                .presence_subscribers(&jid("nobody@example.net"))
                .is_empty()
        );
    }
}
