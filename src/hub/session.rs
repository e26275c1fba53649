//! One task per connection: a client (`ServerConnection`) or a component
//! (accepting `ComponentConnection`), run by the adapter's driver with a
//! host that handles the machine's events in place, against the router,
//! and feeds it stanzas from its mailbox.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::io::{AsyncRead, AsyncWrite};

use super::Inner;
use super::router::{Inbox, Mailbox, mailbox, park_stanza, random_resource};
use crate::component::{self, ComponentConnection};
use crate::jid::{BareJid, FullJid};
use crate::rt::driver::{self, Host};
use crate::rt::engine::{Engine, Machine, Output};
use crate::rt::server::{ServerTransport, client_engine};
use crate::rt::tokio::TokioSleeper;
use crate::server::{self, CloseReason, ListenConfig, ServerConnection};
use crate::stanza::{DefinedCondition, Stanza, StanzaError};
use crate::stream::{StreamError, StreamErrorCondition};

/// Serves one client connection until it ends.
pub(crate) async fn serve_client<IO>(mut io: IO, hub: Arc<Inner>, transport: Arc<ServerTransport>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = hub.next_conn();
    let (mailbox, inbox) = mailbox(conn, hub.limits.session_queue);
    if !hub.router.register_session(&mailbox) {
        // Closing, or at the connection limit: the socket is dropped.
        return;
    }
    let mut listen = ListenConfig::new(crate::rt::client::os_seed());
    listen.limits = hub.xml_limits.clone();
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
    };
    let _exit = driver::run(&mut engine, &mut io, &TokioSleeper, &mut host).await;
    if !host.ended {
        host.end(&mut engine, Instant::now(), false);
    }
    // Stanzas that reached the mailbox after the end go where the address
    // leads now (the parked session, or an error to their sender).
    host.inbox.stanzas.close();
    while let Ok(stanza) = host.inbox.stanzas.try_recv() {
        hub.router.inject(stanza);
    }
    hub.router.unregister_session(conn);
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
                let result = match jid {
                    Some(jid) => self.hub.router.bind(&jid, &self.mailbox).map(|()| jid),
                    None => Err(DefinedCondition::InternalServerError),
                };
                engine.with_machine(|m| {
                    let _ = m.complete_bind(now, result);
                });
            }
            server::Event::Resume { previd, .. } => {
                let state = self
                    .user(engine)
                    .and_then(|user| self.hub.router.resume(&user, &previd, &self.mailbox));
                engine.with_machine(|m| {
                    let _ = m.complete_resume(now, state);
                });
            }
            server::Event::Online { jid, .. } => self.jid = Some(jid),
            server::Event::Stanza(stanza) => {
                let Some(me) = &self.jid else { return };
                let replies = self.hub.router.client_stanza(self.mailbox.conn, me, stanza);
                self.send_all(engine, now, replies);
            }
            server::Event::Authenticated { .. } | server::Event::Acked(_) => {}
        }
    }

    fn user(&self, engine: &Engine<ServerConnection>) -> Option<BareJid> {
        let username = engine.machine()?.username()?.to_owned();
        let domain = self.domain.as_deref()?;
        BareJid::new(Some(&username), domain).ok()
    }

    fn send_all(&self, engine: &mut Engine<ServerConnection>, now: Instant, stanzas: Vec<Stanza>) {
        for stanza in stanzas {
            let refused = send_or_return(engine, stanza, |m, stanza| {
                m.try_send(now, stanza).err().map(|(_, stanza)| *stanza)
            });
            if let Some(refused) = refused {
                self.undeliverable(refused);
            }
        }
    }

    /// A stanza this session could not take: its sender learns it.
    fn undeliverable(&self, stanza: Stanza) {
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
        let mut waiting: Vec<Stanza> = Vec::new();
        while let Ok(stanza) = self.inbox.stanzas.try_recv() {
            waiting.push(stanza);
        }
        match state {
            Some(mut state) if !clean && !self.stopping && !self.hub.closing() => {
                for stanza in waiting {
                    park_stanza(&mut state, stanza);
                }
                self.hub.router.park(now, &self.mailbox, state);
            }
            state => {
                let mut unacked: Vec<Stanza> = state
                    .map(|s| s.unacked.into_iter().map(|(_, s)| s).collect())
                    .unwrap_or_default();
                unacked.extend(waiting);
                self.hub.router.gone(&jid, Some(&self.mailbox), unacked);
            }
        }
    }
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
        _cx: &mut Context<'_>,
        engine: &mut Engine<ServerConnection>,
        output: Output<server::Event, CloseReason>,
    ) -> Result<(), Output<server::Event, CloseReason>> {
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
        Ok(())
    }

    fn poll_command(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<ServerConnection>,
    ) -> Poll<bool> {
        let now = Instant::now();
        if let Poll::Ready(Some(control)) = self.inbox.control.poll_recv(cx) {
            self.stopping = true;
            engine.with_machine(|m| m.close_with_error(now, control.into_error()));
            return Poll::Ready(true);
        }
        if self.ended {
            return Poll::Pending;
        }
        match self.inbox.stanzas.poll_recv(cx) {
            Poll::Ready(Some(stanza)) => {
                self.send_all(engine, now, vec![stanza]);
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
    let mut engine = Engine::plain(ComponentConnection::accept(config, Instant::now()), None);
    let mut host = ComponentHost {
        hub: Arc::clone(&hub),
        mailbox,
        inbox,
        domain: None,
        online: false,
    };
    let _exit = driver::run(&mut engine, &mut io, &TokioSleeper, &mut host).await;
    host.detach();
    host.inbox.stanzas.close();
    while let Ok(stanza) = host.inbox.stanzas.try_recv() {
        if let Some(reply) =
            stanza.error_reply(StanzaError::new(DefinedCondition::ServiceUnavailable))
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
}

impl ComponentHost {
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
        _cx: &mut Context<'_>,
        engine: &mut Engine<ComponentConnection>,
        output: Output<component::Event, component::CloseReason>,
    ) -> Result<(), Output<component::Event, component::CloseReason>> {
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
                    let replies =
                        self.hub
                            .router
                            .component_stanza(self.mailbox.conn, &domain, stanza);
                    for reply in replies {
                        engine.with_machine(|m| {
                            let _ = m.send(now, reply);
                        });
                    }
                }
            }
            Output::Closed(_) | Output::Failed(_) => self.detach(),
        }
        Ok(())
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
            Poll::Ready(Some(stanza)) => {
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
