//! The [`ComponentConnection`] state machine.

use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use minidom::Element;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use subtle::ConstantTimeEq;

use super::{
    AcceptConfig, CloseReason, ComponentConfig, ComponentError, Event, Output, SendError,
    handshake_digest, hex, is_empty_handshake, is_handshake,
};
use crate::jid::{BareJid, Jid};
use crate::ns;
use crate::stanza::{IdGenerator, Stanza};
use crate::stream::outbox::Outbox;
use crate::stream::{StanzaToken, StreamError, StreamErrorCondition};
use crate::xml::{
    Frame, Framing, Limits, StanzaParts, StreamHeader, StreamNamespace, StreamParser, StreamWriter,
};

/// Random bytes in a stream id we generate (hex-encoded, so twice as many
/// characters).
const STREAM_ID_BYTES: usize = 16;

/// Which side of the stream we are.
enum Role {
    /// We are the component; the secret proves it.
    Connecting { secret: String },
    /// We are the server.
    Accepting,
}

impl std::fmt::Debug for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        match self {
            Self::Connecting { .. } => f.write_str("Connecting"),
            Self::Accepting => f.write_str("Accepting"),
        }
    }
}

#[derive(Debug)]
enum State {
    /// Waiting for the peer's header (ours is sent in the connecting role).
    AwaitHeader,
    /// Connecting: the server's header has no stream id, so no handshake
    /// can be computed; a stream error should follow.
    NoStreamId,
    /// Connecting: our handshake is sent.
    AwaitHandshakeReply,
    /// Accepting: `Event::Connecting` is out; waiting for the application.
    AwaitDecision,
    /// Accepting: our header is sent; waiting for the handshake, which
    /// must equal `expected` (lowercase hex).
    AwaitHandshake { expected: String },
    /// Stanzas flow.
    Online,
    /// Our `</stream:stream>` is sent; `online` tells whether stanzas
    /// still arriving are delivered.
    Closing { online: bool },
    /// Over.
    Closed,
}

/// The timers and bounds both configurations share.
#[derive(Debug, Clone, Copy)]
struct Settings {
    keepalive_interval: Duration,
    idle_timeout: Duration,
    close_timeout: Duration,
    max_queued: usize,
}

/// One side of an XEP-0114 component stream (sans-IO): the component
/// ([`connect`](Self::connect)) or the server ([`accept`](Self::accept)).
///
/// Its methods come in four kinds, as for
/// [`ClientConnection`](crate::ClientConnection): getters; `handle_*` for
/// input (bytes, end of input, time); mutators (`send`, `close`, and in
/// the accepting role `accept_component` / `reject`); and `poll_*` for
/// output. After any `handle_*` or mutator call, drain
/// [`poll_output`](Self::poll_output) until it returns `None`, then arm one
/// timer for [`poll_timeout`](Self::poll_timeout). Time must never go
/// backwards.
///
/// Stanzas given to [`send`](Self::send) before the stream is online are
/// queued (serialized, within `max_queued` bytes) and written, in order,
/// as soon as the handshake succeeds; [`close`](Self::close) or a failure
/// before that drops them.
#[derive(Debug)]
pub struct ComponentConnection {
    role: Role,
    settings: Settings,
    state: State,
    /// The component's domain, normalized: from the configuration when
    /// connecting, from the component's header when accepting.
    domain: Option<String>,
    stream_id: Option<String>,
    parser: StreamParser,
    writer: StreamWriter,
    outbox: Outbox<Output>,
    /// Stanzas sent before the stream is online, serialized.
    held: BytesMut,
    error: Option<ComponentError>,
    header_sent: bool,
    close_sent: bool,
    rng: ChaCha20Rng,
    ids: IdGenerator,
    next_token: u64,
    negotiation_deadline: Option<Instant>,
    close_deadline: Option<Instant>,
    last_rx: Instant,
    last_tx: Instant,
}

impl ComponentConnection {
    /// The connecting role: we are the component `config.domain` and the
    /// transport leads to a server. Our stream header is the first output.
    ///
    /// A domain that is not a valid JID domainpart makes the connection
    /// fail at once with [`ComponentError::Protocol`] (reported as
    /// [`Output::Closed`]).
    pub fn connect(config: ComponentConfig, now: Instant) -> Self {
        let settings = Settings {
            keepalive_interval: config.keepalive_interval,
            idle_timeout: config.idle_timeout,
            close_timeout: config.close_timeout,
            max_queued: config.max_queued,
        };
        let mut connection = Self::start(
            Role::Connecting {
                secret: config.secret,
            },
            settings,
            config.limits,
            config.seed,
            config.negotiation_timeout,
            now,
        );
        match BareJid::domain_only(&config.domain) {
            Ok(domain) => {
                connection.domain = Some(domain.as_str().to_owned());
                connection.write_header(now);
            }
            Err(e) => {
                let what = format!("invalid component domain {:?}: {e}", config.domain);
                let _ = connection.fail(now, ComponentError::Protocol(what));
            }
        }
        connection
    }

    /// The accepting role: we are the server and a component connects over
    /// this transport. Nothing is written until its header arrives as
    /// [`Event::Connecting`].
    pub fn accept(config: AcceptConfig, now: Instant) -> Self {
        let settings = Settings {
            keepalive_interval: config.keepalive_interval,
            idle_timeout: config.idle_timeout,
            close_timeout: config.close_timeout,
            max_queued: config.max_queued,
        };
        Self::start(
            Role::Accepting,
            settings,
            config.limits,
            config.seed,
            config.negotiation_timeout,
            now,
        )
    }

    fn start(
        role: Role,
        settings: Settings,
        limits: Limits,
        seed: [u8; 32],
        negotiation_timeout: Duration,
        now: Instant,
    ) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let ids = IdGenerator::new(rng.next_u64());
        Self {
            role,
            settings,
            state: State::AwaitHeader,
            domain: None,
            stream_id: None,
            parser: crate::stream::split_parser(limits),
            writer: StreamWriter::new(),
            outbox: Outbox::new(),
            held: BytesMut::new(),
            error: None,
            header_sent: false,
            close_sent: false,
            rng,
            ids,
            next_token: 0,
            negotiation_deadline: now.checked_add(negotiation_timeout),
            close_deadline: None,
            last_rx: now,
            last_tx: now,
        }
    }

    // ---- getters --------------------------------------------------------

    /// The component's domain: the configured one when connecting, the one
    /// the component asked for when accepting (once its header arrived).
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The stream id, once the server's header has given it (connecting)
    /// or we have generated it (accepting).
    pub fn stream_id(&self) -> Option<&str> {
        self.stream_id.as_deref()
    }

    /// Whether we are the server side of the stream.
    pub fn is_accepting(&self) -> bool {
        matches!(self.role, Role::Accepting)
    }

    /// Whether the handshake succeeded and the stream carries stanzas.
    pub fn is_online(&self) -> bool {
        matches!(self.state, State::Online)
    }

    /// Whether the connection is over.
    pub fn is_closed(&self) -> bool {
        self.outbox.is_closed()
    }

    // ---- input ------------------------------------------------------------

    /// Handles bytes received from the peer (all of them are consumed).
    ///
    /// # Errors
    /// The connection's fatal error, once it has one; the same error is
    /// also reported as [`Output::Closed`].
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), ComponentError> {
        self.check()?;
        if data.is_empty() || matches!(self.state, State::Closed) {
            return Ok(());
        }
        self.last_rx = now;
        self.parser.feed(data);
        loop {
            if self.error.is_some() || matches!(self.state, State::Closed) {
                break;
            }
            match self.parser.next_frame() {
                Ok(Some(frame)) => self.handle_frame(now, frame),
                Ok(None) => break,
                Err(e) => {
                    self.send_stream_error(
                        now,
                        StreamError::new(e.condition()).with_text(e.to_string()),
                    );
                    return self.fail(now, ComponentError::Xml(e));
                }
            }
        }
        self.check()
    }

    /// Handles the end of the transport's input.
    pub fn handle_eof(&mut self, now: Instant) {
        match self.state {
            State::Closed => {}
            State::Closing { .. } => self.finish(CloseReason::Closed),
            _ => {
                let _ = self.fail(now, ComponentError::Eof);
            }
        }
    }

    /// Handles the passing of time; extra calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.error.is_some() || matches!(self.state, State::Closed) {
            return;
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.finish(CloseReason::Closed);
            return;
        }
        if self.negotiation_deadline.is_some_and(|d| now >= d) {
            self.send_stream_error(
                now,
                StreamError::new(StreamErrorCondition::ConnectionTimeout),
            );
            let _ = self.fail(
                now,
                ComponentError::Timeout("the handshake did not finish in time"),
            );
            return;
        }
        if !matches!(self.state, State::Online) {
            return;
        }
        if self.idle_deadline().is_some_and(|d| now >= d) {
            self.send_stream_error(
                now,
                StreamError::new(StreamErrorCondition::ConnectionTimeout),
            );
            let _ = self.fail(
                now,
                ComponentError::Timeout("the peer sent nothing for too long"),
            );
            return;
        }
        if self.keepalive_due().is_some_and(|d| now >= d) {
            // Whitespace between top-level elements: Prosody and ejabberd
            // take it as a keepalive.
            self.outbox.buf().put_u8(b' ');
            self.last_tx = now;
        }
    }

    // ---- mutators ---------------------------------------------------------

    /// Accepting role: lets the component that announced itself with
    /// [`Event::Connecting`] in, if its handshake proves `secret`. Our
    /// header goes out with a fresh random stream id; a matching handshake
    /// brings [`Event::Online`], a wrong one closes the stream with
    /// `not-authorized` and [`ComponentError::HandshakeFailed`].
    ///
    /// # Errors
    /// The connection's fatal error, if it has one; otherwise
    /// [`ComponentError::Protocol`] when no component waits for a decision
    /// (the connection is left as it was).
    pub fn accept_component(&mut self, now: Instant, secret: &str) -> Result<(), ComponentError> {
        self.expect_decision()?;
        self.ensure_header(now);
        let expected = handshake_digest(self.stream_id.as_deref().unwrap_or_default(), secret);
        self.state = State::AwaitHandshake { expected };
        Ok(())
    }

    /// Accepting role: refuses the component that announced itself with
    /// [`Event::Connecting`]: our header, `<stream:error>` with `condition`
    /// (typically `host-unknown`, or `conflict` when it is already
    /// connected) and `</stream:stream>` go out, and the connection closes
    /// with [`ComponentError::Rejected`].
    ///
    /// # Errors
    /// As [`accept_component`](Self::accept_component).
    pub fn reject(
        &mut self,
        now: Instant,
        condition: StreamErrorCondition,
    ) -> Result<(), ComponentError> {
        self.expect_decision()?;
        self.send_stream_error(now, StreamError::new(condition));
        let _ = self.fail(now, ComponentError::Rejected(condition));
        Ok(())
    }

    /// Sends a stanza, or queues it until the stream is online. It must
    /// carry `from` and `to` (XEP-0114); in the connecting role `from` must
    /// be at the component's domain. A stanza without id gets a unique one.
    ///
    /// # Errors
    /// [`SendError`] if the connection is closed or closing, an address is
    /// missing or foreign, the stanza is unwritable, or it would take the
    /// bytes waiting beyond `max_queued`; nothing is sent then.
    pub fn send(
        &mut self,
        now: Instant,
        stanza: impl Into<Stanza>,
    ) -> Result<StanzaToken, SendError> {
        self.try_send(now, stanza.into())
            .map_err(|(error, _)| error)
    }

    /// [`send`](Self::send), giving a refused stanza back (for a router
    /// that answers its sender with an error instead of losing it).
    ///
    /// # Errors
    /// As [`send`](Self::send), with the stanza.
    pub fn try_send(
        &mut self,
        now: Instant,
        mut stanza: Stanza,
    ) -> Result<StanzaToken, (SendError, Box<Stanza>)> {
        if self.error.is_some() || matches!(self.state, State::Closing { .. } | State::Closed) {
            return Err((SendError::Closed, Box::new(stanza)));
        }
        let (Some(from), Some(_)) = (stanza.sender(), stanza.recipient()) else {
            return Err((SendError::MissingAddress, Box::new(stanza)));
        };
        if matches!(self.role, Role::Connecting { .. })
            && self.domain.as_deref() != Some(from.domain())
        {
            return Err((SendError::InvalidFrom, Box::new(stanza)));
        }
        stanza.assign_id(&mut self.ids);
        let waiting = self.waiting();
        let online = matches!(self.state, State::Online);
        let target = if online {
            self.outbox.buf()
        } else {
            &mut self.held
        };
        let start = target.len();
        let written = self
            .writer
            .write_stanza(&stanza, StreamNamespace::ComponentAccept, target);
        if let Err(e) = written {
            return Err((SendError::Unwritable(e), Box::new(stanza)));
        }
        let len = target.len().saturating_sub(start);
        if waiting.saturating_add(len) > self.settings.max_queued {
            target.truncate(start);
            return Err((SendError::QueueFull(waiting), Box::new(stanza)));
        }
        if online {
            self.last_tx = now;
        }
        let token = StanzaToken(self.next_token);
        self.next_token += 1;
        Ok(token)
    }

    /// Ends the stream with a stream error (RFC 6120 section 4.9): the
    /// error and the stream close go out, and the connection ends with
    /// [`ComponentError::StreamErrorSent`]. For a peer that must go
    /// (`conflict`, `system-shutdown`, ...).
    pub fn close_with_error(&mut self, now: Instant, error: StreamError) {
        if self.error.is_some() || matches!(self.state, State::Closed) {
            return;
        }
        self.send_stream_error(now, error.clone());
        let _ = self.fail(now, ComponentError::StreamErrorSent(error));
    }

    /// Closes the stream: sends `</stream:stream>` and waits (bounded by
    /// the close timeout) for the peer's. Stanzas still queued for the
    /// handshake are dropped.
    pub fn close(&mut self, now: Instant) {
        if self.error.is_some() || matches!(self.state, State::Closing { .. } | State::Closed) {
            return;
        }
        let online = matches!(self.state, State::Online);
        self.write_close(now);
        self.held.clear();
        self.state = State::Closing { online };
        self.negotiation_deadline = None;
        self.close_deadline = now.checked_add(self.settings.close_timeout);
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
        let online = matches!(self.state, State::Online);
        [
            self.negotiation_deadline,
            self.close_deadline,
            self.idle_deadline().filter(|_| online),
            self.keepalive_due().filter(|_| online),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- internals --------------------------------------------------------

    fn idle_deadline(&self) -> Option<Instant> {
        self.last_rx.checked_add(self.settings.idle_timeout)
    }

    fn keepalive_due(&self) -> Option<Instant> {
        self.last_tx.checked_add(self.settings.keepalive_interval)
    }

    /// Bytes waiting for the caller or for the stream to come online.
    fn waiting(&self) -> usize {
        self.outbox.pending_bytes().saturating_add(self.held.len())
    }

    fn check(&self) -> Result<(), ComponentError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn expect_decision(&self) -> Result<(), ComponentError> {
        self.check()?;
        if matches!(self.state, State::AwaitDecision) {
            Ok(())
        } else {
            Err(ComponentError::Protocol(
                "no component stream is waiting for a decision".into(),
            ))
        }
    }

    fn fail(&mut self, _now: Instant, error: ComponentError) -> Result<(), ComponentError> {
        if self.error.is_none() {
            self.error = Some(error.clone());
            self.finish(CloseReason::Error(error.clone()));
        }
        Err(error)
    }

    /// Ends the connection: `Closed` is emitted once, after the bytes written.
    fn finish(&mut self, reason: CloseReason) {
        if self.outbox.close(Output::Closed(reason)) {
            self.state = State::Closed;
            self.held.clear();
        }
    }

    fn event(&mut self, event: Event) {
        self.outbox.push(Output::Event(event));
    }

    /// Whether nothing more may be written: our stream is closed.
    fn write_closed(&self) -> bool {
        self.close_sent || matches!(self.state, State::Closed)
    }

    /// Writes our stream header. XEP-0114 streams carry no `version`.
    fn write_header(&mut self, now: Instant) {
        if self.header_sent || self.write_closed() {
            return;
        }
        let header = match self.role {
            Role::Connecting { .. } => StreamHeader {
                to: self.domain.clone(),
                version: None,
                ..StreamHeader::new(Framing::Stream, StreamNamespace::ComponentAccept)
            },
            Role::Accepting => {
                let mut id = [0u8; STREAM_ID_BYTES];
                self.rng.fill_bytes(&mut id);
                let id = hex(&id);
                self.stream_id = Some(id.clone());
                StreamHeader {
                    from: self.domain.clone(),
                    id: Some(id),
                    version: None,
                    ..StreamHeader::new(Framing::Stream, StreamNamespace::ComponentAccept)
                }
            }
        };
        // The domain is a normalized JID domainpart and the id is hex:
        // nothing XML cannot carry, so this cannot fail.
        if self.writer.write_header(&header, self.outbox.buf()).is_ok() {
            self.header_sent = true;
            self.last_tx = now;
        }
    }

    /// Accepting role: our header, if it is not out yet (a stream error or
    /// close must follow a header, RFC 6120 section 4.7.1).
    fn ensure_header(&mut self, now: Instant) {
        if matches!(self.role, Role::Accepting) {
            self.write_header(now);
        }
    }

    fn write(&mut self, now: Instant, element: &Element) {
        if !self.header_sent || self.write_closed() {
            return;
        }
        // Our own elements and error replies built from parsed ones are
        // always writable; should one not be, nothing is written.
        if self
            .writer
            .write_element(element, self.outbox.buf())
            .is_ok()
        {
            self.last_tx = now;
        }
    }

    fn write_close(&mut self, now: Instant) {
        self.ensure_header(now);
        if !self.header_sent || self.write_closed() {
            return;
        }
        self.writer.write_close(self.outbox.buf());
        self.close_sent = true;
        self.last_tx = now;
    }

    fn send_stream_error(&mut self, now: Instant, error: StreamError) {
        self.ensure_header(now);
        self.write(now, &error.to_element());
        self.write_close(now);
    }

    /// Answers a violation with a stream error and fails.
    fn violation(&mut self, now: Instant, condition: StreamErrorCondition, what: String) {
        self.send_stream_error(now, StreamError::new(condition).with_text(what.clone()));
        let _ = self.fail(now, ComponentError::Protocol(what));
    }

    fn handle_frame(&mut self, now: Instant, frame: Frame) {
        match frame {
            Frame::Header(header) => self.handle_header(now, &header),
            Frame::Element(element) => {
                if StreamError::matches(&element) {
                    let error = StreamError::parse(&element).unwrap_or_else(|_| {
                        StreamError::new(StreamErrorCondition::UndefinedCondition)
                    });
                    self.handle_stream_error(now, error);
                } else {
                    self.handle_element(now, element);
                }
            }
            Frame::Stanza(parts) => match self.state {
                // Online, a stanza is typed straight from its parts.
                State::Online | State::Closing { online: true } => self.handle_stanza(now, parts),
                _ => self.handle_element(now, parts.into_element()),
            },
            Frame::Keepalive => {}
            Frame::Close => {
                if matches!(self.state, State::Closing { .. }) {
                    self.finish(CloseReason::Closed);
                } else {
                    self.write_close(now);
                    self.finish(CloseReason::PeerClosed);
                }
            }
        }
    }

    fn handle_stream_error(&mut self, now: Instant, error: StreamError) {
        let condition = error.condition;
        let error = match (&self.role, &self.state) {
            (Role::Connecting { .. }, State::AwaitHandshakeReply)
                if condition == StreamErrorCondition::NotAuthorized =>
            {
                ComponentError::HandshakeFailed
            }
            (
                Role::Connecting { .. },
                State::AwaitHeader
                | State::NoStreamId
                | State::AwaitHandshakeReply
                | State::Closing { online: false },
            ) => ComponentError::Rejected(condition),
            _ => ComponentError::StreamError(error),
        };
        let _ = self.fail(now, error);
    }

    fn handle_header(&mut self, now: Instant, header: &StreamHeader) {
        if matches!(self.state, State::Closing { .. }) {
            // The peer's answer to a stream we are already closing.
            return;
        }
        if !matches!(self.state, State::AwaitHeader) {
            return self.violation(
                now,
                StreamErrorCondition::BadFormat,
                "a second stream header".into(),
            );
        }
        if header.framing != Framing::Stream || header.namespace != StreamNamespace::ComponentAccept
        {
            return self.violation(
                now,
                StreamErrorCondition::InvalidNamespace,
                "the stream is not jabber:component:accept".into(),
            );
        }
        match &self.role {
            Role::Connecting { secret } => {
                let Some(id) = header.id.as_deref().filter(|id| !id.is_empty()) else {
                    self.state = State::NoStreamId;
                    return;
                };
                let digest = handshake_digest(id, secret);
                self.stream_id = Some(id.to_owned());
                let handshake = crate::ext::text_element("handshake", ns::COMPONENT_ACCEPT, digest);
                self.write(now, &handshake);
                self.state = State::AwaitHandshakeReply;
            }
            Role::Accepting => {
                let domain = header
                    .to
                    .as_deref()
                    .and_then(|to| BareJid::domain_only(to).ok());
                let Some(domain) = domain else {
                    return self.violation(
                        now,
                        StreamErrorCondition::HostUnknown,
                        "the header names no valid component domain in 'to'".into(),
                    );
                };
                let domain = domain.as_str().to_owned();
                self.domain = Some(domain.clone());
                self.state = State::AwaitDecision;
                self.event(Event::Connecting { domain });
            }
        }
    }

    fn handle_element(&mut self, now: Instant, element: Element) {
        let name = element.name().to_owned();
        let state = std::mem::replace(&mut self.state, State::Closed);
        match state {
            State::AwaitHandshakeReply if is_empty_handshake(&element) => self.go_online(now),
            State::AwaitHandshake { expected } if is_handshake(&element) => {
                let given = element.text().trim().to_ascii_lowercase();
                let matches: bool = given.as_bytes().ct_eq(expected.as_bytes()).into();
                if matches && element.children().next().is_none() {
                    self.go_online(now);
                } else {
                    self.state = State::AwaitHandshake { expected };
                    self.send_stream_error(
                        now,
                        StreamError::new(StreamErrorCondition::NotAuthorized),
                    );
                    let _ = self.fail(now, ComponentError::HandshakeFailed);
                }
            }
            State::Online | State::Closing { online: true } => {
                self.state = state;
                match StanzaParts::from_element(element) {
                    Ok(parts) => self.handle_stanza(now, parts),
                    Err(element) => {
                        let what = format!("unsupported top-level element <{}/>", element.name());
                        self.violation(now, StreamErrorCondition::UnsupportedStanzaType, what);
                    }
                }
            }
            State::Closing { online: false } => self.state = state,
            State::NoStreamId => {
                self.state = state;
                self.violation(
                    now,
                    StreamErrorCondition::InvalidXml,
                    "the server's header carries no stream id".into(),
                );
            }
            other => {
                self.state = other;
                let condition = match self.role {
                    Role::Connecting { .. } => StreamErrorCondition::UnsupportedStanzaType,
                    Role::Accepting => StreamErrorCondition::NotAuthorized,
                };
                self.violation(
                    now,
                    condition,
                    format!("unexpected <{name}/> before the handshake"),
                );
            }
        }
    }

    fn go_online(&mut self, now: Instant) {
        self.state = State::Online;
        self.negotiation_deadline = None;
        self.parser.set_authenticated(true);
        if matches!(self.role, Role::Accepting) {
            self.write(now, &Element::bare("handshake", ns::COMPONENT_ACCEPT));
        }
        if !self.held.is_empty() {
            let held = self.held.split();
            self.outbox.buf().unsplit(held);
            self.last_tx = now;
        }
        let domain = self.domain.clone().unwrap_or_default();
        self.event(Event::Online { domain });
    }

    fn handle_stanza(&mut self, now: Instant, parts: StanzaParts) {
        let name = parts.name.as_str();
        match Stanza::try_from(parts) {
            // The addresses are parsed once, by the typing.
            Ok(stanza) => match self.misaddressed(name, stanza.sender(), stanza.recipient()) {
                Some((condition, what)) => self.violation(now, condition, what),
                None => self.event(Event::Stanza(stanza)),
            },
            Err(e) => {
                let address =
                    |attr| crate::ext::attr(&e.element, attr).and_then(|v| v.parse().ok());
                let (from, to): (Option<Jid>, Option<Jid>) = (address("from"), address("to"));
                if let Some((condition, what)) = self.misaddressed(name, from.as_ref(), to.as_ref())
                {
                    return self.violation(now, condition, what);
                }
                // Well-formed but invalid: a stanza error, never a stream kill.
                if let Some(reply) = e.error_reply() {
                    self.write(now, &reply);
                }
            }
        }
    }

    /// What is wrong with the addresses of a stanza named `name`, if
    /// anything. XEP-0114: every stanza carries `from` and `to`; without
    /// them (or with malformed ones, given here as missing) it cannot be
    /// routed, nor answered. An accepted component sends only from its own
    /// domain.
    fn misaddressed(
        &self,
        name: &str,
        from: Option<&Jid>,
        to: Option<&Jid>,
    ) -> Option<(StreamErrorCondition, String)> {
        let (Some(from), Some(_)) = (from, to) else {
            let what = format!("a <{name}/> without a valid 'from' and 'to'");
            return Some((StreamErrorCondition::ImproperAddressing, what));
        };
        if matches!(self.role, Role::Accepting) && self.domain.as_deref() != Some(from.domain()) {
            let what = format!("'from' {from} is not at the component's domain");
            return Some((StreamErrorCondition::InvalidFrom, what));
        }
        None
    }
}
