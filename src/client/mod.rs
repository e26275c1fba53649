//! The client side of a client-to-server stream, as a sans-IO machine.
//!
//! [`ClientConnection`] negotiates a stream (header, STARTTLS, SASL, stream
//! restart, resource binding, the legacy session when mandatory, XEP-0198)
//! and then carries stanzas, with iq tracking, acknowledgements, resumption
//! and keepalive. It reads bytes and time from its caller and produces
//! [`Output`]s; it never touches a socket or a clock. See the crate docs for
//! the run loop.
//!
//! The stream is framed as RFC 6120 `<stream:stream>` (TCP) or, with
//! [`ClientConfig::framing`] set to [`Framing::WebSocket`], as RFC 7395
//! XMPP over WebSocket (`<open/>` ... `<close/>`).

mod connection;

use std::time::Duration;

use bytes::Bytes;

pub use connection::{ClientConnection, ResumeState, StanzaState};

use crate::Jid;
use crate::ext::PayloadError;
use crate::jid::FullJid;
use crate::sasl::{ChannelBinding, ClientPolicy, Failure, SaslError};
use crate::stanza::{Iq, Stanza, StanzaError};
use crate::stream::{SmError, StanzaToken, StreamError};
use crate::xml::{Framing, Limits, ParseError, WriteError};

/// How the stream is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsMode {
    /// STARTTLS, required: a server that does not offer it is an error.
    #[default]
    RequireStartTls,
    /// TLS is up before the stream starts (XEP-0368 direct TLS); create the
    /// connection with [`ClientConnection::new_direct_tls`].
    DirectTls,
    /// No TLS at all. Only for loopback tests and trusted networks; PLAIN
    /// stays refused unless the SASL policy allows it without TLS.
    Insecure,
}

/// What the TLS layer tells the connection once the handshake is done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// Channel-binding data the TLS library can export for this
    /// connection (tls-exporter, tls-server-end-point, tls-unique), for
    /// SCRAM-*-PLUS.
    pub channel_bindings: Vec<ChannelBinding>,
}

/// Configuration of a [`ClientConnection`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The account; a full JID requests that resource at bind time.
    pub jid: Jid,
    /// The password.
    pub password: String,
    /// Transport security.
    pub tls: TlsMode,
    /// How the stream is framed: [`Framing::Stream`] (RFC 6120, one
    /// `<stream:stream>` document, for TCP) or [`Framing::WebSocket`]
    /// (RFC 7395: `<open/>`, one document per element, `<close/>`).
    ///
    /// The connection only writes and reads XMPP bytes; the WebSocket
    /// transport (RFC 6455 messages, one element each, subprotocol `xmpp`)
    /// belongs to the adapter. STARTTLS is never negotiated in WebSocket
    /// framing (RFC 7395 section 3.1: TLS comes from the transport): over
    /// `wss://` create the connection with
    /// [`ClientConnection::new_direct_tls`]; over plain `ws://` set
    /// [`TlsMode::Insecure`], or the connection fails with
    /// [`ConnectionError::TlsNotOffered`]. A server that answers in the
    /// other framing is refused with an `invalid-namespace` stream error
    /// and [`ConnectionError::Protocol`].
    pub framing: Framing,
    /// SASL mechanism policy.
    pub sasl: ClientPolicy,
    /// Enable XEP-0198 stream management (with resumption) if offered.
    pub stream_management: bool,
    /// Ask for an ack after this many unacknowledged stanzas.
    pub sm_ack_after: u32,
    /// Ask for an ack when stanzas have waited this long.
    pub sm_ack_interval: Duration,
    /// Most stanzas waiting for an ack (and queued before the stream is
    /// online, and, while resuming, those of the session being resumed);
    /// `send` refuses more.
    pub max_unacked: usize,
    /// How long an iq request may wait for its answer.
    pub iq_timeout: Duration,
    /// Probe the server after this long without receiving anything.
    pub ping_after: Duration,
    /// Give up when a probe is not answered within this time.
    pub ping_timeout: Duration,
    /// The whole negotiation must finish within this time.
    pub negotiation_timeout: Duration,
    /// How long to wait for the server's `</stream:stream>` (or `<close/>`)
    /// after ours.
    pub close_timeout: Duration,
    /// Limits on what the server may send.
    pub limits: Limits,
    /// Seed of the random generator for SCRAM nonces and stanza ids. Use
    /// fresh OS randomness in production (the runtime adapters do); a
    /// fixed seed makes tests deterministic.
    pub seed: [u8; 32],
    /// The `xml:lang` of the stream.
    pub lang: Option<String>,
}

impl ClientConfig {
    /// A configuration with secure defaults: STARTTLS required, RFC 6120
    /// stream framing, the strongest SASL mechanism, stream management on.
    pub fn new(jid: Jid, password: impl Into<String>, seed: [u8; 32]) -> Self {
        Self {
            jid,
            password: password.into(),
            tls: TlsMode::default(),
            framing: Framing::Stream,
            sasl: ClientPolicy::default(),
            stream_management: true,
            sm_ack_after: 5,
            sm_ack_interval: Duration::from_secs(30),
            max_unacked: 1000,
            iq_timeout: Duration::from_secs(60),
            ping_after: Duration::from_secs(90),
            ping_timeout: Duration::from_secs(30),
            negotiation_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
            limits: Limits::default(),
            seed,
            lang: None,
        }
    }
}

/// What the caller must do next, from [`ClientConnection::poll_output`].
// An output moves once, from the queue to the caller; boxing the large
// variants would cost an allocation per stanza instead.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Write these bytes to the transport.
    Transmit(Bytes),
    /// Start the TLS handshake on the transport now, then call
    /// [`ClientConnection::tls_established`]. Everything before was written.
    StartTls,
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

/// Events of a [`ClientConnection`].
#[allow(clippy::large_enum_variant)] // see `Output`
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Negotiation is complete: stanzas flow from now on.
    Online {
        /// The bound address.
        jid: FullJid,
        /// Whether a previous session was resumed (XEP-0198): nothing was
        /// lost, and no new presence is needed.
        resumed: bool,
    },
    /// A stanza from the server (iq answers to our requests come as
    /// [`Event::IqResponse`] instead).
    Stanza(Stanza),
    /// The answer to an iq request sent with `send`.
    IqResponse {
        /// The token `send` returned for the request.
        token: StanzaToken,
        /// The result, or why there is none.
        response: Result<Iq, IqError>,
    },
    /// The server confirmed these stanzas (XEP-0198).
    Acked(Vec<StanzaToken>),
    /// The server refused to resume the previous session; a fresh one
    /// follows. These stanzas were sent but never confirmed: resend them
    /// if they still matter.
    ResumeFailed {
        /// The stanzas, oldest first.
        unacked: Vec<(StanzaToken, Stanza)>,
    },
}

/// Why an iq request has no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IqError {
    /// The answer was an error.
    #[error("iq error: {0}")]
    Stanza(Box<StanzaError>),
    /// No answer within the configured time.
    #[error("no answer to the iq in time")]
    Timeout,
    /// The connection ended first.
    #[error("the connection closed before the answer")]
    Disconnected,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// We closed it with [`ClientConnection::close`] and the server agreed.
    #[error("closed")]
    Closed,
    /// The server closed the stream cleanly.
    #[error("closed by the server")]
    PeerClosed,
    /// It failed.
    #[error(transparent)]
    Error(#[from] ConnectionError),
}

/// A fatal connection error. Sticky: every later call returns it again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The server's XML broke the rules; we sent it a stream error.
    #[error("invalid data from the server: {0}")]
    Xml(#[from] ParseError),
    /// The server sent a stream error.
    #[error("stream error from the server: {0}")]
    StreamError(StreamError),
    /// TLS is required but the server does not offer STARTTLS (or a man in
    /// the middle removed it). In WebSocket framing, where STARTTLS does
    /// not exist, this is the error of a plain transport without
    /// [`TlsMode::Insecure`].
    #[error("the server does not offer STARTTLS, and TLS is required")]
    TlsNotOffered,
    /// The server answered STARTTLS with a failure.
    #[error("the server refused STARTTLS")]
    StartTlsRefused,
    /// Data followed `<proceed/>` before the TLS handshake: an injection
    /// attempt.
    #[error("data arrived after <proceed/> before TLS: STARTTLS injection")]
    StartTlsInjection,
    /// SASL could not proceed on our side (no acceptable mechanism, PLAIN
    /// without TLS, a bad server signature, ...).
    #[error("SASL: {0}")]
    Sasl(#[from] SaslError),
    /// The server refused the credentials. Final: retrying with the same
    /// credentials will fail again.
    #[error("authentication failed: {0}")]
    AuthenticationFailed(Failure),
    /// Resource binding failed.
    #[error("resource binding failed: {0}")]
    BindFailed(String),
    /// The legacy session establishment failed.
    #[error("session establishment failed: {0}")]
    SessionFailed(String),
    /// The server did something the protocol does not allow here.
    #[error("protocol violation by the server: {0}")]
    Protocol(String),
    /// A deadline passed (negotiation, keepalive probe, close).
    #[error("timeout: {0}")]
    Timeout(&'static str),
    /// The transport ended without the stream being closed.
    #[error("the connection was cut")]
    Eof,
    /// Stream management bookkeeping failed (the server acked too much).
    #[error("stream management: {0}")]
    Sm(#[from] SmError),
}

/// Why [`ClientConnection::send`] refused a stanza.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closed or closing.
    #[error("the connection is closed")]
    Closed,
    /// Too many stanzas wait for the stream or for acknowledgement.
    #[error("too many stanzas are waiting ({0}); try again after acknowledgements")]
    QueueFull(usize),
    /// The stanza cannot be written as XML.
    #[error("the stanza cannot be written: {0}")]
    Unwritable(WriteError),
    /// The stanza is not valid (an iq get or set without exactly one payload).
    #[error("invalid stanza: {0}")]
    Invalid(PayloadError),
}
