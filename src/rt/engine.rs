//! The [`Engine`]: TLS, WebSocket framing and a connection machine stacked
//! in memory, so an adapter only moves raw bytes and arms one timer.

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustls::pki_types::ServerName;

use super::tls::{ServerTls, channel_bindings};
#[cfg(feature = "websocket")]
use super::ws::{WebSocket, WsError};
use crate::client::{self, ClientConnection, TlsInfo};
use crate::component::{self, ComponentConnection};
use crate::server::{self, ServerConnection};

/// One step of a connection machine's output, the same for all three.
#[derive(Debug)]
#[non_exhaustive]
pub enum Step<E, C> {
    /// Bytes for the peer.
    Transmit(Bytes),
    /// Start TLS now (everything before was written).
    StartTls,
    /// An event for the application.
    Event(E),
    /// The machine is done.
    Closed(C),
}

/// The shape every connection machine shares (see the crate docs' run
/// loop), so that one [`Engine`] drives them all. Errors from the input
/// calls are not returned here: a machine reports them as its `Closed`
/// output too.
pub trait Machine {
    /// The machine's events.
    type Event;
    /// Why it closed.
    type Closed;
    /// Bytes from the peer.
    fn handle_input(&mut self, now: Instant, data: &[u8]);
    /// The transport ended.
    fn handle_eof(&mut self, now: Instant);
    /// A deadline may have passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The TLS handshake it asked for is done.
    fn tls_established(&mut self, now: Instant, info: TlsInfo);
    /// The next output.
    fn poll_output(&mut self) -> Option<Step<Self::Event, Self::Closed>>;
    /// The next deadline.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Closes the stream cleanly.
    fn close(&mut self, now: Instant);
}

/// [`Machine`] for a machine with STARTTLS (client and server side of a
/// client stream): every method delegates to the inherent one of the same
/// name, and its `Output` maps one to one onto [`Step`].
macro_rules! stream_machine {
    ($ty:ty, $module:ident) => {
        impl Machine for $ty {
            type Event = $module::Event;
            type Closed = $module::CloseReason;
            fn handle_input(&mut self, now: Instant, data: &[u8]) {
                let _reported_as_closed = Self::handle_input(self, now, data);
            }
            fn handle_eof(&mut self, now: Instant) {
                Self::handle_eof(self, now);
            }
            fn handle_timeout(&mut self, now: Instant) {
                Self::handle_timeout(self, now);
            }
            fn tls_established(&mut self, now: Instant, info: TlsInfo) {
                let _reported_as_closed = Self::tls_established(self, now, info);
            }
            fn poll_output(&mut self) -> Option<Step<Self::Event, Self::Closed>> {
                Some(match Self::poll_output(self)? {
                    $module::Output::Transmit(bytes) => Step::Transmit(bytes),
                    $module::Output::StartTls => Step::StartTls,
                    $module::Output::Event(event) => Step::Event(event),
                    $module::Output::Closed(reason) => Step::Closed(reason),
                })
            }
            fn poll_timeout(&self) -> Option<Instant> {
                Self::poll_timeout(self)
            }
            fn close(&mut self, now: Instant) {
                Self::close(self, now);
            }
        }
    };
}

stream_machine!(ClientConnection, client);
stream_machine!(ServerConnection, server);

impl Machine for ComponentConnection {
    type Event = component::Event;
    type Closed = component::CloseReason;
    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        let _reported_as_closed = Self::handle_input(self, now, data);
    }
    fn handle_eof(&mut self, now: Instant) {
        Self::handle_eof(self, now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Self::handle_timeout(self, now);
    }
    fn tls_established(&mut self, _now: Instant, _info: TlsInfo) {
        // XEP-0114 has no STARTTLS; a TLS transport is the adapter's alone.
    }
    fn poll_output(&mut self) -> Option<Step<Self::Event, Self::Closed>> {
        Some(match Self::poll_output(self)? {
            component::Output::Transmit(bytes) => Step::Transmit(bytes),
            component::Output::Event(event) => Step::Event(event),
            component::Output::Closed(reason) => Step::Closed(reason),
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Self::poll_timeout(self)
    }
    fn close(&mut self, now: Instant) {
        Self::close(self, now);
    }
}

/// Which side of TLS the engine plays, with its configuration.
#[derive(Debug, Clone)]
pub enum TlsRole {
    /// A client verifying the server as `server_name` (the JID's domain,
    /// RFC 6120 section 13.7.2.1, not the SRV target).
    Client {
        /// The rustls configuration.
        config: Arc<rustls::ClientConfig>,
        /// The name the certificate must carry.
        server_name: ServerName<'static>,
    },
    /// A server presenting its certificate.
    Server(ServerTls),
}

/// Why the transport below the machine failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TLS layer failed (handshake, certificate, alert, bad record).
    #[error("TLS: {0}")]
    Tls(rustls::Error),
    /// The machine asked for STARTTLS but the engine has no TLS role.
    #[error("STARTTLS requested but no TLS configuration was given")]
    NoTlsConfig,
    /// The WebSocket layer failed.
    #[cfg(feature = "websocket")]
    #[error("WebSocket: {0}")]
    WebSocket(WsError),
    /// The transport ended before the connection machine started (during
    /// a direct TLS or WebSocket handshake).
    #[error("the connection was cut during the transport handshake")]
    Eof,
    /// The direct TLS or WebSocket handshake took too long.
    #[error("the transport handshake timed out")]
    HandshakeTimeout,
    /// The socket failed (set by adapters).
    #[error("I/O: {0}")]
    Io(String),
    /// The peer does not read: more than the engine's backlog limit
    /// ([`Engine::with_max_backlog`]) waits to be written.
    #[error("the peer does not read: {0} bytes wait to be written")]
    Backlog(usize),
}

/// The default of [`Engine::with_max_backlog`].
const DEFAULT_MAX_BACKLOG: usize = 4 * 1024 * 1024;

/// What the engine has for the application.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output<E, C> {
    /// A machine event.
    Event(E),
    /// The machine closed; write out what is left, then close the socket.
    Closed(C),
    /// The transport failed below the machine; close the socket.
    Failed(TransportError),
}

type Start<M> = Box<dyn FnOnce(Instant, Option<TlsInfo>) -> M + Send>;

/// The machine, or how to make it once the transport is ready.
enum Slot<M> {
    Waiting(Start<M>),
    Running(M),
    Taken,
}

/// TLS (rustls), optional RFC 7395 WebSocket framing and a connection
/// machine, stacked in memory: raw transport bytes in, raw transport bytes
/// and events out.
///
/// Drive it like a machine: after [`handle_input`](Self::handle_input),
/// [`handle_eof`](Self::handle_eof), [`handle_timeout`](Self::handle_timeout)
/// or [`with_machine`](Self::with_machine), write out every
/// [`poll_transmit`](Self::poll_transmit), hand every
/// [`poll_output`](Self::poll_output) to the application, and arm one
/// timer at [`poll_timeout`](Self::poll_timeout). Once
/// [`is_done`](Self::is_done), close the socket.
pub struct Engine<M: Machine> {
    machine: Slot<M>,
    /// The TLS role to use at STARTTLS (taken then).
    starttls: Option<TlsRole>,
    tls: Option<rustls::Connection>,
    tls_reported: bool,
    end_point: Option<Vec<u8>>,
    #[cfg(feature = "websocket")]
    ws: Option<WebSocket>,
    transmit: VecDeque<Bytes>,
    /// Bytes in `transmit`.
    transmit_bytes: usize,
    max_backlog: usize,
    outputs: VecDeque<Output<M::Event, M::Closed>>,
    handshake_deadline: Option<Instant>,
    done: bool,
}

impl<M: Machine> std::fmt::Debug for Engine<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("tls", &self.tls.is_some())
            .field("running", &matches!(self.machine, Slot::Running(_)))
            .field("transmit", &self.transmit.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// How long a direct TLS or WebSocket handshake may take before the
/// machine starts.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How much decrypted plaintext goes up at a time.
const PLAINTEXT_CHUNK: usize = 16 * 1024;

impl<M: Machine> Engine<M> {
    /// An engine over a plain transport; `starttls` is used if the machine
    /// asks for STARTTLS.
    pub fn plain(machine: M, starttls: Option<TlsRole>) -> Self {
        let mut engine = Self::empty(Slot::Running(machine), starttls, None);
        engine.pump_machine();
        engine
    }

    /// An engine whose transport starts with a TLS handshake (XEP-0368
    /// direct TLS, wss). The machine is made by `start` once the handshake
    /// is done, with what TLS offers for channel binding.
    ///
    /// # Errors
    /// [`TransportError::Tls`] if rustls refuses to start.
    pub fn direct_tls(
        now: Instant,
        role: TlsRole,
        start: impl FnOnce(Instant, Option<TlsInfo>) -> M + Send + 'static,
    ) -> Result<Self, TransportError> {
        let mut engine = Self::empty(Slot::Waiting(Box::new(start)), None, Some(now));
        engine.start_tls(role)?;
        Ok(engine)
    }

    /// Frames the stream in RFC 7395 WebSocket messages over the transport
    /// (and over TLS, when the engine runs TLS). Call right after
    /// creating the engine, before any input.
    #[cfg(feature = "websocket")]
    pub fn with_websocket(mut self, ws: WebSocket) -> Self {
        self.ws = Some(ws);
        if self.tls.is_none() {
            // What the machine wrote already goes through the framing.
            let early: Vec<Bytes> = self.transmit.drain(..).collect();
            self.transmit_bytes = 0;
            for bytes in early {
                self.write_xmpp(bytes);
            }
        }
        // (Over TLS, the ClientHello stays first; the handshake request
        // waits in rustls until the handshake is done.)
        self.flush_ws();
        self.flush_tls();
        self
    }

    fn empty(machine: Slot<M>, starttls: Option<TlsRole>, now: Option<Instant>) -> Self {
        Self {
            machine,
            starttls,
            tls: None,
            tls_reported: false,
            end_point: None,
            #[cfg(feature = "websocket")]
            ws: None,
            transmit: VecDeque::new(),
            transmit_bytes: 0,
            max_backlog: DEFAULT_MAX_BACKLOG,
            outputs: VecDeque::new(),
            handshake_deadline: now.map(|now| now + HANDSHAKE_TIMEOUT),
            done: false,
        }
    }

    /// The machine, once it runs (after a direct TLS handshake).
    pub fn machine(&self) -> Option<&M> {
        match &self.machine {
            Slot::Running(machine) => Some(machine),
            _ => None,
        }
    }

    /// Runs `f` on the machine (to send a stanza, close, ...) and collects
    /// what it produced. `None` if the machine does not run yet or any
    /// more.
    pub fn with_machine<R>(&mut self, f: impl FnOnce(&mut M) -> R) -> Option<R> {
        let Slot::Running(machine) = &mut self.machine else {
            return None;
        };
        let result = f(machine);
        self.pump_machine();
        Some(result)
    }

    /// Raw bytes from the transport (all consumed).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.done {
            return;
        }
        if self.tls.is_none() {
            self.plain_input(now, data);
        } else {
            let mut rest = data;
            while !rest.is_empty() && !self.done {
                let Some(tls) = self.tls.as_mut() else { break };
                match tls.read_tls(&mut rest) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        self.fail(TransportError::Io(e.to_string()));
                        break;
                    }
                }
                if let Err(e) = tls.process_new_packets() {
                    // rustls queued an alert for the peer: send it.
                    self.flush_tls();
                    self.fail(TransportError::Tls(e));
                    break;
                }
                self.tls_progress(now);
            }
        }
        self.pump_machine();
    }

    /// The transport ended.
    pub fn handle_eof(&mut self, now: Instant) {
        if self.done {
            return;
        }
        self.eof_below(now);
        self.pump_machine();
    }

    /// A deadline may have passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.done {
            return;
        }
        if let Slot::Running(machine) = &mut self.machine {
            machine.handle_timeout(now);
        } else if self.handshake_deadline.is_some_and(|d| now >= d) {
            self.fail(TransportError::HandshakeTimeout);
        }
        self.pump_machine();
    }

    /// Bytes to write to the transport, in order.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let bytes = self.transmit.pop_front()?;
        self.transmit_bytes = self.transmit_bytes.saturating_sub(bytes.len());
        Some(bytes)
    }

    /// Bounds the direct TLS (or WebSocket) handshake to `timeout` from
    /// the engine's creation instead of the default 30 s; past it, the
    /// connection fails with [`TransportError::HandshakeTimeout`]. No
    /// effect on an engine whose machine already runs.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_deadline = self
            .handshake_deadline
            .and_then(|deadline| deadline.checked_sub(HANDSHAKE_TIMEOUT))
            .and_then(|start| start.checked_add(timeout));
        self
    }

    /// Fails the connection with [`TransportError::Backlog`] once more
    /// than `bytes` wait in [`poll_transmit`](Self::poll_transmit)
    /// (default 4 MiB): a peer that stops reading cannot make the engine
    /// grow without end.
    #[must_use]
    pub fn with_max_backlog(mut self, bytes: usize) -> Self {
        self.max_backlog = bytes;
        self
    }

    /// Queues bytes for the transport, within the backlog limit.
    fn queue_transmit(&mut self, bytes: Bytes) {
        self.transmit_bytes += bytes.len();
        self.transmit.push_back(bytes);
        if self.transmit_bytes > self.max_backlog {
            self.fail(TransportError::Backlog(self.transmit_bytes));
        }
    }

    /// The next event or ending.
    pub fn poll_output(&mut self) -> Option<Output<M::Event, M::Closed>> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        match &self.machine {
            Slot::Running(machine) => machine.poll_timeout(),
            _ => self.handshake_deadline,
        }
    }

    /// Bytes waiting for the transport (taken by
    /// [`poll_transmit`](Self::poll_transmit)): what a peer that does not
    /// read makes grow.
    pub(crate) fn backlog(&self) -> usize {
        self.transmit_bytes
    }

    /// Whether the machine closed or the transport failed, and everything
    /// to write was taken: close the socket now.
    pub fn is_done(&self) -> bool {
        self.done && self.transmit.is_empty()
    }

    /// Whether the machine closed or the transport failed, even if bytes
    /// still wait to be written.
    pub fn is_ending(&self) -> bool {
        self.done
    }

    // ---- internals ----------------------------------------------------

    fn fail(&mut self, error: TransportError) {
        if !self.done {
            self.done = true;
            self.outputs.push_back(Output::Failed(error));
        }
    }

    /// After TLS records were processed: report a finished handshake and
    /// hand the plaintext up.
    fn tls_progress(&mut self, now: Instant) {
        let Some(tls) = self.tls.as_mut() else { return };
        if !tls.is_handshaking() && !self.tls_reported {
            self.tls_reported = true;
            let info = channel_bindings(tls, self.end_point.as_deref());
            match std::mem::replace(&mut self.machine, Slot::Taken) {
                Slot::Waiting(start) => {
                    // Over wss, the machine's first bytes wait in the
                    // framing until the WebSocket handshake is done.
                    self.machine = Slot::Running(start(now, Some(info)));
                }
                Slot::Running(mut machine) => {
                    machine.tls_established(now, info);
                    self.machine = Slot::Running(machine);
                }
                Slot::Taken => {}
            }
        }
        // Plaintext is read into a local buffer, so it goes up without a
        // copy while `self` is borrowed again.
        let mut buf = [0u8; PLAINTEXT_CHUNK];
        loop {
            let Some(tls) = self.tls.as_mut() else { return };
            match tls.reader().read(&mut buf) {
                Ok(0) => {
                    // close_notify: the peer is done.
                    self.eof_below(now);
                    return;
                }
                Ok(n) => self.plain_input(now, buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.fail(TransportError::Io(e.to_string()));
                    break;
                }
            }
        }
        self.flush_tls();
    }

    fn eof_below(&mut self, now: Instant) {
        match &mut self.machine {
            Slot::Running(machine) => machine.handle_eof(now),
            _ => self.fail(TransportError::Eof),
        }
    }

    /// Plaintext from the transport (or from TLS).
    fn plain_input(&mut self, now: Instant, data: &[u8]) {
        #[cfg(feature = "websocket")]
        if let Some(ws) = self.ws.as_mut() {
            if let Err(e) = ws.handle_input(data) {
                self.flush_ws();
                self.fail(TransportError::WebSocket(e));
                return;
            }
            while let Some(message) = self.ws.as_mut().and_then(WebSocket::poll_message) {
                if let Slot::Running(machine) = &mut self.machine {
                    machine.handle_input(now, &message);
                }
            }
            let peer_closed = self.ws.as_ref().is_some_and(WebSocket::peer_closed);
            self.flush_ws();
            if peer_closed {
                self.eof_below(now);
            }
            return;
        }
        if let Slot::Running(machine) = &mut self.machine {
            machine.handle_input(now, data);
        }
    }

    /// Moves the machine's outputs out, through the framing and TLS.
    fn pump_machine(&mut self) {
        loop {
            let Slot::Running(machine) = &mut self.machine else {
                return;
            };
            let Some(step) = machine.poll_output() else {
                break;
            };
            match step {
                Step::Transmit(bytes) => self.write_xmpp(bytes),
                Step::StartTls => match self.starttls.take() {
                    Some(role) => {
                        if let Err(e) = self.start_tls(role) {
                            self.fail(e);
                        }
                    }
                    None => self.fail(TransportError::NoTlsConfig),
                },
                Step::Event(event) => self.outputs.push_back(Output::Event(event)),
                Step::Closed(reason) => {
                    if !self.done {
                        self.done = true;
                        self.outputs.push_back(Output::Closed(reason));
                    }
                    #[cfg(feature = "websocket")]
                    if let Some(ws) = self.ws.as_mut() {
                        ws.close();
                    }
                    self.flush_ws();
                    if let Some(tls) = self.tls.as_mut() {
                        tls.send_close_notify();
                    }
                    self.flush_tls();
                }
            }
        }
        self.flush_tls();
    }

    fn start_tls(&mut self, role: TlsRole) -> Result<(), TransportError> {
        let connection = match role {
            TlsRole::Client {
                config,
                server_name,
            } => rustls::ClientConnection::new(config, server_name)
                .map(rustls::Connection::Client)
                .map_err(TransportError::Tls)?,
            TlsRole::Server(server) => {
                self.end_point = server.end_point().map(<[u8]>::to_vec);
                rustls::ServerConnection::new(Arc::clone(server.config()))
                    .map(rustls::Connection::Server)
                    .map_err(TransportError::Tls)?
            }
        };
        self.tls = Some(connection);
        self.flush_tls();
        Ok(())
    }

    /// XMPP bytes from the machine, through the framing and TLS.
    fn write_xmpp(&mut self, bytes: Bytes) {
        #[cfg(feature = "websocket")]
        if let Some(ws) = self.ws.as_mut() {
            if let Err(e) = ws.send(&bytes) {
                self.fail(TransportError::WebSocket(e));
            }
            self.flush_ws();
            return;
        }
        self.write_below(bytes);
    }

    #[cfg(feature = "websocket")]
    fn flush_ws(&mut self) {
        while let Some(bytes) = self.ws.as_mut().and_then(WebSocket::poll_transmit) {
            self.write_below(bytes);
        }
    }

    #[cfg(not(feature = "websocket"))]
    fn flush_ws(&mut self) {}

    /// Bytes for TLS (records are cut by [`flush_tls`](Self::flush_tls)
    /// once per batch), or for the transport as they are when there is
    /// no TLS.
    ///
    /// rustls takes at most its buffer limit (64 KiB) of records not yet
    /// taken with `write_tls`: a larger batch (a resumption sending a full
    /// queue again, say) moves the records to the transmit queue, bounded
    /// by the backlog limit, and goes on, instead of failing half written.
    fn write_below(&mut self, bytes: Bytes) {
        if self.tls.is_none() {
            self.queue_transmit(bytes);
            return;
        }
        let mut rest: &[u8] = &bytes;
        let mut stuck = false;
        while !rest.is_empty() && !self.done {
            let Some(tls) = self.tls.as_mut() else { return };
            match tls.writer().write(rest) {
                Ok(0) if stuck => {
                    self.fail(TransportError::Io("TLS takes no more data".to_owned()));
                }
                Ok(0) => {
                    stuck = true;
                    self.flush_tls();
                }
                Ok(n) => {
                    stuck = false;
                    rest = rest.get(n..).unwrap_or_default();
                }
                Err(e) => self.fail(TransportError::Io(e.to_string())),
            }
        }
    }

    fn flush_tls(&mut self) {
        loop {
            let Some(tls) = self.tls.as_mut() else { return };
            if !tls.wants_write() {
                break;
            }
            let mut out = Vec::new();
            match tls.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => self.queue_transmit(Bytes::from(out)),
            }
        }
    }
}
