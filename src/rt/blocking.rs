//! A small synchronous client over `std::net`, for scripts and cron jobs:
//! connect, send or request, read what came, close. No runtime, no
//! threads, no reconnection.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use xmpp_kit::rt::blocking::{BlockingClient, BlockingOptions, ClientError};
//! use xmpp_kit::stanza::Message;
//!
//! fn main() -> Result<(), ClientError> {
//!     let options = BlockingOptions::new("cron@example.org", "secret");
//!     let mut client = BlockingClient::connect(&options)?;
//!     let to = "admin@example.org".parse()?;
//!     client.send_confirmed(Message::chat(to, "backup done"), Duration::from_secs(10))?;
//!     client.close()
//! }
//! ```
//!
//! # How it runs
//! The client reads from the socket only inside its calls: everything
//! the server sent meanwhile (stanzas, acks, pings, which are answered)
//! is handled at the next call. A script that stays idle longer than the
//! server's patience may find the connection gone at its next call.
//! Stanzas that arrive while a call waits for something else wait in a
//! queue for [`BlockingClient::recv`]; see there for its bound.
//!
//! # Where it connects
//! To [`BlockingOptions::server`] when given, else to the JID's domain on
//! port 5222 (5223 with [`BlockingOptions::direct_tls`]). DNS SRV lookups
//! (RFC 6120 section 3.2) need the tokio adapter's `Client` (feature
//! `tokio`). The server's certificate is always checked against the
//! JID's domain.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, TcpStream, ToSocketAddrs as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

use super::dns::parse_host_port;
use super::engine::{Engine, Output, TlsRole, TransportError};
use super::tls::{ALPN_XMPP_CLIENT, ClientTls, Roots, os_seed};
use crate::client::{
    ClientConfig, ClientConnection, CloseReason, Event, IqError, SendError, TlsMode,
};
use crate::ext::ping::Ping;
use crate::ext::{Payload as _, PayloadError};
use crate::jid::{FullJid, Jid};
use crate::stanza::{Iq, Stanza};
use crate::stream::StanzaToken;

pub use super::error::ClientError;

/// How many received stanzas wait for [`BlockingClient::recv`] before the
/// client stops reading from the server.
const MAX_QUEUED: usize = 1000;
/// The shortest socket wait: a zero read timeout means "forever" to std.
const MIN_WAIT: Duration = Duration::from_millis(1);
/// How many reads one call makes without waiting, at most, to take in
/// what already arrived.
const MAX_EAGER_READS: usize = 64;
/// The standard ports (RFC 6120 section 14.7, XEP-0368).
const STARTTLS_PORT: u16 = 5222;
const DIRECT_TLS_PORT: u16 = 5223;

/// Options of a [`BlockingClient`]: secure by default (TLS with the
/// system's roots, STARTTLS required), stream management on, 30 s to
/// connect.
#[derive(Clone)]
#[non_exhaustive]
pub struct BlockingOptions {
    /// The account: a bare JID, or a full one to ask for that resource.
    pub jid: String,
    /// The password.
    pub password: String,
    /// Connect to this `host:port` (`[v6]:port` for an IPv6 literal)
    /// instead of the JID's domain on the standard port.
    pub server: Option<String>,
    /// TLS from the first byte (XEP-0368, ALPN `xmpp-client`) instead of
    /// STARTTLS.
    pub direct_tls: bool,
    /// PEM files whose CA certificates are trusted besides
    /// [`roots`](Self::roots) (for a private CA).
    pub ca_files: Vec<PathBuf>,
    /// Which roots to trust.
    pub roots: Roots,
    /// No TLS at all ([`TlsMode::Insecure`]). Only for loopback tests and
    /// trusted links; ignored with [`direct_tls`](Self::direct_tls).
    pub allow_plaintext: bool,
    /// Enable XEP-0198 stream management when the server offers it: then
    /// [`BlockingClient::send_confirmed`] waits for an ack instead of a
    /// ping's answer.
    pub stream_management: bool,
    /// Bounds the whole of [`BlockingClient::connect`] after name
    /// resolution (TCP, TLS, SASL, bind), and each socket write.
    pub timeout: Duration,
}

impl fmt::Debug for BlockingOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingOptions")
            .field("jid", &self.jid)
            .field("password", &"<redacted>")
            .field("server", &self.server)
            .field("direct_tls", &self.direct_tls)
            .field("ca_files", &self.ca_files)
            .field("roots", &self.roots)
            .field("allow_plaintext", &self.allow_plaintext)
            .field("stream_management", &self.stream_management)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl BlockingOptions {
    /// The default options for `jid` with `password`.
    pub fn new(jid: &str, password: &str) -> Self {
        Self {
            jid: jid.to_owned(),
            password: password.to_owned(),
            server: None,
            direct_tls: false,
            ca_files: Vec::new(),
            roots: Roots::System,
            allow_plaintext: false,
            stream_management: true,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A connected synchronous client. Every call blocks the thread until it
/// is done or its timeout passes; nothing happens between calls.
///
/// Errors are sticky: once the connection has ended, every call returns
/// the error that ended it (stanzas received before stay readable with
/// [`recv`](Self::recv)). There is no reconnection: connect again.
///
/// Dropping the client without [`close`](Self::close) still sends the
/// stream's end, without waiting for the server's.
#[derive(Debug)]
pub struct BlockingClient {
    link: Link,
    jid: FullJid,
    close_timeout: Duration,
    /// How long `send` may wait for room (acks).
    timeout: Duration,
}

impl BlockingClient {
    /// Connects (TCP, STARTTLS or direct TLS, SASL, bind) and returns once
    /// the stream is online. [`BlockingOptions::timeout`] bounds the whole
    /// connection after the host name is resolved.
    ///
    /// # Errors
    /// [`ClientError::Jid`], [`ClientError::Address`] or
    /// [`ClientError::TlsSetup`] for invalid options,
    /// [`ClientError::Connect`] if no address of the server could be
    /// reached, [`ClientError::Transport`] if TLS failed (a refused
    /// certificate), [`ClientError::Connection`] if XMPP did (wrong
    /// password, stream error), [`ClientError::Timeout`] if it took too
    /// long.
    pub fn connect(options: &BlockingOptions) -> Result<Self, ClientError> {
        let jid: Jid = options.jid.parse()?;
        let domain = jid.domain().to_owned();
        let server_name = ServerName::try_from(domain.clone())
            .map_err(|_| ClientError::Address(domain.clone()))?;
        let plaintext = options.allow_plaintext && !options.direct_tls;
        let tls = if plaintext {
            None
        } else {
            let mut tls = ClientTls {
                roots: options.roots,
                extra_cas: Vec::new(),
            };
            for path in &options.ca_files {
                tls.add_ca_file(path)?;
            }
            let alpn = options.direct_tls.then_some(ALPN_XMPP_CLIENT);
            Some(TlsRole::Client {
                config: tls.build(alpn)?,
                server_name,
            })
        };
        let (host, port) = match &options.server {
            Some(address) => {
                parse_host_port(address).ok_or_else(|| ClientError::Address(address.clone()))?
            }
            None if options.direct_tls => (domain, DIRECT_TLS_PORT),
            None => (domain, STARTTLS_PORT),
        };

        let mut config = ClientConfig::new(jid, options.password.clone(), os_seed()?);
        config.stream_management = options.stream_management;
        config.negotiation_timeout = options.timeout;
        if plaintext {
            config.tls = TlsMode::Insecure;
        }
        let close_timeout = config.close_timeout;

        let addresses: Vec<_> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|error| ClientError::Connect {
                target: format!("{host}:{port}"),
                error,
            })?
            .collect();
        let deadline = Instant::now() + options.timeout;
        let socket = open(&addresses, deadline, &host, port)?;
        socket
            .set_nodelay(true)
            .and_then(|()| socket.set_write_timeout(Some(options.timeout.max(MIN_WAIT))))
            .map_err(|error| ClientError::Connect {
                target: format!("{host}:{port}"),
                error,
            })?;

        let now = Instant::now();
        let engine = match tls {
            Some(role) if options.direct_tls => {
                Engine::direct_tls(now, role, move |now, info| match info {
                    Some(info) => ClientConnection::new_direct_tls(config, now, info),
                    None => ClientConnection::new(config, now),
                })?
            }
            starttls => Engine::plain(ClientConnection::new(config, now), starttls),
        };
        let mut link = Link {
            socket,
            engine,
            state: State::default(),
            buf: vec![0; 16 * 1024],
            socket_closed: false,
        };
        link.pump(deadline, |state| state.jid.is_some())?;
        let jid = link.state.jid.clone().ok_or(ClientError::Disconnected)?;
        Ok(Self {
            link,
            jid,
            close_timeout,
            timeout: options.timeout,
        })
    }

    /// The address the server bound.
    pub fn jid(&self) -> &FullJid {
        &self.jid
    }

    /// Sends a stanza: it is written to the socket before this returns
    /// (which does not mean the server read it: see
    /// [`send_confirmed`](Self::send_confirmed)). Also takes in what the
    /// server sent meanwhile, without waiting.
    ///
    /// With stream management, when 1000 stanzas wait for the server's
    /// acks, this waits (up to [`BlockingOptions::timeout`]) until the
    /// server confirmed some: a loop of `send` runs at the server's pace.
    ///
    /// The answer to an iq get or set sent this way is dropped: use
    /// [`request`](Self::request) for those.
    ///
    /// # Errors
    /// [`ClientError::Send`] if the stanza is invalid,
    /// [`ClientError::Timeout`] if the server did not make room in time,
    /// or the error that ended the connection.
    pub fn send(&mut self, stanza: impl Into<Stanza>) -> Result<(), ClientError> {
        let deadline = Instant::now() + self.timeout;
        self.link.submit(stanza.into(), deadline)?;
        self.link.flush()?;
        // What the server sent meanwhile (acks above all, which free room
        // for more stanzas). An ending found here is reported next time.
        self.link.take_in_arrived();
        Ok(())
    }

    /// Sends a stanza and waits up to `timeout` until the server confirmed
    /// that it received it: by a XEP-0198 ack (asked for at once) when
    /// stream management is on, else by the answer to a ping sent right
    /// after it (the server handles a stream in order; an error answer
    /// confirms as well).
    ///
    /// # Errors
    /// As [`send`](Self::send), and [`ClientError::Timeout`] when no
    /// confirmation came in time.
    pub fn send_confirmed(
        &mut self,
        stanza: impl Into<Stanza>,
        timeout: Duration,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + timeout;
        let token = self.link.submit(stanza.into(), deadline)?;
        let with_acks = self
            .link
            .engine
            .machine()
            .is_some_and(ClientConnection::stream_management);
        if with_acks {
            self.link.state.wait_for(token);
            self.link
                .engine
                .with_machine(|machine| machine.request_ack(Instant::now()));
            let result = self.link.pump(deadline, |state| state.acked);
            self.link.state.stop_waiting();
            return result;
        }
        let ping = Iq::get(None, Ping.to_element());
        let ping = self.link.submit(ping.into(), deadline)?;
        self.link.state.wait_for(ping);
        let result = self.link.pump(deadline, |state| state.answer.is_some());
        let answer = self.link.state.answer.take();
        self.link.state.stop_waiting();
        result?;
        match answer {
            Some(Ok(_) | Err(IqError::Stanza(_))) => Ok(()),
            Some(Err(error)) => Err(error.into()),
            None => Err(ClientError::Disconnected),
        }
    }

    /// Sends an iq get or set and waits up to `timeout` for its answer
    /// (and at most the connection's iq timeout, 60 s).
    ///
    /// # Errors
    /// [`ClientError::Stanza`] for an error answer,
    /// [`ClientError::Timeout`] when none came in time,
    /// [`ClientError::Send`] for an iq result or error (which gets no
    /// answer) or an invalid request, or the error that ended the
    /// connection.
    pub fn request(&mut self, iq: Iq, timeout: Duration) -> Result<Iq, ClientError> {
        let deadline = Instant::now() + timeout;
        if !iq.kind.is_request() {
            return Err(ClientError::Send(SendError::Invalid(
                PayloadError::InvalidValue {
                    element: "iq",
                    what: "attribute 'type' of a request",
                    value: "result or error".to_owned(),
                },
            )));
        }
        let token = self.link.submit(iq.into(), deadline)?;
        self.link.state.wait_for(token);
        let result = self.link.pump(deadline, |state| state.answer.is_some());
        let answer = self.link.state.answer.take();
        self.link.state.stop_waiting();
        result?;
        match answer {
            Some(response) => response.map_err(ClientError::from),
            None => Err(ClientError::Disconnected),
        }
    }

    /// Waits up to `timeout` for the next stanza from the server; `None`
    /// when none came in time. A zero `timeout` only takes what already
    /// arrived.
    ///
    /// Stanzas that arrive while another call waits (for a connection, an
    /// answer, a confirmation) are queued for this call, never dropped.
    /// The queue holds 1000 stanzas, plus what one read of the socket
    /// brings: once it is full, the other calls stop reading from the
    /// server (which then waits, as TCP makes it) and so end with
    /// [`ClientError::Timeout`] until `recv` has taken some. A program
    /// that ignores incoming stanzas should still drain them now and then
    /// with a zero timeout.
    ///
    /// # Errors
    /// The error that ended the connection, once the queue is empty.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<Stanza>, ClientError> {
        let deadline = Instant::now() + timeout;
        if let Some(stanza) = self.link.state.stanzas.pop_front() {
            return Ok(Some(stanza));
        }
        if timeout.is_zero() {
            self.link.take_in_arrived();
            return match self.link.state.stanzas.pop_front() {
                Some(stanza) => Ok(Some(stanza)),
                None => self.link.ended().map(|()| None),
            };
        }
        match self.link.pump(deadline, |state| !state.stanzas.is_empty()) {
            Ok(()) => Ok(self.link.state.stanzas.pop_front()),
            Err(ClientError::Timeout) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Closes the stream cleanly and waits (bounded by the close timeout,
    /// 5 s) for the server to close its side; a server that stays silent
    /// that long is left behind without error. Stanzas still queued for
    /// [`recv`](Self::recv) are dropped.
    ///
    /// # Errors
    /// The error that ended the connection, if it ended otherwise than
    /// cleanly (also before this call).
    pub fn close(mut self) -> Result<(), ClientError> {
        let now = Instant::now();
        let deadline = now + self.close_timeout + Duration::from_secs(1);
        if self.link.state.ending.is_none() {
            self.link.engine.with_machine(|machine| machine.close(now));
        }
        let pumped = self.link.pump(deadline, |state| state.ending.is_some());
        self.link.finish();
        match &self.link.state.ending {
            Some(Ending::Closed(CloseReason::Closed | CloseReason::PeerClosed)) => Ok(()),
            Some(ending) => Err(ending.to_error()),
            None => pumped.and(Err(ClientError::Timeout)),
        }
    }
}

impl Drop for BlockingClient {
    fn drop(&mut self) {
        if self.link.state.ending.is_none() {
            let now = Instant::now();
            self.link.engine.with_machine(|machine| machine.close(now));
        }
        self.link.finish();
    }
}

/// The socket and the engine, with what came out of it.
struct Link {
    socket: TcpStream,
    engine: Engine<ClientConnection>,
    state: State,
    buf: Vec<u8>,
    socket_closed: bool,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("socket", &self.socket)
            .field("engine", &self.engine)
            .field("queued", &self.state.stanzas.len())
            .field("ending", &self.state.ending)
            .finish_non_exhaustive()
    }
}

/// What the engine reported, kept for the calls.
#[derive(Debug, Default)]
struct State {
    /// The bound address, once online.
    jid: Option<FullJid>,
    /// Stanzas for `recv`.
    stanzas: VecDeque<Stanza>,
    /// The stanza whose answer or ack a call waits for.
    wanted: Option<StanzaToken>,
    /// The answer to `wanted`.
    answer: Option<Result<Iq, IqError>>,
    /// Whether `wanted` was acked.
    acked: bool,
    /// How many acks came (to wait for room in the machine's queue).
    acks: u64,
    /// How the connection ended (sticky).
    ending: Option<Ending>,
}

impl State {
    fn wait_for(&mut self, token: StanzaToken) {
        self.wanted = Some(token);
        self.answer = None;
        self.acked = false;
    }

    fn stop_waiting(&mut self) {
        self.wanted = None;
        self.answer = None;
        self.acked = false;
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::Online { jid, .. } => self.jid = Some(jid),
            Event::Stanza(stanza) => self.stanzas.push_back(stanza),
            Event::IqResponse { token, response } => {
                // Answers nobody waits for (any more) are dropped.
                if self.wanted == Some(token) {
                    self.answer = Some(response);
                }
            }
            Event::Acked(tokens) => {
                self.acks = self.acks.wrapping_add(1);
                if self.wanted.is_some_and(|wanted| tokens.contains(&wanted)) {
                    self.acked = true;
                }
            }
            // This client never resumes a session.
            Event::ResumeFailed { .. } => {}
        }
    }

    fn end(&mut self, ending: Ending) {
        self.ending.get_or_insert(ending);
    }
}

/// How the connection ended.
#[derive(Debug, Clone)]
enum Ending {
    /// The connection machine closed.
    Closed(CloseReason),
    /// The transport failed (TLS, the socket).
    Failed(TransportError),
}

impl Ending {
    fn to_error(&self) -> ClientError {
        match self {
            Self::Closed(CloseReason::Error(error)) => ClientError::Connection(error.clone()),
            Self::Closed(CloseReason::Closed | CloseReason::PeerClosed) => {
                ClientError::Disconnected
            }
            Self::Failed(error) => ClientError::Transport(error.clone()),
        }
    }
}

impl Link {
    /// Runs the connection until `until` holds, the connection ends or
    /// `deadline` passes ([`ClientError::Timeout`]).
    fn pump(
        &mut self,
        deadline: Instant,
        mut until: impl FnMut(&mut State) -> bool,
    ) -> Result<(), ClientError> {
        loop {
            self.flush()?;
            if until(&mut self.state) {
                return Ok(());
            }
            self.ended()?;
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Timeout);
            }
            let timer = self.engine.poll_timeout();
            if timer.is_some_and(|timer| timer <= now) {
                self.engine.handle_timeout(now);
                continue;
            }
            let wake = timer.map_or(deadline, |timer| timer.min(deadline));
            let wait = wake.saturating_duration_since(now).max(MIN_WAIT);
            if self.state.stanzas.len() >= MAX_QUEUED {
                // Full: the server waits until `recv` drains the queue.
                std::thread::sleep(wait);
            } else {
                self.read(Some(wait));
            }
        }
    }

    /// Takes in what already arrived and what is due, without waiting.
    /// An ending is kept in the state.
    fn take_in_arrived(&mut self) {
        if self.state.ending.is_none() && self.socket.set_nonblocking(true).is_ok() {
            for _ in 0..MAX_EAGER_READS {
                if self.state.stanzas.len() >= MAX_QUEUED || !self.read(None) {
                    break;
                }
            }
            if let Err(error) = self.socket.set_nonblocking(false) {
                self.fail_io(&error);
            }
        }
        let now = Instant::now();
        if self.engine.poll_timeout().is_some_and(|timer| timer <= now) {
            self.engine.handle_timeout(now);
        }
        let _kept_in_state = self.flush();
    }

    /// One read from the socket, waiting up to `wait` (`None`: the socket
    /// is non-blocking). Whether bytes came.
    fn read(&mut self, wait: Option<Duration>) -> bool {
        if let Some(wait) = wait
            && let Err(error) = self.socket.set_read_timeout(Some(wait))
        {
            self.fail_io(&error);
            return false;
        }
        match self.socket.read(&mut self.buf) {
            Ok(0) => {
                self.engine.handle_eof(Instant::now());
                false
            }
            Ok(n) => {
                let data = self.buf.get(..n).unwrap_or_default();
                self.engine.handle_input(Instant::now(), data);
                true
            }
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                false
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => true,
            Err(error) => {
                self.fail_io(&error);
                false
            }
        }
    }

    /// Writes out what the engine has for the server and takes its
    /// outputs into the state; closes the socket once the engine is done.
    ///
    /// # Errors
    /// The error that ended the connection, if writing failed.
    fn flush(&mut self) -> Result<(), ClientError> {
        while let Some(bytes) = self.engine.poll_transmit() {
            if self.socket_closed {
                continue;
            }
            if let Err(error) = self.socket.write_all(&bytes) {
                self.fail_io(&error);
                return self.ended();
            }
        }
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Event(event) => self.state.handle_event(event),
                Output::Closed(reason) => self.state.end(Ending::Closed(reason)),
                Output::Failed(error) => self.state.end(Ending::Failed(error)),
            }
        }
        if self.engine.is_done() {
            self.close_socket();
        }
        Ok(())
    }

    /// Hands a stanza to the connection. With stream management, while
    /// the machine's queue of unacked stanzas is full, asks for an ack and
    /// waits until `deadline` for one.
    fn submit(&mut self, stanza: Stanza, deadline: Instant) -> Result<StanzaToken, ClientError> {
        self.ended()?;
        let with_acks = self
            .engine
            .machine()
            .is_some_and(ClientConnection::stream_management);
        if !with_acks {
            // Without acks nothing waits in the machine once online.
            return self.try_submit(stanza);
        }
        loop {
            // The machine drops a stanza it refuses: keep a copy to retry.
            match self.try_submit(stanza.clone()) {
                Err(ClientError::Send(SendError::QueueFull(_))) => {
                    let acks = self.state.acks;
                    self.engine
                        .with_machine(|machine| machine.request_ack(Instant::now()));
                    self.pump(deadline, |state| state.acks != acks)?;
                }
                result => return result,
            }
        }
    }

    fn try_submit(&mut self, stanza: Stanza) -> Result<StanzaToken, ClientError> {
        let now = Instant::now();
        match self
            .engine
            .with_machine(|machine| machine.send(now, stanza))
        {
            Some(Ok(token)) => Ok(token),
            Some(Err(error)) => Err(ClientError::Send(error)),
            None => Err(ClientError::Disconnected),
        }
    }

    /// The error that ended the connection, if it did.
    fn ended(&self) -> Result<(), ClientError> {
        self.state
            .ending
            .as_ref()
            .map_or(Ok(()), |ending| Err(ending.to_error()))
    }

    fn fail_io(&mut self, error: &io::Error) {
        self.state
            .end(Ending::Failed(TransportError::Io(error.to_string())));
        self.close_socket();
    }

    /// Writes out what is left and closes the socket.
    fn finish(&mut self) {
        let _kept_in_state = self.flush();
        self.close_socket();
    }

    fn close_socket(&mut self) {
        if !self.socket_closed {
            self.socket_closed = true;
            // Already gone is as good as closed.
            let _ignored = self.socket.shutdown(Shutdown::Both);
        }
    }
}

/// Opens a TCP connection to the first address that answers before
/// `deadline`.
fn open(
    addresses: &[std::net::SocketAddr],
    deadline: Instant,
    host: &str,
    port: u16,
) -> Result<TcpStream, ClientError> {
    let mut last = None;
    for address in addresses {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ClientError::Timeout);
        }
        match TcpStream::connect_timeout(address, left) {
            Ok(socket) => return Ok(socket),
            Err(error) => last = Some((address, error)),
        }
    }
    Err(match last {
        Some((address, error)) => ClientError::Connect {
            target: address.to_string(),
            error,
        },
        None => ClientError::Connect {
            target: format!("{host}:{port}"),
            error: io::Error::new(io::ErrorKind::NotFound, "the name has no address"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_hide_the_password() {
        let options = BlockingOptions::new("a@example.org", "hunter2");
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("a@example.org"));
    }

    #[test]
    fn endings_map_to_errors() {
        assert!(matches!(
            Ending::Closed(CloseReason::PeerClosed).to_error(),
            ClientError::Disconnected
        ));
        assert!(matches!(
            Ending::Closed(CloseReason::Error(crate::client::ConnectionError::Eof)).to_error(),
            ClientError::Connection(crate::client::ConnectionError::Eof)
        ));
        assert!(matches!(
            Ending::Failed(TransportError::Eof).to_error(),
            ClientError::Transport(TransportError::Eof)
        ));
    }

    #[test]
    fn bad_options_fail_before_connecting() {
        let mut options = BlockingOptions::new("not a jid@@", "x");
        assert!(matches!(
            BlockingClient::connect(&options),
            Err(ClientError::Jid(_))
        ));
        options.jid = "a@example.org".to_owned();
        options.allow_plaintext = true;
        options.server = Some("example.org".to_owned());
        assert!(matches!(
            BlockingClient::connect(&options),
            Err(ClientError::Address(_))
        ));
    }
}
