//! The [`ServerConnection`] state machine.

use std::fmt::Write as _;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use minidom::Element;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use super::{
    AcceptConfig, CloseReason, Event, ListenConfig, Output, SendError, ServerError, TlsPolicy,
};
use crate::client::{ResumeState, TlsInfo};
use crate::ext::{self, Payload, sm};
use crate::jid::{FullJid, Jid};
use crate::ns;
use crate::sasl::{ChannelBinding, Failure, Mechanism, SaslCondition, SaslServer, ServerStep};
use crate::stanza::{DefinedCondition, Iq, IqKind, Stanza, StanzaError};
use crate::stream::outbox::Outbox;
use crate::stream::sm::{Inbound, Outbound};
use crate::stream::{StanzaToken, StreamError, StreamErrorCondition};
use crate::xml::{Frame, Framing, StreamHeader, StreamNamespace, StreamParser, StreamWriter};

const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
const NS_SASL_CB: &str = "urn:xmpp:sasl-cb:0";

#[derive(Debug)]
enum State {
    /// Waiting for the client's first header.
    AwaitHeader,
    /// `Event::Header` emitted; waiting for `accept` or `reject`.
    AwaitAccept,
    /// Waiting for the header of a restarted stream.
    AwaitRestart,
    /// Features sent; waiting for `<starttls/>` or `<auth/>`.
    PreAuth,
    /// `StartTls` emitted; waiting for `tls_established`.
    TlsHandshake,
    /// Inside a SASL exchange.
    Sasl(Box<SaslServer>),
    /// Authenticated; waiting for bind or resume.
    AwaitBind,
    /// `Event::Bind` emitted; waiting for `complete_bind`.
    Binding { iq: Box<Iq> },
    /// `Event::Resume` emitted; waiting for `complete_resume`.
    Resuming { h: u32 },
    /// Stanzas flow.
    Online,
    /// Our `</stream:stream>` is sent.
    Closing,
    /// Over.
    Closed,
    /// Placeholder while an element is being dispatched.
    Dispatching,
}

#[derive(Debug)]
struct Sm {
    outbound: Outbound,
    inbound: Inbound,
    id: String,
}

/// The server side of a client stream (sans-IO). Same contract as
/// [`ClientConnection`](crate::ClientConnection): after every call, drain
/// [`poll_output`](Self::poll_output), then arm a timer for
/// [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct ServerConnection {
    accept: Option<AcceptConfig>,
    state: State,
    parser: StreamParser,
    writer: StreamWriter,
    /// The framing of the client's first header; ours follows it.
    framing: Framing,
    outbox: Outbox<Output>,
    error: Option<ServerError>,
    tls: Option<TlsInfo>,
    rng: ChaCha20Rng,
    stream_id: String,
    username: Option<String>,
    auth_failures: u32,
    jid: Option<FullJid>,
    sm: Option<Sm>,
    next_token: u64,
    negotiation_deadline: Option<Instant>,
    close_deadline: Option<Instant>,
}

impl ServerConnection {
    /// A connection waiting for a client's stream header.
    pub fn new(listen: ListenConfig, now: Instant) -> Self {
        let rng = ChaCha20Rng::from_seed(listen.seed);
        Self {
            parser: StreamParser::new(listen.limits.clone()),
            tls: listen.direct_tls.clone(),
            negotiation_deadline: Some(now + listen.negotiation_timeout),
            accept: None,
            state: State::AwaitHeader,
            writer: StreamWriter::new(),
            framing: Framing::Stream,
            outbox: Outbox::new(),
            error: None,
            rng,
            stream_id: String::new(),
            username: None,
            auth_failures: 0,
            jid: None,
            sm: None,
            next_token: 0,
            close_deadline: None,
        }
    }

    /// The bound address, once online.
    pub fn jid(&self) -> Option<&FullJid> {
        self.jid.as_ref()
    }

    /// Whether the stream carries stanzas.
    pub fn is_online(&self) -> bool {
        matches!(self.state, State::Online)
    }

    /// Whether the connection is over.
    pub fn is_closed(&self) -> bool {
        self.outbox.is_closed()
    }

    /// The authenticated username, once authenticated.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    // ---- input ----------------------------------------------------------

    /// Handles bytes from the client.
    ///
    /// # Errors
    /// The connection's fatal error once it has one (also reported as
    /// [`Output::Closed`]).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), ServerError> {
        self.check()?;
        if matches!(self.state, State::TlsHandshake) && !data.is_empty() {
            return self.fail(ServerError::StartTlsInjection);
        }
        self.parser.feed(data);
        loop {
            if self.error.is_some()
                || matches!(
                    self.state,
                    State::Closed
                        | State::TlsHandshake
                        | State::AwaitAccept
                        | State::Binding { .. }
                        | State::Resuming { .. }
                )
            {
                break;
            }
            match self.parser.next_frame() {
                Ok(Some(frame)) => self.handle_frame(now, frame),
                Ok(None) => break,
                Err(e) => {
                    let error = StreamError::new(e.condition()).with_text(e.to_string());
                    self.send_stream_error(&error);
                    return self.fail(ServerError::Xml(e));
                }
            }
        }
        self.check()
    }

    /// Handles the end of the client's input.
    pub fn handle_eof(&mut self, _now: Instant) {
        match self.state {
            State::Closed => {}
            State::Closing => self.finish(CloseReason::Closed),
            _ => {
                let _ = self.fail(ServerError::Eof);
            }
        }
    }

    /// Handles the passing of time.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.error.is_some() || matches!(self.state, State::Closed) {
            return;
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.finish(CloseReason::Closed);
        } else if self.negotiation_deadline.is_some_and(|d| now >= d) {
            let error = StreamError::new(StreamErrorCondition::ConnectionTimeout);
            self.send_stream_error(&error);
            let _ = self.fail(ServerError::Timeout(
                "the client did not finish negotiating in time",
            ));
        }
    }

    /// The TLS handshake requested by [`Output::StartTls`] succeeded.
    ///
    /// # Errors
    /// [`ServerError::Misuse`] if none was requested.
    pub fn tls_established(&mut self, now: Instant, info: TlsInfo) -> Result<(), ServerError> {
        self.check()?;
        if !matches!(self.state, State::TlsHandshake) {
            return self.fail(ServerError::Misuse("TLS established without STARTTLS"));
        }
        self.tls = Some(info);
        self.parser.reset();
        self.state = State::AwaitRestart;
        self.handle_input(now, &[])
    }

    // ---- the application's answers --------------------------------------

    /// Accepts the stream announced by [`Event::Header`].
    ///
    /// # Errors
    /// [`ServerError::Misuse`] if no header is waiting for an answer; the
    /// connection's fatal error if the configuration cannot serve this
    /// stream ([`ServerError::Sent`] with `policy-violation` for
    /// [`TlsPolicy::Required`] over WebSocket framing without TLS).
    pub fn accept(&mut self, now: Instant, config: AcceptConfig) -> Result<(), ServerError> {
        self.check()?;
        if !matches!(self.state, State::AwaitAccept) {
            return self.fail(ServerError::Misuse(
                "accept without a pending stream header",
            ));
        }
        self.accept = Some(config);
        self.open_stream();
        self.handle_input(now, &[])
    }

    /// Rejects the stream announced by [`Event::Header`] with `condition`
    /// (such as `host-unknown`); the stream closes.
    pub fn reject(&mut self, _now: Instant, condition: StreamErrorCondition) {
        if self.error.is_some() || !matches!(self.state, State::AwaitAccept) {
            return;
        }
        self.write_header("");
        let error = StreamError::new(condition);
        self.send_stream_error(&error);
        let _ = self.fail(ServerError::Rejected(condition));
    }

    /// Answers [`Event::Bind`]: `Ok(jid)` binds it, `Err(condition)` (such as
    /// `conflict` or `not-allowed`) refuses with a stanza error; the client
    /// may try again.
    ///
    /// # Errors
    /// [`ServerError::Misuse`] if no bind request is waiting.
    pub fn complete_bind(
        &mut self,
        now: Instant,
        result: Result<FullJid, DefinedCondition>,
    ) -> Result<(), ServerError> {
        self.check()?;
        let State::Binding { iq } = std::mem::replace(&mut self.state, State::AwaitBind) else {
            return self.fail(ServerError::Misuse("complete_bind without a bind request"));
        };
        match result {
            Ok(jid) => {
                let mut bind = Element::bare("bind", ns::BIND);
                bind.append_child(ext::text_element("jid", ns::BIND, jid.as_str()));
                let reply = Iq::result_for(&iq, Some(bind));
                self.write_stanza(&Stanza::Iq(reply));
                self.jid = Some(jid.clone());
                self.state = State::Online;
                self.negotiation_deadline = None;
                self.event(Event::Online {
                    jid,
                    resumed: false,
                });
            }
            Err(condition) => {
                if let Some(reply) = iq.error_reply(StanzaError::new(condition)) {
                    self.write_stanza(&Stanza::Iq(reply));
                }
            }
        }
        self.handle_input(now, &[])
    }

    /// Answers [`Event::Resume`] with the state the earlier connection left
    /// ([`take_resume_state`](Self::take_resume_state)), or `None` if the
    /// session is unknown or expired (the client then binds afresh).
    ///
    /// # Errors
    /// [`ServerError::Misuse`] if no resume request is waiting.
    pub fn complete_resume(
        &mut self,
        now: Instant,
        state: Option<ResumeState>,
    ) -> Result<(), ServerError> {
        self.check()?;
        let State::Resuming { h } = std::mem::replace(&mut self.state, State::AwaitBind) else {
            return self.fail(ServerError::Misuse(
                "complete_resume without a resume request",
            ));
        };
        let Some(state) = state else {
            let failed = sm::Failed {
                h: None,
                condition: Some(DefinedCondition::ItemNotFound),
            };
            self.write(&failed.to_element());
            return self.handle_input(now, &[]);
        };
        let max = self
            .accept
            .as_ref()
            .map_or(1000, |a| a.max_unacked)
            .max(state.unacked.len());
        let mut outbound = Outbound::starting_at(state.outbound_acked, max);
        for (token, stanza) in state.unacked {
            let _ = outbound.sent(token, stanza);
        }
        if let Err(e) = outbound.ack(h) {
            let error =
                StreamError::new(StreamErrorCondition::UndefinedCondition).with_text(e.to_string());
            self.send_stream_error(&error);
            return self.fail(ServerError::Sm(e));
        }
        let resumed = sm::Resumed {
            h: state.inbound,
            previd: state.id.clone(),
        };
        self.write(&resumed.to_element());
        let retransmit = outbound.take_unacked();
        self.sm = Some(Sm {
            outbound,
            inbound: Inbound::starting_at(state.inbound),
            id: state.id,
        });
        self.next_token = state.next_token;
        self.jid = Some(state.jid.clone());
        self.state = State::Online;
        self.negotiation_deadline = None;
        for (token, stanza) in retransmit {
            self.transmit(token, stanza);
        }
        self.event(Event::Online {
            jid: state.jid,
            resumed: true,
        });
        self.handle_input(now, &[])
    }

    // ---- mutators ---------------------------------------------------------

    /// Sends a stanza to the client.
    ///
    /// # Errors
    /// [`SendError::NotOnline`] before binding or after the end;
    /// [`SendError::QueueFull`] when the client does not read (the
    /// connection then closes with `resource-constraint`).
    pub fn send(
        &mut self,
        _now: Instant,
        stanza: impl Into<Stanza>,
    ) -> Result<StanzaToken, SendError> {
        if !matches!(self.state, State::Online) || self.error.is_some() {
            return Err(SendError::NotOnline);
        }
        let (max_unacked, max_bytes) = self
            .accept
            .as_ref()
            .map_or((1000, 1 << 20), |a| (a.max_unacked, a.max_outbound_bytes));
        let waiting_bytes = self.outbox.pending_bytes();
        let unacked = self.sm.as_ref().map_or(0, |s| s.outbound.outstanding());
        if waiting_bytes > max_bytes || unacked >= max_unacked {
            let error = StreamError::new(StreamErrorCondition::ResourceConstraint)
                .with_text("the client does not read its stream");
            self.send_stream_error(&error);
            let _ = self.fail(ServerError::Sent(error));
            return Err(SendError::QueueFull(waiting_bytes.max(unacked)));
        }
        let stanza = stanza.into();
        let element = stanza.to_element_in(StreamNamespace::Client);
        let start = self.outbox.buf().len();
        if let Err(e) = self.writer.write_element(&element, self.outbox.buf()) {
            self.outbox.buf().truncate(start);
            return Err(SendError::Unwritable(e));
        }
        let token = StanzaToken(self.next_token);
        self.next_token += 1;
        if let Some(sm) = &mut self.sm {
            let _ = sm.outbound.sent(token, stanza);
        }
        Ok(token)
    }

    /// Closes the stream: sends `</stream:stream>` (`<close/>` in
    /// WebSocket framing) and waits briefly for the client's.
    pub fn close(&mut self, now: Instant) {
        if self.error.is_some() || matches!(self.state, State::Closing | State::Closed) {
            return;
        }
        self.writer.write_close(self.outbox.buf());
        self.state = State::Closing;
        self.close_deadline = Some(now + std::time::Duration::from_secs(5));
    }

    /// Takes what a later connection of this client needs to resume the
    /// session: give it to [`complete_resume`](Self::complete_resume).
    pub fn take_resume_state(&mut self) -> Option<ResumeState> {
        let jid = self.jid.clone()?;
        let sm = self.sm.as_mut()?;
        Some(ResumeState {
            id: sm.id.clone(),
            location: None,
            jid,
            inbound: sm.inbound.handled(),
            outbound_acked: sm.outbound.acked(),
            unacked: sm.outbound.take_unacked(),
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
        match (self.negotiation_deadline, self.close_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- internals --------------------------------------------------------

    fn check(&self) -> Result<(), ServerError> {
        self.error.clone().map_or(Ok(()), Err)
    }

    fn fail(&mut self, error: ServerError) -> Result<(), ServerError> {
        if self.error.is_none() {
            self.error = Some(error.clone());
            self.finish(CloseReason::Error(error.clone()));
        }
        Err(error)
    }

    fn finish(&mut self, reason: CloseReason) {
        if self.outbox.close(Output::Closed(reason)) {
            self.state = State::Closed;
        }
    }

    fn event(&mut self, event: Event) {
        self.outbox.push(Output::Event(event));
    }

    fn random_id(&mut self, bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        self.rng.fill_bytes(&mut buf);
        let mut id = String::with_capacity(bytes * 2);
        for b in buf {
            let _ = write!(id, "{b:02x}");
        }
        id
    }

    fn write(&mut self, element: &Element) {
        let start = self.outbox.buf().len();
        if self
            .writer
            .write_element(element, self.outbox.buf())
            .is_err()
        {
            self.outbox.buf().truncate(start);
        }
    }

    fn write_stanza(&mut self, stanza: &Stanza) {
        let element = stanza.to_element_in(StreamNamespace::Client);
        self.write(&element);
    }

    fn write_header(&mut self, domain: &str) {
        if self.stream_id.is_empty() || matches!(self.state, State::AwaitRestart) {
            self.stream_id = self.random_id(16);
        }
        let header = StreamHeader {
            from: (!domain.is_empty()).then(|| domain.to_owned()),
            id: Some(self.stream_id.clone()),
            ..StreamHeader::new(self.framing, StreamNamespace::Client)
        };
        let _ = self.writer.write_header(&header, self.outbox.buf());
    }

    fn send_stream_error(&mut self, error: &StreamError) {
        if self.stream_id.is_empty() && matches!(self.state, State::AwaitHeader) {
            // RFC 6120 section 4.9.1.2: open a stream first if none was.
            self.write_header("");
        }
        self.write(&error.to_element());
        self.writer.write_close(self.outbox.buf());
    }

    fn stream_error(&mut self, condition: StreamErrorCondition, text: &str) {
        let error = StreamError::new(condition).with_text(text);
        self.send_stream_error(&error);
        let _ = self.fail(ServerError::Sent(error));
    }

    fn handle_frame(&mut self, now: Instant, frame: Frame) {
        match frame {
            Frame::Header(header) => self.handle_header(&header),
            Frame::Element(element) => {
                if StreamError::matches(&element) {
                    let error = StreamError::parse(&element).unwrap_or_else(|_| {
                        StreamError::new(StreamErrorCondition::UndefinedCondition)
                    });
                    let _ = self.fail(ServerError::Received(error));
                } else {
                    self.handle_element(now, element);
                }
            }
            Frame::Keepalive => {}
            Frame::Close => {
                if matches!(self.state, State::Closing) {
                    self.finish(CloseReason::Closed);
                } else {
                    self.writer.write_close(self.outbox.buf());
                    self.finish(CloseReason::PeerClosed);
                }
            }
        }
    }

    fn handle_header(&mut self, header: &StreamHeader) {
        if matches!(self.state, State::AwaitHeader) {
            // Our header, features and close follow the client's framing.
            self.framing = header.framing;
        } else if header.framing != self.framing {
            return self.stream_error(
                StreamErrorCondition::InvalidNamespace,
                "a restarted stream must keep its framing",
            );
        }
        if header.namespace != StreamNamespace::Client {
            self.write_header("");
            return self.stream_error(
                StreamErrorCondition::InvalidNamespace,
                "expected jabber:client",
            );
        }
        match self.state {
            State::AwaitHeader => {
                self.state = State::AwaitAccept;
                self.event(Event::Header {
                    to: header.to.clone(),
                    from: header.from.clone(),
                });
            }
            State::AwaitRestart => self.open_stream(),
            _ => self.stream_error(
                StreamErrorCondition::InvalidXml,
                "a stream header inside the stream",
            ),
        }
    }

    /// Sends our header and the features for where the negotiation stands.
    fn open_stream(&mut self) {
        let Some(config) = self.accept.clone() else {
            return self.stream_error(
                StreamErrorCondition::InternalServerError,
                "no stream configuration",
            );
        };
        self.write_header(&config.domain);
        let websocket = self.framing == Framing::WebSocket;
        if websocket && self.tls.is_none() && config.tls == TlsPolicy::Required {
            // RFC 7395 section 3.1: no STARTTLS over WebSocket, so the
            // policy cannot be met on this transport (`ws://`, not `wss://`).
            return self.stream_error(
                StreamErrorCondition::PolicyViolation,
                "TLS is required: connect with wss://",
            );
        }
        let mut features = Element::bare("features", ns::STREAM);
        if self.username.is_none() {
            let tls_needed = !websocket && self.tls.is_none() && config.tls != TlsPolicy::Disabled;
            if tls_needed {
                let mut starttls = Element::bare("starttls", ns::TLS);
                if config.tls == TlsPolicy::Required {
                    starttls.append_child(Element::bare("required", ns::TLS));
                }
                features.append_child(starttls);
            }
            if !(tls_needed && config.tls == TlsPolicy::Required) {
                let mut mechanisms = Element::bare("mechanisms", ns::SASL);
                for m in self.offered_mechanisms(&config) {
                    mechanisms.append_child(ext::text_element("mechanism", ns::SASL, m.as_str()));
                }
                features.append_child(mechanisms);
                let bindings = self.bindings();
                if !bindings.is_empty() {
                    let mut cb = Element::bare("sasl-channel-binding", NS_SASL_CB);
                    for b in bindings {
                        let mut e = Element::bare("channel-binding", NS_SASL_CB);
                        ext::set_attr(&mut e, "type", b.kind.as_str());
                        cb.append_child(e);
                    }
                    features.append_child(cb);
                }
            }
            self.state = State::PreAuth;
        } else {
            features.append_child(Element::bare("bind", ns::BIND));
            let mut session = Element::bare("session", NS_SESSION);
            session.append_child(Element::bare("optional", NS_SESSION));
            features.append_child(session);
            if config.stream_management {
                features.append_child(sm::Feature.to_element());
            }
            self.state = State::AwaitBind;
        }
        self.write(&features);
    }

    fn bindings(&self) -> &[ChannelBinding] {
        self.tls
            .as_ref()
            .map_or(&[], |t| t.channel_bindings.as_slice())
    }

    fn offered_mechanisms(&self, config: &AcceptConfig) -> Vec<Mechanism> {
        let can_bind = !self.bindings().is_empty();
        config
            .mechanisms
            .iter()
            .copied()
            .filter(|m| !m.is_plus() || can_bind)
            .filter(|m| *m != Mechanism::Plain || self.tls.is_some())
            .collect()
    }

    fn handle_element(&mut self, now: Instant, element: Element) {
        let state = std::mem::replace(&mut self.state, State::Dispatching);
        match state {
            State::PreAuth
                if element.is("starttls", ns::TLS) && self.framing == Framing::WebSocket =>
            {
                self.state = State::PreAuth;
                self.stream_error(
                    StreamErrorCondition::PolicyViolation,
                    "no STARTTLS over WebSocket (RFC 7395): connect with wss://",
                );
            }
            State::PreAuth if element.is("starttls", ns::TLS) && self.tls.is_none() => {
                self.write(&Element::bare("proceed", ns::TLS));
                if self.parser.buffered_len() > 0 {
                    self.state = State::PreAuth;
                    let _ = self.fail(ServerError::StartTlsInjection);
                    return;
                }
                self.state = State::TlsHandshake;
                self.outbox.push(Output::StartTls);
            }
            State::PreAuth if element.is("auth", ns::SASL) => self.start_sasl(&element),
            State::Sasl(server) => self.continue_sasl(server, &element),
            State::AwaitBind => self.handle_bind_request(element),
            State::Online | State::Closing => {
                self.state = state;
                self.handle_online(now, element);
            }
            other => {
                self.state = other;
                let condition = if self.username.is_none() {
                    StreamErrorCondition::NotAuthorized
                } else {
                    StreamErrorCondition::UnsupportedStanzaType
                };
                self.stream_error(condition, "unexpected element during negotiation");
            }
        }
    }

    fn sasl_failure(&mut self, condition: SaslCondition, error: crate::sasl::SaslError) {
        let failure = Failure::new(condition);
        self.write(&failure.to_element());
        self.auth_failures += 1;
        let max = self.accept.as_ref().map_or(3, |a| a.max_auth_attempts);
        if self.auth_failures >= max {
            self.writer.write_close(self.outbox.buf());
            let _ = self.fail(ServerError::Authentication(error));
        } else {
            self.state = State::PreAuth;
        }
    }

    fn start_sasl(&mut self, element: &Element) {
        let Some(config) = self.accept.clone() else {
            return self.stream_error(
                StreamErrorCondition::InternalServerError,
                "no stream configuration",
            );
        };
        let mechanism = element
            .attr("mechanism")
            .and_then(|m| m.parse::<Mechanism>().ok());
        let Some(mechanism) = mechanism.filter(|m| self.offered_mechanisms(&config).contains(m))
        else {
            return self.sasl_failure(
                SaslCondition::InvalidMechanism,
                crate::sasl::SaslError::MalformedMessage("mechanism not offered"),
            );
        };
        let plus_offered = self.offered_mechanisms(&config).iter().any(|m| m.is_plus());
        let mut nonce = [0u8; 18];
        self.rng.fill_bytes(&mut nonce);
        let server = SaslServer::new(
            mechanism,
            self.bindings(),
            plus_offered,
            &BASE64.encode(nonce),
        );
        self.continue_sasl(Box::new(server), element);
    }

    fn continue_sasl(&mut self, mut server: Box<SaslServer>, element: &Element) {
        if element.is("abort", ns::SASL) {
            return self.sasl_failure(
                SaslCondition::Aborted,
                crate::sasl::SaslError::UnexpectedStep,
            );
        }
        if !(element.is("auth", ns::SASL) || element.is("response", ns::SASL)) {
            return self.stream_error(
                StreamErrorCondition::NotAuthorized,
                "expected a SASL response",
            );
        }
        let text = element.text();
        let text = text.trim();
        let data = if text.is_empty() || text == "=" {
            Ok(Vec::new())
        } else {
            BASE64.decode(text)
        };
        let Ok(data) = data else {
            return self.sasl_failure(
                SaslCondition::IncorrectEncoding,
                crate::sasl::SaslError::MalformedMessage("not base64"),
            );
        };
        let Some(config) = self.accept.clone() else {
            return self.stream_error(
                StreamErrorCondition::InternalServerError,
                "no stream configuration",
            );
        };
        match server.step(&data, config.credentials.as_ref()) {
            Ok(ServerStep::Challenge(challenge)) => {
                let encoded = if challenge.is_empty() {
                    "=".to_owned()
                } else {
                    BASE64.encode(challenge)
                };
                self.write(&ext::text_element("challenge", ns::SASL, encoded));
                self.state = State::Sasl(server);
            }
            Ok(ServerStep::Success {
                additional,
                authcid,
                ..
            }) => {
                let text = additional.map(|a| BASE64.encode(a)).unwrap_or_default();
                self.write(&ext::text_element("success", ns::SASL, text));
                self.username = Some(authcid.clone());
                self.parser.reset();
                self.parser.set_authenticated(true);
                self.state = State::AwaitRestart;
                self.event(Event::Authenticated { username: authcid });
            }
            Err(e) => self.sasl_failure(e.condition(), e),
        }
    }

    fn handle_bind_request(&mut self, element: Element) {
        if sm::Resume::matches(&element) {
            match sm::Resume::parse(&element) {
                Ok(resume) if self.accept.as_ref().is_some_and(|a| a.stream_management) => {
                    self.state = State::Resuming { h: resume.h };
                    self.event(Event::Resume {
                        previd: resume.previd,
                        h: resume.h,
                    });
                }
                _ => {
                    self.state = State::AwaitBind;
                    let failed = sm::Failed {
                        h: None,
                        condition: Some(DefinedCondition::UnexpectedRequest),
                    };
                    self.write(&failed.to_element());
                }
            }
            return;
        }
        match Stanza::try_from(element) {
            Ok(Stanza::Iq(iq)) => match &iq.kind {
                IqKind::Set(payload) if payload.is("bind", ns::BIND) => {
                    let requested = payload.get_child("resource", ns::BIND).map(Element::text);
                    self.state = State::Binding { iq: Box::new(iq) };
                    self.event(Event::Bind { requested });
                }
                _ => {
                    self.state = State::AwaitBind;
                    if let Some(reply) =
                        iq.error_reply(StanzaError::new(DefinedCondition::NotAllowed))
                    {
                        self.write_stanza(&Stanza::Iq(reply));
                    }
                }
            },
            _ => self.stream_error(StreamErrorCondition::NotAuthorized, "bind a resource first"),
        }
    }

    fn handle_online(&mut self, _now: Instant, element: Element) {
        if element.has_ns(sm::NS) {
            return self.handle_sm(&element);
        }
        if !Stanza::is_stanza(&element) {
            return self.stream_error(StreamErrorCondition::UnsupportedStanzaType, "not a stanza");
        }
        if let Some(sm) = &mut self.sm {
            sm.inbound.handled_one();
        }
        match Stanza::try_from(element) {
            Ok(mut stanza) => {
                // The server stamps `from`; what the client claims is ignored.
                let from = self.jid.clone().map(Jid::from);
                match &mut stanza {
                    Stanza::Message(m) => m.from = from,
                    Stanza::Presence(p) => p.from = from,
                    Stanza::Iq(iq) => {
                        iq.from = from;
                        if let IqKind::Set(p) = &iq.kind
                            && p.is("session", NS_SESSION)
                        {
                            let reply = Iq::result_for(iq, None);
                            return self.write_stanza(&Stanza::Iq(reply));
                        }
                    }
                }
                self.event(Event::Stanza(stanza));
            }
            Err(e) => {
                if let Some(reply) = e.error_reply() {
                    self.write(&reply);
                }
            }
        }
    }

    fn handle_sm(&mut self, element: &Element) {
        let enabled = self.accept.as_ref().is_some_and(|a| a.stream_management);
        match sm::Nonza::parse(element) {
            Ok(sm::Nonza::Enable(_)) if enabled && self.sm.is_none() => {
                let id = self.random_id(16);
                let max = self.accept.as_ref().map_or(1000, |a| a.max_unacked);
                self.sm = Some(Sm {
                    outbound: Outbound::new(max),
                    inbound: Inbound::default(),
                    id: id.clone(),
                });
                let reply = sm::Enabled {
                    id: Some(id),
                    resume: true,
                    max: None,
                    location: None,
                };
                self.write(&reply.to_element());
            }
            Ok(sm::Nonza::Request(_)) if self.sm.is_some() => {
                let h = self.sm.as_ref().map_or(0, |s| s.inbound.handled());
                self.write(&sm::Answer { h }.to_element());
            }
            Ok(sm::Nonza::Answer(answer)) if self.sm.is_some() => {
                let result = self.sm.as_mut().map(|s| s.outbound.ack(answer.h));
                match result {
                    Some(Ok(confirmed)) if !confirmed.is_empty() => {
                        self.event(Event::Acked(
                            confirmed.into_iter().map(|(t, _)| t).collect(),
                        ));
                    }
                    Some(Err(e)) => {
                        self.stream_error(StreamErrorCondition::UndefinedCondition, &e.to_string())
                    }
                    _ => {}
                }
            }
            _ => {
                let failed = sm::Failed {
                    h: None,
                    condition: Some(DefinedCondition::UnexpectedRequest),
                };
                self.write(&failed.to_element());
            }
        }
    }

    fn transmit(&mut self, token: StanzaToken, stanza: Stanza) {
        self.write_stanza(&stanza);
        if let Some(sm) = &mut self.sm {
            let _ = sm.outbound.sent(token, stanza);
        }
    }
}
