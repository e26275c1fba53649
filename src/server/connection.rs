//! The [`ServerConnection`] state machine.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use minidom::Element;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use super::{
    AcceptConfig, CloseReason, Event, ListenConfig, Output, SendError, ServerError, SmCounters,
    TlsPolicy,
};
use crate::client::{ResumeState, TlsInfo};
use crate::ext::{self, Payload, sm};
use crate::jid::{FullJid, Jid};
use crate::ns;
use crate::sasl::{ChannelBinding, Failure, Mechanism, SaslCondition, SaslServer, ServerStep};
use crate::stanza::{DefinedCondition, Iq, IqKind, Stanza, StanzaError, StanzaParseError};
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
    /// Our `<r/>` is out and no `<a/>` has come since.
    awaiting_ack: bool,
    /// Where the ack timer counts from: the later of the last `<r/>` and
    /// the moment stanzas started waiting. `None` when none wait.
    ack_base: Option<Instant>,
    /// Tokens of the stanzas the machine sent on its own (session result,
    /// error replies), ascending: counted, but not reported in
    /// [`Event::Acked`].
    own: VecDeque<StanzaToken>,
    /// With `confirm_stanzas`: the client's stanzas not yet counted, in
    /// order; `true` for one the machine answered itself (it counts once
    /// everything before it is confirmed).
    unconfirmed: VecDeque<bool>,
    /// A `<r/>` came while stanzas were unconfirmed: answered once they
    /// are (an answer before would leave them out, and the client might
    /// not ask again).
    ack_owed: bool,
}

impl Sm {
    fn new(outbound: Outbound, inbound: Inbound, id: String) -> Self {
        Self {
            outbound,
            inbound,
            id,
            awaiting_ack: false,
            ack_base: None,
            own: VecDeque::new(),
            unconfirmed: VecDeque::new(),
            ack_owed: false,
        }
    }

    /// Counts a stanza from the client: at once, or (`confirm`) when the
    /// host confirms it and everything before it.
    fn received(&mut self, confirm: bool, by_host: bool) {
        if confirm {
            self.unconfirmed.push_back(!by_host);
            self.count_confirmed();
        } else {
            self.inbound.handled_one();
        }
    }

    fn count_confirmed(&mut self) {
        while self.unconfirmed.front() == Some(&true) {
            self.unconfirmed.pop_front();
            self.inbound.handled_one();
        }
    }
}

/// [`AcceptConfig::ack_request_every`] and
/// [`AcceptConfig::ack_request_after`] when there is no configuration.
const DEFAULT_ACK_POLICY: (usize, Duration) = (5, Duration::from_secs(5));

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
            parser: crate::stream::split_parser(listen.limits.clone()),
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
        } else if self.ack_deadline().is_some_and(|d| now >= d) {
            self.request_ack(now);
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
    /// After [`Event::Online`] (`resumed: true`), an [`Event::Acked`] lists
    /// the earlier connection's stanzas that the client's `h` confirms; the
    /// others are sent again.
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
        let confirmed = match outbound.ack(h) {
            Ok(confirmed) => confirmed,
            Err(e) => {
                let error = StreamError::new(StreamErrorCondition::UndefinedCondition)
                    .with_text(e.to_string());
                self.send_stream_error(&error);
                return self.fail(ServerError::Sm(e));
            }
        };
        let resumed = sm::Resumed {
            h: state.inbound,
            previd: state.id.clone(),
        };
        self.write(&resumed.to_element());
        let retransmit = outbound.take_unacked();
        self.sm = Some(Sm::new(
            outbound,
            Inbound::starting_at(state.inbound),
            state.id,
        ));
        self.next_token = state.next_token;
        self.jid = Some(state.jid.clone());
        self.state = State::Online;
        self.negotiation_deadline = None;
        for (token, stanza) in retransmit {
            self.transmit(now, token, stanza);
        }
        self.event(Event::Online {
            jid: state.jid,
            resumed: true,
        });
        // What the client's `h` confirms of the previous connection's
        // stanzas is delivered.
        if !confirmed.is_empty() {
            self.event(Event::Acked(
                confirmed.into_iter().map(|(token, _)| token).collect(),
            ));
        }
        self.handle_input(now, &[])
    }

    // ---- mutators ---------------------------------------------------------

    /// Sends a stanza to the client.
    ///
    /// With stream management on, an ack request (`<r/>`) follows when
    /// [`AcceptConfig::ack_request_every`] stanzas wait for one.
    ///
    /// # Errors
    /// [`SendError::NotOnline`] before binding or after the end;
    /// [`SendError::QueueFull`] when the client does not read, or does not
    /// acknowledge [`AcceptConfig::max_unacked`] stanzas (the connection
    /// then closes with `resource-constraint`).
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
        stanza: Stanza,
    ) -> Result<StanzaToken, (SendError, Box<Stanza>)> {
        if !matches!(self.state, State::Online) || self.error.is_some() {
            return Err((SendError::NotOnline, Box::new(stanza)));
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
            let full = SendError::QueueFull(waiting_bytes.max(unacked));
            return Err((full, Box::new(stanza)));
        }
        let written = self
            .writer
            .write_stanza(&stanza, StreamNamespace::Client, self.outbox.buf());
        if let Err(e) = written {
            return Err((SendError::Unwritable(e), Box::new(stanza)));
        }
        let token = StanzaToken(self.next_token);
        self.next_token += 1;
        if let Some(sm) = &mut self.sm {
            let _ = sm.outbound.sent(token, stanza);
            self.after_sent(now);
        }
        Ok(token)
    }

    /// Closes the stream: sends `</stream:stream>` (`<close/>` in
    /// WebSocket framing) and waits briefly for the client's.
    pub fn close(&mut self, now: Instant) {
        if self.error.is_some() || matches!(self.state, State::Closing | State::Closed) {
            return;
        }
        self.open_if_unopened();
        self.writer.write_close(self.outbox.buf());
        self.state = State::Closing;
        self.close_deadline = Some(now + Duration::from_secs(5));
    }

    /// Ends the stream with a stream error (RFC 6120 section 4.9): the
    /// error and the stream close go out, and the connection ends with
    /// [`ServerError::Sent`]. For a client that must go: it does not read
    /// (`resource-constraint`), another session took its resource
    /// (`conflict`), the server shuts down (`system-shutdown`).
    pub fn close_with_error(&mut self, _now: Instant, error: StreamError) {
        if self.error.is_some() || matches!(self.state, State::Closed) {
            return;
        }
        self.send_stream_error(&error);
        let _ = self.fail(ServerError::Sent(error));
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

    /// With [`AcceptConfig::confirm_stanzas`]: the oldest
    /// [`Event::Stanza`] not yet confirmed is handled for good and counts
    /// in the next acknowledgement. Call it once per stanza event, in
    /// order. Does nothing without stream management or that option.
    pub fn confirm_stanza(&mut self) {
        // The oldest waiting stanza is always one of the host's: those the
        // machine answered itself count as soon as they reach the front.
        if let Some(sm) = &mut self.sm
            && sm.unconfirmed.front() == Some(&false)
        {
            sm.unconfirmed.pop_front();
            sm.inbound.handled_one();
            sm.count_confirmed();
            if sm.ack_owed && sm.unconfirmed.is_empty() {
                sm.ack_owed = false;
                let h = sm.inbound.handled();
                self.write(&sm::Answer { h }.to_element());
            }
        }
    }

    /// The XEP-0198 session id and counters; `None` without stream
    /// management.
    pub fn sm_counters(&self) -> Option<(&str, SmCounters)> {
        let sm = self.sm.as_ref()?;
        let acked = sm.outbound.acked();
        let outstanding = u32::try_from(sm.outbound.outstanding()).unwrap_or(u32::MAX);
        Some((
            &sm.id,
            SmCounters {
                handled: sm.inbound.handled(),
                sent: acked.wrapping_add(outstanding),
                acked,
            },
        ))
    }

    // ---- output -----------------------------------------------------------

    /// The next thing to do, in order.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.poll()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called:
    /// the negotiation or close deadline, or when an ack is to be requested
    /// ([`AcceptConfig::ack_request_after`]).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() || matches!(self.state, State::Closed) {
            return None;
        }
        [
            self.negotiation_deadline,
            self.close_deadline,
            self.ack_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- internals --------------------------------------------------------

    fn ack_policy(&self) -> (usize, Duration) {
        self.accept.as_ref().map_or(DEFAULT_ACK_POLICY, |a| {
            (a.ack_request_every, a.ack_request_after)
        })
    }

    /// When the ack timer fires: stanzas wait, online.
    fn ack_deadline(&self) -> Option<Instant> {
        if !matches!(self.state, State::Online) {
            return None;
        }
        let sm = self.sm.as_ref()?;
        if sm.outbound.outstanding() == 0 {
            return None;
        }
        let after = self.ack_policy().1;
        if after.is_zero() {
            return None;
        }
        sm.ack_base?.checked_add(after)
    }

    /// After a stanza was recorded as unacknowledged: starts the ack timer
    /// and asks for an ack once enough wait.
    fn after_sent(&mut self, now: Instant) {
        if let Some(sm) = &mut self.sm {
            sm.ack_base.get_or_insert(now);
        }
        self.request_ack_if_due(now);
    }

    /// Sends `<r/>` if [`AcceptConfig::ack_request_every`] stanzas wait and
    /// no request is unanswered.
    fn request_ack_if_due(&mut self, now: Instant) {
        let every = self.ack_policy().0;
        let due = self
            .sm
            .as_ref()
            .is_some_and(|sm| every > 0 && !sm.awaiting_ack && sm.outbound.outstanding() >= every);
        if due {
            self.request_ack(now);
        }
    }

    fn request_ack(&mut self, now: Instant) {
        if !matches!(self.state, State::Online) || self.error.is_some() {
            return;
        }
        let Some(sm) = &mut self.sm else { return };
        sm.awaiting_ack = true;
        sm.ack_base = Some(now);
        sm.outbound.requested();
        self.write(&sm::Request.to_element());
    }

    /// Sends a stanza the machine answers with on its own (the session
    /// result, error replies). With stream management on it is counted
    /// like any other, since the client counts it, but left out of
    /// [`Event::Acked`]; it is dropped if the unacknowledged queue is full,
    /// and after our closing tag.
    fn send_own(&mut self, now: Instant, stanza: Stanza) {
        if !matches!(self.state, State::Online) {
            return;
        }
        let Some(sm) = &mut self.sm else {
            return self.write_stanza(&stanza);
        };
        if !sm.outbound.has_room() {
            return;
        }
        let token = StanzaToken(self.next_token);
        self.next_token += 1;
        sm.own.push_back(token);
        self.transmit(now, token, stanza);
    }

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

    /// Writes with `write` unless our closing tag is out. A write that
    /// fails writes nothing (the writer's contract), so there is nothing
    /// to undo.
    fn write_with(
        &mut self,
        write: impl FnOnce(&StreamWriter, &mut bytes::BytesMut) -> Result<(), crate::xml::WriteError>,
    ) {
        if matches!(self.state, State::Closing) {
            return;
        }
        let _unwritable = write(&self.writer, self.outbox.buf());
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

    /// RFC 6120 section 4.9.1.2: a stream error or a close needs our
    /// stream header first, if it is not out yet (no header from the
    /// client yet, or the application has not answered it).
    fn open_if_unopened(&mut self) {
        if self.stream_id.is_empty() {
            self.write_header("");
        }
    }

    /// Writes a stream error and our closing tag; nothing once our closing
    /// tag is out (the stream just ends).
    fn send_stream_error(&mut self, error: &StreamError) {
        if matches!(self.state, State::Closing) {
            return;
        }
        self.open_if_unopened();
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
            Frame::Stanza(parts) => match self.state {
                // Online, a stanza is typed straight from its parts.
                State::Online => self.handle_stanza(now, Stanza::try_from(parts)),
                State::Closing if self.jid.is_some() => {
                    self.handle_stanza(now, Stanza::try_from(parts));
                }
                _ => self.handle_element(now, parts.into_element()),
            },
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
        if matches!(self.state, State::Closing) {
            // The client's header crossed our close: nothing to answer.
            return;
        }
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

    /// Whether TLS is required on this stream and not in place yet: then
    /// only `<starttls/>` may come (WebSocket framing, which has no
    /// STARTTLS, is refused when the stream opens).
    fn tls_missing(&self) -> bool {
        self.tls.is_none()
            && self.framing == Framing::Stream
            && self
                .accept
                .as_ref()
                .is_some_and(|a| a.tls == TlsPolicy::Required)
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
            State::PreAuth if self.tls_missing() => {
                // RFC 6120 section 5.3.1: TLS is mandatory-to-negotiate, and
                // only STARTTLS was offered. A client that goes on without
                // it (a stripped or skipped STARTTLS) must not reach SASL:
                // SCRAM in cleartext would otherwise succeed.
                self.state = State::PreAuth;
                self.stream_error(
                    StreamErrorCondition::PolicyViolation,
                    "TLS is required: negotiate STARTTLS first",
                );
            }
            State::PreAuth if element.is("auth", ns::SASL) => self.start_sasl(&element),
            State::Sasl(server) => self.continue_sasl(server, &element),
            State::AwaitBind => self.handle_bind_request(element),
            // Closed during negotiation: the client's negotiation elements
            // that crossed our close are not answered.
            State::Closing if self.jid.is_none() => self.state = state,
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
            // RFC 6120 section 6.4.5: past the retries, a stream error
            // (`policy-violation` is the one it recommends) ends the stream.
            let stream_error = StreamError::new(StreamErrorCondition::PolicyViolation)
                .with_text("too many failed authentication attempts");
            self.send_stream_error(&stream_error);
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
        let mechanism = ext::attr(element, "mechanism").and_then(|m| m.parse::<Mechanism>().ok());
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

    fn handle_online(&mut self, now: Instant, element: Element) {
        if element.has_ns(sm::NS) {
            return self.handle_sm(now, &element);
        }
        if !Stanza::is_stanza(&element) {
            return self.stream_error(StreamErrorCondition::UnsupportedStanzaType, "not a stanza");
        }
        self.handle_stanza(now, Stanza::try_from(element));
    }

    /// A stanza received online, typed or not.
    fn handle_stanza(&mut self, now: Instant, stanza: Result<Stanza, StanzaParseError>) {
        let confirm = self.accept.as_ref().is_some_and(|a| a.confirm_stanzas);
        match stanza {
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
                            if let Some(sm) = &mut self.sm {
                                sm.received(confirm, false);
                            }
                            let reply = Iq::result_for(iq, None);
                            return self.send_own(now, Stanza::Iq(reply));
                        }
                    }
                }
                if let Some(sm) = &mut self.sm {
                    sm.received(confirm, true);
                }
                self.event(Event::Stanza(stanza));
            }
            Err(e) => {
                if let Some(sm) = &mut self.sm {
                    sm.received(confirm, false);
                }
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

    fn handle_sm(&mut self, now: Instant, element: &Element) {
        // Nothing may follow our closing tag (RFC 6120 section 4.4); acks
        // are still taken.
        if matches!(self.state, State::Closing) && !sm::Answer::matches(element) {
            return;
        }
        let enabled = self.accept.as_ref().is_some_and(|a| a.stream_management);
        match sm::Nonza::parse(element) {
            Ok(sm::Nonza::Enable(_)) if enabled && self.sm.is_none() => {
                let id = self.random_id(16);
                let max = self.accept.as_ref().map_or(1000, |a| a.max_unacked);
                self.sm = Some(Sm::new(Outbound::new(max), Inbound::default(), id.clone()));
                let reply = sm::Enabled {
                    id: Some(id),
                    resume: true,
                    max: None,
                    location: None,
                };
                self.write(&reply.to_element());
            }
            Ok(sm::Nonza::Request(_)) if self.sm.is_some() => {
                let Some(sm) = &mut self.sm else { return };
                if sm.unconfirmed.is_empty() {
                    let h = sm.inbound.handled();
                    self.write(&sm::Answer { h }.to_element());
                } else {
                    sm.ack_owed = true;
                }
            }
            Ok(sm::Nonza::Answer(answer)) if self.sm.is_some() => {
                let Some(sm) = &mut self.sm else { return };
                let confirmed = match sm.outbound.ack(answer.h) {
                    Ok(confirmed) => confirmed,
                    Err(e) => {
                        return self.stream_error(
                            StreamErrorCondition::UndefinedCondition,
                            &e.to_string(),
                        );
                    }
                };
                // Any answer answers our request.
                sm.awaiting_ack = false;
                if sm.outbound.outstanding() == 0 {
                    sm.ack_base = None;
                }
                let mut tokens = Vec::with_capacity(confirmed.len());
                for (token, _) in confirmed {
                    while sm.own.front().is_some_and(|own| *own < token) {
                        sm.own.pop_front();
                    }
                    if sm.own.front() == Some(&token) {
                        sm.own.pop_front();
                    } else {
                        tokens.push(token);
                    }
                }
                if !tokens.is_empty() {
                    self.event(Event::Acked(tokens));
                }
                // Stanzas sent while the answer was on its way.
                self.request_ack_if_due(now);
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

    fn transmit(&mut self, now: Instant, token: StanzaToken, stanza: Stanza) {
        self.write_stanza(&stanza);
        if let Some(sm) = &mut self.sm {
            let _ = sm.outbound.sent(token, stanza);
            self.after_sent(now);
        }
    }
}

#[cfg(test)]
mod tests {
    //! A scripted client against the server machine, in memory: the test
    //! writes the client's XML and reads what the server answers.

    use std::sync::Arc;

    use super::*;
    use crate::sasl::{ScramCredentials, ScramHash, ServerCredentials};
    use crate::stanza::Message;

    /// One account, `juliet` / `pw`, for PLAIN.
    struct Accounts;

    impl ServerCredentials for Accounts {
        fn scram(&self, _username: &str, _hash: ScramHash) -> Option<ScramCredentials> {
            None
        }
        fn verify_plain(&self, username: &str, password: &str) -> bool {
            username == "juliet" && password == "pw"
        }
    }

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";
    const R: &str = "<r xmlns='urn:xmpp:sm:3'/>";

    struct Script {
        now: Instant,
        server: ServerConnection,
        accept: AcceptConfig,
        /// What the server wrote since the last `take`.
        received: String,
        events: Vec<Event>,
    }

    impl Script {
        /// A client online over (pretend) direct TLS, with stream
        /// management enabled.
        fn online(configure: impl FnOnce(&mut AcceptConfig)) -> Self {
            let mut script = Self::bound(configure);
            script.feed("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
            assert!(script.take().contains("<enabled "));
            script.events.clear();
            script
        }

        /// A client online over (pretend) direct TLS, stream management not
        /// enabled yet.
        fn bound(configure: impl FnOnce(&mut AcceptConfig)) -> Self {
            let now = Instant::now();
            let mut listen = ListenConfig::new([7; 32]);
            listen.direct_tls = Some(TlsInfo {
                channel_bindings: Vec::new(),
            });
            let mut accept = AcceptConfig::new("example.com", Arc::new(Accounts));
            accept.mechanisms = vec![Mechanism::Plain];
            configure(&mut accept);
            let mut script = Self {
                now,
                server: ServerConnection::new(listen, now),
                accept,
                received: String::new(),
                events: Vec::new(),
            };
            script.feed(HEADER);
            let auth = BASE64.encode(b"\0juliet\0pw");
            script.feed(&format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{auth}</auth>"
            ));
            script.feed(HEADER);
            script.feed(
                "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
            );
            assert!(script.server.is_online());
            script.take();
            script.events.clear();
            script
        }

        fn feed(&mut self, xml: &str) {
            self.server.handle_input(self.now, xml.as_bytes()).unwrap();
            self.drain();
        }

        fn drain(&mut self) {
            while let Some(output) = self.server.poll_output() {
                match output {
                    Output::Transmit(bytes) => {
                        self.received.push_str(std::str::from_utf8(&bytes).unwrap());
                    }
                    Output::Event(Event::Header { .. }) => {
                        self.server.accept(self.now, self.accept.clone()).unwrap();
                    }
                    Output::Event(Event::Bind { .. }) => {
                        let jid = "juliet@example.com/balcony".parse().unwrap();
                        self.server.complete_bind(self.now, Ok(jid)).unwrap();
                    }
                    Output::Event(event) => self.events.push(event),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }

        fn take(&mut self) -> String {
            std::mem::take(&mut self.received)
        }

        fn send(&mut self, n: usize) -> Vec<StanzaToken> {
            let tokens = (0..n)
                .map(|i| {
                    let to = "juliet@example.com/balcony".parse().unwrap();
                    self.server
                        .send(self.now, Message::chat(to, format!("m{i}")))
                        .unwrap()
                })
                .collect();
            self.drain();
            tokens
        }

        fn advance(&mut self, by: Duration) {
            self.now += by;
            self.server.handle_timeout(self.now);
            self.drain();
        }

        fn acked(&mut self) -> Vec<StanzaToken> {
            std::mem::take(&mut self.events)
                .into_iter()
                .flat_map(|e| match e {
                    Event::Acked(tokens) => tokens,
                    other => panic!("unexpected {other:?}"),
                })
                .collect()
        }
    }

    #[test]
    fn an_ack_is_requested_after_n_stanzas_and_not_again_until_answered() {
        let mut c = Script::online(|a| a.ack_request_every = 5);
        c.send(4);
        assert!(!c.take().contains(R), "not yet");
        c.send(1);
        let out = c.take();
        assert_eq!(out.matches(R).count(), 1, "{out}");
        assert!(out.ends_with(R), "the request follows the fifth stanza");

        c.send(12);
        assert!(!c.take().contains(R), "a request is outstanding");

        // The answer covers the five before the request; twelve still wait,
        // so the next request goes out at once.
        c.feed("<a xmlns='urn:xmpp:sm:3' h='5'/>");
        assert_eq!(c.acked().len(), 5);
        assert_eq!(c.take(), R);

        c.feed("<a xmlns='urn:xmpp:sm:3' h='17'/>");
        assert_eq!(c.acked().len(), 12);
        assert_eq!(c.take(), "", "nothing waits: no request");
        assert_eq!(c.server.poll_timeout(), None, "and no timer");

        // Stanzas sent while the answer was under way wait for the next
        // request, which waits for the threshold again.
        let mut tokens = c.send(5);
        assert_eq!(c.take().matches(R).count(), 1);
        tokens.extend(c.send(2));
        c.take();
        c.feed("<a xmlns='urn:xmpp:sm:3' h='22'/>");
        assert_eq!(c.take(), "", "two wait, below the threshold");
        tokens.extend(c.send(2));
        assert!(!c.take().contains(R), "four wait, below the threshold");
        tokens.extend(c.send(1));
        assert_eq!(c.take().matches(R).count(), 1, "five wait again");
        c.feed("<a xmlns='urn:xmpp:sm:3' h='27'/>");
        assert_eq!(c.acked(), tokens, "every token once, in order");
        assert!(c.server.is_online());
    }

    #[test]
    fn an_ack_is_requested_when_a_stanza_waited_long_enough() {
        let after = Duration::from_secs(3);
        let mut c = Script::online(|a| a.ack_request_after = after);
        assert_eq!(c.server.poll_timeout(), None, "nothing waits");
        let start = c.now;
        c.send(1);
        assert!(!c.take().contains(R));
        assert_eq!(c.server.poll_timeout(), Some(start + after));

        c.advance(Duration::from_secs(2));
        assert!(!c.take().contains(R), "too early");
        c.advance(Duration::from_secs(1));
        assert_eq!(c.take(), R);
        // Unanswered, it is repeated after the same interval.
        assert_eq!(c.server.poll_timeout(), Some(start + after * 2));

        c.feed("<a xmlns='urn:xmpp:sm:3' h='1'/>");
        assert_eq!(c.acked().len(), 1);
        assert_eq!(c.server.poll_timeout(), None);
    }

    #[test]
    fn replies_of_the_server_itself_are_counted_but_not_reported() {
        let mut c = Script::online(|_| {});
        // The client counts these two, so the server must too.
        c.feed(
            "<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
        );
        c.feed("<iq type='get' id='bad'/>");
        let out = c.take();
        assert!(out.contains("id='s1'") && out.contains("id='bad'"), "{out}");
        let tokens = c.send(3);
        assert_eq!(c.take().matches(R).count(), 1, "five stanzas wait");
        c.feed("<a xmlns='urn:xmpp:sm:3' h='5'/>");
        assert_eq!(c.acked(), tokens, "only the application's stanzas");
        assert!(c.server.is_online());
        assert_eq!(c.server.poll_timeout(), None);
    }

    #[test]
    fn both_triggers_can_be_turned_off() {
        let mut c = Script::online(|a| {
            a.ack_request_every = 0;
            a.ack_request_after = Duration::ZERO;
        });
        c.send(50);
        assert!(!c.take().contains(R));
        assert_eq!(c.server.poll_timeout(), None, "no timer, no busy loop");
        c.feed("<a xmlns='urn:xmpp:sm:3' h='50'/>");
        assert_eq!(c.acked().len(), 50, "unsolicited acks still count");
    }

    /// A connection without TLS, fed `header` and then `input`; returns
    /// what the server wrote after its features, and how it closed.
    fn cleartext(
        configure: impl FnOnce(&mut AcceptConfig),
        input: &[&str],
    ) -> (String, Option<CloseReason>) {
        scripted(ListenConfig::new([9; 32]), configure, input)
    }

    /// A connection with `listen`, fed `header` and then `input`; returns
    /// what the server wrote after its features, and how it closed.
    fn scripted(
        listen: ListenConfig,
        configure: impl FnOnce(&mut AcceptConfig),
        input: &[&str],
    ) -> (String, Option<CloseReason>) {
        let now = Instant::now();
        let mut server = ServerConnection::new(listen, now);
        let mut accept = AcceptConfig::new("example.com", Arc::new(Accounts));
        configure(&mut accept);
        let mut written = String::new();
        let mut closed = None;
        for (i, chunk) in std::iter::once(HEADER)
            .chain(input.iter().copied())
            .enumerate()
        {
            let _ = server.handle_input(now, chunk.as_bytes());
            while let Some(output) = server.poll_output() {
                match output {
                    Output::Transmit(bytes) if i > 0 => {
                        written.push_str(std::str::from_utf8(&bytes).unwrap());
                    }
                    Output::Event(Event::Header { .. }) => {
                        server.accept(now, accept.clone()).unwrap();
                    }
                    Output::Closed(reason) => closed = Some(reason),
                    _ => {}
                }
            }
        }
        (written, closed)
    }

    #[test]
    fn with_tls_required_cleartext_auth_is_a_policy_violation() {
        let plain = BASE64.encode(b"\0juliet\0pw");
        for auth in [
            format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
            ),
            // SCRAM is offered after TLS; before it, it must not start.
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>\
             biwsbj1qdWxpZXQscj1ub25jZQ==</auth>"
                .to_owned(),
        ] {
            let (written, closed) = cleartext(
                |a| a.mechanisms = vec![Mechanism::ScramSha256, Mechanism::Plain],
                &[&auth],
            );
            assert!(written.contains("<policy-violation"), "{written}");
            assert!(
                !written.contains("challenge") && !written.contains("success"),
                "{written}"
            );
            assert!(
                matches!(closed, Some(CloseReason::Error(ServerError::Sent(ref e))) if e.condition == StreamErrorCondition::PolicyViolation),
                "{closed:?}"
            );
        }
        // With TLS optional, SASL may go on in cleartext (PLAIN is still not
        // offered there).
        let (written, closed) = cleartext(
            |a| {
                a.tls = TlsPolicy::Optional;
                a.mechanisms = vec![Mechanism::Plain];
            },
            &[&format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
            )],
        );
        assert!(written.contains("<invalid-mechanism/>"), "{written}");
        assert!(!written.contains("stream:error"), "{written}");
        assert_eq!(closed, None);
    }

    #[test]
    fn too_many_failed_attempts_end_with_a_policy_violation() {
        let wrong = BASE64.encode(b"\0juliet\0wrong");
        let auth = format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{wrong}</auth>"
        );
        // PLAIN needs TLS: pretend direct TLS, as the scripted client does.
        let mut listen = ListenConfig::new([9; 32]);
        listen.direct_tls = Some(TlsInfo {
            channel_bindings: Vec::new(),
        });
        let (written, closed) = scripted(
            listen,
            |a| {
                a.mechanisms = vec![Mechanism::Plain];
                a.max_auth_attempts = 2;
            },
            &[&auth, &auth],
        );
        assert_eq!(
            written.matches("<not-authorized/></failure>").count(),
            2,
            "{written}"
        );
        assert!(
            written.ends_with("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>too many failed authentication attempts</text></stream:error></stream:stream>"),
            "{written}"
        );
        assert!(
            matches!(
                closed,
                Some(CloseReason::Error(ServerError::Authentication(_)))
            ),
            "{closed:?}"
        );
    }

    #[test]
    fn without_stream_management_no_ack_is_requested() {
        let mut c = Script::bound(|_| {});
        c.send(50);
        assert!(!c.take().contains(R));
        assert_eq!(c.server.poll_timeout(), None);
    }
}
