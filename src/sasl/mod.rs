//! SASL authentication (RFC 6120 section 6), client and server sides,
//! sans-IO: SCRAM-SHA-1/256/512 with and without `-PLUS` (RFC 5802,
//! RFC 7677, channel binding per RFC 5929, RFC 9266 and XEP-0440), PLAIN
//! (RFC 4616), EXTERNAL (RFC 4422 appendix A) and ANONYMOUS (RFC 4505).
//!
//! Nothing here does I/O, reads the clock or draws random numbers: the
//! caller gives the nonces, the channel binding data its TLS layer
//! computed, and the bytes of each message (already base64-decoded from the
//! `<auth/>`, `<challenge/>`, `<response/>` and `<success/>` elements).
//! Every message from the peer is treated as hostile: malformed input gives
//! an error, never a panic.
//!
//! # Client
//!
//! 1. [`select`] picks the mechanism from the server's `<mechanisms/>` and
//!    XEP-0440 `<sasl-channel-binding/>`, the channel bindings of the TLS
//!    layer and a [`ClientPolicy`];
//! 2. [`SaslClient`] runs it.
//!
//! # Server
//!
//! [`SaslServer`] runs one mechanism against a [`ServerCredentials`] store,
//! which keeps [`ScramCredentials`] (salt, iteration count, `StoredKey`,
//! `ServerKey`) rather than passwords. Answer errors with
//! `<failure/>` ([`Failure`]) carrying [`SaslError::condition`].
//!
//! # Example
//!
//! ```
//! use xmpp_kit::sasl::*;
//!
//! struct Store(ScramCredentials);
//! impl ServerCredentials for Store {
//!     fn scram(&self, username: &str, hash: ScramHash) -> Option<ScramCredentials> {
//!         (username == "juliet" && hash == self.0.hash).then(|| self.0.clone())
//!     }
//!     fn verify_plain(&self, username: &str, password: &str) -> bool {
//!         // Same work for an unknown user: verify against a decoy.
//!         let creds = self.scram(username, self.0.hash)
//!             .unwrap_or_else(|| self.scram_decoy(username, self.0.hash));
//!         creds.verify_password(password) && username == "juliet"
//!     }
//! }
//! let store = Store(ScramCredentials::derive(ScramHash::Sha256, "r0m30", b"salt-of-16-bytes", 4096));
//!
//! // TLS 1.3, both sides can compute tls-exporter.
//! let bindings = [ChannelBinding::new(ChannelBindingType::TlsExporter, [42; 32])];
//! let mechanisms = vec!["SCRAM-SHA-256".to_owned(), "SCRAM-SHA-256-PLUS".to_owned()];
//! let offer = Offer {
//!     mechanisms: &mechanisms,
//!     server_channel_bindings: Some(&[ChannelBindingType::TlsExporter]),
//!     tls: true,
//!     bindings: &bindings,
//! };
//! let selection = select(&offer, &ClientPolicy::default())?;
//! assert_eq!(selection.mechanism, Mechanism::ScramSha256Plus);
//!
//! let credentials = Credentials::new("juliet", "r0m30");
//! let mut client = SaslClient::new(&selection, &credentials, &bindings, "client-nonce")?;
//! let mut server = SaslServer::new(selection.mechanism, &bindings, true, "server-nonce");
//!
//! let mut message = client.initial_response()?;
//! let (additional, authcid) = loop {
//!     match server.step(&message, &store)? {
//!         ServerStep::Challenge(challenge) => message = client.challenge(&challenge)?,
//!         ServerStep::Success { additional, authcid, .. } => break (additional, authcid),
//!     }
//! };
//! client.success(additional.as_deref().unwrap_or_default())?; // checks the server signature
//! assert_eq!(authcid, "juliet");
//! # Ok::<(), SaslError>(())
//! ```
//!
//! # Channel binding
//!
//! `-PLUS` mechanisms bind the authentication to the TLS channel, so a
//! man in the middle who terminates TLS cannot relay it. The usable types
//! are those our TLS layer gives ([`Offer::bindings`]) that the server
//! accepts: the server's XEP-0440 list when it advertises one, otherwise
//! `tls-unique` only (the legacy default, XEP-0440 section 4), which does
//! not exist in TLS 1.3. [`select`] documents what happens when `-PLUS` is
//! offered but no type is usable (flag `n`, as with ejabberd 23.01 on TLS
//! 1.3) and when `-PLUS` is not offered but we could bind (flag `y`, which
//! lets an honest server detect that its offer was stripped).
//!
//! # SASLprep
//!
//! RFC 5802 asks for SASLprep (RFC 4013) on user names and passwords. This
//! crate does not apply it: XMPP user names are already normalized with
//! PRECIS (the localpart of a JID, RFC 7622), and the password bytes are
//! used as given, on both sides. Clients and servers that type passwords
//! in different Unicode normalization forms will not agree; normalize
//! passwords before they reach this module (for example with the PRECIS
//! OpaqueString profile) if that matters to you.
//!
//! # Unknown users and timing
//!
//! A SCRAM server asked for an unknown user answers with a decoy verifier
//! ([`ServerCredentials::scram_decoy`]) and fails at the proof with the
//! same [`SaslError::AuthenticationFailed`] as for a wrong password, at the
//! same step; the proof is checked in constant time on both paths. Timing
//! can still differ through the store: looking up an existing account may
//! take longer than a miss, and the default decoy's salt is computable by
//! anyone (override `scram_decoy` with a server secret). PLAIN relies on
//! the store's [`ServerCredentials::verify_plain`] doing equal work for
//! unknown users.

mod client;
mod crypto;
mod failure;
mod mechanism;
mod scram;
mod select;
mod server;

pub use client::SaslClient;
pub use crypto::ScramCredentials;
pub use failure::{Failure, SaslCondition};
pub use mechanism::{
    ChannelBinding, ChannelBindingType, Gs2Flag, Mechanism, ScramHash, UnknownName,
};
pub use scram::{MAX_ITERATIONS, MIN_ITERATIONS};
pub use select::{ClientPolicy, Credentials, Offer, Selection, select, usable_channel_binding};
pub use server::{SaslServer, ServerCredentials, ServerStep, default_decoy};

/// Why a SASL exchange failed, on either side.
///
/// Errors caused by the peer carry no secret: they can be logged. A server
/// answers with [`condition`](Self::condition) only, not with the error
/// text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// [`select`]: no mechanism offered by the server is acceptable under
    /// the policy.
    #[error("no acceptable SASL mechanism among those offered: {offered:?}")]
    NoAcceptableMechanism {
        /// The mechanism names the server offered.
        offered: Vec<String>,
    },
    /// [`select`]: PLAIN is the only option left and the stream is not
    /// encrypted.
    #[error("PLAIN is the only mechanism left and the stream is not encrypted")]
    PlainWithoutTls,
    /// A message from the peer does not follow the grammar; says which
    /// message and field.
    #[error("malformed SASL message: {0}")]
    MalformedMessage(&'static str),
    /// SCRAM: the server nonce does not extend the client nonce (client
    /// side), or the client-final nonce is not the combined nonce (server
    /// side).
    #[error("SCRAM nonce mismatch")]
    NonceMismatch,
    /// SCRAM client: the server signature (`v=`) is wrong; the server does
    /// not know the password verifier (or someone is in the middle).
    #[error("the SCRAM server signature does not verify")]
    ServerSignatureMismatch,
    /// SCRAM client: the server asks for fewer iterations than the minimum
    /// ([`MIN_ITERATIONS`], 4096, per RFC 7677; 0 is always refused).
    #[error("SCRAM iteration count {0} is below the minimum")]
    IterationCountTooLow(u32),
    /// SCRAM client: the server asks for more iterations than the maximum
    /// ([`MAX_ITERATIONS`]); computing them would let a hostile server burn
    /// the client's CPU.
    #[error("SCRAM iteration count {0} is above the maximum")]
    IterationCountTooHigh(u32),
    /// SCRAM server: the channel binding of the client-final-message (`c=`)
    /// is not the GS2 header and binding data of this connection.
    #[error("SCRAM channel binding mismatch")]
    ChannelBindingMismatch,
    /// The channel binding type is not available: the client asked for a
    /// type this server connection cannot give, or a client `-PLUS`
    /// selection has no binding data.
    #[error("the channel binding type is not available on this connection")]
    ChannelBindingUnavailable,
    /// SCRAM server: the client sent the flag `y` (it could bind but saw no
    /// `-PLUS`) while this server offered `-PLUS`: the offer was stripped on
    /// the way.
    #[error("SCRAM downgrade detected: the client saw no -PLUS mechanism")]
    DowngradeDetected,
    /// Server: wrong password, unknown user, refused EXTERNAL or ANONYMOUS.
    /// The same error for all, on purpose.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// A call or message at a step where the mechanism expects none (a
    /// second initial response, a challenge to PLAIN, a SCRAM success
    /// before the proof was sent, anything after the end).
    #[error("unexpected SASL step")]
    UnexpectedStep,
    /// SCRAM client: the server sent `e=` with this text (truncated to 256
    /// bytes).
    #[error("the SCRAM server reported an error: {0}")]
    ServerError(String),
    /// The authorization identity is malformed (bad escaping, not UTF-8,
    /// NUL).
    #[error("invalid authzid")]
    InvalidAuthzid,
    /// A value given by the local caller is invalid (a nonce with a comma,
    /// an empty user name, an inconsistent [`Selection`]). Not the peer's
    /// fault.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

impl SaslError {
    /// The condition a server answers with in `<failure/>`.
    ///
    /// Peer authentication errors are `not-authorized`; grammar errors
    /// `malformed-request`; a bad authzid `invalid-authzid`; local
    /// configuration errors `temporary-auth-failure`.
    pub fn condition(&self) -> SaslCondition {
        match self {
            Self::NoAcceptableMechanism { .. } => SaslCondition::InvalidMechanism,
            Self::PlainWithoutTls => SaslCondition::EncryptionRequired,
            Self::MalformedMessage(_) | Self::UnexpectedStep => SaslCondition::MalformedRequest,
            Self::NonceMismatch
            | Self::ServerSignatureMismatch
            | Self::IterationCountTooLow(_)
            | Self::IterationCountTooHigh(_)
            | Self::ChannelBindingMismatch
            | Self::ChannelBindingUnavailable
            | Self::DowngradeDetected
            | Self::AuthenticationFailed
            | Self::ServerError(_) => SaslCondition::NotAuthorized,
            Self::InvalidAuthzid => SaslCondition::InvalidAuthzid,
            Self::InvalidArgument(_) => SaslCondition::TemporaryAuthFailure,
        }
    }

    /// The `<failure/>` a server answers with: the condition, no text.
    pub fn to_failure(&self) -> Failure {
        Failure::new(self.condition())
    }
}
