//! The easy client: [`Client::connect`], [`ClientBuilder`], `send`,
//! `request`, events as a [`Stream`], `close`, with reconnection and
//! XEP-0198 resumption handled inside.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use futures::io::{AsyncRead, AsyncWrite};
use futures::{SinkExt as _, Stream, StreamExt as _};
use rustls::pki_types::ServerName;

use super::backoff::{Backoff, ReconnectPolicy};
use super::dns::parse_host_port;
use super::driver::{self, BoxFuture, Host, Sleeper};
use super::engine::{Engine, Output, TlsRole, TransportError};
pub use super::error::ClientError;
use super::tls::{ALPN_XMPP_CLIENT, ClientTls, Roots};
use crate::client::{
    ClientConfig, ClientConnection, CloseReason, Event, IqError, ResumeState, SendError, TlsMode,
};
use crate::ext::Payload as _;
use crate::ext::ping::Ping;
use crate::jid::{FullJid, Jid, JidError};
use crate::stanza::{Iq, Stanza};
use crate::stream::StanzaToken;
use crate::xml::Limits;

/// How many events wait for the application before the client stops
/// reading from the server.
const EVENT_QUEUE: usize = 256;
/// How many commands wait for the client task.
const COMMAND_QUEUE: usize = 64;

/// What the client reports, from [`Client`] as a [`Stream`].
#[derive(Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // moved once; boxing costs an allocation per stanza
pub enum ClientEvent {
    /// The stream is online (again). After a reconnection, `resumed` says
    /// whether the session survived (XEP-0198): when it did not, presence
    /// and subscriptions must be sent again.
    Online {
        /// The bound address.
        jid: FullJid,
        /// Whether the previous session was resumed.
        resumed: bool,
    },
    /// A stanza for us (answers to [`Client::request`] are not repeated
    /// here).
    Stanza(Stanza),
    /// The connection was lost; with `reconnecting`, the client is
    /// reconnecting by itself and nothing sent is lost when the session
    /// resumes.
    Disconnected {
        /// Why.
        error: ClientError,
        /// Whether the client will try again.
        reconnecting: bool,
    },
}

/// Where the client connects.
#[derive(Debug, Clone)]
enum Endpoint {
    /// DNS SRV on the JID's domain (tokio adapter only).
    Srv,
    /// This host and port.
    Address(String, u16),
    /// RFC 7395 WebSocket.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    WebSocket {
        tls: bool,
        host: String,
        port: u16,
        path: String,
    },
}

/// Options of a [`Client`]. Secure by default: TLS with the system's
/// roots, STARTTLS required, the strongest SASL mechanism, stream
/// management with resumption, reconnection with backoff.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    jid: Result<Jid, JidError>,
    password: String,
    endpoint: Result<Endpoint, ClientError2>,
    direct_tls: bool,
    roots: Roots,
    ca_files: Vec<PathBuf>,
    ca_pems: Vec<Vec<u8>>,
    plaintext: bool,
    resource: Option<String>,
    stream_management: bool,
    reconnect: ReconnectPolicy,
    limits: Limits,
    request_timeout: Duration,
    configure: Option<Configure>,
}

/// A deferred builder error (cloneable, turned into [`ClientError`] at
/// connect time).
#[derive(Debug, Clone)]
enum ClientError2 {
    Address(String),
    WebSocketUrl(String),
}

/// The caller's adjustment of the [`ClientConfig`].
#[derive(Clone)]
struct Configure(Arc<dyn Fn(&mut ClientConfig) + Send + Sync>);

impl std::fmt::Debug for Configure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<configure>")
    }
}

/// A connected transport, as a [`Connect`] gives it.
#[derive(Debug)]
pub struct Connected<IO> {
    /// The byte stream.
    pub io: IO,
    /// Whether TLS starts at once on it (XEP-0368), instead of STARTTLS.
    pub direct_tls: bool,
}

/// Opens transports for a client, once per (re)connection: how the
/// futures-io adapter learns where to connect with the caller's runtime.
pub trait Connect: Send + 'static {
    /// The byte stream.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Opens a new transport.
    fn connect(&mut self) -> BoxFuture<Result<Connected<Self::Io>, ClientError>>;
}

impl<F, Fut, IO> Connect for F
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = io::Result<IO>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Io = IO;
    fn connect(&mut self) -> BoxFuture<Result<Connected<IO>, ClientError>> {
        let opening = self();
        Box::pin(async move {
            let io = opening.await.map_err(|error| ClientError::Connect {
                target: "the caller's transport".to_owned(),
                error,
            })?;
            Ok(Connected {
                io,
                direct_tls: false,
            })
        })
    }
}

impl ClientBuilder {
    /// Options for the account `jid` (a bare JID; a full one asks for that
    /// resource) with `password`.
    pub fn new(jid: &str, password: impl Into<String>) -> Self {
        Self {
            jid: jid.parse(),
            password: password.into(),
            endpoint: Ok(Endpoint::Srv),
            direct_tls: false,
            roots: Roots::System,
            ca_files: Vec::new(),
            ca_pems: Vec::new(),
            plaintext: false,
            resource: None,
            stream_management: true,
            reconnect: ReconnectPolicy::default(),
            limits: Limits::default(),
            request_timeout: Duration::from_secs(60),
            configure: None,
        }
    }

    /// Connects to `host:port` instead of looking up the domain's SRV
    /// records. The certificate is still checked against the JID's domain.
    pub fn server(mut self, address: &str) -> Self {
        self.endpoint = parse_host_port(address)
            .map(|(host, port)| Endpoint::Address(host, port))
            .ok_or_else(|| ClientError2::Address(address.to_owned()));
        self
    }

    /// Uses TLS from the first byte (XEP-0368, ALPN `xmpp-client`) on the
    /// [`server`](Self::server) address instead of STARTTLS. SRV lookups
    /// find direct TLS by themselves.
    pub fn direct_tls(mut self, direct: bool) -> Self {
        self.direct_tls = direct;
        self
    }

    /// Trusts the CA certificates of this PEM file besides the roots (for
    /// a private CA). Read at connect time.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Trusts the CA certificates of this PEM text besides the roots.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }

    /// Which roots to trust (default: the system's).
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Asks for this resource at bind time (the server may choose another).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Enables or disables XEP-0198 stream management (default on).
    pub fn stream_management(mut self, enabled: bool) -> Self {
        self.stream_management = enabled;
        self
    }

    /// When to reconnect after losing an established connection.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Limits on what the server may send.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How long [`Client::request`] waits for an answer (default 60 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Connects over RFC 7395 WebSocket: `wss://host[:port]/path` (TLS)
    /// or `ws://...` (plain, which also needs
    /// [`allow_plaintext`](Self::allow_plaintext)).
    pub fn websocket(mut self, url: &str) -> Self {
        self.endpoint = parse_ws_url(url).ok_or_else(|| ClientError2::WebSocketUrl(url.to_owned()));
        self
    }

    /// Runs the stream without TLS. Only for loopback tests and trusted
    /// links: the password then crosses the network readable unless the
    /// mechanism is SCRAM.
    pub fn allow_plaintext(mut self) -> Self {
        self.plaintext = true;
        self
    }

    /// Adjusts the underlying [`ClientConfig`] (timeouts, SASL policy,
    /// ack cadence) after the builder's options are applied.
    /// Several calls apply in order.
    pub fn configure(mut self, f: impl Fn(&mut ClientConfig) + Send + Sync + 'static) -> Self {
        let previous = self.configure.take();
        self.configure = Some(Configure(Arc::new(move |config| {
            if let Some(Configure(previous)) = &previous {
                previous(config);
            }
            f(config);
        })));
        self
    }

    /// Connects over a transport the caller opens (any futures-io stream,
    /// any executor): `connector` opens a new one for every (re)connection,
    /// `sleeper` is the executor's timer, and `spawn` starts the client's
    /// task. Returns once the stream is online.
    ///
    /// # Errors
    /// [`ClientError`] if the options are invalid or the first connection
    /// fails (wrong password, refused certificate, unreachable server).
    pub async fn connect_with<C: Connect>(
        self,
        connector: C,
        sleeper: impl Sleeper,
        spawn: impl FnOnce(BoxFuture<()>),
    ) -> Result<Client, ClientError> {
        let setup = Arc::new(self.setup()?);
        let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let (online_tx, online_rx) = oneshot::channel();
        let task = ClientTask {
            setup: Arc::clone(&setup),
            host: ClientHost {
                commands: command_rx,
                events: event_tx,
                waiters: HashMap::new(),
                offline: VecDeque::new(),
                close_waiters: Vec::new(),
                close_requested: false,
                online: Some(online_tx),
                ending: None,
                held: VecDeque::new(),
                commands_closed: false,
                came_online: false,
                confirm_when_online: Vec::new(),
            },
        };
        spawn(Box::pin(task.run(connector, sleeper)));
        let jid = match online_rx.await {
            Ok(Ok(jid)) => jid,
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(ClientError::Disconnected),
        };
        Ok(Client {
            handle: ClientHandle {
                commands: command_tx,
                request_timeout: setup.request_timeout,
                jid: Arc::new(jid),
            },
            events: ClientEvents { events: event_rx },
        })
    }

    /// The host and port set by [`server`](Self::server) or
    /// [`websocket`](Self::websocket), for a custom [`Connect`]; `None`
    /// when the domain's SRV records decide.
    pub fn address(&self) -> Option<(String, u16)> {
        self.tcp_endpoint().ok().and_then(|(_, address)| address)
    }

    /// Where a TCP adapter connects: the JID's domain for SRV, or the
    /// address to use instead.
    pub(crate) fn tcp_endpoint(&self) -> Result<(String, Option<(String, u16)>), ClientError> {
        let domain = match &self.jid {
            Ok(jid) => jid.domain().to_owned(),
            Err(e) => return Err(ClientError::Jid(e.clone())),
        };
        match &self.endpoint {
            Ok(Endpoint::Srv) => Ok((domain, None)),
            Ok(Endpoint::Address(host, port)) => Ok((domain, Some((host.clone(), *port)))),
            Ok(Endpoint::WebSocket { host, port, .. }) => Ok((domain, Some((host.clone(), *port)))),
            Err(ClientError2::Address(a)) => Err(ClientError::Address(a.clone())),
            Err(ClientError2::WebSocketUrl(u)) => Err(ClientError::WebSocketUrl(u.clone())),
        }
    }

    fn setup(self) -> Result<Setup, ClientError> {
        let jid = self.jid?;
        let endpoint = self.endpoint.map_err(|e| match e {
            ClientError2::Address(a) => ClientError::Address(a),
            ClientError2::WebSocketUrl(u) => ClientError::WebSocketUrl(u),
        })?;
        let mut tls = ClientTls {
            roots: self.roots,
            extra_cas: Vec::new(),
        };
        for path in &self.ca_files {
            tls.add_ca_file(path)?;
        }
        for pem in &self.ca_pems {
            tls.add_ca_pem(pem)?;
        }
        let (starttls, direct) =
            if self.plaintext && !matches!(endpoint, Endpoint::WebSocket { tls: true, .. }) {
                (None, None)
            } else {
                (
                    Some(tls.build(None)?),
                    Some(tls.build(Some(ALPN_XMPP_CLIENT))?),
                )
            };
        let server_name = ServerName::try_from(jid.domain().to_owned())
            .map_err(|_| ClientError::Address(jid.domain().to_owned()))?;
        let jid = match &self.resource {
            Some(resource) => Jid::from(
                crate::jid::BareJid::new(jid.node(), jid.domain())?.with_resource(resource)?,
            ),
            None => jid,
        };
        Ok(Setup {
            jid,
            password: self.password,
            endpoint,
            direct_tls: self.direct_tls,
            starttls,
            direct,
            server_name,
            plaintext: self.plaintext,
            stream_management: self.stream_management,
            reconnect: self.reconnect,
            limits: self.limits,
            request_timeout: self.request_timeout,
            configure: self.configure,
        })
    }
}

fn parse_ws_url(url: &str) -> Option<Endpoint> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("wss://") {
        (true, rest)
    } else {
        (false, url.strip_prefix("ws://")?)
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = match parse_host_port(authority) {
        Some(host_port) => host_port,
        None => (
            authority
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            default_port,
        ),
    };
    if host.is_empty() {
        return None;
    }
    Some(Endpoint::WebSocket {
        tls,
        host,
        port,
        path: path.to_owned(),
    })
}

/// Everything a (re)connection needs, checked once.
struct Setup {
    jid: Jid,
    password: String,
    endpoint: Endpoint,
    direct_tls: bool,
    starttls: Option<Arc<rustls::ClientConfig>>,
    direct: Option<Arc<rustls::ClientConfig>>,
    server_name: ServerName<'static>,
    plaintext: bool,
    stream_management: bool,
    reconnect: ReconnectPolicy,
    limits: Limits,
    request_timeout: Duration,
    configure: Option<Configure>,
}

impl Setup {
    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.jid.clone(), self.password.clone(), os_seed());
        config.stream_management = self.stream_management;
        config.limits = self.limits.clone();
        config.iq_timeout = self.request_timeout;
        if self.plaintext {
            config.tls = TlsMode::Insecure;
        }
        #[cfg(feature = "websocket")]
        if let Endpoint::WebSocket { tls, .. } = &self.endpoint {
            config.framing = crate::xml::Framing::WebSocket;
            if *tls {
                config.tls = TlsMode::DirectTls;
            }
        }
        if let Some(Configure(configure)) = &self.configure {
            configure(&mut config);
        }
        config
    }

    /// A fresh engine for one transport.
    fn engine(
        &self,
        now: Instant,
        direct_tls: bool,
        resume: Option<ResumeState>,
    ) -> Result<Engine<ClientConnection>, ClientError> {
        let config = self.config();
        let start = move |now, tls| match resume {
            Some(state) => ClientConnection::resume(config, now, state, tls),
            None => match tls {
                Some(tls) => ClientConnection::new_direct_tls(config, now, tls),
                None => ClientConnection::new(config, now),
            },
        };
        let ws_tls = matches!(self.endpoint, Endpoint::WebSocket { tls: true, .. });
        let engine = if direct_tls || ws_tls {
            let config = if ws_tls { &self.starttls } else { &self.direct };
            let Some(config) = config.clone() else {
                return Err(TransportError::NoTlsConfig.into());
            };
            Engine::direct_tls(
                now,
                TlsRole::Client {
                    config,
                    server_name: self.server_name.clone(),
                },
                start,
            )?
        } else {
            let starttls = self.starttls.clone().map(|config| TlsRole::Client {
                config,
                server_name: self.server_name.clone(),
            });
            Engine::plain(start(now, None), starttls)
        };
        #[cfg(feature = "websocket")]
        if let Endpoint::WebSocket {
            host, path, port, ..
        } = &self.endpoint
        {
            let authority = format!("{host}:{port}");
            let ws = super::ws::WebSocket::client(
                &authority,
                path,
                super::ws::WsConfig::new(),
                os_seed(),
            );
            return Ok(engine.with_websocket(ws));
        }
        Ok(engine)
    }
}

/// 32 bytes from the operating system's generator, for seeds.
pub(crate) fn os_seed() -> [u8; 32] {
    super::tls::os_seed().unwrap_or_else(|_| {
        // ring's generator does not fail on supported systems; a time-based
        // seed keeps ids unique rather than failing the connection.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(&nanos.to_le_bytes());
        seed
    })
}

/// A connected client: send with [`send`](Self::send) and
/// [`request`](Self::request), read events as a [`Stream`] (use
/// `futures::StreamExt::next`), end with [`close`](Self::close).
///
/// Cloneable handles for other tasks come from [`handle`](Self::handle).
///
/// Events wait in a bounded queue (256); while it is full the client stops
/// reading from the server (so acknowledgements and answers wait too). A
/// program that only sends should [`split`](Self::split) the client and
/// drop the [`ClientEvents`]: events are then discarded.
#[derive(Debug)]
pub struct Client {
    handle: ClientHandle,
    events: ClientEvents,
}

/// Sends through a [`Client`] from anywhere; cheap to clone.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    commands: mpsc::Sender<Command>,
    request_timeout: Duration,
    jid: Arc<FullJid>,
}

#[allow(clippy::large_enum_variant)] // moved once; boxing costs an allocation per stanza
enum Command {
    Send {
        stanza: Stanza,
        waiter: Waiter,
        accepted: oneshot::Sender<Result<(), ClientError>>,
    },
    Close(oneshot::Sender<()>),
}

/// Who waits for what after a stanza was handed to the connection.
enum Waiter {
    Nothing,
    /// The answer to an iq request.
    Answer(oneshot::Sender<Result<Iq, ClientError>>),
    /// The server's confirmation (an ack, or the answer to a ping that
    /// followed the stanza).
    Confirmed(oneshot::Sender<Result<(), ClientError>>),
}

impl Client {
    /// Connects `jid` with `password` with the default options: SRV lookup,
    /// TLS with the system's roots, stream management, reconnection.
    ///
    /// # Errors
    /// [`ClientError`] if the first connection fails.
    #[cfg(feature = "tokio")]
    pub async fn connect(jid: &str, password: &str) -> Result<Self, ClientError> {
        ClientBuilder::new(jid, password).connect().await
    }

    /// The address the server bound at the first connection.
    pub fn jid(&self) -> &FullJid {
        &self.handle.jid
    }

    /// A cloneable handle for sending from other tasks.
    pub fn handle(&self) -> ClientHandle {
        self.handle.clone()
    }

    /// Separates sending from the events, e.g. to read events in one task
    /// and send from others, or to drop the events of a send-only program.
    pub fn split(self) -> (ClientHandle, ClientEvents) {
        (self.handle, self.events)
    }

    /// Sends a stanza. Returns once the connection took it (it is queued
    /// while reconnecting).
    ///
    /// # Errors
    /// [`ClientError::Send`] if it is invalid or too many wait,
    /// [`ClientError::Disconnected`] if the client has ended.
    pub async fn send(&self, stanza: impl Into<Stanza>) -> Result<(), ClientError> {
        self.handle.send(stanza).await
    }

    /// Sends a stanza and waits until the server confirmed receiving it:
    /// by a XEP-0198 ack, or without stream management by the answer to a
    /// ping sent right after it (the server handles a stream in order).
    ///
    /// # Errors
    /// As [`send`](Self::send), and [`ClientError::Timeout`] or
    /// [`ClientError::Disconnected`] when no confirmation comes.
    pub async fn send_confirmed(&self, stanza: impl Into<Stanza>) -> Result<(), ClientError> {
        self.handle.send_confirmed(stanza).await
    }

    /// Sends an iq get or set and waits for its answer.
    ///
    /// # Errors
    /// [`ClientError::Stanza`] for an error answer, [`ClientError::Timeout`]
    /// when none comes in time, [`ClientError::Disconnected`] when the
    /// connection ends first.
    pub async fn request(&self, iq: Iq) -> Result<Iq, ClientError> {
        self.handle.request(iq).await
    }

    /// Closes the stream cleanly (everything queued is written first) and
    /// waits until the server closed its side too.
    pub async fn close(self) {
        self.handle.close().await;
    }
}

impl Stream for Client {
    type Item = ClientEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        self.events.events.poll_next_unpin(cx)
    }
}

/// The events of a [`Client`] after [`Client::split`]; dropping it
/// discards later events.
#[derive(Debug)]
pub struct ClientEvents {
    events: mpsc::Receiver<ClientEvent>,
}

impl Stream for ClientEvents {
    type Item = ClientEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        self.events.poll_next_unpin(cx)
    }
}

impl ClientHandle {
    /// The address the server bound at the first connection.
    pub fn jid(&self) -> &FullJid {
        &self.jid
    }

    async fn command(&self, stanza: Stanza, waiter: Waiter) -> Result<(), ClientError> {
        let (accepted_tx, accepted_rx) = oneshot::channel();
        self.commands
            .clone()
            .send(Command::Send {
                stanza,
                waiter,
                accepted: accepted_tx,
            })
            .await
            .map_err(|_| ClientError::Disconnected)?;
        accepted_rx.await.map_err(|_| ClientError::Disconnected)?
    }

    /// See [`Client::send`].
    ///
    /// # Errors
    /// See [`Client::send`].
    pub async fn send(&self, stanza: impl Into<Stanza>) -> Result<(), ClientError> {
        self.command(stanza.into(), Waiter::Nothing).await
    }

    /// See [`Client::send_confirmed`].
    ///
    /// # Errors
    /// See [`Client::send_confirmed`].
    pub async fn send_confirmed(&self, stanza: impl Into<Stanza>) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.command(stanza.into(), Waiter::Confirmed(tx)).await?;
        rx.await.map_err(|_| ClientError::Disconnected)?
    }

    /// See [`Client::request`].
    ///
    /// # Errors
    /// See [`Client::request`].
    pub async fn request(&self, iq: Iq) -> Result<Iq, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.command(Stanza::Iq(iq), Waiter::Answer(tx)).await?;
        rx.await.map_err(|_| ClientError::Disconnected)?
    }

    /// See [`Client::close`].
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.clone().send(Command::Close(tx)).await.is_ok() {
            let _ended = rx.await;
        }
    }

    /// How long requests wait for answers.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

/// The client's task state across transports.
struct ClientTask {
    setup: Arc<Setup>,
    host: ClientHost,
}

/// How the last transport ended.
enum Ending {
    Closed(CloseReason),
    Failed(ClientError),
}

struct ClientHost {
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<ClientEvent>,
    /// Stanzas with someone waiting, by token.
    waiters: HashMap<StanzaToken, Waiter>,
    /// Stanzas given while no connection runs.
    offline: VecDeque<(Stanza, Waiter)>,
    close_waiters: Vec<oneshot::Sender<()>>,
    close_requested: bool,
    online: Option<oneshot::Sender<Result<FullJid, ClientError>>>,
    ending: Option<Ending>,
    /// Events for the application that its queue could not take yet: at
    /// most one while a transport runs, what a failed transport had read
    /// and the `Disconnected` that followed while it reconnects.
    held: VecDeque<ClientEvent>,
    commands_closed: bool,
    /// Whether the current transport came online.
    came_online: bool,
    /// Confirmed sends given while the stream was negotiating: whether an
    /// ack or a ping confirms them is known once it is online.
    confirm_when_online: Vec<StanzaToken>,
}

impl ClientTask {
    async fn run<C: Connect>(mut self, mut connector: C, sleeper: impl Sleeper) {
        let mut backoff = Backoff::new(self.setup.reconnect.clone(), os_seed());
        let mut resume: Option<ResumeState> = None;
        let mut ever_online = false;
        let final_error = loop {
            let attempt = self.attempt(&mut connector, &sleeper, resume.take()).await;
            let (error, resume_state, was_online) = match attempt {
                Ok(outcome) => outcome,
                // A failed attempt never used the session: it can still be
                // resumed by the next one.
                Err((error, resume)) => (Some(error), resume, false),
            };
            ever_online |= was_online;
            if was_online {
                backoff.reset();
            }
            resume = resume_state;
            let Some(error) = error else {
                break None; // closed cleanly
            };
            if self.host.close_requested || self.host.commands_closed && !was_online {
                break Some(error);
            }
            if !ever_online || error.is_final() {
                break Some(error);
            }
            if resume.is_none() {
                self.host.fail_all(|| ClientError::Disconnected);
            }
            let delay = backoff.next_delay();
            let reconnecting = delay.is_some();
            // Queued behind what the application has not taken yet; the
            // client goes on meanwhile (an application that sends before
            // it reads again must not wait for itself).
            self.host.held.push_back(ClientEvent::Disconnected {
                error,
                reconnecting,
            });
            let Some(delay) = delay else { break None };
            if !self
                .host
                .wait_offline(&sleeper, Instant::now() + delay)
                .await
            {
                break None; // closed while waiting
            }
        };
        if let Some(online) = self.host.online.take() {
            let _gone = online.send(Err(final_error.unwrap_or(ClientError::Disconnected)));
        } else if let Some(error) = final_error {
            self.host.held.push_back(ClientEvent::Disconnected {
                error,
                reconnecting: false,
            });
        }
        self.host.fail_all(|| ClientError::Disconnected);
        for waiter in self.host.close_waiters.drain(..) {
            let _gone = waiter.send(());
        }
        // Last, what the application has not taken yet: it reads it after
        // `close` returned, or has dropped its events.
        self.host.emit_held().await;
    }

    /// One transport: connect, run, and say how it ended: the error (none
    /// for a clean close), what a successor needs to resume, and whether it
    /// came online.
    async fn attempt<C: Connect>(
        &mut self,
        connector: &mut C,
        sleeper: &impl Sleeper,
        resume: Option<ResumeState>,
    ) -> Result<(Option<ClientError>, Option<ResumeState>, bool), (ClientError, Option<ResumeState>)>
    {
        let connected = match connector.connect().await {
            Ok(connected) => connected,
            Err(error) => return Err((error, resume)),
        };
        let direct_tls = connected.direct_tls || self.setup.direct_tls;
        let mut engine = self
            .setup
            .engine(Instant::now(), direct_tls, resume)
            .map_err(|error| (error, None))?;
        let mut io = connected.io;
        self.host.ending = None;
        self.host.came_online = false;
        self.host.flush_offline(&mut engine);
        let exit = driver::run(&mut engine, &mut io, sleeper, &mut self.host).await;
        if let driver::Exit::Io(error) = exit
            && self.host.ending.is_none()
        {
            self.host.ending = Some(Ending::Failed(ClientError::Connect {
                target: "the server".to_owned(),
                error,
            }));
        }
        let resume_state = engine
            .with_machine(ClientConnection::take_resume_state)
            .flatten();
        let error = match self.host.ending.take() {
            Some(Ending::Closed(CloseReason::Closed)) => None,
            Some(Ending::Closed(CloseReason::PeerClosed)) if self.host.close_requested => None,
            Some(Ending::Closed(CloseReason::PeerClosed)) => Some(ClientError::Disconnected),
            Some(Ending::Closed(CloseReason::Error(error))) => Some(ClientError::Connection(error)),
            Some(Ending::Failed(error)) => Some(error),
            None => Some(ClientError::Disconnected),
        };
        Ok((error, resume_state, self.host.came_online))
    }
}

impl ClientHost {
    fn fail_all(&mut self, error: impl Fn() -> ClientError) {
        for (_, waiter) in self.waiters.drain() {
            waiter.fail(error());
        }
        for (_, waiter) in self.offline.drain(..) {
            waiter.fail(error());
        }
        self.confirm_when_online.clear();
    }

    /// Waits until `until` while no transport runs, queueing sends and
    /// giving the held events to the application as it takes them.
    /// Returns false when a close was requested (or every handle is gone).
    async fn wait_offline(&mut self, sleeper: &impl Sleeper, until: Instant) -> bool {
        let mut sleep = sleeper.sleep_until(until);
        loop {
            let woken = std::future::poll_fn(|cx| {
                self.offer_held(cx);
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                self.commands.poll_next_unpin(cx).map(Some)
            })
            .await;
            match woken {
                None => return true,
                Some(None) => {
                    self.commands_closed = true;
                    return false;
                }
                Some(Some(Command::Close(waiter))) => {
                    self.close_waiters.push(waiter);
                    self.close_requested = true;
                    return false;
                }
                Some(Some(Command::Send {
                    stanza,
                    waiter,
                    accepted,
                })) => {
                    let _gone = accepted.send(self.queue_offline(stanza, waiter));
                }
            }
        }
    }

    fn queue_offline(&mut self, stanza: Stanza, waiter: Waiter) -> Result<(), ClientError> {
        const MAX_OFFLINE: usize = 1000;
        if self.offline.len() >= MAX_OFFLINE {
            return Err(SendError::QueueFull(self.offline.len()).into());
        }
        self.offline.push_back((stanza, waiter));
        Ok(())
    }

    /// Hands the stanzas given while offline to a new connection.
    fn flush_offline(&mut self, engine: &mut Engine<ClientConnection>) {
        let now = Instant::now();
        while let Some((stanza, waiter)) = self.offline.pop_front() {
            if let Err(error) = self.submit(engine, now, stanza, waiter) {
                // Refused now (queue full): it cannot be sent later either.
                drop(error);
            }
        }
    }

    /// Gives a stanza to the connection and registers who waits for it.
    fn submit(
        &mut self,
        engine: &mut Engine<ClientConnection>,
        now: Instant,
        stanza: Stanza,
        waiter: Waiter,
    ) -> Result<(), ClientError> {
        let Some(sent) = engine.with_machine(|machine| {
            let result = machine.send(now, stanza);
            let sm = machine.stream_management();
            (result, sm, machine.is_online())
        }) else {
            return Err(ClientError::Disconnected);
        };
        let (result, sm, online) = sent;
        let token = match result {
            Ok(token) => token,
            Err(error) => {
                waiter.fail(ClientError::Send(error.clone()));
                return Err(ClientError::Send(error));
            }
        };
        match waiter {
            Waiter::Nothing => {}
            Waiter::Answer(tx) => {
                // The connection answers with `IqResponse`, also when it
                // ends first (`Disconnected`).
                self.waiters.insert(token, Waiter::Answer(tx));
            }
            Waiter::Confirmed(tx) => {
                if sm {
                    self.waiters.insert(token, Waiter::Confirmed(tx));
                    engine.with_machine(|machine| machine.request_ack(now));
                } else if !online {
                    // Queued while (re)negotiating: a resumed or newly
                    // enabled session acknowledges it. A ping sent now would
                    // fail with this transport if it is cut, although the
                    // stanza itself is kept for the next one.
                    self.waiters.insert(token, Waiter::Confirmed(tx));
                    self.confirm_when_online.push(token);
                } else {
                    self.confirm_by_ping(engine, now, tx);
                }
            }
        }
        Ok(())
    }

    /// No acks: a ping answered proves the server read everything before
    /// it.
    fn confirm_by_ping(
        &mut self,
        engine: &mut Engine<ClientConnection>,
        now: Instant,
        tx: oneshot::Sender<Result<(), ClientError>>,
    ) {
        let ping = Iq::get(None, Ping.to_element());
        match engine.with_machine(|machine| machine.send(now, ping)) {
            Some(Ok(ping_token)) => {
                self.waiters.insert(ping_token, Waiter::Confirmed(tx));
            }
            Some(Err(error)) => {
                let _gone = tx.send(Err(error.into()));
            }
            None => {
                let _gone = tx.send(Err(ClientError::Disconnected));
            }
        }
    }

    /// The stream is online: the confirmed sends queued meanwhile wait for
    /// an ack, or (without stream management) for a ping.
    fn confirm_queued(&mut self, engine: &mut Engine<ClientConnection>) {
        if self.confirm_when_online.is_empty() {
            return;
        }
        let now = Instant::now();
        let tokens = std::mem::take(&mut self.confirm_when_online);
        let sm = engine
            .with_machine(|machine| machine.stream_management())
            .unwrap_or(false);
        if sm {
            engine.with_machine(|machine| machine.request_ack(now));
            return;
        }
        for token in tokens {
            // Gone already when acked, failed or handed back to be resent.
            if let Entry::Occupied(entry) = self.waiters.entry(token)
                && matches!(entry.get(), Waiter::Confirmed(_))
                && let Waiter::Confirmed(tx) = entry.remove()
            {
                self.confirm_by_ping(engine, now, tx);
            }
        }
    }

    fn handle_event(&mut self, event: Event) -> Option<ClientEvent> {
        match event {
            Event::Online { jid, resumed } => {
                // The first time, `connect` returns with the address; the
                // stream reports the later ones.
                if let Some(online) = self.online.take() {
                    let _gone = online.send(Ok(jid));
                    return None;
                }
                Some(ClientEvent::Online { jid, resumed })
            }
            Event::Stanza(stanza) => Some(ClientEvent::Stanza(stanza)),
            Event::IqResponse { token, response } => {
                self.answer(token, response);
                None
            }
            Event::Acked(tokens) => {
                for token in tokens {
                    // An acked request still waits for its answer.
                    if let Entry::Occupied(entry) = self.waiters.entry(token)
                        && matches!(entry.get(), Waiter::Confirmed(_))
                        && let Waiter::Confirmed(tx) = entry.remove()
                    {
                        let _gone = tx.send(Ok(()));
                    }
                }
                None
            }
            Event::ResumeFailed { unacked } => {
                // The old session is gone; these were never confirmed.
                // Send them again on the new session (at least once).
                for (token, stanza) in unacked {
                    let waiter = self.waiters.remove(&token).unwrap_or(Waiter::Nothing);
                    self.offline.push_back((stanza, waiter));
                }
                None
            }
        }
    }

    fn answer(&mut self, token: StanzaToken, response: Result<Iq, IqError>) {
        match self.waiters.remove(&token) {
            Some(Waiter::Answer(tx)) => {
                let _gone = tx.send(response.map_err(ClientError::from));
            }
            Some(Waiter::Confirmed(tx)) => {
                // Any answer to the ping, an error too (a server without
                // XEP-0199), proves the server read what came before it.
                let confirmed = match response {
                    Ok(_) | Err(IqError::Stanza(_)) => Ok(()),
                    Err(error) => Err(error.into()),
                };
                let _gone = tx.send(confirmed);
            }
            _ => {}
        }
    }
}

impl Waiter {
    fn fail(self, error: ClientError) {
        match self {
            Self::Nothing => {}
            Self::Answer(tx) => {
                let _gone = tx.send(Err(error));
            }
            Self::Confirmed(tx) => {
                let _gone = tx.send(Err(error));
            }
        }
    }
}

impl ClientHost {
    /// Gives the held events to the application, oldest first, as far as
    /// its queue takes them; `true` when none is left.
    fn offer_held(&mut self, cx: &mut Context<'_>) -> bool {
        while let Some(event) = self.held.pop_front() {
            match self.events.poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let _gone = self.events.start_send(event);
                }
                // Nobody reads events any more: they are discarded.
                Poll::Ready(Err(_)) => {}
                Poll::Pending => {
                    self.held.push_front(event);
                    return false;
                }
            }
        }
        true
    }

    /// Gives the held events to the application, waiting for room (when
    /// the client ends: nothing else waits for the task any more).
    async fn emit_held(&mut self) {
        while let Some(event) = self.held.pop_front() {
            let _gone = self.events.send(event).await;
        }
    }

    /// Acts on one output of the connection; returns the event for the
    /// application, if any.
    fn take_output(
        &mut self,
        engine: &mut Engine<ClientConnection>,
        output: Output<Event, CloseReason>,
    ) -> Option<ClientEvent> {
        match output {
            Output::Event(event) => {
                let online = matches!(event, Event::Online { .. });
                self.came_online |= online;
                let resend = matches!(event, Event::ResumeFailed { .. });
                let event = self.handle_event(event);
                if resend {
                    self.flush_offline(engine);
                }
                if online {
                    self.confirm_queued(engine);
                }
                event
            }
            Output::Closed(reason) => {
                self.ending = Some(Ending::Closed(reason));
                None
            }
            Output::Failed(error) => {
                self.ending = Some(Ending::Failed(error.into()));
                None
            }
        }
    }
}

impl Host<ClientConnection> for ClientHost {
    fn deliver(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<ClientConnection>,
        output: Output<Event, CloseReason>,
    ) -> Result<(), Output<Event, CloseReason>> {
        // Events the application could not take yet go first (the driver
        // stops reading until it took them).
        if !self.offer_held(cx) {
            return Err(output);
        }
        if let Some(event) = self.take_output(engine, output) {
            self.held.push_back(event);
            self.offer_held(cx);
        }
        Ok(())
    }

    fn deliver_final(
        &mut self,
        _cx: &mut Context<'_>,
        engine: &mut Engine<ClientConnection>,
        output: Output<Event, CloseReason>,
    ) {
        // The stanzas among them are counted as received: they wait for
        // the application however full its queue is (`emit_held`).
        if let Some(event) = self.take_output(engine, output) {
            self.held.push_back(event);
        }
    }

    fn poll_command(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<ClientConnection>,
    ) -> Poll<bool> {
        match self.commands.poll_next_unpin(cx) {
            Poll::Ready(Some(Command::Send {
                stanza,
                waiter,
                accepted,
            })) => {
                let result = self.submit(engine, Instant::now(), stanza, waiter);
                let _gone = accepted.send(result);
                Poll::Ready(true)
            }
            Poll::Ready(Some(Command::Close(waiter))) => {
                self.close_waiters.push(waiter);
                self.close_requested = true;
                engine.with_machine(|machine| machine.close(Instant::now()));
                Poll::Ready(true)
            }
            Poll::Ready(None) => {
                // Every handle was dropped: close cleanly.
                self.commands_closed = true;
                self.close_requested = true;
                engine.with_machine(|machine| machine.close(Instant::now()));
                Poll::Ready(false)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
