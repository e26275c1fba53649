//! One task per connection: a client (`ServerConnection`) or a component
//! (accepting `ComponentConnection`), run by the adapter's driver with a
//! host that handles the machine's events in place, against the router,
//! and feeds it stanzas from its mailbox.

use std::collections::HashMap;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncWrite};

use super::Inner;
use super::router::{
    Control, Delivery, Inbox, Leaving, Mailbox, Parked, Sender, mailbox, random_resource,
};
use super::spool;
use super::store::StoredSession;
use crate::component::{self, ComponentConnection};
use crate::jid::{BareJid, FullJid};
use crate::rt::driver::{self, Host};
use crate::rt::engine::{Engine, Machine, Output};
use crate::rt::server::{ServerTransport, client_engine};
use crate::rt::tokio::TokioSleeper;
use crate::server::{self, CloseReason, ListenConfig, ServerConnection};
use crate::stanza::{DefinedCondition, Stanza, StanzaError};
use crate::stream::{StanzaToken, StreamError, StreamErrorCondition};

/// How long a client whose stanzas fill another session's mailbox waits
/// before its next stanza is handled (its socket is not read meanwhile):
/// the recipient's session gets time to catch up, and other senders get
/// their turn.
const CONGESTION_PAUSE: Duration = Duration::from_millis(10);

/// Slows a sender (client or component) whose stanzas congest their
/// recipients: after such a stanza its next one waits [`CONGESTION_PAUSE`].
/// The timer is kept (and reset by the next congestion) rather than
/// allocated for every pause.
#[derive(Default)]
struct Pacer(Option<Pin<Box<tokio::time::Sleep>>>);

impl Pacer {
    /// The last stanza congested a recipient: pause from now.
    fn congested(&mut self) {
        let until = tokio::time::Instant::now() + CONGESTION_PAUSE;
        match self.0.as_mut() {
            Some(pause) => pause.as_mut().reset(until),
            None => self.0 = Some(Box::pin(tokio::time::sleep_until(until))),
        }
    }

    /// Whether the next stanza must wait; `cx` is woken when it may go.
    fn paused(&mut self, cx: &mut Context<'_>) -> bool {
        self.0
            .as_mut()
            .is_some_and(|pause| !pause.is_elapsed() && pause.as_mut().poll(cx).is_pending())
    }
}

/// Serves one client connection until it ends.
pub(crate) async fn serve_client<IO>(mut io: IO, hub: Arc<Inner>, transport: Arc<ServerTransport>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = hub.next_conn();
    let (mailbox, inbox) = mailbox(conn, hub.limits.session_queue);
    if !hub.router.register_session(&mailbox) {
        // Closing, or at the connection limit: the socket is dropped, with
        // a word for a plain TCP client first.
        if !hub.closing() && !transport.direct_tls && !transport.websocket {
            refuse(&mut io).await;
        }
        return;
    }
    let mut listen = ListenConfig::new(crate::rt::client::os_seed());
    listen.limits = hub.xml_limits.clone();
    listen.negotiation_timeout = hub.limits.negotiation_timeout;
    let Ok(mut engine) = client_engine(listen, &transport) else {
        hub.router.unregister_session(conn);
        return;
    };
    let mut host = ClientHost {
        hub: Arc::clone(&hub),
        mailbox,
        inbox,
        domain: None,
        jid: None,
        stopping: false,
        ended: false,
        durable: HashMap::new(),
        pause: Pacer::default(),
        refused: Vec::new(),
        pending_resume: None,
        takeover: None,
    };
    let _exit = driver::run(&mut engine, &mut io, &TokioSleeper, &mut host).await;
    if !host.ended {
        host.end(&mut engine, Instant::now(), false);
    }
    // Stanzas that reached the mailbox after the end go where the address
    // leads now (the parked session, or an error to their sender).
    host.inbox.stanzas.close();
    while let Ok(delivery) = host.inbox.stanzas.try_recv() {
        hub.router.redeliver(delivery);
    }
    hub.router.unregister_session(conn);
}

/// What a client over the connection limit reads before the socket
/// closes: a header and a `resource-constraint` stream error (RFC 6120
/// sections 4.9.1.2 and 4.9.3.17), sent without waiting for its header.
const REFUSAL: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:error>\
    <resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
    <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>too many connections</text>\
    </stream:error></stream:stream>";

/// Writes [`REFUSAL`] (giving up after a second: the socket buffer takes
/// it at once unless the peer is hostile) and closes.
async fn refuse<IO: AsyncWrite + Unpin>(io: &mut IO) {
    use futures::io::AsyncWriteExt as _;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = io.write_all(REFUSAL).await;
        let _ = io.close().await;
    })
    .await;
}

struct ClientHost {
    hub: Arc<Inner>,
    mailbox: Mailbox,
    inbox: Inbox,
    /// The domain the client asked for.
    domain: Option<String>,
    /// The bound address.
    jid: Option<FullJid>,
    /// We are closing it (kick, shutdown): no parking.
    stopping: bool,
    ended: bool,
    /// Spool entries sent on this session with stream management, by
    /// token, until the client acknowledges them.
    durable: HashMap<StanzaToken, u64>,
    /// Slows the client while its stanzas congest their recipients.
    pause: Pacer,
    /// Spooled messages the ending machine refused, for [`end`](Self::end).
    refused: Vec<Delivery>,
    /// A resumption waiting for another connection to hand the session
    /// over.
    pending_resume: Option<PendingResume>,
    /// This session is handed over to a new connection: told once parked.
    takeover: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How long a resumption waits for the connection that still holds the
/// session to hand it over.
const TAKEOVER_WAIT: Duration = Duration::from_secs(5);

/// A resumption of a session that was not parked: the client's previous
/// connection is dead, but the hub has not noticed yet (XEP-0198: the new
/// connection takes the session over).
struct PendingResume {
    user: BareJid,
    previd: String,
    h: u32,
    /// One per live session of the user that was asked.
    replies: Vec<tokio::sync::oneshot::Receiver<()>>,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl ClientHost {
    fn on_event(
        &mut self,
        engine: &mut Engine<ServerConnection>,
        now: Instant,
        event: server::Event,
    ) {
        match event {
            server::Event::Header { to, .. } => {
                let domain = match to {
                    Some(to) => to,
                    None => self.hub.domains.first().cloned().unwrap_or_default(),
                };
                let accept = self.hub.accept.get(&domain).cloned();
                engine.with_machine(|m| match accept {
                    Some(accept) => {
                        let _ = m.accept(now, accept);
                    }
                    None => m.reject(now, StreamErrorCondition::HostUnknown),
                });
                self.domain = Some(domain);
            }
            server::Event::Bind { requested } => {
                let user = self.user(engine);
                let jid = user.as_ref().and_then(|user| {
                    let requested = requested
                        .filter(|r| !r.is_empty())
                        .and_then(|r| FullJid::new(user.node(), user.domain(), &r).ok());
                    requested.or_else(|| {
                        FullJid::new(user.node(), user.domain(), &random_resource()).ok()
                    })
                });
                // A connection that ended meanwhile binds nothing: it would
                // hold the resource with nobody behind it.
                let alive = alive(engine);
                let result = match jid {
                    Some(jid) if alive => self.hub.router.bind(&jid, &self.mailbox).map(|()| jid),
                    _ => Err(DefinedCondition::InternalServerError),
                };
                engine.with_machine(|m| {
                    let _ = m.complete_bind(now, result);
                });
            }
            server::Event::Resume { previd, h } => {
                // A connection that ended meanwhile (its end is queued
                // behind this event) cannot resume the session: taken, it
                // would be lost with the connection, never parked again.
                // It stays parked for the client's next attempt.
                let alive = alive(engine);
                let Some(user) = self.user(engine).filter(|_| alive) else {
                    engine.with_machine(|m| {
                        let _ = m.complete_resume(now, None);
                    });
                    return;
                };
                if let Some(parked) = self.hub.router.resume(&user, &previd, h, &self.mailbox) {
                    self.resumed(engine, now, parked, h);
                    return;
                }
                // Not parked: maybe still held by a connection the hub
                // has not seen die. Its sessions are asked to hand it over.
                let replies: Vec<_> = self
                    .hub
                    .router
                    .live_elsewhere(&user, self.mailbox.conn)
                    .into_iter()
                    .map(|other| {
                        let (parked, reply) = tokio::sync::oneshot::channel();
                        other.take_over(&previd, parked);
                        reply
                    })
                    .collect();
                if replies.is_empty() {
                    engine.with_machine(|m| {
                        let _ = m.complete_resume(now, None);
                    });
                } else {
                    self.pending_resume = Some(PendingResume {
                        user,
                        previd,
                        h,
                        replies,
                        deadline: Box::pin(tokio::time::sleep(TAKEOVER_WAIT)),
                    });
                }
            }
            server::Event::Online { jid, .. } => self.jid = Some(jid),
            server::Event::Stanza(stanza) => {
                let Some(me) = &self.jid else { return };
                // The sender's session is stored with what it spools,
                // counting this stanza as handled.
                let sender =
                    engine
                        .machine()
                        .and_then(|m| m.sm_counters())
                        .map(|(id, counters)| Sender {
                            id,
                            jid: me,
                            inbound: counters.handled.wrapping_add(1),
                        });
                let routed = self
                    .hub
                    .router
                    .client_stanza(self.mailbox.conn, me, stanza, sender);
                engine.with_machine(ServerConnection::confirm_stanza);
                if routed.congested {
                    self.pause.congested();
                }
                self.send_all(engine, now, routed.replies);
            }
            server::Event::Acked(tokens) => {
                let mut durable = false;
                for token in tokens {
                    durable |= self.durable.remove(&token).is_some();
                }
                if durable
                    && let Some((id, counters)) = engine.machine().and_then(|m| m.sm_counters())
                {
                    let _ = self.hub.router.config.store.spool_acked(id, counters.acked);
                }
                if let Some(me) = &self.jid {
                    let more = self.hub.router.flush_to(self.mailbox.conn, me);
                    self.send_all(engine, now, more);
                }
            }
            server::Event::Authenticated { .. } => {}
        }
    }

    /// A resumption waiting for a takeover: once a session answered (or
    /// the wait is over), the session is looked for again. `true` when the
    /// resumption was completed, either way.
    fn poll_takeover(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<ServerConnection>,
        now: Instant,
    ) -> bool {
        let Some(pending) = self.pending_resume.as_mut() else {
            return false;
        };
        let before = pending.replies.len();
        pending
            .replies
            .retain_mut(|reply| Pin::new(reply).poll(cx).is_pending());
        let answered = pending.replies.len() < before;
        let timed_out = pending.deadline.as_mut().poll(cx).is_ready();
        if !answered && !timed_out {
            return false;
        }
        let parked = if alive(engine) {
            self.hub
                .router
                .resume(&pending.user, &pending.previd, pending.h, &self.mailbox)
        } else {
            None
        };
        let waiting = !pending.replies.is_empty() && !timed_out;
        let h = pending.h;
        match parked {
            Some(parked) => {
                self.pending_resume = None;
                self.resumed(engine, now, parked, h);
            }
            None if waiting => return false,
            None => {
                self.pending_resume = None;
                engine.with_machine(|m| {
                    let _ = m.complete_resume(now, None);
                });
            }
        }
        true
    }

    /// A resumption: the parked session's stanzas go out again; the spool
    /// learns their new sequence numbers, or that the client's `h`
    /// acknowledged them.
    fn resumed(
        &mut self,
        engine: &mut Engine<ServerConnection>,
        now: Instant,
        parked: Parked,
        h: u32,
    ) {
        let acked = parked.state.outbound_acked;
        let jid = parked.state.jid.clone();
        let session = parked.state.id.clone();
        let order: Vec<StanzaToken> = parked.state.unacked.iter().map(|(t, _)| *t).collect();
        let durable = parked.durable;
        let state = Some(parked.state);
        engine.with_machine(|m| {
            let _ = m.complete_resume(now, state);
        });
        let inbound = engine
            .machine()
            .and_then(|m| m.sm_counters())
            .map_or(0, |(_, c)| c.handled);
        let stored = StoredSession {
            id: session,
            jid,
            inbound,
        };
        let mut seq = acked;
        for token in order {
            seq = seq.wrapping_add(1);
            let Some(id) = durable.get(&token).copied() else {
                continue;
            };
            if spool::is_acked(seq, h) {
                let _ = self.hub.router.config.store.spool_remove(id);
            } else {
                let _ = self.hub.router.config.store.spool_sent(id, &stored, seq);
                self.durable.insert(token, id);
            }
            self.hub.router.unclaim(id);
        }
    }

    fn user(&self, engine: &Engine<ServerConnection>) -> Option<BareJid> {
        let username = engine.machine()?.username()?.to_owned();
        let domain = self.domain.as_deref()?;
        BareJid::new(Some(&username), domain).ok()
    }

    /// Most bytes the engine may hold for a client that does not read
    /// ([`AcceptConfig::max_outbound_bytes`](crate::server::AcceptConfig::max_outbound_bytes)).
    fn max_outbound(&self) -> usize {
        self.domain
            .as_deref()
            .and_then(|domain| self.hub.accept.get(domain))
            .map_or(1 << 20, |accept| accept.max_outbound_bytes)
    }

    fn send_all(
        &mut self,
        engine: &mut Engine<ServerConnection>,
        now: Instant,
        deliveries: Vec<Delivery>,
    ) {
        // The machine's own limit on unsent output never trips here: the
        // engine takes its output at once, into TLS and its queue for the
        // socket. That queue is what grows when the client does not read,
        // so the limit applies to it: beyond, the client is disconnected
        // with `resource-constraint` (the stanza goes back to its sender)
        // instead of the hub buffering without bound.
        let max_outbound = self.max_outbound();
        for Delivery { stanza, spool } in deliveries {
            if engine.backlog() > max_outbound {
                engine.with_machine(|m| {
                    m.close_with_error(
                        now,
                        StreamError::new(StreamErrorCondition::ResourceConstraint)
                            .with_text("the client does not read its stream"),
                    );
                });
            }
            let mut pending = Some(stanza);
            let sent = engine
                .with_machine(|m| Some(m.try_send(now, pending.take()?)))
                .flatten();
            match (sent, spool) {
                (Some(Ok(token)), Some(id)) => self.sent_spooled(engine, token, id),
                (Some(Ok(_)), None) => {}
                (Some(Err((_, stanza))), spool) => self.undeliverable(*stanza, spool),
                (None, spool) => {
                    if let Some(stanza) = pending {
                        self.undeliverable(stanza, spool);
                    }
                }
            }
        }
    }

    /// A spooled message went out: with stream management it stays in the
    /// spool until acknowledged (and the spool records where it went);
    /// without, it is delivered for good.
    fn sent_spooled(&mut self, engine: &Engine<ServerConnection>, token: StanzaToken, id: u64) {
        let counters = engine.machine().and_then(|m| m.sm_counters());
        match (counters, &self.jid) {
            (Some((session, counters)), Some(jid)) => {
                let session = StoredSession {
                    id: session.to_owned(),
                    jid: jid.clone(),
                    inbound: counters.handled,
                };
                let store = &self.hub.router.config.store;
                let _ = store.spool_sent(id, &session, counters.sent);
                self.durable.insert(token, id);
            }
            _ => {
                let _ = self.hub.router.config.store.spool_remove(id);
            }
        }
        self.hub.router.unclaim(id);
    }

    /// A stanza this session could not take (it is ending): its sender
    /// learns it; a spooled message stays with the session, to be parked
    /// with it (or to wait for another resource if it is not parked).
    /// Merely unclaimed, it would wait unnoticed while the client resumes
    /// the session again and again.
    fn undeliverable(&mut self, stanza: Stanza, spool: Option<u64>) {
        if let Some(id) = spool {
            let delivery = Delivery {
                stanza,
                spool: Some(id),
            };
            if self.ended {
                self.hub.router.redeliver(delivery);
            } else {
                self.refused.push(delivery);
            }
            return;
        }
        if let Some(reply) =
            stanza.error_reply(StanzaError::new(DefinedCondition::RecipientUnavailable))
            && reply.recipient().is_some()
        {
            self.hub.router.inject(reply);
        }
    }

    /// The connection ended: park the session for resumption if it can
    /// be resumed and we did not end it on purpose, else it is gone.
    fn end(&mut self, engine: &mut Engine<ServerConnection>, now: Instant, clean: bool) {
        self.ended = true;
        let Some(jid) = self.jid.clone() else {
            return;
        };
        let state = engine
            .with_machine(ServerConnection::take_resume_state)
            .flatten();
        // In the order they came: those the machine refused, then the
        // mailbox.
        let waiting: Vec<Delivery> = std::mem::take(&mut self.refused);
        let durable = std::mem::take(&mut self.durable);
        let (state, durable, mut waiting) = match state {
            Some(state) if !clean && !self.stopping && !self.hub.closing() => {
                let leaving = Leaving {
                    state,
                    durable,
                    waiting,
                };
                let parked =
                    self.hub
                        .router
                        .park(now, &self.mailbox, leaving, &mut self.inbox.stanzas);
                if let Some(told) = self.takeover.take() {
                    let _ = told.send(());
                }
                match parked {
                    Ok(()) => return,
                    // Replaced meanwhile: the session ends for good.
                    Err(back) => (Some(back.state), back.durable, back.waiting),
                }
            }
            state => (state, durable, waiting),
        };
        while let Ok(delivery) = self.inbox.stanzas.try_recv() {
            waiting.push(delivery);
        }
        let session = state.as_ref().map(|s| s.id.clone());
        let unacked = state.map(|s| s.unacked).unwrap_or_default();
        let mut rest = self
            .hub
            .router
            .release(session.as_deref(), unacked, &durable);
        for delivery in waiting {
            match delivery.spool {
                Some(id) => self.hub.router.unclaim(id),
                None => rest.push(delivery.stanza),
            }
        }
        self.hub.router.gone(&jid, Some(&self.mailbox), rest);
    }

    /// Takes one output of the connection.
    fn take(
        &mut self,
        engine: &mut Engine<ServerConnection>,
        output: Output<server::Event, CloseReason>,
    ) {
        let now = Instant::now();
        match output {
            Output::Event(event) => self.on_event(engine, now, event),
            Output::Closed(reason) => {
                if !self.ended {
                    let clean = matches!(reason, CloseReason::Closed | CloseReason::PeerClosed);
                    self.end(engine, now, clean);
                }
            }
            Output::Failed(_) => {
                if !self.ended {
                    self.end(engine, now, false);
                }
            }
        }
    }
}

/// Whether the connection still runs: neither its machine closed nor its
/// transport failed (TLS, backlog). Its ending may be queued behind the
/// event being handled, and what the machine says after it (`Online`) would
/// come too late: the session would end unbound, neither parked nor
/// released.
fn alive(engine: &Engine<ServerConnection>) -> bool {
    !engine.is_ending() && engine.machine().is_some_and(|m| !m.is_closed())
}

/// Sends through the engine's machine with `send` (its `try_send`); a
/// stanza the machine refuses, or that finds no machine, comes back.
fn send_or_return<M: Machine>(
    engine: &mut Engine<M>,
    stanza: Stanza,
    send: impl FnOnce(&mut M, Stanza) -> Option<Stanza>,
) -> Option<Stanza> {
    let mut pending = Some(stanza);
    engine
        .with_machine(|m| send(m, pending.take()?))
        .flatten()
        .or(pending)
}

impl Host<ServerConnection> for ClientHost {
    fn deliver(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<ServerConnection>,
        output: Output<server::Event, CloseReason>,
    ) -> Result<(), Output<server::Event, CloseReason>> {
        if matches!(output, Output::Event(server::Event::Stanza(_))) && self.pause.paused(cx) {
            // Not read further until the pause is over.
            return Err(output);
        }
        self.take(engine, output);
        Ok(())
    }

    fn deliver_final(
        &mut self,
        _cx: &mut Context<'_>,
        engine: &mut Engine<ServerConnection>,
        output: Output<server::Event, CloseReason>,
    ) {
        // No pause: nothing more is read anyway, and a stanza counted as
        // received must be routed.
        self.take(engine, output);
    }

    fn poll_command(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<ServerConnection>,
    ) -> Poll<bool> {
        let now = Instant::now();
        if self.poll_takeover(cx, engine, now) {
            return Poll::Ready(true);
        }
        if let Poll::Ready(Some(control)) = self.inbox.control.poll_recv(cx) {
            if let Control::Takeover { previd, parked } = control {
                let mine = engine
                    .machine()
                    .and_then(|m| m.sm_counters())
                    .is_some_and(|(id, _)| id == previd);
                if mine && !self.ended {
                    // Not stopping: `end` parks the session, then tells.
                    self.takeover = Some(parked);
                    engine.with_machine(|m| m.close_with_error(now, Control::taken_over()));
                }
                return Poll::Ready(true);
            }
            // Parked unless the session is over (a replaced resource, the
            // hub's shutdown).
            self.stopping = !matches!(control, Control::Kick { park: true, .. });
            engine.with_machine(|m| m.close_with_error(now, control.into_error()));
            return Poll::Ready(true);
        }
        if self.ended {
            return Poll::Pending;
        }
        match self.inbox.stanzas.poll_recv(cx) {
            Poll::Ready(Some(delivery)) => {
                self.send_all(engine, now, vec![delivery]);
                Poll::Ready(true)
            }
            Poll::Ready(None) => Poll::Ready(false),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Serves one component connection until it ends.
pub(crate) async fn serve_component<IO>(mut io: IO, hub: Arc<Inner>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = hub.next_conn();
    let (mailbox, inbox) = mailbox(conn, hub.limits.session_queue);
    if !hub.router.register_session(&mailbox) {
        return;
    }
    let mut config = component::AcceptConfig::new(crate::rt::client::os_seed());
    config.limits = hub.xml_limits.clone();
    config.negotiation_timeout = hub.limits.negotiation_timeout;
    let mut engine = Engine::plain(ComponentConnection::accept(config, Instant::now()), None);
    let mut host = ComponentHost {
        hub: Arc::clone(&hub),
        mailbox,
        inbox,
        domain: None,
        online: false,
        pause: Pacer::default(),
    };
    let _exit = driver::run(&mut engine, &mut io, &TokioSleeper, &mut host).await;
    host.detach();
    host.inbox.stanzas.close();
    while let Ok(delivery) = host.inbox.stanzas.try_recv() {
        if let Some(reply) = delivery
            .stanza
            .error_reply(StanzaError::new(DefinedCondition::ServiceUnavailable))
        {
            hub.router.inject(reply);
        }
    }
    hub.router.unregister_session(conn);
}

struct ComponentHost {
    hub: Arc<Inner>,
    mailbox: Mailbox,
    inbox: Inbox,
    domain: Option<String>,
    online: bool,
    /// Slows the component while its stanzas congest their recipients.
    pause: Pacer,
}

impl ComponentHost {
    /// Takes one output of the connection.
    fn take(
        &mut self,
        engine: &mut Engine<ComponentConnection>,
        output: Output<component::Event, component::CloseReason>,
    ) {
        let now = Instant::now();
        match output {
            Output::Event(component::Event::Connecting { domain }) => {
                let secret = self.hub.component_secrets.get(&domain).cloned();
                engine.with_machine(|m| {
                    let _ = match &secret {
                        Some(secret) => m.accept_component(now, secret),
                        None => m.reject(now, StreamErrorCondition::HostUnknown),
                    };
                });
                self.domain = Some(domain);
            }
            Output::Event(component::Event::Online { domain }) => {
                if self.hub.router.attach_component(&domain, &self.mailbox) {
                    self.online = true;
                } else {
                    engine.with_machine(|m| {
                        m.close_with_error(
                            now,
                            StreamError::new(StreamErrorCondition::Conflict)
                                .with_text("this component is already connected"),
                        );
                    });
                }
            }
            Output::Event(component::Event::Stanza(stanza)) => {
                if let Some(domain) = self.domain.clone()
                    && self.online
                {
                    let routed =
                        self.hub
                            .router
                            .component_stanza(self.mailbox.conn, &domain, stanza);
                    if routed.congested {
                        self.pause.congested();
                    }
                    for Delivery { stanza: reply, .. } in routed.replies {
                        engine.with_machine(|m| {
                            let _ = m.send(now, reply);
                        });
                    }
                }
            }
            Output::Closed(_) | Output::Failed(_) => self.detach(),
        }
    }

    fn detach(&mut self) {
        if self.online
            && let Some(domain) = &self.domain
        {
            self.hub.router.detach_component(domain, self.mailbox.conn);
        }
        self.online = false;
    }
}

impl Host<ComponentConnection> for ComponentHost {
    fn deliver(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<ComponentConnection>,
        output: Output<component::Event, component::CloseReason>,
    ) -> Result<(), Output<component::Event, component::CloseReason>> {
        if matches!(output, Output::Event(component::Event::Stanza(_))) && self.pause.paused(cx) {
            // Not read further until the pause is over.
            return Err(output);
        }
        self.take(engine, output);
        Ok(())
    }

    fn deliver_final(
        &mut self,
        _cx: &mut Context<'_>,
        engine: &mut Engine<ComponentConnection>,
        output: Output<component::Event, component::CloseReason>,
    ) {
        // No pause: nothing more is read anyway.
        self.take(engine, output);
    }

    fn poll_command(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<ComponentConnection>,
    ) -> Poll<bool> {
        let now = Instant::now();
        if let Poll::Ready(Some(control)) = self.inbox.control.poll_recv(cx) {
            self.detach();
            engine.with_machine(|m| m.close_with_error(now, control.into_error()));
            return Poll::Ready(true);
        }
        match self.inbox.stanzas.poll_recv(cx) {
            Poll::Ready(Some(Delivery { stanza, .. })) => {
                let refused = send_or_return(engine, stanza, |m, stanza| {
                    m.try_send(now, stanza).err().map(|(_, stanza)| *stanza)
                });
                if let Some(reply) = refused.and_then(|stanza| {
                    stanza.error_reply(StanzaError::new(DefinedCondition::ServiceUnavailable))
                }) {
                    self.hub.router.inject(reply);
                }
                Poll::Ready(true)
            }
            Poll::Ready(None) => Poll::Ready(false),
            Poll::Pending => Poll::Pending,
        }
    }
}
