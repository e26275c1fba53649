//! The server side of a client-to-server stream, as a sans-IO machine.
//!
//! [`ServerConnection`] accepts a stream in two steps: the client's header
//! arrives as [`Event::Header`], and the application answers with
//! [`ServerConnection::accept`] (domain, TLS policy, mechanisms, credential
//! store) or [`ServerConnection::reject`]. It then runs STARTTLS, SASL
//! against the [`CredentialStore`], resource binding (the application
//! decides conflicts: [`Event::Bind`] and
//! [`ServerConnection::complete_bind`]), and XEP-0198, and carries stanzas
//! with their `from` stamped by the server.
//!
//! It answers in the framing of the client's header: an RFC 6120
//! `<stream:stream>`, or RFC 7395 XMPP over WebSocket (`<open/>`, every
//! element a document of its own, `<close/>`). In WebSocket framing
//! STARTTLS is never offered (TLS comes from `wss://`: give it as
//! [`ListenConfig::direct_tls`]), and a stream error is the
//! `<stream:error/>` element followed by `<close/>` (RFC 7395 section 3.6).

mod connection;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use connection::ServerConnection;

use crate::client::TlsInfo;
use crate::jid::FullJid;
use crate::sasl::{Mechanism, SaslError};
use crate::stanza::Stanza;
use crate::stream::{SmError, StanzaToken, StreamError, StreamErrorCondition};
use crate::xml::{Limits, ParseError, WriteError};

/// Where accounts come from: stored SCRAM credentials, PLAIN verification,
/// EXTERNAL and ANONYMOUS decisions. Never the plaintext password.
pub use crate::sasl::ServerCredentials as CredentialStore;

/// Options known before the client's header arrives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenConfig {
    /// Limits on what the client may send.
    pub limits: Limits,
    /// Seed of the generator for stream ids, SCRAM nonces and SM ids.
    pub seed: [u8; 32],
    /// Negotiation (header to bound resource) must finish within this.
    pub negotiation_timeout: Duration,
    /// Whether the transport is already TLS (direct TLS, or `wss://` for
    /// WebSocket framing), and what it gives.
    pub direct_tls: Option<TlsInfo>,
}

impl ListenConfig {
    /// Defaults: the crate's limits, a 30 s negotiation deadline, plain TCP.
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            limits: Limits::default(),
            seed,
            negotiation_timeout: Duration::from_secs(30),
            direct_tls: None,
        }
    }
}

/// Whether STARTTLS is offered and required.
///
/// In RFC 7395 WebSocket framing STARTTLS does not exist and is never
/// offered; a client that sends `<starttls/>` anyway gets a
/// `policy-violation` stream error. Over a transport without TLS (`ws://`,
/// no [`ListenConfig::direct_tls`]), [`Required`](Self::Required) cannot be
/// met: the stream is closed with `policy-violation` once accepted, and
/// [`Optional`](Self::Optional) and [`Disabled`](Self::Disabled) proceed
/// without TLS (PLAIN is then not offered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsPolicy {
    /// Offer STARTTLS and require it before authentication: any other
    /// element first (an `<auth/>` in cleartext) ends the stream with a
    /// `policy-violation` stream error.
    #[default]
    Required,
    /// Offer STARTTLS, allow authentication without it.
    Optional,
    /// Do not offer STARTTLS (the adapter has no certificate).
    Disabled,
}

/// The application's answer to a client's stream header.
#[derive(Clone)]
#[non_exhaustive]
pub struct AcceptConfig {
    /// The domain this stream serves (the `from` of our header).
    pub domain: String,
    /// STARTTLS policy.
    pub tls: TlsPolicy,
    /// The SASL mechanisms to offer, strongest first. PLAIN is only
    /// offered on a protected stream.
    pub mechanisms: Vec<Mechanism>,
    /// The accounts.
    pub credentials: Arc<dyn CredentialStore + Send + Sync>,
    /// Offer XEP-0198 stream management with resumption.
    pub stream_management: bool,
    /// How many failed authentication attempts before the stream closes
    /// (with a `policy-violation` stream error, RFC 6120 section 6.4.5).
    pub max_auth_attempts: u32,
    /// Most stanzas waiting for acknowledgement, and most bytes waiting to
    /// be polled out; beyond, the client is disconnected with
    /// `resource-constraint` (a client that stops reading).
    pub max_unacked: usize,
    /// Most bytes of output not yet taken by `poll_output`.
    pub max_outbound_bytes: usize,
    /// With stream management on, ask the client for an acknowledgement
    /// (XEP-0198 `<r/>`) once this many stanzas are unacknowledged and no
    /// request is already unanswered; when the answer leaves at least this
    /// many unacknowledged, ask again at once. Default 5. `0` turns
    /// count-based requests off (only
    /// [`ack_request_after`](Self::ack_request_after) asks). Keep it well
    /// below [`max_unacked`](Self::max_unacked): a client that answers
    /// requests then never reaches that limit.
    pub ack_request_every: usize,
    /// With stream management on and stanzas unacknowledged, ask for an
    /// acknowledgement when this long has passed since the first of them
    /// was sent or since the last request, whichever is later (an
    /// unanswered request is repeated at this interval). Default 5 s. The
    /// deadline is part of [`ServerConnection::poll_timeout`]. Zero turns
    /// timed requests off; with [`ack_request_every`](Self::ack_request_every)
    /// also `0`, the server never asks and relies on the client acking on
    /// its own.
    pub ack_request_after: Duration,
    /// With stream management on, count a client's stanza as handled (in
    /// the `h` of our acknowledgements and of a resumption) only once the
    /// application confirms it with
    /// [`ServerConnection::confirm_stanza`], so that an acknowledged
    /// stanza is one the application has made safe (a server that stores
    /// messages before acknowledging them). Stanzas the machine answers
    /// itself count when every stanza before them is confirmed. Default
    /// `false`: a stanza counts once it is parsed.
    pub confirm_stanzas: bool,
}

impl std::fmt::Debug for AcceptConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptConfig")
            .field("domain", &self.domain)
            .field("tls", &self.tls)
            .field("mechanisms", &self.mechanisms)
            .field("stream_management", &self.stream_management)
            .field("max_unacked", &self.max_unacked)
            .field("ack_request_every", &self.ack_request_every)
            .field("ack_request_after", &self.ack_request_after)
            .field("confirm_stanzas", &self.confirm_stanzas)
            .finish_non_exhaustive()
    }
}

impl AcceptConfig {
    /// Secure defaults: TLS required, SCRAM-SHA-256/-1 (with -PLUS when TLS
    /// gives a channel binding) and PLAIN over TLS, stream management on
    /// (an ack requested every 5 stanzas, or after 5 s; at most 1000
    /// unacknowledged).
    pub fn new(
        domain: impl Into<String>,
        credentials: Arc<dyn CredentialStore + Send + Sync>,
    ) -> Self {
        Self {
            domain: domain.into(),
            tls: TlsPolicy::Required,
            mechanisms: vec![
                Mechanism::ScramSha256Plus,
                Mechanism::ScramSha1Plus,
                Mechanism::ScramSha256,
                Mechanism::ScramSha1,
                Mechanism::Plain,
            ],
            credentials,
            stream_management: true,
            max_auth_attempts: 3,
            max_unacked: 1000,
            max_outbound_bytes: 1 << 20,
            ack_request_every: 5,
            ack_request_after: Duration::from_secs(5),
            confirm_stanzas: false,
        }
    }
}

/// The XEP-0198 counters of a session, from
/// [`ServerConnection::sm_counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmCounters {
    /// Stanzas from the client counted as handled (the `h` we answer).
    pub handled: u32,
    /// Stanzas we sent in the session: the `h` with which the client
    /// acknowledges the last of them.
    pub sent: u32,
    /// The client's last acknowledgement of our stanzas.
    pub acked: u32,
}

/// What the caller must do next, from [`ServerConnection::poll_output`].
#[allow(clippy::large_enum_variant)] // moved once; boxing would cost an allocation per stanza
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Write these bytes to the client.
    Transmit(Bytes),
    /// Run the TLS handshake now (after writing everything before), then
    /// call [`ServerConnection::tls_established`].
    StartTls,
    /// Something happened.
    Event(Event),
    /// The connection is over; close the transport.
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

/// Events of a [`ServerConnection`].
#[allow(clippy::large_enum_variant)] // see `Output`
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The client opened a stream: answer with
    /// [`accept`](ServerConnection::accept) or [`reject`](ServerConnection::reject).
    Header {
        /// The domain the client wants.
        to: Option<String>,
        /// The client's claimed address, if it gave one.
        from: Option<String>,
    },
    /// The client authenticated as `username`.
    Authenticated {
        /// The authenticated identity (SASL authcid).
        username: String,
    },
    /// The client asks to bind a resource: answer with
    /// [`complete_bind`](ServerConnection::complete_bind).
    Bind {
        /// The resource it asked for, if any.
        requested: Option<String>,
    },
    /// The client asks to resume session `previd`: answer with
    /// [`complete_resume`](ServerConnection::complete_resume).
    Resume {
        /// The session id from our earlier `<enabled/>`.
        previd: String,
        /// How many of our stanzas the client handled.
        h: u32,
    },
    /// The stream is online for this address.
    Online {
        /// The bound address.
        jid: FullJid,
        /// Whether a previous session was resumed.
        resumed: bool,
    },
    /// A stanza from the client, `from` stamped with its bound address.
    Stanza(Stanza),
    /// The client confirmed these stanzas (XEP-0198): tokens from
    /// [`ServerConnection::send`], in order. Replies the connection sends
    /// on its own (the session result, errors for malformed stanzas) are
    /// counted but not listed.
    Acked(Vec<StanzaToken>),
}

/// Why a server connection ended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// We closed it and the client agreed (or the close timed out).
    #[error("closed")]
    Closed,
    /// The client closed the stream.
    #[error("closed by the client")]
    PeerClosed,
    /// It failed.
    #[error(transparent)]
    Error(#[from] ServerError),
}

/// A fatal server-side connection error. Sticky.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The client's XML broke the rules; it got a stream error.
    #[error("invalid data from the client: {0}")]
    Xml(#[from] ParseError),
    /// We ended the stream with this stream error.
    #[error("stream error sent: {0}")]
    Sent(StreamError),
    /// The client sent a stream error.
    #[error("stream error from the client: {0}")]
    Received(StreamError),
    /// The application rejected the stream.
    #[error("stream rejected: {0}")]
    Rejected(StreamErrorCondition),
    /// Authentication failed too many times
    /// ([`AcceptConfig::max_auth_attempts`]); the client got a
    /// `policy-violation` stream error.
    #[error("authentication failed: {0}")]
    Authentication(SaslError),
    /// Data followed `<starttls/>` before the TLS handshake.
    #[error("data after <starttls/> before TLS: STARTTLS injection")]
    StartTlsInjection,
    /// Negotiation did not finish in time.
    #[error("timeout: {0}")]
    Timeout(&'static str),
    /// The transport ended without the stream being closed.
    #[error("the connection was cut")]
    Eof,
    /// The application called a method in the wrong state.
    #[error("misuse: {0}")]
    Misuse(&'static str),
    /// Stream management bookkeeping failed.
    #[error("stream management: {0}")]
    Sm(#[from] SmError),
}

/// Why [`ServerConnection::send`] refused a stanza.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The stream is not online (or is over).
    #[error("the stream is not online")]
    NotOnline,
    /// The client is not reading: too much output is waiting.
    #[error("the client is not reading ({0} stanzas or bytes waiting)")]
    QueueFull(usize),
    /// The stanza cannot be written.
    #[error("the stanza cannot be written: {0}")]
    Unwritable(WriteError),
}
