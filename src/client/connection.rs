//! The [`ClientConnection`] state machine.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use minidom::Element;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use super::{
    ClientConfig, CloseReason, ConnectionError, Event, IqError, Output, SendError, TlsInfo, TlsMode,
};
use crate::ext::{self, Payload, ping::Ping, sm};
use crate::jid::{FullJid, Jid};
use crate::ns;
use crate::sasl::{
    ChannelBinding, ChannelBindingType, Credentials, Failure, Offer, SaslClient, select,
};
use crate::stanza::{IdGenerator, Iq, IqKind, Stanza, StanzaError, StanzaParseError};
use crate::stream::outbox::Outbox;
use crate::stream::sm::{Inbound, Outbound};
use crate::stream::{StanzaToken, StreamError, StreamErrorCondition};
use crate::xml::{Frame, Framing, StreamHeader, StreamNamespace, StreamParser, StreamWriter};

const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
const NS_SASL_CB: &str = "urn:xmpp:sasl-cb:0";

/// Where a stanza given to `send` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StanzaState {
    /// Waiting for the stream to come online.
    Queued,
    /// Written, and (with stream management) not yet confirmed.
    Sent,
    /// Confirmed by the server (stream management).
    Acked,
    /// Not known to this connection.
    Unknown,
}

/// What a connection hands to its successor to resume the session
/// (XEP-0198): nothing sent is lost, nothing is delivered twice.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeState {
    /// The session id the server gave in `<enabled/>`.
    pub id: String,
    /// Where the server prefers to be reconnected to, if it said.
    pub location: Option<String>,
    /// The address that was bound.
    pub jid: FullJid,
    /// How many stanzas we handled from the server.
    pub inbound: u32,
    /// The server's last acknowledged count of our stanzas.
    pub outbound_acked: u32,
    /// Our stanzas the server has not confirmed, oldest first.
    pub unacked: Vec<(StanzaToken, Stanza)>,
    /// The next token number, so tokens stay unique across the resumption.
    pub next_token: u64,
}

#[derive(Debug)]
enum State {
    /// Our header is sent; waiting for the server's.
    AwaitHeader,
    /// Waiting for `<stream:features/>`.
    AwaitFeatures,
    /// `<starttls/>` sent.
    StartTlsRequested,
    /// `StartTls` emitted; waiting for `tls_established`.
    TlsHandshake,
    /// `<auth/>` sent.
    Sasl(Box<SaslClient>),
    /// `<resume/>` sent.
    Resuming { features: Box<Element> },
    /// The bind iq sent.
    Binding { id: String, features: Box<Element> },
    /// The session iq sent.
    Session {
        id: String,
        jid: FullJid,
        features: Box<Element>,
    },
    /// Negotiated.
    Online,
    /// Our `</stream:stream>` is sent.
    Closing,
    /// Over.
    Closed,
    /// Placeholder while an element is being dispatched.
    Dispatching,
}

#[derive(Debug)]
struct PendingIq {
    token: StanzaToken,
    to: Option<Jid>,
    deadline: Instant,
}

/// Stream management, once `<enable/>` is sent.
#[derive(Debug)]
struct Sm {
    outbound: Outbound,
    /// `None` until `<enabled/>` arrives: inbound counting starts then.
    inbound: Option<Inbound>,
    resume_id: Option<String>,
    location: Option<String>,
    last_request: Instant,
    /// Tokens of the stanzas the connection sent on its own (pongs, error
    /// replies), ascending: counted, but not reported in [`Event::Acked`].
    own: VecDeque<StanzaToken>,
}

/// A client-to-server stream (sans-IO).
///
/// Its methods come in four kinds, as in quinn-proto: getters; `handle_*`
/// for input (bytes, end of input, time, TLS); mutators (`send`, `close`);
/// and `poll_*` for output. After any `handle_*` or mutator call, drain
/// [`poll_output`](Self::poll_output) until it returns `None`, then arm one
/// timer for [`poll_timeout`](Self::poll_timeout). Time must never go
/// backwards.
#[derive(Debug)]
pub struct ClientConnection {
    config: ClientConfig,
    state: State,
    parser: StreamParser,
    writer: StreamWriter,
    outbox: Outbox<Output>,
    error: Option<ConnectionError>,
    tls: Option<TlsInfo>,
    authenticated: bool,
    rng: ChaCha20Rng,
    ids: IdGenerator,
    next_token: u64,
    /// Stanzas sent before the stream was online.
    queued: VecDeque<(StanzaToken, Stanza)>,
    pending_iqs: HashMap<String, PendingIq>,
    sm: Option<Sm>,
    resume: Option<ResumeState>,
    bound: Option<FullJid>,
    highest_acked: Option<StanzaToken>,
    negotiation_deadline: Option<Instant>,
    close_deadline: Option<Instant>,
    last_rx: Instant,
    probe_deadline: Option<Instant>,
}

impl ClientConnection {
    /// A connection over a plain transport: it will negotiate STARTTLS
    /// (unless the config says [`TlsMode::Insecure`]).
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        Self::start(config, now, None, None)
    }

    /// A connection over a transport already protected by TLS (XEP-0368
    /// direct TLS, or `wss://` with [`Framing::WebSocket`]).
    pub fn new_direct_tls(config: ClientConfig, now: Instant, tls: TlsInfo) -> Self {
        Self::start(config, now, Some(tls), None)
    }

    /// A connection that resumes a previous session (XEP-0198) after
    /// authenticating, instead of binding a new resource. If the server
    /// refuses, a fresh session follows and [`Event::ResumeFailed`] hands
    /// back the unconfirmed stanzas.
    pub fn resume(
        config: ClientConfig,
        now: Instant,
        state: ResumeState,
        tls: Option<TlsInfo>,
    ) -> Self {
        Self::start(config, now, tls, Some(state))
    }

    fn start(
        config: ClientConfig,
        now: Instant,
        tls: Option<TlsInfo>,
        resume: Option<ResumeState>,
    ) -> Self {
        let mut rng = ChaCha20Rng::from_seed(config.seed);
        let ids = IdGenerator::new(rng.next_u64());
        let next_token = resume.as_ref().map_or(0, |r| r.next_token);
        let mut connection = Self {
            parser: crate::stream::split_parser(config.limits.clone()),
            negotiation_deadline: Some(now + config.negotiation_timeout),
            config,
            state: State::AwaitHeader,
            writer: StreamWriter::new(),
            outbox: Outbox::new(),
            error: None,
            tls,
            authenticated: false,
            rng,
            ids,
            next_token,
            queued: VecDeque::new(),
            pending_iqs: HashMap::new(),
            sm: None,
            resume,
            bound: None,
            highest_acked: None,
            close_deadline: None,
            last_rx: now,
            probe_deadline: None,
        };
        connection.send_header();
        connection
    }

    // ---- getters --------------------------------------------------------

    /// The bound address, once online.
    pub fn jid(&self) -> Option<&FullJid> {
        self.bound.as_ref()
    }

    /// Whether negotiation is complete and the stream carries stanzas.
    pub fn is_online(&self) -> bool {
        matches!(self.state, State::Online)
    }

    /// Whether the connection is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether stream management is on (`<enable/>` was sent).
    pub fn stream_management(&self) -> bool {
        self.sm.is_some()
    }

    /// Where a stanza given to [`send`](Self::send) stands.
    pub fn stanza_state(&self, token: StanzaToken) -> StanzaState {
        if self.queued.iter().any(|(t, _)| *t == token) {
            StanzaState::Queued
        } else if self
            .sm
            .as_ref()
            .is_some_and(|sm| sm.outbound.is_unacked(token))
        {
            StanzaState::Sent
        } else if self.highest_acked.is_some_and(|h| token <= h) && self.sm.is_some() {
            StanzaState::Acked
        } else if token.0 < self.next_token {
            StanzaState::Sent
        } else {
            StanzaState::Unknown
        }
    }

    // ---- input ------------------------------------------------------------

    /// Handles bytes received from the server (all of them are consumed).
    ///
    /// # Errors
    /// The connection's fatal error, once it has one; the same error is
    /// also reported as [`Output::Closed`].
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), ConnectionError> {
        self.check()?;
        if data.is_empty() {
            return Ok(());
        }
        if matches!(self.state, State::TlsHandshake) {
            // Plaintext bytes while the TLS handshake should be running.
            return self.fail(now, ConnectionError::StartTlsInjection);
        }
        self.last_rx = now;
        self.probe_deadline = None;
        self.parser.feed(data);
        loop {
            if self.error.is_some() || matches!(self.state, State::Closed | State::TlsHandshake) {
                break;
            }
            match self.parser.next_frame() {
                Ok(Some(frame)) => self.handle_frame(now, frame),
                Ok(None) => break,
                Err(e) => {
                    self.send_stream_error(
                        StreamError::new(e.condition()).with_text(e.to_string()),
                    );
                    return self.fail(now, ConnectionError::Xml(e));
                }
            }
        }
        self.check()
    }

    /// Handles the end of the transport's input.
    pub fn handle_eof(&mut self, now: Instant) {
        match self.state {
            State::Closed => {}
            State::Closing => self.finish(now, CloseReason::Closed),
            _ => {
                let _ = self.fail(now, ConnectionError::Eof);
            }
        }
    }

    /// Handles the passing of time; extra calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.error.is_some() || matches!(self.state, State::Closed) {
            return;
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.finish(now, CloseReason::Closed);
            return;
        }
        if self.negotiation_deadline.is_some_and(|d| now >= d) {
            self.send_stream_error(StreamError::new(StreamErrorCondition::ConnectionTimeout));
            let _ = self.fail(
                now,
                ConnectionError::Timeout("negotiation did not finish in time"),
            );
            return;
        }
        if self.probe_deadline.is_some_and(|d| now >= d) {
            let _ = self.fail(
                now,
                ConnectionError::Timeout("the server stopped answering"),
            );
            return;
        }
        let expired: Vec<String> = self
            .pending_iqs
            .iter()
            .filter(|(_, p)| now >= p.deadline)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(p) = self.pending_iqs.remove(&id) {
                self.event(Event::IqResponse {
                    token: p.token,
                    response: Err(IqError::Timeout),
                });
            }
        }
        if matches!(self.state, State::Online) {
            if self.probe_deadline.is_none() && now >= self.last_rx + self.config.ping_after {
                self.probe(now);
            }
            let ack_due = self.sm.as_ref().is_some_and(|sm| {
                sm.outbound.outstanding() > 0
                    && now >= sm.last_request + self.config.sm_ack_interval
            });
            if ack_due {
                self.request_ack(now);
            }
        }
    }

    /// Tells the connection that the TLS handshake requested by
    /// [`Output::StartTls`] succeeded. The stream restarts over TLS.
    ///
    /// # Errors
    /// [`ConnectionError::Protocol`] if no handshake was requested.
    pub fn tls_established(&mut self, now: Instant, info: TlsInfo) -> Result<(), ConnectionError> {
        self.check()?;
        if !matches!(self.state, State::TlsHandshake) {
            return self.fail(
                now,
                ConnectionError::Protocol("TLS established without STARTTLS".into()),
            );
        }
        self.tls = Some(info);
        self.parser.reset();
        self.send_header();
        Ok(())
    }

    // ---- mutators ---------------------------------------------------------

    /// Sends a stanza, or queues it until the stream is online. An iq get
    /// or set gets its answer as [`Event::IqResponse`] with the returned
    /// token. A stanza without id gets a unique one.
    ///
    /// # Errors
    /// [`SendError`] if the connection is closed, the queue is full, or the
    /// stanza is invalid or unwritable; nothing is sent then.
    pub fn send(
        &mut self,
        now: Instant,
        stanza: impl Into<Stanza>,
    ) -> Result<StanzaToken, SendError> {
        if self.error.is_some() || matches!(self.state, State::Closing | State::Closed) {
            return Err(SendError::Closed);
        }
        let mut stanza = stanza.into();
        stanza.assign_id(&mut self.ids);
        // While a resumption is under way, its unacknowledged stanzas count
        // too: they come back into the queue ahead of these, which must
        // all fit once the session is resumed.
        let waiting = self.queued.len()
            + self.sm.as_ref().map_or(0, |sm| sm.outbound.outstanding())
            + self.resume.as_ref().map_or(0, |r| r.unacked.len());
        if waiting >= self.config.max_unacked {
            return Err(SendError::QueueFull(waiting));
        }
        let token = StanzaToken(self.next_token);
        self.next_token += 1;
        if let Stanza::Iq(iq) = &stanza
            && iq.kind.is_request()
        {
            self.pending_iqs.insert(
                iq.id.clone(),
                PendingIq {
                    token,
                    to: iq.to.clone(),
                    deadline: now + self.config.iq_timeout,
                },
            );
        }
        if matches!(self.state, State::Online) {
            if let Err(e) = self.transmit_stanza(now, token, stanza) {
                self.pending_iqs.retain(|_, p| p.token != token);
                return Err(e);
            }
        } else {
            self.queued.push_back((token, stanza));
        }
        Ok(token)
    }

    /// Closes the stream: sends `</stream:stream>` (`<close/>` in
    /// WebSocket framing) and waits (bounded by the close timeout) for the
    /// server's.
    pub fn close(&mut self, now: Instant) {
        if self.error.is_some() || matches!(self.state, State::Closing | State::Closed) {
            return;
        }
        // XEP-0198 section 4: acknowledge what we handled before closing,
        // or the server must treat it as undelivered (and deliver it again
        // elsewhere, or later).
        if matches!(self.state, State::Online)
            && let Some(h) = self
                .sm
                .as_ref()
                .and_then(|sm| sm.inbound.map(Inbound::handled))
        {
            self.write(&sm::Answer { h }.to_element());
        }
        self.writer.write_close(self.outbox.buf());
        self.state = State::Closing;
        self.close_deadline = Some(now + self.config.close_timeout);
    }

    /// Takes what a new connection needs to resume this session (after the
    /// transport failed). `None` without an enabled, resumable stream
    /// management session.
    ///
    /// A connection made with [`resume`](Self::resume) that ends before the
    /// server answered the resumption (cut during TLS, SASL or the
    /// `<resume/>` itself) gives back the state it was given, with what was
    /// sent meanwhile: the session may still be waiting on the server, and
    /// the next connection can try again.
    pub fn take_resume_state(&mut self) -> Option<ResumeState> {
        if let Some(mut state) = self.resume.take() {
            state.unacked.extend(self.queued.drain(..));
            state.next_token = state.next_token.max(self.next_token);
            return Some(state);
        }
        let jid = self.bound.clone()?;
        let sm = self.sm.as_mut()?;
        let id = sm.resume_id.clone()?;
        let mut unacked = sm.outbound.take_unacked();
        unacked.extend(self.queued.drain(..));
        Some(ResumeState {
            id,
            location: sm.location.clone(),
            jid,
            inbound: sm.inbound.map_or(0, Inbound::handled),
            outbound_acked: sm.outbound.acked(),
            unacked,
            next_token: self.next_token,
        })
    }

    // ---- output -----------------------------------------------------------

    /// The next thing to do, in order.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.poll()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() || matches!(self.state, State::Closed) {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.negotiation_deadline);
        consider(self.close_deadline);
        consider(self.probe_deadline);
        consider(self.pending_iqs.values().map(|p| p.deadline).min());
        if matches!(self.state, State::Online) {
            if self.probe_deadline.is_none() {
                consider(Some(self.last_rx + self.config.ping_after));
            }
            if let Some(sm) = &self.sm
                && sm.outbound.outstanding() > 0
            {
                consider(Some(sm.last_request + self.config.sm_ack_interval));
            }
        }
        next
    }

    // ---- internals --------------------------------------------------------

    fn check(&self) -> Result<(), ConnectionError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn fail(&mut self, now: Instant, error: ConnectionError) -> Result<(), ConnectionError> {
        if self.error.is_none() {
            self.error = Some(error.clone());
            self.finish(now, CloseReason::Error(error.clone()));
        }
        Err(error)
    }

    /// Ends the connection: pending iqs fail, `Closed` is emitted once.
    fn finish(&mut self, _now: Instant, reason: CloseReason) {
        if self.outbox.is_closed() {
            return;
        }
        self.state = State::Closed;
        let pending: Vec<StanzaToken> = self.pending_iqs.drain().map(|(_, p)| p.token).collect();
        for token in pending {
            self.event(Event::IqResponse {
                token,
                response: Err(IqError::Disconnected),
            });
        }
        self.outbox.close(Output::Closed(reason));
    }

    fn event(&mut self, event: Event) {
        self.outbox.push(Output::Event(event));
    }

    fn domain(&self) -> String {
        self.config.jid.domain().to_owned()
    }

    fn send_header(&mut self) {
        let header = StreamHeader {
            to: Some(self.domain()),
            // RFC 6120 section 4.7.1: `from` only once the stream is protected.
            from: self
                .tls
                .is_some()
                .then(|| self.config.jid.bare_str().to_owned()),
            lang: self.config.lang.clone(),
            ..StreamHeader::new(self.config.framing, StreamNamespace::Client)
        };
        // A header of our own values cannot fail but for a bad lang or JID
        // character, which the types exclude; report it all the same.
        if let Err(e) = self.writer.write_header(&header, self.outbox.buf()) {
            self.error = Some(ConnectionError::Protocol(format!(
                "cannot write the stream header: {e}"
            )));
        }
        self.state = State::AwaitHeader;
    }

    /// Writes an element, unless our closing tag is out: nothing may
    /// follow it (RFC 6120 section 4.4).
    fn write(&mut self, element: &Element) {
        self.write_with(|writer, out| writer.write_element(element, out));
    }

    /// Writes a stanza like [`write`](Self::write) an element, without
    /// copying its payloads.
    fn write_stanza(&mut self, stanza: &Stanza) {
        self.write_with(|writer, out| writer.write_stanza(stanza, StreamNamespace::Client, out));
    }

    /// Writes with `write` unless our closing tag is out; a failure (which
    /// writes nothing) is the connection's error.
    fn write_with(
        &mut self,
        write: impl FnOnce(&StreamWriter, &mut bytes::BytesMut) -> Result<(), crate::xml::WriteError>,
    ) {
        if matches!(self.state, State::Closing) {
            return;
        }
        if let Err(e) = write(&self.writer, self.outbox.buf()) {
            self.error = Some(ConnectionError::Protocol(format!(
                "cannot write an element: {e}"
            )));
        }
    }

    /// Writes a stream error and our closing tag; nothing once our closing
    /// tag is out (the stream just ends).
    fn send_stream_error(&mut self, error: StreamError) {
        if matches!(self.state, State::Closing) {
            return;
        }
        let element = error.to_element();
        self.write(&element);
        self.writer.write_close(self.outbox.buf());
    }

    fn protocol(&mut self, now: Instant, what: String) {
        self.send_stream_error(
            StreamError::new(StreamErrorCondition::UnsupportedStanzaType).with_text(what.clone()),
        );
        let _ = self.fail(now, ConnectionError::Protocol(what));
    }

    fn handle_frame(&mut self, now: Instant, frame: Frame) {
        match frame {
            Frame::Header(header) => self.handle_header(now, &header),
            Frame::Element(element) => {
                if StreamError::matches(&element) {
                    let error = StreamError::parse(&element).unwrap_or_else(|_| {
                        StreamError::new(StreamErrorCondition::UndefinedCondition)
                    });
                    let _ = self.fail(now, ConnectionError::StreamError(error));
                } else {
                    self.handle_element(now, element);
                }
            }
            Frame::Stanza(parts) => match self.state {
                // Online, a stanza is typed straight from its parts.
                State::Online => self.handle_stanza(now, Stanza::try_from(parts)),
                State::Closing if self.bound.is_some() => {
                    self.handle_stanza(now, Stanza::try_from(parts));
                }
                _ => self.handle_element(now, parts.into_element()),
            },
            Frame::Keepalive => {}
            Frame::Close => {
                if matches!(self.state, State::Closing) {
                    self.finish(now, CloseReason::Closed);
                } else {
                    self.writer.write_close(self.outbox.buf());
                    self.finish(now, CloseReason::PeerClosed);
                }
            }
        }
    }

    fn handle_header(&mut self, now: Instant, header: &StreamHeader) {
        if matches!(self.state, State::Closing) {
            // The server's answer to a stream we closed before it came:
            // nothing to check, and nothing may follow our closing tag.
            return;
        }
        if !matches!(self.state, State::AwaitHeader) {
            return self.protocol(now, "a second stream header".into());
        }
        if header.framing != self.config.framing {
            self.send_stream_error(StreamError::new(StreamErrorCondition::InvalidNamespace));
            let _ = self.fail(
                now,
                ConnectionError::Protocol(format!(
                    "the server answered in {} framing, expected {}",
                    framing_name(header.framing),
                    framing_name(self.config.framing)
                )),
            );
            return;
        }
        if header.namespace != StreamNamespace::Client {
            self.send_stream_error(StreamError::new(StreamErrorCondition::InvalidNamespace));
            let _ = self.fail(
                now,
                ConnectionError::Protocol("the server's stream is not jabber:client".into()),
            );
            return;
        }
        if header.version.as_deref() != Some("1.0") {
            self.send_stream_error(StreamError::new(StreamErrorCondition::UnsupportedVersion));
            let _ = self.fail(
                now,
                ConnectionError::Protocol("the server does not speak XMPP 1.0".into()),
            );
            return;
        }
        self.state = State::AwaitFeatures;
    }

    fn handle_element(&mut self, now: Instant, element: Element) {
        let state = std::mem::replace(&mut self.state, State::Dispatching);
        match state {
            State::AwaitFeatures if element.is("features", ns::STREAM) => {
                self.state = State::AwaitFeatures;
                self.handle_features(now, element);
            }
            State::StartTlsRequested if element.is("proceed", ns::TLS) => {
                if self.parser.buffered_len() > 0 {
                    self.state = State::StartTlsRequested;
                    let _ = self.fail(now, ConnectionError::StartTlsInjection);
                    return;
                }
                self.state = State::TlsHandshake;
                self.outbox.push(Output::StartTls);
            }
            State::StartTlsRequested if element.is("failure", ns::TLS) => {
                self.state = State::StartTlsRequested;
                let _ = self.fail(now, ConnectionError::StartTlsRefused);
            }
            State::Sasl(client) => self.handle_sasl(now, client, &element),
            State::Resuming { features } => self.handle_resume(now, *features, &element),
            State::Binding { id, features } => self.handle_bind(now, id, *features, element),
            State::Session { id, jid, features } => {
                self.handle_session(now, id, jid, *features, element)
            }
            // Closed during negotiation: what the server still says about
            // it (features, SASL, bind results) is not for us any more.
            State::Closing if self.bound.is_none() => self.state = state,
            State::Online | State::Closing => {
                self.state = state;
                self.handle_online(now, element);
            }
            other => {
                self.state = other;
                self.protocol(
                    now,
                    format!("unexpected <{}/> during negotiation", element.name()),
                );
            }
        }
    }

    fn handle_features(&mut self, now: Instant, features: Element) {
        if self.tls.is_none() && self.config.tls != TlsMode::Insecure {
            // RFC 7395 section 3.1: no STARTTLS in WebSocket framing, even
            // if a confused server offers it.
            let starttls = self.config.framing == Framing::Stream
                && features.get_child("starttls", ns::TLS).is_some();
            if starttls {
                self.write(&Element::bare("starttls", ns::TLS));
                self.state = State::StartTlsRequested;
            } else {
                let _ = self.fail(now, ConnectionError::TlsNotOffered);
            }
            return;
        }
        if !self.authenticated {
            return self.start_sasl(now, &features);
        }
        if let Some(resume) = &self.resume
            && features.get_child("sm", sm::NS).is_some()
        {
            let element = sm::Resume {
                h: resume.inbound,
                previd: resume.id.clone(),
            }
            .to_element();
            self.write(&element);
            self.state = State::Resuming {
                features: Box::new(features),
            };
            return;
        }
        self.resume_failed();
        self.bind(features);
    }

    fn start_sasl(&mut self, now: Instant, features: &Element) {
        let Some(mechanisms) = features.get_child("mechanisms", ns::SASL) else {
            return self.protocol(now, "the server offers no SASL mechanisms".into());
        };
        let offered: Vec<String> = mechanisms
            .children()
            .filter(|c| c.is("mechanism", ns::SASL))
            .map(|c| c.text().trim().to_owned())
            .collect();
        let server_bindings: Option<Vec<ChannelBindingType>> = features
            .get_child("sasl-channel-binding", NS_SASL_CB)
            .map(|cb| {
                cb.children()
                    .filter_map(|c| ext::attr(c, "type").and_then(|t| t.parse().ok()))
                    .collect()
            });
        let bindings: Vec<ChannelBinding> = self
            .tls
            .as_ref()
            .map(|t| t.channel_bindings.clone())
            .unwrap_or_default();
        let offer = Offer {
            mechanisms: &offered,
            server_channel_bindings: server_bindings.as_deref(),
            tls: self.tls.is_some(),
            bindings: &bindings,
        };
        let selection = match select(&offer, &self.config.sasl) {
            Ok(s) => s,
            Err(e) => {
                let _ = self.fail(now, ConnectionError::Sasl(e));
                return;
            }
        };
        let credentials = Credentials {
            username: self.config.jid.node().unwrap_or_default().to_owned(),
            password: self.config.password.clone(),
            authzid: None,
        };
        let mut nonce = [0u8; 24];
        self.rng.fill_bytes(&mut nonce);
        let nonce = BASE64.encode(nonce);
        let mut client = match SaslClient::new(&selection, &credentials, &bindings, &nonce) {
            Ok(c) => c,
            Err(e) => {
                let _ = self.fail(now, ConnectionError::Sasl(e));
                return;
            }
        };
        let initial = match client.initial_response() {
            Ok(i) => i,
            Err(e) => {
                let _ = self.fail(now, ConnectionError::Sasl(e));
                return;
            }
        };
        let mut auth = ext::text_element("auth", ns::SASL, encode(&initial));
        ext::set_attr(&mut auth, "mechanism", client.mechanism().as_str());
        self.write(&auth);
        self.state = State::Sasl(Box::new(client));
    }

    fn handle_sasl(&mut self, now: Instant, mut client: Box<SaslClient>, element: &Element) {
        if !element.has_ns(ns::SASL) {
            self.state = State::Sasl(client);
            return self.protocol(now, format!("unexpected <{}/> during SASL", element.name()));
        }
        let Ok(data) = decode(&element.text()) else {
            self.state = State::Sasl(client);
            self.write(&Element::bare("abort", ns::SASL));
            let _ = self.fail(
                now,
                ConnectionError::Protocol("SASL data that is not base64".into()),
            );
            return;
        };
        match element.name() {
            "challenge" => match client.challenge(&data) {
                Ok(response) => {
                    self.write(&ext::text_element("response", ns::SASL, encode(&response)));
                    self.state = State::Sasl(client);
                }
                Err(e) => {
                    self.write(&Element::bare("abort", ns::SASL));
                    self.state = State::Sasl(client);
                    let _ = self.fail(now, ConnectionError::Sasl(e));
                }
            },
            "success" => match client.success(&data) {
                Ok(()) => {
                    self.authenticated = true;
                    self.parser.reset();
                    self.parser.set_authenticated(true);
                    self.send_header();
                }
                Err(e) => {
                    self.state = State::Sasl(client);
                    let _ = self.fail(now, ConnectionError::Sasl(e));
                }
            },
            "failure" => {
                let failure = Failure::parse(element).unwrap_or(Failure {
                    condition: None,
                    text: None,
                });
                self.state = State::Sasl(client);
                self.writer.write_close(self.outbox.buf());
                let _ = self.fail(now, ConnectionError::AuthenticationFailed(failure));
            }
            other => {
                let what = format!("unexpected <{other}/> during SASL");
                self.state = State::Sasl(client);
                self.protocol(now, what);
            }
        }
    }

    fn handle_resume(&mut self, now: Instant, features: Element, element: &Element) {
        if sm::Resumed::matches(element) {
            let resumed = match sm::Resumed::parse(element) {
                Ok(r) => r,
                Err(e) => {
                    self.state = State::Resuming {
                        features: Box::new(features),
                    };
                    return self.protocol(now, format!("invalid <resumed/>: {e}"));
                }
            };
            let Some(state) = self.resume.take() else {
                return self.protocol(now, "<resumed/> without a resumption".into());
            };
            let mut outbound = Outbound::starting_at(
                state.outbound_acked,
                self.config.max_unacked.max(state.unacked.len()),
            );
            for (token, stanza) in state.unacked {
                if outbound.sent(token, stanza).is_err() {
                    break;
                }
            }
            let confirmed = match outbound.ack(resumed.h) {
                Ok(c) => c,
                Err(e) => {
                    self.send_stream_error(
                        StreamError::new(StreamErrorCondition::UndefinedCondition)
                            .with_text(e.to_string()),
                    );
                    let _ = self.fail(now, ConnectionError::Sm(e));
                    return;
                }
            };
            let retransmit = outbound.take_unacked();
            self.sm = Some(Sm {
                outbound,
                inbound: Some(Inbound::starting_at(state.inbound)),
                resume_id: Some(state.id),
                location: state.location,
                last_request: now,
                own: VecDeque::new(),
            });
            self.bound = Some(state.jid.clone());
            self.state = State::Online;
            self.negotiation_deadline = None;
            if !confirmed.is_empty() {
                self.note_acked(&confirmed);
            }
            for (token, stanza) in retransmit {
                // Written again, and counted again, in the original order.
                let _ = self.transmit_stanza(now, token, stanza);
            }
            self.event(Event::Online {
                jid: state.jid,
                resumed: true,
            });
            self.flush_queue(now);
            // What was written again (and queued meanwhile) is confirmed at
            // once, not at the next cadence: the `<r/>` of the lost
            // connection may never have reached the server.
            if self
                .sm
                .as_ref()
                .is_some_and(|sm| sm.outbound.outstanding() > 0 && sm.outbound.since_request() > 0)
            {
                self.request_ack_inner(now);
            }
        } else if sm::Failed::matches(element) {
            self.resume_failed();
            self.bind(features);
        } else {
            self.state = State::Resuming {
                features: Box::new(features),
            };
            self.protocol(
                now,
                format!("unexpected <{}/> while resuming", element.name()),
            );
        }
    }

    /// Hands back what an unsuccessful resumption could not deliver.
    fn resume_failed(&mut self) {
        if let Some(state) = self.resume.take() {
            let mut unacked = state.unacked;
            unacked.extend(self.queued.drain(..));
            self.event(Event::ResumeFailed { unacked });
        }
    }

    fn bind(&mut self, features: Element) {
        let mut bind = Element::bare("bind", ns::BIND);
        if let Some(resource) = self.config.jid.resource() {
            bind.append_child(ext::text_element("resource", ns::BIND, resource));
        }
        let id = self.ids.next_id();
        let iq = Iq::set(None, bind).with_id(id.clone());
        self.write_stanza(&Stanza::Iq(iq));
        self.state = State::Binding {
            id,
            features: Box::new(features),
        };
    }

    fn handle_bind(&mut self, now: Instant, id: String, features: Element, element: Element) {
        let Some(answer) = self.answer_to(&id, element) else {
            self.state = State::Binding {
                id,
                features: Box::new(features),
            };
            return self.protocol(now, "unexpected element while binding".into());
        };
        let jid = match answer {
            Ok(iq) => iq
                .payload()
                .and_then(|b| b.get_child("jid", ns::BIND))
                .and_then(|j| j.text().trim().parse::<FullJid>().ok()),
            Err(error) => {
                let _ = self.fail(now, ConnectionError::BindFailed(error.to_string()));
                return;
            }
        };
        let Some(jid) = jid else {
            let _ = self.fail(
                now,
                ConnectionError::BindFailed("the result carries no valid full JID".into()),
            );
            return;
        };
        // RFC 6121 section 1.4 / RFC 3921: the session iq only when the
        // server says it is not optional.
        let session = features.get_child("session", NS_SESSION);
        if session.is_some_and(|s| s.get_child("optional", NS_SESSION).is_none()) {
            let id = self.ids.next_id();
            let iq = Iq::set(None, Element::bare("session", NS_SESSION)).with_id(id.clone());
            self.write_stanza(&Stanza::Iq(iq));
            self.state = State::Session {
                id,
                jid,
                features: Box::new(features),
            };
            return;
        }
        self.go_online(now, jid, &features);
    }

    fn handle_session(
        &mut self,
        now: Instant,
        id: String,
        jid: FullJid,
        features: Element,
        element: Element,
    ) {
        match self.answer_to(&id, element) {
            Some(Ok(_)) => self.go_online(now, jid, &features),
            Some(Err(error)) => {
                let _ = self.fail(now, ConnectionError::SessionFailed(error.to_string()));
            }
            None => {
                self.state = State::Session {
                    id,
                    jid,
                    features: Box::new(features),
                };
                self.protocol(
                    now,
                    "unexpected element during session establishment".into(),
                );
            }
        }
    }

    /// The result (or error) of our negotiation iq `id`, or `None` if the
    /// element is something else.
    fn answer_to(&self, id: &str, element: Element) -> Option<Result<Iq, StanzaError>> {
        let Ok(Stanza::Iq(iq)) = Stanza::try_from(element) else {
            return None;
        };
        if iq.id != id {
            return None;
        }
        match iq.kind {
            IqKind::Result(_) => Some(Ok(iq)),
            IqKind::Error { error, .. } => Some(Err(*error)),
            IqKind::Get(_) | IqKind::Set(_) => None,
        }
    }

    fn go_online(&mut self, now: Instant, jid: FullJid, features: &Element) {
        self.bound = Some(jid.clone());
        self.state = State::Online;
        self.negotiation_deadline = None;
        if self.config.stream_management && features.get_child("sm", sm::NS).is_some() {
            self.write(
                &sm::Enable {
                    resume: true,
                    max: None,
                }
                .to_element(),
            );
            self.sm = Some(Sm {
                outbound: Outbound::new(self.config.max_unacked),
                inbound: None,
                resume_id: None,
                location: None,
                last_request: now,
                own: VecDeque::new(),
            });
        }
        self.event(Event::Online {
            jid,
            resumed: false,
        });
        self.flush_queue(now);
    }

    fn flush_queue(&mut self, now: Instant) {
        while let Some((token, stanza)) = self.queued.pop_front() {
            if self.transmit_stanza(now, token, stanza).is_err() {
                break;
            }
        }
    }

    fn transmit_stanza(
        &mut self,
        now: Instant,
        token: StanzaToken,
        stanza: Stanza,
    ) -> Result<(), SendError> {
        if let Some(sm) = &self.sm
            && !sm.outbound.has_room()
        {
            return Err(SendError::QueueFull(sm.outbound.outstanding()));
        }
        let written = self
            .writer
            .write_stanza(&stanza, StreamNamespace::Client, self.outbox.buf());
        if let Err(e) = written {
            return Err(SendError::Unwritable(e));
        }
        let mut ask = false;
        if let Some(sm) = &mut self.sm {
            sm.outbound
                .sent(token, stanza)
                .map_err(|_| SendError::QueueFull(sm.outbound.outstanding()))?;
            ask = sm.outbound.since_request() >= self.config.sm_ack_after;
        }
        if ask {
            self.request_ack_inner(now);
        }
        Ok(())
    }

    /// Asks the server to confirm what it received now (XEP-0198 `<r/>`),
    /// instead of waiting for the configured cadence; the answer comes as
    /// [`Event::Acked`]. Does nothing without enabled stream management or
    /// outside the online state.
    pub fn request_ack(&mut self, now: Instant) {
        if !matches!(self.state, State::Online) || self.error.is_some() {
            return;
        }
        self.request_ack_inner(now);
    }

    fn request_ack_inner(&mut self, now: Instant) {
        if let Some(sm) = &mut self.sm {
            sm.outbound.requested();
            sm.last_request = now;
            let r = sm::Request.to_element();
            self.write(&r);
        }
    }

    /// Probes a quiet server: `<r/>` with stream management, a ping
    /// otherwise. Any answer (any bytes) clears the probe.
    fn probe(&mut self, now: Instant) {
        if self.sm.is_some() {
            self.request_ack_inner(now);
        } else {
            let iq = Iq::get(None, Ping.to_element()).with_id(self.ids.next_id());
            self.write_stanza(&Stanza::Iq(iq));
        }
        self.probe_deadline = Some(now + self.config.ping_timeout);
    }

    fn note_acked(&mut self, confirmed: &[(StanzaToken, Stanza)]) {
        if let Some((last, _)) = confirmed.last() {
            self.highest_acked = Some(self.highest_acked.map_or(*last, |h| h.max(*last)));
        }
        let mut tokens: Vec<StanzaToken> = confirmed.iter().map(|(t, _)| *t).collect();
        if let Some(sm) = &mut self.sm {
            tokens.retain(|token| {
                while sm.own.front().is_some_and(|own| own < token) {
                    sm.own.pop_front();
                }
                let own = sm.own.front() == Some(token);
                if own {
                    sm.own.pop_front();
                }
                !own
            });
        }
        if !tokens.is_empty() {
            self.event(Event::Acked(tokens));
        }
    }

    /// Sends a reply the connection makes on its own (a pong, an error for
    /// a malformed stanza). With stream management on it is counted like
    /// any stanza, since the server counts it, but left out of
    /// [`Event::Acked`]; it is dropped if the unacknowledged queue is full,
    /// and after our closing tag.
    fn send_own(&mut self, now: Instant, stanza: Stanza) {
        if !matches!(self.state, State::Online) {
            return;
        }
        if self.sm.is_none() {
            return self.write_stanza(&stanza);
        }
        let token = StanzaToken(self.next_token);
        self.next_token += 1;
        if self.transmit_stanza(now, token, stanza).is_ok()
            && let Some(sm) = &mut self.sm
        {
            sm.own.push_back(token);
        }
    }

    fn handle_online(&mut self, now: Instant, element: Element) {
        if element.has_ns(sm::NS) && self.sm.is_some() {
            return self.handle_sm(now, &element);
        }
        if !Stanza::is_stanza(&element) {
            return self.protocol(
                now,
                format!("unsupported top-level element <{}/>", element.name()),
            );
        }
        self.handle_stanza(now, Stanza::try_from(element));
    }

    /// A stanza received online, typed or not.
    fn handle_stanza(&mut self, now: Instant, stanza: Result<Stanza, StanzaParseError>) {
        if let Some(sm) = &mut self.sm
            && let Some(inbound) = &mut sm.inbound
        {
            inbound.handled_one();
        }
        match stanza {
            Ok(Stanza::Iq(iq)) => self.handle_iq(now, iq),
            Ok(stanza) => self.event(Event::Stanza(stanza)),
            Err(e) => {
                let Some(reply) = e.error_reply() else { return };
                if self.sm.is_none() {
                    if matches!(self.state, State::Online) {
                        self.write(&reply);
                    }
                } else if let Ok(reply) = Stanza::try_from(reply) {
                    self.send_own(now, reply);
                }
            }
        }
    }

    fn handle_iq(&mut self, now: Instant, iq: Iq) {
        match &iq.kind {
            IqKind::Result(_) | IqKind::Error { .. } => {
                let own = self.bound.as_ref().map(FullJid::to_bare);
                let matches =
                    self.pending_iqs
                        .get(&iq.id)
                        .is_some_and(|p| match (&p.to, &iq.from) {
                            (None, None) => true,
                            (None, Some(from)) => {
                                own.as_ref().is_some_and(|b| from.as_str() == b.as_str())
                                    || from.as_str() == self.config.jid.domain()
                            }
                            (Some(to), Some(from)) => to == from,
                            (Some(_), None) => false,
                        });
                if matches && let Some(pending) = self.pending_iqs.remove(&iq.id) {
                    let response = match iq.kind {
                        IqKind::Error { error, .. } => Err(IqError::Stanza(error)),
                        _ => Ok(iq),
                    };
                    self.event(Event::IqResponse {
                        token: pending.token,
                        response,
                    });
                } else {
                    self.event(Event::Stanza(Stanza::Iq(iq)));
                }
            }
            IqKind::Get(payload) if Ping::matches(payload) => {
                let pong = Iq::result_for(&iq, None);
                self.send_own(now, Stanza::Iq(pong));
            }
            _ => self.event(Event::Stanza(Stanza::Iq(iq))),
        }
    }

    fn handle_sm(&mut self, now: Instant, element: &Element) {
        match sm::Nonza::parse(element) {
            // Nothing may follow our closing tag (RFC 6120 section 4.4).
            Ok(sm::Nonza::Request(_)) if !matches!(self.state, State::Online) => {}
            Ok(sm::Nonza::Request(_)) => {
                let h = self
                    .sm
                    .as_ref()
                    .and_then(|s| s.inbound)
                    .map_or(0, Inbound::handled);
                self.write(&sm::Answer { h }.to_element());
            }
            Ok(sm::Nonza::Answer(answer)) => {
                let result = match &mut self.sm {
                    Some(sm) => sm.outbound.ack(answer.h),
                    None => return,
                };
                match result {
                    Ok(confirmed) if !confirmed.is_empty() => self.note_acked(&confirmed),
                    Ok(_) => {}
                    Err(e) => {
                        self.send_stream_error(
                            StreamError::new(StreamErrorCondition::UndefinedCondition)
                                .with_text(e.to_string()),
                        );
                        let _ = self.fail(now, ConnectionError::Sm(e));
                    }
                }
            }
            Ok(sm::Nonza::Enabled(enabled)) => {
                if let Some(sm) = &mut self.sm {
                    sm.inbound = Some(Inbound::default());
                    sm.resume_id = if enabled.resume { enabled.id } else { None };
                    sm.location = enabled.location;
                }
            }
            Ok(sm::Nonza::Failed(_)) => {
                // The server refused stream management: stanzas sent
                // since <enable/> are no longer tracked.
                self.sm = None;
            }
            Ok(_) | Err(_) => self.protocol(
                now,
                format!("unexpected stream management element <{}/>", element.name()),
            ),
        }
    }
}

/// How a framing is named in error messages.
fn framing_name(framing: Framing) -> &'static str {
    match framing {
        Framing::Stream => "RFC 6120 stream",
        Framing::WebSocket => "RFC 7395 WebSocket",
    }
}

fn encode(data: &[u8]) -> String {
    if data.is_empty() {
        "=".to_owned()
    } else {
        BASE64.encode(data)
    }
}

fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let text = text.trim();
    if text.is_empty() || text == "=" {
        Ok(Vec::new())
    } else {
        BASE64.decode(text)
    }
}
