//! The hub's shared state and its routing rules (RFC 6120 section 10,
//! RFC 6121 section 8): who is online, their presence, rosters, parked
//! XEP-0198 sessions, components; and what happens to each stanza.
//!
//! Sessions never wait on each other: a stanza for another session is
//! offered to its bounded mailbox, and a session whose mailbox is full is
//! disconnected (`resource-constraint`) while the sender gets an error.
//! A client that fills a mailbox past half is told so ([`Routed`]) and
//! pauses before its next stanza, so that a flood follows the pace of
//! its recipient.

// An undelivered stanza goes back to the caller by value: boxing it would
// cost an allocation on every delivery.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::pubsub::{Pubsub, PubsubAccess, PubsubLimits};
use super::roster::{RosterEffect, Rosters};
use super::spool;
use super::store::{Store, StoreError, StoredSession};
use super::users::UserStore;
use crate::client::ResumeState;
use crate::ext::Payload as _;
use crate::ext::disco::{DiscoInfo, DiscoItem, DiscoItems, Identity};
use crate::ext::ping::Ping;
use crate::ext::pubsub::{PubSub, PubSubOwner};
use crate::ext::roster::Roster;
use crate::ext::version::{Version, VersionQuery};
use crate::jid::{BareJid, FullJid, Jid};
use crate::stanza::{
    DefinedCondition, ErrorType, Iq, IqKind, MessageType, Presence, PresenceType, Stanza,
    StanzaError,
};
use crate::stream::{StanzaToken, StreamError, StreamErrorCondition};

/// What a session's task is told out of band.
#[derive(Debug)]
pub(crate) enum Control {
    /// Close the stream with this error: a replaced resource (the session
    /// is over), or with `park` a client that does not read fast enough
    /// (the session waits for it to resume, like after a lost connection).
    Kick { error: StreamError, park: bool },
    /// The hub shuts down: close the stream (`system-shutdown`).
    Shutdown,
    /// The client resumes XEP-0198 session `previd` on a new connection:
    /// if it is this one's, this connection (presumably dead, unnoticed
    /// yet) ends and parks the session, then says so on `parked`.
    Takeover {
        previd: String,
        parked: oneshot::Sender<()>,
    },
}

/// A stanza on its way to a session, with its spool entry when it is a
/// message the hub keeps until the recipient acknowledges it.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) stanza: Stanza,
    pub(crate) spool: Option<u64>,
}

impl From<Stanza> for Delivery {
    fn from(stanza: Stanza) -> Self {
        Self {
            stanza,
            spool: None,
        }
    }
}

/// The way into one session's task: a bounded queue of stanzas, and a
/// control channel that carries at most a kick and a shutdown.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    pub(crate) conn: u64,
    stanzas: mpsc::Sender<Delivery>,
    control: mpsc::UnboundedSender<Control>,
    kicked: Arc<AtomicBool>,
}

/// The receiving ends of a [`Mailbox`].
pub(crate) struct Inbox {
    pub(crate) stanzas: mpsc::Receiver<Delivery>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
}

/// A new mailbox for connection `conn`, holding up to `capacity` stanzas.
pub(crate) fn mailbox(conn: u64, capacity: usize) -> (Mailbox, Inbox) {
    let (stanzas_tx, stanzas) = mpsc::channel(capacity.max(1));
    let (control_tx, control) = mpsc::unbounded_channel();
    (
        Mailbox {
            conn,
            stanzas: stanzas_tx,
            control: control_tx,
            kicked: Arc::new(AtomicBool::new(false)),
        },
        Inbox { stanzas, control },
    )
}

impl Control {
    /// The stream error that ends the session.
    pub(crate) fn into_error(self) -> StreamError {
        match self {
            Self::Kick { error, .. } => error,
            Self::Shutdown => StreamError::new(StreamErrorCondition::SystemShutdown)
                .with_text("the hub is shutting down"),
            Self::Takeover { .. } => Self::taken_over(),
        }
    }

    /// How a session handed over to a new connection ends.
    pub(crate) fn taken_over() -> StreamError {
        StreamError::new(StreamErrorCondition::Conflict)
            .with_text("the session was resumed on another connection")
    }
}

impl Mailbox {
    /// Closes the session with `error`, once.
    pub(crate) fn kick(&self, error: StreamError, park: bool) {
        if !self.kicked.swap(true, Ordering::SeqCst) {
            let _gone = self.control.send(Control::Kick { error, park });
        }
    }

    fn shutdown(&self) {
        let _gone = self.control.send(Control::Shutdown);
    }

    /// Whether at least half of the mailbox is taken.
    fn congested(&self) -> bool {
        self.stanzas.capacity().saturating_mul(2) <= self.stanzas.max_capacity()
    }

    /// Asks the session to hand XEP-0198 session `previd` over, if it is
    /// its own (see [`Control::Takeover`]).
    pub(crate) fn take_over(&self, previd: &str, parked: oneshot::Sender<()>) {
        let _gone = self.control.send(Control::Takeover {
            previd: previd.to_owned(),
            parked,
        });
    }

    /// Offers a stanza; gives it back if the session is gone or stuck (a
    /// stuck session is kicked, and parked for its client to resume: the
    /// hub's own scheduling can fill a mailbox too, and what the session
    /// sent must not be sent again on a new one).
    fn offer(&self, stanza: Delivery) -> Result<(), Delivery> {
        match self.stanzas.try_send(stanza) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(stanza)) => {
                self.kick(
                    StreamError::new(StreamErrorCondition::ResourceConstraint)
                        .with_text("the client does not read its stream fast enough"),
                    true,
                );
                Err(stanza)
            }
            Err(mpsc::error::TrySendError::Closed(stanza)) => Err(stanza),
        }
    }
}

/// Limits of the hub, beside the XML limits of each stream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HubLimits {
    /// Stanzas waiting in one session's mailbox; beyond, the session is
    /// disconnected with `resource-constraint` (default 512). A client or
    /// component whose stanzas fill a mailbox past half is paused briefly
    /// before each next stanza (its socket is not read meanwhile), so a
    /// flood from one sender slows to its recipient's pace instead of
    /// getting the recipient disconnected.
    pub session_queue: usize,
    /// Resources one account may bind at once (default 16).
    pub max_resources: usize,
    /// Connections at once, clients and components, authenticated or not
    /// (default 10 000). Beyond, a new connection is closed at once: on the
    /// client (STARTTLS) listener after a `resource-constraint` stream
    /// error.
    pub max_connections: usize,
    /// How long a session with XEP-0198 resumption waits for its client
    /// after the connection is lost (default 5 minutes).
    pub resume_window: Duration,
    /// Stanzas kept for a parked session while it waits (default 1000).
    pub parked_queue: usize,
    /// Messages spooled for one account: waiting for it to come online
    /// (offline messages) or for its acknowledgement. Beyond, a message to
    /// it is refused with `resource-constraint` (default 10 000).
    pub spool_per_user: usize,
    /// Offline messages pushed to a session at once; the rest follow as
    /// it acknowledges them (default 100).
    pub spool_batch: usize,
    /// How long a new connection may take from its first byte to a bound
    /// resource (a client) or a completed handshake (a component): TLS,
    /// SASL and binding included. A connection still negotiating then is
    /// closed with `connection-timeout`, so clients that trickle bytes or
    /// never authenticate cannot hold connections (and their memory) for
    /// long (default 30 s).
    pub negotiation_timeout: Duration,
}

impl Default for HubLimits {
    fn default() -> Self {
        Self {
            session_queue: 512,
            max_resources: 16,
            max_connections: 10_000,
            resume_window: Duration::from_secs(300),
            parked_queue: 1000,
            spool_per_user: 10_000,
            spool_batch: 100,
            negotiation_timeout: Duration::from_secs(30),
        }
    }
}

/// What the router needs from the hub's configuration.
pub(crate) struct RouterConfig {
    pub(crate) domains: Vec<String>,
    pub(crate) components: HashMap<String, String>,
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) limits: HubLimits,
    /// The pubsub service's domain (no account or component has it).
    pub(crate) pubsub_domain: String,
    pub(crate) pubsub_limits: PubsubLimits,
}

/// Where a bound resource's stanzas go.
enum Link {
    /// Its session.
    Live(Mailbox),
    /// Its parked XEP-0198 state, by id, while it waits for resumption.
    Parked(String),
}

/// One bound resource.
struct Resource {
    link: Link,
    /// The last available presence it broadcast (`from` its full JID);
    /// `None` while unavailable.
    presence: Option<Presence>,
    /// Whether it asked for the roster (RFC 6121 2.1.6: it gets pushes).
    interested: bool,
    /// Entities it sent directed presence to (RFC 6121 4.6).
    directed: HashSet<Jid>,
}

/// A session whose connection ended, on its way to be parked.
pub(crate) struct Leaving {
    pub(crate) state: ResumeState,
    /// Spool entries among `state.unacked`, by token.
    pub(crate) durable: HashMap<StanzaToken, u64>,
    /// Stanzas for the session that were never sent, in order.
    pub(crate) waiting: Vec<Delivery>,
}

pub(crate) struct Parked {
    pub(crate) state: ResumeState,
    deadline: Instant,
    /// The spool entries among `state.unacked`, by token.
    pub(crate) durable: HashMap<StanzaToken, u64>,
    /// Read back from the store at start: its stanzas are rebuilt from
    /// the spool at resumption.
    restored: bool,
}

#[derive(Default)]
struct State {
    users: HashMap<BareJid, BTreeMap<String, Resource>>,
    components: HashMap<String, Mailbox>,
    parked: HashMap<String, Parked>,
    /// Every live session, for shutdown.
    sessions: HashMap<u64, Mailbox>,
    closing: bool,
}

/// The hub's state and rules.
pub(crate) struct Router {
    pub(crate) config: RouterConfig,
    state: Mutex<State>,
    rosters: Mutex<Rosters>,
    next_push: std::sync::atomic::AtomicU64,
    /// Spool entries on their way to a session (in a mailbox, a parked
    /// session, or being sent): not offered to anyone else.
    claimed: Mutex<HashSet<u64>>,
    /// Accounts with spooled messages that wait while the account is
    /// online (a batch was cut short, or a session ended unacknowledged).
    waiting: Mutex<HashSet<BareJid>>,
    pubsub: Pubsub,
}

/// Where a stanza for a session goes: its mailbox, or straight into the
/// session that is routing (which holds its own machine).
struct Out<'a> {
    me: u64,
    mine: &'a mut Vec<Delivery>,
    /// The sending session, stored with the first message it spools.
    sender: Option<Sender<'a>>,
    /// A recipient's mailbox was at least half full after an offer: the
    /// sender should slow down (see [`Routed::congested`]).
    congested: bool,
}

/// What routing a client's stanza gave.
#[derive(Debug)]
pub(crate) struct Routed {
    /// Stanzas for the sending session itself (replies, errors).
    pub(crate) replies: Vec<Delivery>,
    /// A recipient's mailbox is filling up faster than its session empties
    /// it: the sender must pause before its next stanza, so that one
    /// flooding client cannot fill another's mailbox (which would
    /// disconnect that client as stuck) nor crowd out other senders.
    pub(crate) congested: bool,
}

/// The XEP-0198 session a client's stanza came on, as its handler sees it:
/// made into a [`StoredSession`] only when the stanza is spooled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sender<'a> {
    pub(crate) id: &'a str,
    pub(crate) jid: &'a FullJid,
    /// The `h` that counts the stanza being routed.
    pub(crate) inbound: u32,
}

impl<'a> Out<'a> {
    /// For stanzas that do not come from a session.
    fn nobody(mine: &'a mut Vec<Delivery>) -> Self {
        Self::of(0, mine)
    }

    /// For stanzas of the session `me`; what is for `me` goes to `mine`.
    fn of(me: u64, mine: &'a mut Vec<Delivery>) -> Self {
        Self {
            me,
            mine,
            sender: None,
            congested: false,
        }
    }

    fn to(&mut self, mailbox: &Mailbox, stanza: Delivery) -> Result<(), Delivery> {
        if mailbox.conn == self.me {
            self.mine.push(stanza);
            Ok(())
        } else {
            let offered = mailbox.offer(stanza);
            self.congested |= mailbox.congested();
            offered
        }
    }
}

/// Which available resources of an account get a stanza.
#[derive(Clone, Copy)]
enum Fanout<'a> {
    /// Every available resource, but `except` (presence).
    All { except: Option<&'a str> },
    /// Those with a non-negative priority (headlines).
    NonNegative,
    /// The non-negative ones of the highest priority (chat, normal).
    Top,
}

/// Delivers to one resource: its session's mailbox, or its parked state
/// (up to `limit` stanzas waiting).
fn deliver(
    link: &Link,
    parked: &mut HashMap<String, Parked>,
    limit: usize,
    stanza: Delivery,
    out: &mut Out<'_>,
) -> Result<(), Delivery> {
    match link {
        Link::Live(mailbox) => out.to(mailbox, stanza),
        Link::Parked(id) => match parked.get_mut(id) {
            Some(p) if p.state.unacked.len() < limit && !p.restored => {
                park_stanza(p, stanza);
                Ok(())
            }
            _ => Err(stanza),
        },
    }
}

/// Adds a stanza to a parked session's state: it goes out when the
/// session resumes, like the stanzas it never confirmed.
pub(crate) fn park_stanza(parked: &mut Parked, stanza: Delivery) {
    let token = StanzaToken(parked.state.next_token);
    parked.state.next_token += 1;
    parked.state.unacked.push((token, stanza.stanza));
    if let Some(id) = stanza.spool {
        parked.durable.insert(token, id);
    }
}

fn error(condition: DefinedCondition) -> StanzaError {
    StanzaError::new(condition)
}

fn bare_of(jid: &Jid) -> Option<BareJid> {
    jid.node().map(|_| jid.to_bare())
}

impl Router {
    /// The router, with the pubsub nodes of the store.
    pub(crate) fn new(config: RouterConfig, rosters: Rosters) -> Result<Self, StoreError> {
        let pubsub = Pubsub::load(Arc::clone(&config.store), config.pubsub_limits.clone())?;
        Ok(Self {
            config,
            state: Mutex::default(),
            rosters: Mutex::new(rosters),
            next_push: std::sync::atomic::AtomicU64::new(1),
            claimed: Mutex::default(),
            waiting: Mutex::default(),
            pubsub,
        })
    }

    fn store(&self) -> &dyn Store {
        &*self.config.store
    }

    /// Writes the rosters of `users` to the store (after a change).
    fn persist_rosters(&self, users: &[&BareJid]) {
        let rosters = self.rosters();
        for user in users {
            let text = rosters
                .export(user)
                .and_then(|e| super::store::element_text(&e));
            let _ = match text {
                Some(text) => self.store().put_roster(user, &text),
                None => self.store().remove_roster(user),
            };
        }
    }

    fn claimed(&self) -> MutexGuard<'_, HashSet<u64>> {
        self.claimed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A spool entry is no longer on its way (sent on a session with
    /// stream management, delivered for good, or back to waiting).
    pub(crate) fn unclaim(&self, id: u64) {
        self.claimed().remove(&id);
    }

    /// Whether `user` has spooled messages waiting while online.
    pub(crate) fn has_waiting(&self, user: &BareJid) -> bool {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(user)
    }

    fn set_waiting(&self, user: &BareJid, waiting: bool) {
        let mut set = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if waiting {
            set.insert(user.clone());
        } else {
            set.remove(user);
        }
    }

    /// Reads the resumable sessions back from the store (at start): each
    /// is parked for the resume window, its resource bound.
    pub(crate) fn restore(&self, now: Instant) -> Result<usize, StoreError> {
        {
            let mut rosters = self.rosters();
            for (user, text) in self.store().rosters()? {
                let element: minidom::Element = text
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("the roster of {user}: {e}")))?;
                rosters
                    .import(user.clone(), &element)
                    .map_err(|e| StoreError::Corrupt(format!("the roster of {user}: {e}")))?;
            }
        }
        let sessions = self.store().sessions()?;
        let mut st = self.state();
        let mut count = 0;
        for session in sessions {
            let resources = st.users.entry(session.jid.to_bare()).or_default();
            if resources.contains_key(session.jid.resource()) {
                continue;
            }
            resources.insert(
                session.jid.resource().to_owned(),
                Resource {
                    link: Link::Parked(session.id.clone()),
                    presence: None,
                    interested: false,
                    directed: HashSet::new(),
                },
            );
            st.parked.insert(
                session.id.clone(),
                Parked {
                    state: ResumeState {
                        id: session.id,
                        location: None,
                        jid: session.jid,
                        inbound: session.inbound,
                        outbound_acked: 0,
                        unacked: Vec::new(),
                        next_token: 1,
                    },
                    deadline: now + self.config.limits.resume_window,
                    durable: HashMap::new(),
                    restored: true,
                },
            );
            count += 1;
        }
        Ok(count)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rosters(&self) -> MutexGuard<'_, Rosters> {
        self.rosters.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_local_domain(&self, domain: &str) -> bool {
        self.config.domains.iter().any(|d| d == domain)
    }

    /// Registers a live session (for shutdown). `false` when the hub is
    /// closing or full.
    pub(crate) fn register_session(&self, mailbox: &Mailbox) -> bool {
        let mut state = self.state();
        if state.closing || state.sessions.len() >= self.config.limits.max_connections {
            return false;
        }
        state.sessions.insert(mailbox.conn, mailbox.clone());
        true
    }

    pub(crate) fn unregister_session(&self, conn: u64) {
        self.state().sessions.remove(&conn);
    }

    /// Starts the shutdown: no new sessions; every session is told.
    pub(crate) fn shutdown(&self) {
        let mut state = self.state();
        state.closing = true;
        for mailbox in state.sessions.values() {
            mailbox.shutdown();
        }
    }

    pub(crate) fn session_count(&self) -> usize {
        self.state().sessions.len()
    }

    // ---- binding, parking, resuming ---------------------------------------

    /// Binds `jid` to `mailbox`. A session already holding the resource
    /// is replaced (RFC 6120 7.7.2.2: it gets a `conflict` stream error);
    /// a parked one ends, as when its resume window passes.
    pub(crate) fn bind(&self, jid: &FullJid, mailbox: &Mailbox) -> Result<(), DefinedCondition> {
        let mut state = self.state();
        let resources = state.users.entry(jid.to_bare()).or_default();
        if let Some(old) = resources.get(jid.resource()) {
            if let Link::Live(old) = &old.link {
                old.kick(
                    StreamError::new(StreamErrorCondition::Conflict)
                        .with_text("replaced by a new connection"),
                    false,
                );
            }
        } else if resources.len() >= self.config.limits.max_resources {
            return Err(DefinedCondition::ResourceConstraint);
        }
        let old = resources.insert(
            jid.resource().to_owned(),
            Resource {
                link: Link::Live(mailbox.clone()),
                presence: None,
                interested: false,
                directed: HashSet::new(),
            },
        );
        let replaced = match old.map(|r| r.link) {
            Some(Link::Parked(id)) => state.parked.remove(&id),
            _ => None,
        };
        drop(state);
        if let Some(parked) = replaced {
            // The client bound the resource again instead of resuming: the
            // parked session is over, as if its window had passed. Its
            // spooled messages wait again (for this session's initial
            // presence, or another resource). Dropped as it was, they
            // stayed marked as sent on a session that no longer existed,
            // never delivered, and its stored session stayed behind.
            let unacked = self.release(
                Some(&parked.state.id),
                parked.state.unacked,
                &parked.durable,
            );
            self.gone(jid, None, unacked);
        }
        Ok(())
    }

    /// Parks a session whose connection was lost, for resumption: its
    /// state, with `leaving.waiting` (what its machine refused) and then
    /// what is left in its `inbox`, in that order, as stanzas to send when
    /// it resumes.
    ///
    /// The inbox is emptied under the router's lock, where every stanza
    /// for a live session is offered: one offered before the session is
    /// parked cannot then land in the mailbox behind a later one that
    /// went straight to the parked session.
    ///
    /// `Err` gives everything back when the resource is no longer this
    /// session's (replaced meanwhile): the session is to end for good.
    pub(crate) fn park(
        &self,
        now: Instant,
        mailbox: &Mailbox,
        mut leaving: Leaving,
        inbox: &mut mpsc::Receiver<Delivery>,
    ) -> Result<(), Leaving> {
        let mut guard = self.state();
        while let Ok(delivery) = inbox.try_recv() {
            leaving.waiting.push(delivery);
        }
        let st = &mut *guard;
        let ours = st
            .users
            .get_mut(&leaving.state.jid.to_bare())
            .and_then(|r| r.get_mut(leaving.state.jid.resource()))
            .filter(|r| matches!(&r.link, Link::Live(live) if live.conn == mailbox.conn));
        let Some(resource) = ours else {
            return Err(leaving);
        };
        let Leaving {
            state,
            durable,
            waiting,
        } = leaving;
        resource.link = Link::Parked(state.id.clone());
        let mut parked = Parked {
            state,
            deadline: now + self.config.limits.resume_window,
            durable,
            restored: false,
        };
        for delivery in waiting {
            park_stanza(&mut parked, delivery);
        }
        st.parked.insert(parked.state.id.clone(), parked);
        Ok(())
    }

    /// Takes a parked session for `user` to resume on `mailbox`.
    /// A session read back from the store at start gets its stanzas from
    /// the spool: those sent on it that the client has not acknowledged
    /// (`h`), then those waiting for the account.
    ///
    /// An `h` acknowledging more than was sent is refused while the
    /// session is still parked: the resumption would fail after taking it,
    /// and the session (with its spooled messages) would be lost.
    pub(crate) fn resume(
        &self,
        user: &BareJid,
        previd: &str,
        h: u32,
        mailbox: &Mailbox,
    ) -> Option<Parked> {
        let mut guard = self.state();
        let st = &mut *guard;
        let parked = st.parked.get(previd)?;
        let valid_h = parked.restored
            || usize::try_from(h.wrapping_sub(parked.state.outbound_acked))
                .is_ok_and(|acked| acked <= parked.state.unacked.len());
        if parked.state.jid.to_bare() != *user || !valid_h {
            return None;
        }
        let jid = parked.state.jid.clone();
        let resource = st
            .users
            .get_mut(&jid.to_bare())
            .and_then(|r| r.get_mut(jid.resource()))?;
        let mut parked = st.parked.remove(previd)?;
        resource.link = Link::Live(mailbox.clone());
        if parked.restored {
            // The client was available when the hub stopped.
            resource.presence = Some(Presence::available().with_from(jid.clone().into()));
            drop(guard);
            self.rebuild(&mut parked, h);
        }
        Some(parked)
    }

    /// The live sessions of `user` on other connections than `conn`: one
    /// may hold a session its client resumes on `conn` (its connection
    /// died, and the hub has not noticed yet).
    pub(crate) fn live_elsewhere(&self, user: &BareJid, conn: u64) -> Vec<Mailbox> {
        self.state()
            .users
            .get(user)
            .map(|resources| {
                resources
                    .values()
                    .filter_map(|r| match &r.link {
                        Link::Live(mailbox) if mailbox.conn != conn => Some(mailbox.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Fills a restored session from the spool.
    fn rebuild(&self, parked: &mut Parked, h: u32) {
        let user = parked.state.jid.to_bare();
        let rows = self.store().spooled(&user).unwrap_or_default();
        let mut sent = Vec::new();
        let mut waiting = Vec::new();
        for row in rows {
            match &row.sent {
                Some((session, seq)) if *session == parked.state.id => {
                    // Acknowledged by the client's `h`: delivered.
                    if spool::is_acked(*seq, h) {
                        let _ = self.store().spool_remove(row.id);
                    } else {
                        sent.push((*seq, row));
                    }
                }
                Some(_) => {}
                None => waiting.push(row),
            }
        }
        sent.sort_by_key(|(seq, _)| seq.wrapping_sub(h));
        parked.state.outbound_acked = h;
        let domain = user.domain().to_owned();
        let mut claimed = self.claimed();
        let waiting: Vec<_> = waiting
            .into_iter()
            .filter(|row| !claimed.contains(&row.id))
            .collect();
        let rows = sent.into_iter().map(|(_, row)| row).chain(waiting);
        for row in rows.take(self.config.limits.parked_queue) {
            let Some(stanza) = spool::parse(&row.stanza) else {
                let _ = self.store().spool_remove(row.id);
                continue;
            };
            claimed.insert(row.id);
            let stanza = spool::with_delay(stanza, row.stamp_ms, &domain);
            park_stanza(
                parked,
                Delivery {
                    stanza,
                    spool: Some(row.id),
                },
            );
        }
    }

    /// Ends parked sessions whose window passed; returns how many.
    pub(crate) fn expire_parked(&self, now: Instant) -> usize {
        let expired: Vec<Parked> = {
            let mut st = self.state();
            let ids: Vec<String> = st
                .parked
                .iter()
                .filter(|(_, p)| p.deadline <= now)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| st.parked.remove(&id))
                .collect()
        };
        let count = expired.len();
        for parked in expired {
            let jid = parked.state.jid.clone();
            let unacked = self.release(
                Some(&parked.state.id),
                parked.state.unacked,
                &parked.durable,
            );
            self.gone(&jid, None, unacked);
        }
        count
    }

    /// A session ended for good: its resource goes (unless a newer
    /// session holds it), unavailable presence is broadcast, and the
    /// messages it never confirmed are bounced.
    pub(crate) fn gone(&self, jid: &FullJid, mailbox: Option<&Mailbox>, unacked: Vec<Stanza>) {
        let removed = {
            let mut st = self.state();
            let bare = jid.to_bare();
            let Some(resources) = st.users.get_mut(&bare) else {
                return;
            };
            let ours = resources
                .get(jid.resource())
                .is_some_and(|r| match (mailbox, &r.link) {
                    (Some(m), Link::Live(current)) => m.conn == current.conn,
                    (None, Link::Parked(_)) => true,
                    _ => false,
                });
            if !ours {
                None
            } else {
                let removed = resources.remove(jid.resource());
                if resources.is_empty() {
                    st.users.remove(&bare);
                }
                removed
            }
        };
        let mut ignored = Vec::new();
        let mut out = Out::nobody(&mut ignored);
        if let Some(resource) = removed
            && resource.presence.is_some()
        {
            let unavailable = Presence::unavailable().with_from(jid.clone().into());
            self.broadcast(jid, &unavailable, &resource.directed, &mut out);
        }
        for stanza in unacked {
            if let Stanza::Message(m) = &stanza
                && !matches!(m.kind, MessageType::Error | MessageType::Groupchat)
                && let Some(reply) =
                    stanza.error_reply(error(DefinedCondition::RecipientUnavailable))
            {
                self.route(reply, &mut out);
            }
        }
        // What the session left unacknowledged goes to another resource,
        // or waits.
        self.flush(&jid.to_bare(), None, &mut out);
    }

    /// A session ends without acknowledging everything: its spooled
    /// stanzas wait again (for another resource, or for later); the
    /// others are returned, to be bounced.
    pub(crate) fn release(
        &self,
        session: Option<&str>,
        unacked: Vec<(StanzaToken, Stanza)>,
        durable: &HashMap<StanzaToken, u64>,
    ) -> Vec<Stanza> {
        if let Some(session) = session {
            let _ = self.store().spool_release(session);
        }
        let mut claimed = self.claimed();
        for id in durable.values() {
            claimed.remove(id);
        }
        unacked
            .into_iter()
            .filter(|(token, _)| !durable.contains_key(token))
            .map(|(_, stanza)| stanza)
            .collect()
    }

    /// Offers `user`'s waiting spooled messages (offline messages), at
    /// most a batch, stamped with their delay, to `resource` or to the
    /// top available resources.
    fn flush(&self, user: &BareJid, resource: Option<&str>, out: &mut Out<'_>) {
        let Ok(rows) = self.store().spooled(user) else {
            return;
        };
        let batch = self.config.limits.spool_batch.max(1);
        let mut taken = Vec::new();
        let mut more = false;
        {
            let mut claimed = self.claimed();
            for row in rows {
                if row.sent.is_some() || claimed.contains(&row.id) {
                    continue;
                }
                if taken.len() >= batch {
                    more = true;
                    break;
                }
                claimed.insert(row.id);
                taken.push(row);
            }
        }
        self.set_waiting(user, more);
        let domain = user.domain().to_owned();
        let mut rows = taken.into_iter();
        for row in rows.by_ref() {
            let Some(stanza) = spool::parse(&row.stanza) else {
                let _ = self.store().spool_remove(row.id);
                self.unclaim(row.id);
                continue;
            };
            let delivery = Delivery {
                stanza: spool::with_delay(stanza, row.stamp_ms, &domain),
                spool: Some(row.id),
            };
            let result = match resource {
                Some(resource) => self.to_resource(user, resource, delivery, out),
                None => self.to_available(user, Fanout::Top, delivery, out),
            };
            if result.is_err() {
                self.unclaim(row.id);
                break;
            }
        }
        let left: Vec<u64> = rows.map(|row| row.id).collect();
        if !left.is_empty() {
            let mut claimed = self.claimed();
            for id in left {
                claimed.remove(&id);
            }
        }
    }

    /// The session bound as `me` acknowledged stanzas: if messages wait
    /// for the account, it gets the next batch.
    pub(crate) fn flush_to(&self, conn: u64, me: &FullJid) -> Vec<Delivery> {
        let user = me.to_bare();
        let mut mine = Vec::new();
        if self.has_waiting(&user) {
            let mut out = Out::of(conn, &mut mine);
            self.flush(&user, Some(me.resource()), &mut out);
        }
        mine
    }

    /// Spools a message for `user` before delivering it; `false` when it
    /// was refused (the sender got an error).
    fn spool(&self, delivery: &mut Delivery, user: &BareJid, out: &mut Out<'_>) -> bool {
        let Some(text) = spool::serialize(&delivery.stanza) else {
            self.bounce(&delivery.stanza, DefinedCondition::NotAcceptable, out);
            return false;
        };
        let sender = out.sender.take().map(|s| StoredSession {
            id: s.id.to_owned(),
            jid: s.jid.clone(),
            inbound: s.inbound,
        });
        match self.store().spool(
            user,
            &text,
            super::store::now_ms(),
            self.config.limits.spool_per_user,
            sender.as_ref(),
        ) {
            Ok(id) => {
                self.claimed().insert(id);
                delivery.spool = Some(id);
                true
            }
            Err(e) => {
                let condition = match e {
                    StoreError::Full { .. } => DefinedCondition::ResourceConstraint,
                    _ => DefinedCondition::InternalServerError,
                };
                if let Some(reply) = delivery
                    .stanza
                    .error_reply(error(condition).with_text(e.to_string()))
                {
                    self.route(reply, out);
                }
                false
            }
        }
    }

    // ---- delivery ---------------------------------------------------------

    /// Delivers to one bound resource of `user` (a session, or a parked
    /// one).
    fn to_resource(
        &self,
        user: &BareJid,
        resource: &str,
        stanza: Delivery,
        out: &mut Out<'_>,
    ) -> Result<(), Delivery> {
        let mut guard = self.state();
        let st = &mut *guard;
        let Some(resource) = st.users.get(user).and_then(|r| r.get(resource)) else {
            return Err(stanza);
        };
        deliver(
            &resource.link,
            &mut st.parked,
            self.config.limits.parked_queue,
            stanza,
            out,
        )
    }

    /// Delivers to the available resources of `user` that `fanout` picks,
    /// under one lock, cloning the stanza only for the second recipient
    /// on; `Err` gives it back when none took it.
    fn to_available(
        &self,
        user: &BareJid,
        fanout: Fanout<'_>,
        stanza: Delivery,
        out: &mut Out<'_>,
    ) -> Result<(), Delivery> {
        let mut guard = self.state();
        let st = &mut *guard;
        let Some(resources) = st.users.get(user) else {
            return Err(stanza);
        };
        let available = || {
            resources.iter().filter_map(|(name, r)| {
                Some((name.as_str(), &r.link, r.presence.as_ref()?.priority))
            })
        };
        let top = available().map(|(_, _, p)| p).filter(|p| *p >= 0).max();
        let targets: Vec<&Link> = available()
            .filter(|(name, _, priority)| match fanout {
                Fanout::All { except } => except != Some(*name),
                Fanout::NonNegative => *priority >= 0,
                Fanout::Top => Some(*priority) == top,
            })
            .map(|(_, link, _)| link)
            .collect();
        let limit = self.config.limits.parked_queue;
        let last = targets.len().saturating_sub(1);
        let mut stanza = Some(stanza);
        let mut delivered = false;
        for (i, link) in targets.into_iter().enumerate() {
            let copy = if i == last {
                stanza.take()
            } else {
                stanza.clone()
            };
            let Some(copy) = copy else { break };
            match deliver(link, &mut st.parked, limit, copy, out) {
                Ok(()) => delivered = true,
                Err(back) => {
                    if stanza.is_none() {
                        stanza = Some(back);
                    }
                }
            }
        }
        match stanza {
            Some(stanza) if !delivered => Err(stanza),
            _ => Ok(()),
        }
    }

    /// The current presence of each available resource of `user` (their
    /// `from` is the resource's full JID).
    fn presences_of(&self, user: &BareJid) -> Vec<Presence> {
        self.state()
            .users
            .get(user)
            .map(|r| r.values().filter_map(|r| r.presence.clone()).collect())
            .unwrap_or_default()
    }

    fn bounce(&self, stanza: &Stanza, condition: DefinedCondition, out: &mut Out<'_>) {
        if let Some(reply) = stanza.error_reply(error(condition)) {
            // An error to an unreachable sender is dropped, never bounced
            // again (error_reply refuses errors).
            self.route(reply, out);
        }
    }

    /// RFC 6120 10 / RFC 6121 8: everything addressed to someone.
    fn route(&self, stanza: Stanza, out: &mut Out<'_>) {
        self.route_delivery(stanza.into(), out);
    }

    /// [`route`](Self::route) for a stanza that may already be spooled.
    fn route_delivery(&self, delivery: Delivery, out: &mut Out<'_>) {
        let mut delivery = delivery;
        let stanza = &delivery.stanza;
        let Some(to) = stanza.recipient().cloned() else {
            return;
        };
        let domain = to.domain().to_owned();
        if domain == self.config.pubsub_domain {
            self.pubsub_stanza(stanza, out);
            return;
        }
        let component = self.state().components.get(&domain).cloned();
        if let Some(component) = component {
            if let Err(back) = out.to(&component, delivery) {
                self.bounce(&back.stanza, DefinedCondition::ServiceUnavailable, out);
            }
            return;
        }
        if self.config.components.contains_key(&domain) {
            self.bounce(stanza, DefinedCondition::ServiceUnavailable, out);
            return;
        }
        if !self.is_local_domain(&domain) {
            self.bounce(stanza, DefinedCondition::RemoteServerNotFound, out);
            return;
        }
        let Some(bare) = bare_of(&to) else {
            // To the server itself, from another entity (a component):
            // only iq requests get an answer.
            if let Stanza::Iq(iq) = stanza {
                for reply in self.server_iq(iq) {
                    self.route(reply, out);
                }
            }
            return;
        };
        if !self.config.users.exists(&bare) {
            match stanza {
                Stanza::Presence(_) => {}
                Stanza::Message(m) if m.kind == MessageType::Headline => {}
                _ => self.bounce(stanza, DefinedCondition::ServiceUnavailable, out),
            }
            return;
        }
        // Chat and normal messages are kept until the recipient
        // acknowledges them, or for later.
        if delivery.spool.is_none()
            && spool::is_spooled(&delivery.stanza)
            && !self.spool(&mut delivery, &bare, out)
        {
            return;
        }
        if let Some(full) = to.as_full() {
            match self.to_resource(&bare, full.resource(), delivery, out) {
                Ok(()) => {}
                Err(delivery) => self.to_unavailable_full(delivery, &bare, out),
            }
            return;
        }
        self.to_bare(delivery, &bare, out);
    }

    /// RFC 6121 8.5.3.2: a full JID that is not online.
    fn to_unavailable_full(&self, delivery: Delivery, bare: &BareJid, out: &mut Out<'_>) {
        match &delivery.stanza {
            Stanza::Message(m) => match m.kind {
                MessageType::Chat | MessageType::Normal => self.to_bare(delivery, bare, out),
                MessageType::Headline | MessageType::Error => {}
                MessageType::Groupchat => {
                    self.bounce(&delivery.stanza, DefinedCondition::ServiceUnavailable, out);
                }
            },
            Stanza::Iq(_) => {
                self.bounce(&delivery.stanza, DefinedCondition::ServiceUnavailable, out);
            }
            Stanza::Presence(_) => {}
        }
    }

    /// RFC 6121 8.5.2: a bare JID of a local account.
    fn to_bare(&self, delivery: Delivery, bare: &BareJid, out: &mut Out<'_>) {
        let stanza = &delivery.stanza;
        match stanza {
            Stanza::Message(m) => {
                let kind = m.kind;
                if kind == MessageType::Groupchat {
                    self.bounce(stanza, DefinedCondition::ServiceUnavailable, out);
                    return;
                }
                // Headlines go to every non-negative resource; chat and
                // normal to those of the highest priority.
                let fanout = if kind == MessageType::Headline {
                    Fanout::NonNegative
                } else {
                    Fanout::Top
                };
                if let Err(back) = self.to_available(bare, fanout, delivery, out)
                    && let Some(id) = back.spool
                {
                    // No available resource (RFC 6121 8.5.2.2.1), or none
                    // could take it (a parked session's queue is full): kept
                    // as an offline message, unless only chat states. It
                    // waits for the account's next initial presence, or its
                    // sessions' next acknowledgement: a session that resumes
                    // sends no initial presence.
                    let keep = matches!(&back.stanza, Stanza::Message(m) if spool::keep_offline(m));
                    if keep {
                        self.set_waiting(bare, true);
                    } else {
                        let _ = self.store().spool_remove(id);
                    }
                    self.unclaim(id);
                }
            }
            Stanza::Presence(p) if p.kind == PresenceType::Probe => {
                if let Some(from) = p.from.clone() {
                    self.answer_probe(bare, &from, out);
                }
            }
            // Subscription presence between local accounts goes through the
            // roster, never here; from a component, it is delivered as is.
            Stanza::Presence(_) => {
                let _ = self.to_available(bare, Fanout::All { except: None }, delivery, out);
            }
            Stanza::Iq(iq) if is_pubsub(iq) => self.pep_iq(bare, iq, out),
            Stanza::Iq(iq) => {
                // RFC 6121 8.5.1: the server answers for the account.
                for reply in account_iq(iq) {
                    self.route(reply, out);
                }
            }
        }
    }

    /// A probe from `from` for `user`'s presence: the presence of each
    /// available resource, if `from` may see it.
    fn answer_probe(&self, user: &BareJid, from: &Jid, out: &mut Out<'_>) {
        let subscriber = from.to_bare();
        if subscriber != *user && !self.rosters().is_subscribed_to(&subscriber, user) {
            return;
        }
        for presence in self.presences_of(user) {
            self.route(Stanza::Presence(presence.with_to(from.clone())), out);
        }
    }

    /// Broadcasts `presence` of `jid` to its subscribers, to its other
    /// resources and (for unavailable) to whom it sent directed presence.
    fn broadcast(
        &self,
        jid: &FullJid,
        presence: &Presence,
        directed: &HashSet<Jid>,
        out: &mut Out<'_>,
    ) {
        let user = jid.to_bare();
        let subscribers = self.rosters().presence_subscribers(&user);
        let mut targets: Vec<Jid> = subscribers.into_iter().map(Jid::from).collect();
        targets.push(user.clone().into());
        if presence.kind == PresenceType::Unavailable {
            targets.extend(directed.iter().cloned());
        }
        let mut seen = HashSet::new();
        for target in targets {
            if !seen.insert(target.clone()) {
                continue;
            }
            let stanza = Stanza::Presence(presence.clone().with_to(target.clone()));
            if target.is_bare() && target.domain() == user.domain() && target.node() == user.node()
            {
                // The user's own other resources (not the sender).
                let others = Fanout::All {
                    except: Some(jid.resource()),
                };
                let _ = self.to_available(&user, others, stanza.into(), out);
            } else {
                self.route(stanza, out);
            }
        }
    }

    // ---- what clients send ------------------------------------------------

    /// A stanza from the client bound as `me` (on connection `conn`),
    /// `from` already stamped by its connection. Returns what goes back to
    /// that client itself.
    pub(crate) fn client_stanza(
        &self,
        conn: u64,
        me: &FullJid,
        stanza: Stanza,
        sender: Option<Sender<'_>>,
    ) -> Routed {
        let mut mine = Vec::new();
        let mut out = Out {
            sender,
            ..Out::of(conn, &mut mine)
        };
        let to_server = |to: &Jid| to.node().is_none() && self.is_local_domain(to.domain());
        match stanza {
            Stanza::Presence(p) => self.client_presence(me, p, &mut out),
            Stanza::Iq(iq) => match &iq.to {
                // To the account itself (no `to`, or its bare JID).
                None => out.mine.extend(self.own_iq(conn, me, &iq)),
                Some(to) if to.is_bare() && to.as_str() == me.bare_str() => {
                    out.mine.extend(self.own_iq(conn, me, &iq));
                }
                Some(to) if to_server(to) => {
                    let replies = self.server_iq(&iq);
                    out.mine.extend(replies.into_iter().map(Delivery::from));
                }
                Some(_) => self.route(Stanza::Iq(iq), &mut out),
            },
            // Nothing here handles messages to the server.
            Stanza::Message(m) if m.to.as_ref().is_none_or(to_server) => {}
            Stanza::Message(m) => self.route(Stanza::Message(m), &mut out),
        }
        let congested = out.congested;
        Routed {
            replies: mine,
            congested,
        }
    }

    fn client_presence(&self, me: &FullJid, presence: Presence, out: &mut Out<'_>) {
        let user = me.to_bare();
        match (&presence.to, presence.kind) {
            (None, PresenceType::Available) => {
                let initial = {
                    let mut st = self.state();
                    let Some(resource) = st
                        .users
                        .get_mut(&user)
                        .and_then(|r| r.get_mut(me.resource()))
                    else {
                        return;
                    };
                    let initial = resource.presence.is_none();
                    resource.presence = Some(presence.clone());
                    initial
                };
                self.broadcast(me, &presence, &HashSet::new(), out);
                if initial {
                    // RFC 6121 4.3: probe the contacts we are subscribed to
                    // (answered at once, all local), and 3.1.3: pending
                    // subscription requests.
                    let (contacts, pending) = {
                        let rosters = self.rosters();
                        (
                            rosters.presence_subscriptions(&user),
                            rosters.pending_in(&user),
                        )
                    };
                    for contact in contacts {
                        for p in self.presences_of(&contact) {
                            out.mine
                                .push(Stanza::Presence(p.with_to(me.clone().into())).into());
                        }
                    }
                    for request in pending {
                        out.mine
                            .push(Stanza::Presence(request.with_to(user.clone().into())).into());
                    }
                    // RFC 6121 8.5.2.1.1 / XEP-0160: offline messages.
                    if presence.priority >= 0 {
                        self.flush(&user, Some(me.resource()), out);
                    }
                }
            }
            (None, PresenceType::Unavailable) => {
                let directed = {
                    let mut st = self.state();
                    let Some(resource) = st
                        .users
                        .get_mut(&user)
                        .and_then(|r| r.get_mut(me.resource()))
                    else {
                        return;
                    };
                    resource.presence = None;
                    std::mem::take(&mut resource.directed)
                };
                self.broadcast(me, &presence, &directed, out);
            }
            (None, _) => {}
            (Some(to), kind) if kind.is_subscription() => {
                let to = to.clone();
                self.client_subscription(me, &presence, &to, out);
            }
            (Some(to), PresenceType::Available | PresenceType::Unavailable) => {
                // Directed presence (RFC 6121 4.6).
                let to = to.clone();
                let subscribed = bare_of(&to)
                    .is_some_and(|contact| self.rosters().is_subscribed_to(&contact, &user));
                {
                    let mut st = self.state();
                    if let Some(resource) = st
                        .users
                        .get_mut(&user)
                        .and_then(|r| r.get_mut(me.resource()))
                    {
                        if presence.kind == PresenceType::Available && !subscribed {
                            if resource.directed.len() < 1000 {
                                resource.directed.insert(to.clone());
                            }
                        } else {
                            resource.directed.remove(&to);
                        }
                    }
                }
                self.route(Stanza::Presence(presence), out);
            }
            (Some(_), PresenceType::Probe) => {}
            (Some(_), _) => self.route(Stanza::Presence(presence), out),
        }
    }

    fn client_subscription(&self, me: &FullJid, presence: &Presence, to: &Jid, out: &mut Out<'_>) {
        let user = me.to_bare();
        let contact = to.to_bare();
        if !self.is_local_domain(contact.domain()) {
            // A component (or nowhere): forwarded with the bare JID.
            let mut stanza = presence.clone();
            stanza.from = Some(user.into());
            stanza.to = Some(contact.into());
            self.route(Stanza::Presence(stanza), out);
            return;
        }
        if contact.node().is_none() || contact == user {
            return;
        }
        if !self.config.users.exists(&contact) {
            // RFC 6121 3.1.3: no such contact: it "unsubscribes" at once.
            if presence.kind == PresenceType::Subscribe {
                let reply = Presence::unsubscribed(user.into()).with_from(contact.into());
                out.mine.push(Stanza::Presence(reply).into());
            }
            return;
        }
        let status = presence.status().map(str::to_owned);
        let effects =
            self.rosters()
                .subscription(&user, presence.kind, &contact, status.as_deref());
        if effects.is_ok() {
            self.persist_rosters(&[&user, &contact]);
        }
        match effects {
            Ok(effects) => self.apply(effects, out),
            Err(condition) => {
                if let Some(reply) = presence.error_reply(error(condition)) {
                    out.mine.push(Stanza::Presence(reply).into());
                }
            }
        }
    }

    /// Carries out what a roster change asks for.
    fn apply(&self, effects: Vec<RosterEffect>, out: &mut Out<'_>) {
        for effect in effects {
            match effect {
                RosterEffect::Push { user, item, ver } => {
                    let interested: Vec<FullJid> = {
                        let st = self.state();
                        st.users
                            .get(&user)
                            .map(|r| {
                                r.iter()
                                    .filter(|(_, r)| r.interested)
                                    .filter_map(|(name, _)| {
                                        FullJid::new(user.node(), user.domain(), name).ok()
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    };
                    for jid in interested {
                        let id = self.next_push.fetch_add(1, Ordering::Relaxed);
                        let push = Iq::set(
                            Some(jid.clone().into()),
                            Roster::push(item.clone(), Some(&ver)).to_element(),
                        )
                        .with_id(format!("push-{id}"));
                        let _ =
                            self.to_resource(&user, jid.resource(), Stanza::Iq(push).into(), out);
                    }
                }
                RosterEffect::Deliver { to, presence } => {
                    let all = Fanout::All { except: None };
                    let _ = self.to_available(&to, all, Stanza::Presence(presence).into(), out);
                }
                RosterEffect::SendPresence { of, to } => {
                    for p in self.presences_of(&of) {
                        let stanza = Stanza::Presence(p.with_to(to.clone().into()));
                        let _ = self.to_available(
                            &to,
                            Fanout::All { except: None },
                            stanza.into(),
                            out,
                        );
                    }
                }
                RosterEffect::SendUnavailable { of, to } => {
                    for from in self.presences_of(&of).into_iter().filter_map(|p| p.from) {
                        let p = Presence::unavailable()
                            .with_from(from)
                            .with_to(to.clone().into());
                        let all = Fanout::All { except: None };
                        let _ = self.to_available(&to, all, Stanza::Presence(p).into(), out);
                    }
                }
            }
        }
    }

    // ---- iqs the server answers -------------------------------------------

    /// An iq to the client's own account (no `to`, or its bare JID):
    /// roster, ping, disco.
    fn own_iq(&self, conn: u64, me: &FullJid, iq: &Iq) -> Vec<Delivery> {
        let user = me.to_bare();
        let (IqKind::Get(payload) | IqKind::Set(payload)) = &iq.kind else {
            return Vec::new();
        };
        if Roster::matches(payload) {
            return match &iq.kind {
                IqKind::Get(_) => {
                    {
                        let mut st = self.state();
                        if let Some(resource) = st
                            .users
                            .get_mut(&user)
                            .and_then(|r| r.get_mut(me.resource()))
                        {
                            resource.interested = true;
                        }
                    }
                    let roster = self.rosters().get(&user);
                    vec![Stanza::Iq(Iq::result_for(iq, Some(roster.to_element()))).into()]
                }
                IqKind::Set(_) => {
                    let Ok(roster) = Roster::parse(payload) else {
                        return deliveries(reply_error(iq, DefinedCondition::BadRequest));
                    };
                    let result = self.rosters().set(&user, &roster);
                    if result.is_ok() {
                        let mut touched = vec![&user];
                        touched.extend(roster.items.iter().map(|item| &item.jid));
                        self.persist_rosters(&touched);
                    }
                    match result {
                        Ok(effects) => {
                            let mut mine = vec![Stanza::Iq(Iq::result_for(iq, None)).into()];
                            let mut out = Out::of(conn, &mut mine);
                            self.apply(effects, &mut out);
                            mine
                        }
                        Err(condition) => deliveries(reply_error(iq, condition)),
                    }
                }
                _ => Vec::new(),
            };
        }
        if is_pubsub(iq) {
            let mut mine = Vec::new();
            let mut out = Out::of(conn, &mut mine);
            self.pep_iq(&user, iq, &mut out);
            return mine;
        }
        deliveries(account_iq(iq))
    }

    /// An iq to the server's domain: ping, disco, version.
    pub(crate) fn server_iq(&self, iq: &Iq) -> Vec<Stanza> {
        let IqKind::Get(payload) = &iq.kind else {
            return match &iq.kind {
                IqKind::Set(_) => reply_error(iq, DefinedCondition::ServiceUnavailable),
                _ => Vec::new(),
            };
        };
        if Ping::matches(payload) {
            return vec![Stanza::Iq(Iq::result_for(iq, None))];
        }
        if DiscoInfo::matches(payload) {
            let request = DiscoInfo::parse(payload).ok();
            if request.as_ref().is_some_and(|r| r.node.is_some()) {
                return reply_error(iq, DefinedCondition::ItemNotFound);
            }
            let mut info = DiscoInfo::default();
            info.identities
                .push(Identity::new("server", "im").with_name("xmpp-kit hub"));
            for feature in [
                crate::ext::disco::NS_INFO,
                crate::ext::disco::NS_ITEMS,
                crate::ext::ping::NS,
                crate::ext::version::NS,
                crate::ext::roster::NS,
                crate::ext::sm::NS,
            ] {
                info.features.push(feature.to_owned());
            }
            return vec![Stanza::Iq(Iq::result_for(iq, Some(info.to_element())))];
        }
        if DiscoItems::matches(payload) {
            let mut items = DiscoItems::default();
            let mut domains: Vec<&String> = self.config.components.keys().collect();
            domains.push(&self.config.pubsub_domain);
            domains.sort();
            for domain in domains {
                if let Ok(jid) = domain.parse::<Jid>() {
                    items.items.push(DiscoItem::new(jid));
                }
            }
            return vec![Stanza::Iq(Iq::result_for(iq, Some(items.to_element())))];
        }
        if VersionQuery::matches(payload) {
            let version = VersionQuery::from(Version {
                name: "xmpp-kit hub".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                os: None,
            });
            return vec![Stanza::Iq(Iq::result_for(iq, Some(version.to_element())))];
        }
        reply_error(iq, DefinedCondition::ServiceUnavailable)
    }

    // ---- components ---------------------------------------------------------

    /// Registers a component's session for `domain`; `false` if another
    /// session holds it.
    pub(crate) fn attach_component(&self, domain: &str, mailbox: &Mailbox) -> bool {
        let mut st = self.state();
        if st.components.contains_key(domain) {
            return false;
        }
        st.components.insert(domain.to_owned(), mailbox.clone());
        true
    }

    pub(crate) fn detach_component(&self, domain: &str, conn: u64) {
        let mut st = self.state();
        if st.components.get(domain).is_some_and(|m| m.conn == conn) {
            st.components.remove(domain);
        }
    }

    /// A stanza from the component `domain`: its `from` must be in the
    /// component's domain.
    pub(crate) fn component_stanza(&self, conn: u64, domain: &str, stanza: Stanza) -> Routed {
        let from_ok = stanza.sender().is_some_and(|f| f.domain() == domain);
        if !from_ok {
            return Routed {
                replies: stanza
                    .error_reply(
                        StanzaError::with_type(ErrorType::Cancel, DefinedCondition::NotAllowed)
                            .with_text("from must be in the component's domain"),
                    )
                    .into_iter()
                    .map(Delivery::from)
                    .collect(),
                congested: false,
            };
        }
        let mut mine = Vec::new();
        let mut out = Out::of(conn, &mut mine);
        self.route(stanza, &mut out);
        let congested = out.congested;
        Routed {
            replies: mine,
            congested,
        }
    }

    /// Sends a stanza from the hub's application (its `from` must be set).
    pub(crate) fn inject(&self, stanza: Stanza) {
        self.redeliver(stanza.into());
    }

    /// Routes a stanza again (one a session could not take); a spooled
    /// one is not spooled twice.
    pub(crate) fn redeliver(&self, delivery: Delivery) {
        let mut ignored = Vec::new();
        let mut out = Out::nobody(&mut ignored);
        self.route_delivery(delivery, &mut out);
    }

    /// Bare JIDs with at least one bound resource.
    pub(crate) fn online_users(&self) -> Vec<BareJid> {
        self.state().users.keys().cloned().collect()
    }

    // ---- pubsub (XEP-0060) and PEP (XEP-0163) -----------------------------

    /// A stanza to the pubsub service's domain: iqs to the domain itself
    /// are the service's; messages get `service-unavailable` (errors are
    /// dropped); presence is ignored.
    fn pubsub_stanza(&self, stanza: &Stanza, out: &mut Out<'_>) {
        match stanza {
            Stanza::Iq(iq) => match iq.to.as_ref() {
                Some(to) if to.node().is_none() && to.resource().is_none() => {
                    for reply in self.pubsub.handle_iq(to, iq, self) {
                        self.route(reply, out);
                    }
                }
                _ => self.bounce(stanza, DefinedCondition::ServiceUnavailable, out),
            },
            Stanza::Message(m) if m.kind != MessageType::Error => {
                self.bounce(stanza, DefinedCondition::ServiceUnavailable, out);
            }
            Stanza::Message(_) | Stanza::Presence(_) => {}
        }
    }

    /// A pubsub iq to `user`'s PEP service.
    fn pep_iq(&self, user: &BareJid, iq: &Iq, out: &mut Out<'_>) {
        let service = Jid::from(user.clone());
        for reply in self.pubsub.handle_iq(&service, iq, self) {
            self.route(reply, out);
        }
    }
}

impl PubsubAccess for Router {
    fn is_subscribed_to(&self, subscriber: &BareJid, owner: &BareJid) -> bool {
        self.rosters().is_subscribed_to(subscriber, owner)
    }
}

/// Whether an iq carries a pubsub or pubsub#owner request (for PEP).
fn is_pubsub(iq: &Iq) -> bool {
    iq.payload()
        .is_some_and(|p| PubSub::matches(p) || PubSubOwner::matches(p))
}

/// An iq to an account's bare JID, answered by the server on its
/// behalf (RFC 6121 8.5.1): ping and disco#info; others
/// `service-unavailable`.
fn account_iq(iq: &Iq) -> Vec<Stanza> {
    let (IqKind::Get(payload) | IqKind::Set(payload)) = &iq.kind else {
        return Vec::new();
    };
    if matches!(iq.kind, IqKind::Get(_)) && Ping::matches(payload) {
        return vec![Stanza::Iq(Iq::result_for(iq, None))];
    }
    if matches!(iq.kind, IqKind::Get(_)) && DiscoInfo::matches(payload) {
        let mut info = DiscoInfo::default();
        info.identities.push(Identity::new("account", "registered"));
        info.features.push(crate::ext::disco::NS_INFO.to_owned());
        // XEP-0163: every account is a PEP service.
        info.identities.push(Identity::new(
            crate::ext::pep::IDENTITY_CATEGORY,
            crate::ext::pep::IDENTITY_TYPE,
        ));
        info.features.extend(super::pubsub::pep_features());
        return vec![Stanza::Iq(Iq::result_for(iq, Some(info.to_element())))];
    }
    reply_error(iq, DefinedCondition::ServiceUnavailable)
}

fn deliveries(stanzas: Vec<Stanza>) -> Vec<Delivery> {
    stanzas.into_iter().map(Delivery::from).collect()
}

fn reply_error(iq: &Iq, condition: DefinedCondition) -> Vec<Stanza> {
    iq.error_reply(StanzaError::new(condition))
        .map(Stanza::Iq)
        .into_iter()
        .collect()
}

/// A new resource name: random, so that it reveals nothing.
pub(crate) fn random_resource() -> String {
    let seed = crate::rt::client::os_seed();
    let mut name = String::from("hub-");
    for byte in seed.iter().take(8) {
        name.push_str(&format!("{byte:02x}"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::pubsub::PubsubLimits;
    use crate::hub::roster::RosterLimits;
    use crate::hub::store::MemoryStore;
    use crate::hub::users::MemoryUsers;
    use crate::stanza::Message;

    fn router() -> Router {
        let users = MemoryUsers::new().with_iterations(4096);
        users.add("bob@example.net", "secret").unwrap();
        let config = RouterConfig {
            domains: vec!["example.net".to_owned()],
            components: HashMap::new(),
            users: Arc::new(users),
            store: Arc::new(MemoryStore::new()),
            limits: HubLimits::default(),
            pubsub_domain: "pubsub.example.net".to_owned(),
            pubsub_limits: PubsubLimits::default(),
        };
        let rosters = Rosters::with_domains(RosterLimits::default(), ["example.net"]);
        Router::new(config, rosters).unwrap()
    }

    fn chat(to: &FullJid, body: &str) -> Delivery {
        let from: Jid = "alice@example.net/desk".parse().unwrap();
        Stanza::Message(Message::chat(to.clone().into(), body).with_from(from)).into()
    }

    fn bodies(parked: &Parked) -> Vec<&str> {
        parked
            .state
            .unacked
            .iter()
            .filter_map(|(_, stanza)| match stanza {
                Stanza::Message(m) => m.body(),
                _ => None,
            })
            .collect()
    }

    /// Session "s1" of `jid`, with nothing unacknowledged or waiting.
    fn leaving(jid: &FullJid) -> Leaving {
        Leaving {
            state: ResumeState {
                id: "s1".to_owned(),
                location: None,
                jid: jid.clone(),
                inbound: 0,
                outbound_acked: 0,
                unacked: Vec::new(),
                next_token: 0,
            },
            durable: HashMap::new(),
            waiting: Vec::new(),
        }
    }

    #[test]
    fn a_parked_session_keeps_its_mailbox_ahead_of_later_stanzas() {
        // "first" reached the live session's mailbox; the session then
        // parked, and "second" went straight to the parked state. Emptying
        // the mailbox into the parked state under the router's lock keeps
        // "first" ahead (the soak test once saw them swapped).
        let router = router();
        let bob: FullJid = "bob@example.net/phone".parse().unwrap();
        let (live, mut inbox) = mailbox(1, 8);
        router.bind(&bob, &live).unwrap();
        router.redeliver(chat(&bob, "first"));
        let leaving = leaving(&bob);
        assert!(
            router
                .park(Instant::now(), &live, leaving, &mut inbox.stanzas)
                .is_ok()
        );
        router.redeliver(chat(&bob, "second"));
        let (next, _next_inbox) = mailbox(2, 8);
        let parked = router.resume(&bob.to_bare(), "s1", 0, &next).unwrap();
        assert_eq!(bodies(&parked), ["first", "second"]);
        assert_eq!(
            parked.durable.len(),
            2,
            "both are spooled until acknowledged"
        );
    }

    #[test]
    fn a_replaced_session_is_not_parked_and_gives_everything_back() {
        let router = router();
        let bob: FullJid = "bob@example.net/phone".parse().unwrap();
        let (old, mut old_inbox) = mailbox(1, 8);
        router.bind(&bob, &old).unwrap();
        router.redeliver(chat(&bob, "for the old one"));
        let (new, _new_inbox) = mailbox(2, 8);
        router.bind(&bob, &new).unwrap();
        let leaving = leaving(&bob);
        let Err(back) = router.park(Instant::now(), &old, leaving, &mut old_inbox.stanzas) else {
            panic!("a replaced session was parked");
        };
        assert_eq!(back.waiting.len(), 1, "its mailbox came back");
        let (third, _third_inbox) = mailbox(3, 8);
        assert!(router.resume(&bob.to_bare(), "s1", 0, &third).is_none());
    }
}
