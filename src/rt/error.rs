//! [`ClientError`]: what went wrong, for every call of the easy client
//! APIs (async and blocking).

use std::io;

use super::engine::TransportError;
use super::tls::TlsSetupError;
use crate::client::{ConnectionError, IqError, SendError};
use crate::jid::JidError;
use crate::stanza::StanzaError;

/// What went wrong, for every call of the easy API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The address is not a valid JID.
    #[error("invalid JID: {0}")]
    Jid(#[from] JidError),
    /// The TLS configuration could not be built (a CA file, no roots).
    #[error(transparent)]
    TlsSetup(#[from] TlsSetupError),
    /// The server address option is not `host:port`.
    #[error("invalid server address {0:?}: expected host:port")]
    Address(String),
    /// The WebSocket URL is not `ws://host[:port]/path` or `wss://...`.
    #[error("invalid WebSocket URL {0:?}")]
    WebSocketUrl(String),
    /// Name resolution failed.
    #[error(transparent)]
    Resolve(#[from] super::dns::ResolveError),
    /// No server address could be reached.
    #[error("could not connect to {target}: {error}")]
    Connect {
        /// Where we tried, last.
        target: String,
        /// Why it failed.
        error: io::Error,
    },
    /// The transport failed below XMPP (TLS, WebSocket, socket).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The XMPP connection failed (authentication, stream error, ...).
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The stanza was refused before sending.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The request was answered with an error.
    #[error("the server answered with an error: {0}")]
    Stanza(Box<StanzaError>),
    /// No answer came in time.
    #[error("no answer in time")]
    Timeout,
    /// The connection is gone (closed, or lost without resumption) before
    /// the answer or confirmation came.
    #[error("disconnected")]
    Disconnected,
}

impl From<IqError> for ClientError {
    fn from(error: IqError) -> Self {
        match error {
            IqError::Stanza(error) => Self::Stanza(error),
            IqError::Timeout => Self::Timeout,
            _ => Self::Disconnected,
        }
    }
}

impl ClientError {
    /// Whether retrying with the same settings cannot help (bad
    /// credentials, refused certificates, a misconfiguration): the client
    /// does not reconnect after such an error, and an application should
    /// ask its user instead of retrying.
    pub fn is_final(&self) -> bool {
        match self {
            Self::Connection(error) => matches!(
                error,
                ConnectionError::AuthenticationFailed(_)
                    | ConnectionError::Sasl(_)
                    | ConnectionError::TlsNotOffered
                    | ConnectionError::StartTlsRefused
                    | ConnectionError::BindFailed(_)
            ),
            Self::Transport(TransportError::Tls(error)) => matches!(
                error,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            ),
            Self::Transport(TransportError::NoTlsConfig) => true,
            Self::Jid(_) | Self::TlsSetup(_) | Self::Address(_) | Self::WebSocketUrl(_) => true,
            Self::Resolve(super::dns::ResolveError::ServiceUnavailable(_)) => true,
            _ => false,
        }
    }
}
