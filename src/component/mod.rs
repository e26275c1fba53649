//! XEP-0114 component streams (`jabber:component:accept`), as a sans-IO
//! machine, in both roles.
//!
//! [`ComponentConnection`] is either side of the stream:
//!
//! * **Connecting** ([`ComponentConnection::connect`]): we are the
//!   component (a gateway, a bot with its own domain, a scale-out worker)
//!   and the peer is a server such as Prosody or ejabberd. We send our
//!   header with the component's domain in `to`, read the stream id from
//!   the server's header, prove the shared secret with
//!   `<handshake>hex(SHA-1(stream id + secret))</handshake>`, and are
//!   online when the server answers with an empty `<handshake/>`.
//! * **Accepting** ([`ComponentConnection::accept`]): we are the server
//!   and a component connects to us. Its header arrives as
//!   [`Event::Connecting`]; the application looks up that component's
//!   secret and calls [`accept_component`](ComponentConnection::accept_component),
//!   or refuses it with [`reject`](ComponentConnection::reject). The
//!   handshake is checked in constant time.
//!
//! Once online, both sides exchange stanzas in `jabber:component:accept`.
//! XEP-0114 requires every stanza to carry `from` and `to`:
//! [`send`](ComponentConnection::send) refuses a stanza without them, and a
//! peer's stanza without them (or with a malformed one) is answered with
//! the `improper-addressing` stream error. The accepting side also checks
//! that `from` is at the component's domain (`invalid-from` otherwise, as
//! Prosody and ejabberd do), and the connecting side refuses to send from
//! another domain.
//!
//! The connection reads bytes and time from its caller and produces
//! [`Output`]s; it never touches a socket or a clock. The run loop is the
//! one of every connection of the crate (see the crate docs):
//!
//! ```
//! use std::time::Instant;
//! use xmpp_kit::component::{ComponentConfig, ComponentConnection, Event, Output};
//!
//! let now = Instant::now();
//! let config = ComponentConfig::new("plays.shakespeare.lit", "test", [7; 32]);
//! let mut component = ComponentConnection::connect(config, now);
//! let mut wire = Vec::new();
//! while let Some(output) = component.poll_output() {
//!     if let Output::Transmit(bytes) = output {
//!         wire.extend_from_slice(&bytes);
//!     }
//! }
//! assert!(wire.starts_with(b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept'"));
//!
//! // The server answers (XEP-0114, example 2) ...
//! component.handle_input(
//!     now,
//!     b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
//!       xmlns='jabber:component:accept' from='plays.shakespeare.lit' id='3BF96D32'>",
//! )?;
//! let Some(Output::Transmit(handshake)) = component.poll_output() else { panic!() };
//! assert_eq!(&handshake[..], b"<handshake>aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e</handshake>");
//!
//! // ... and accepts the handshake.
//! component.handle_input(now, b"<handshake/>")?;
//! assert_eq!(
//!     component.poll_output(),
//!     Some(Output::Event(Event::Online { domain: "plays.shakespeare.lit".into() }))
//! );
//! # Ok::<(), xmpp_kit::component::ComponentError>(())
//! ```

mod connection;

use std::fmt::{self, Write as _};
use std::time::Duration;

use bytes::Bytes;
use minidom::Element;
use sha1::{Digest, Sha1};

pub use connection::ComponentConnection;

use crate::ns;
use crate::stanza::Stanza;
use crate::stream::{StreamError, StreamErrorCondition};
use crate::xml::{Limits, ParseError, WriteError};

/// Configuration of the connecting role: we are the component. Its
/// `Debug` output leaves the secret out.
#[derive(Clone)]
#[non_exhaustive]
pub struct ComponentConfig {
    /// The component's domain, such as `gateway.example.com`: the `to` of
    /// our stream header, and the domain of the `from` of every stanza we
    /// send.
    pub domain: String,
    /// The secret shared with the server.
    pub secret: String,
    /// Limits on what the server may send.
    pub limits: Limits,
    /// Seed of the random generator for stanza ids. Use fresh OS
    /// randomness in production; a fixed seed makes tests deterministic.
    pub seed: [u8; 32],
    /// The handshake must finish within this time.
    pub negotiation_timeout: Duration,
    /// Send a whitespace keepalive after this long without sending
    /// anything.
    pub keepalive_interval: Duration,
    /// Give up when the server has sent nothing (not even whitespace) for
    /// this long.
    pub idle_timeout: Duration,
    /// How long to wait for the server's `</stream:stream>` after ours.
    pub close_timeout: Duration,
    /// Most bytes that may wait for the caller to take them with
    /// `poll_output` (stanzas queued before the stream is online
    /// included); `send` refuses a stanza that would go beyond.
    pub max_queued: usize,
}

impl ComponentConfig {
    /// A configuration with default limits and timers: 30 s to negotiate,
    /// a keepalive after 60 s of silence, a dead peer after 300 s, 5 s to
    /// close, at most 1 MiB waiting.
    pub fn new(domain: impl Into<String>, secret: impl Into<String>, seed: [u8; 32]) -> Self {
        Self {
            domain: domain.into(),
            secret: secret.into(),
            limits: Limits::default(),
            seed,
            negotiation_timeout: DEFAULT_NEGOTIATION_TIMEOUT,
            keepalive_interval: DEFAULT_KEEPALIVE_INTERVAL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            max_queued: DEFAULT_MAX_QUEUED,
        }
    }
}

impl fmt::Debug for ComponentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentConfig")
            .field("domain", &self.domain)
            .field("secret", &"<redacted>")
            .field("limits", &self.limits)
            .field("negotiation_timeout", &self.negotiation_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("idle_timeout", &self.idle_timeout)
            .field("close_timeout", &self.close_timeout)
            .field("max_queued", &self.max_queued)
            .finish_non_exhaustive()
    }
}

/// Configuration of the accepting role: we are the server, a component
/// connects to us. The component's secret is given per stream, to
/// [`ComponentConnection::accept_component`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AcceptConfig {
    /// Limits on what the component may send. Before the handshake the
    /// smaller pre-authentication stanza limit applies.
    pub limits: Limits,
    /// Seed of the random generator for the stream id and stanza ids. Use
    /// fresh OS randomness in production: the stream id is the nonce of
    /// the handshake.
    pub seed: [u8; 32],
    /// The component's header and handshake (and the application's
    /// decision in between) must arrive within this time.
    pub negotiation_timeout: Duration,
    /// Send a whitespace keepalive after this long without sending
    /// anything.
    pub keepalive_interval: Duration,
    /// Give up when the component has sent nothing for this long.
    pub idle_timeout: Duration,
    /// How long to wait for the component's `</stream:stream>` after ours.
    pub close_timeout: Duration,
    /// Most bytes that may wait for the caller to take them with
    /// `poll_output`; `send` refuses a stanza that would go beyond.
    pub max_queued: usize,
}

impl AcceptConfig {
    /// A configuration with the same defaults as [`ComponentConfig::new`].
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            limits: Limits::default(),
            seed,
            negotiation_timeout: DEFAULT_NEGOTIATION_TIMEOUT,
            keepalive_interval: DEFAULT_KEEPALIVE_INTERVAL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            max_queued: DEFAULT_MAX_QUEUED,
        }
    }
}

const DEFAULT_NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_QUEUED: usize = 1024 * 1024;

/// What the caller must do next, from [`ComponentConnection::poll_output`].
// An output moves once, from the queue to the caller; boxing the large
// variants would cost an allocation per stanza instead.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Write these bytes to the transport.
    Transmit(Bytes),
    /// Something happened.
    Event(Event),
    /// The connection is over; close the transport. Nothing follows.
    Closed(CloseReason),
}

impl crate::stream::outbox::Transmit for Output {
    fn transmit(bytes: Bytes) -> Self {
        Self::Transmit(bytes)
    }
    fn transmit_len(&self) -> Option<usize> {
        match self {
            Self::Transmit(bytes) => Some(bytes.len()),
            _ => None,
        }
    }
}

/// Events of a [`ComponentConnection`].
#[allow(clippy::large_enum_variant)] // see `Output`
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Accepting role: a component wants to connect as `domain` (the `to`
    /// of its header, normalized). Answer with
    /// [`ComponentConnection::accept_component`] and its secret, or with
    /// [`ComponentConnection::reject`].
    Connecting {
        /// The component's domain.
        domain: String,
    },
    /// The handshake succeeded: stanzas flow from now on.
    Online {
        /// The component's domain.
        domain: String,
    },
    /// A stanza from the peer, with valid `from` and `to`.
    Stanza(Stanza),
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// We closed it with [`ComponentConnection::close`] and the peer agreed
    /// (or did not answer within the close timeout).
    #[error("closed")]
    Closed,
    /// The peer closed the stream cleanly.
    #[error("closed by the peer")]
    PeerClosed,
    /// It failed.
    #[error(transparent)]
    Error(#[from] ComponentError),
}

/// A fatal error of a component stream. Sticky: every later call returns
/// it again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ComponentError {
    /// The peer's XML broke the rules; we sent it a stream error.
    #[error("invalid data from the peer: {0}")]
    Xml(#[from] ParseError),
    /// The peer sent a stream error once the stream was online (or, in the
    /// accepting role, at any time).
    #[error("stream error from the peer: {0}")]
    StreamError(StreamError),
    /// The handshake failed: the secret is wrong. In the connecting role
    /// the server answered our handshake with `not-authorized`; in the
    /// accepting role the component's handshake did not match and we sent
    /// `not-authorized`. Final: retrying with the same secret fails again.
    #[error("the component handshake failed: wrong secret")]
    HandshakeFailed,
    /// The stream was refused before the handshake succeeded. In the
    /// connecting role the server sent this stream error (such as
    /// `host-unknown` for a domain it does not serve, or `conflict` when
    /// the component is already connected); in the accepting role the
    /// application refused the component with
    /// [`ComponentConnection::reject`].
    #[error("the component stream was refused: {0}")]
    Rejected(StreamErrorCondition),
    /// The peer did something the protocol does not allow here (a stanza
    /// without `from` or `to`, an element before the handshake, ...), or
    /// the configuration cannot work (an invalid component domain).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// A deadline passed (negotiation, idle peer).
    #[error("timeout: {0}")]
    Timeout(&'static str),
    /// The transport ended without the stream being closed.
    #[error("the connection was cut")]
    Eof,
    /// We ended the stream with this error
    /// ([`ComponentConnection::close_with_error`]).
    #[error("we sent the stream error {0}")]
    StreamErrorSent(StreamError),
}

/// Why [`ComponentConnection::send`] refused a stanza. Nothing was sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closed or closing.
    #[error("the connection is closed")]
    Closed,
    /// The stanza lacks `from` or `to`, which XEP-0114 requires on every
    /// stanza.
    #[error("a component stanza needs both 'from' and 'to'")]
    MissingAddress,
    /// Connecting role: the stanza's `from` is not at the component's
    /// domain; the server would close the stream with `invalid-from`.
    #[error("'from' is not at the component's domain")]
    InvalidFrom,
    /// This many bytes wait to be taken with `poll_output` (or for the
    /// stream to come online), and the stanza would go beyond
    /// `max_queued`. Drain the outputs and try again.
    #[error("{0} bytes are waiting to be written; the queue is full")]
    QueueFull(usize),
    /// The stanza cannot be written as XML.
    #[error("the stanza cannot be written: {0}")]
    Unwritable(WriteError),
}

// ---- the handshake (XEP-0114 section 3) ---------------------------------

fn is_handshake(element: &Element) -> bool {
    element.is("handshake", ns::COMPONENT_ACCEPT)
}

fn is_empty_handshake(element: &Element) -> bool {
    is_handshake(element) && element.children().next().is_none() && element.text().trim().is_empty()
}

/// XEP-0114: lowercase hex of SHA-1(stream id + secret).
fn handshake_digest(stream_id: &str, secret: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(stream_id.as_bytes());
    sha1.update(secret.as_bytes());
    hex(&sha1.finalize())
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}
