//! The server side of every mechanism.

use std::fmt;

use subtle::Choice;

use super::SaslError;
use super::crypto::{ScramCredentials, ct_eq, h, hmac, xor};
use super::mechanism::{ChannelBinding, Gs2Flag, Mechanism, ScramHash, binding_data};
use super::scram::{
    MIN_ITERATIONS, encode_base64, is_valid_nonce, parse_client_final, parse_client_first, utf8,
};

/// The longest ANONYMOUS trace a server accepts, in characters (RFC 4505
/// section 3).
const MAX_TRACE_CHARS: usize = 255;

/// The account store a [`SaslServer`] authenticates against.
///
/// Every method may be called for a user that does not exist; answer so
/// that the caller cannot tell (see [`scram_decoy`](Self::scram_decoy) and
/// the [module documentation](super#unknown-users-and-timing)).
pub trait ServerCredentials {
    /// The SCRAM verifier of `username` for `hash`, or `None` for an unknown
    /// user (or one without a verifier for this hash). A verifier whose hash
    /// differs from `hash` or whose fields are inconsistent
    /// ([`ScramCredentials::is_well_formed`]) is treated like `None`.
    fn scram(&self, username: &str, hash: ScramHash) -> Option<ScramCredentials>;

    /// Whether `password` is the password of `username` (PLAIN). A store
    /// that only keeps SCRAM verifiers can use
    /// [`ScramCredentials::verify_password`]; for an unknown user, verify
    /// against a decoy so that the time taken is the same.
    fn verify_plain(&self, username: &str, password: &str) -> bool;

    /// The identity authenticated outside SASL (typically by the TLS client
    /// certificate) for EXTERNAL, given the authzid the client asked for;
    /// `None` refuses. The default refuses.
    fn external(&self, authzid: Option<&str>) -> Option<String> {
        let _ = authzid;
        None
    }

    /// Whether ANONYMOUS logins are allowed. The default refuses.
    fn anonymous(&self) -> bool {
        false
    }

    /// The verifier shown to a client that names an unknown user: the
    /// exchange goes on with it up to the proof, which then fails with the
    /// same [`SaslError::AuthenticationFailed`] as a wrong password.
    ///
    /// It must look like a real one and be the same every time for the same
    /// name (a salt that changes between attempts would give the game away).
    /// The default derives the salt from the name with HMAC under a fixed
    /// key and uses [`MIN_ITERATIONS`](super::MIN_ITERATIONS); as the key is
    /// public, someone who knows this crate can recompute the salt and tell
    /// the decoy apart. Override it with a key secret to the server, and
    /// with the iteration count real accounts use.
    fn scram_decoy(&self, username: &str, hash: ScramHash) -> ScramCredentials {
        default_decoy(username, hash, b"xmpp-kit SCRAM decoy, public key")
    }
}

/// A decoy verifier for `username`, derived with HMAC-SHA-256 under `key`
/// (16 bytes of salt, [`MIN_ITERATIONS`] iterations). The keys are not
/// derived from any password; the proof check fails regardless.
pub fn default_decoy(username: &str, hash: ScramHash, key: &[u8]) -> ScramCredentials {
    let seed = hmac(
        ScramHash::Sha256,
        key,
        &[hash.as_str().as_bytes(), b"\0", username.as_bytes()],
    );
    let salt: Vec<u8> = seed.iter().take(16).copied().collect();
    ScramCredentials {
        hash,
        stored_key: hmac(hash, &seed, &[b"stored"]),
        server_key: hmac(hash, &seed, &[b"server"]),
        salt,
        iterations: MIN_ITERATIONS,
    }
}

/// What the server answers after a step.
#[derive(Clone, PartialEq, Eq)]
pub enum ServerStep {
    /// Send `<challenge/>` with this data, then call
    /// [`SaslServer::step`] with the data of the client's `<response/>`.
    Challenge(Vec<u8>),
    /// Authentication succeeded: send `<success/>` with the additional data
    /// if any (for SCRAM, the server-final-message `v=...`).
    ///
    /// The server must still check that `authcid` may act as `authzid`
    /// (and answer `invalid-authzid` if not), then build the JID.
    Success {
        /// Additional data for `<success/>`.
        additional: Option<Vec<u8>>,
        /// The authenticated identity: the user name for SCRAM and PLAIN,
        /// what [`ServerCredentials::external`] returned for EXTERNAL, empty
        /// for ANONYMOUS.
        authcid: String,
        /// The authorization identity the client asked for, if any.
        authzid: Option<String>,
    },
}

impl fmt::Debug for ServerStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Challenge(data) => f
                .debug_tuple("Challenge")
                .field(&String::from_utf8_lossy(data))
                .finish(),
            Self::Success {
                additional,
                authcid,
                authzid,
            } => f
                .debug_struct("Success")
                .field(
                    "additional",
                    &additional.as_deref().map(String::from_utf8_lossy),
                )
                .field("authcid", authcid)
                .field("authzid", authzid)
                .finish(),
        }
    }
}

/// The server side of a SASL exchange for one mechanism.
///
/// Call [`step`](Self::step) with the data of `<auth/>` (the initial
/// response, possibly empty), then with the data of each `<response/>`,
/// until it returns [`ServerStep::Success`] or an error. On an error,
/// answer `<failure/>` with [`SaslError::condition`] (and no details: the
/// client must not learn whether the user exists). After a success or an
/// error, every call fails with [`SaslError::UnexpectedStep`].
pub struct SaslServer {
    mechanism: Mechanism,
    bindings: Vec<ChannelBinding>,
    plus_offered: bool,
    server_nonce: String,
    state: State,
}

enum State {
    Start { solicited: bool },
    ScramSentFirst(Box<ScramPending>),
    Done,
    Failed,
}

/// What the server remembers between server-first and client-final.
struct ScramPending {
    hash: ScramHash,
    username: String,
    authzid: Option<String>,
    /// The exact `c=` content expected: GS2 header and binding data.
    cbind_input: Vec<u8>,
    /// Client nonce and server nonce.
    nonce: String,
    /// `client-first-message-bare "," server-first-message ","`.
    auth_message_prefix: String,
    credentials: ScramCredentials,
    /// Whether `credentials` is a decoy (unknown user).
    decoy: bool,
}

impl SaslServer {
    /// Prepares the server side of `mechanism`.
    ///
    /// * `bindings`: the channel bindings this connection can verify; a
    ///   client asking for another type gets
    ///   [`SaslError::ChannelBindingUnavailable`].
    /// * `plus_offered`: whether this server offered a SCRAM `-PLUS`
    ///   mechanism on this stream; then a client sending the flag `y`
    ///   ("I could bind but you offered no -PLUS") reveals that the offer was
    ///   tampered with, and gets [`SaslError::DowngradeDetected`].
    /// * `server_nonce`: for SCRAM, a fresh random nonce from the caller
    ///   (printable ASCII without `,`), appended to the client's.
    ///   An invalid one fails the first step with
    ///   [`SaslError::InvalidArgument`].
    pub fn new(
        mechanism: Mechanism,
        bindings: &[ChannelBinding],
        plus_offered: bool,
        server_nonce: &str,
    ) -> Self {
        Self {
            mechanism,
            bindings: bindings.to_vec(),
            plus_offered,
            server_nonce: server_nonce.to_owned(),
            state: State::Start { solicited: false },
        }
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Handles the next message of the client: first the initial response
    /// of `<auth/>`, then each `<response/>`.
    ///
    /// An empty first message for SCRAM or PLAIN (no initial response) is
    /// answered once with an empty challenge, asking for it (RFC 6120
    /// section 6.4.2). For EXTERNAL and ANONYMOUS an empty message means
    /// "no authzid" and "no trace".
    ///
    /// # Errors
    /// Every [`SaslError`] of the server side; all unknown-user and
    /// wrong-password cases are the same [`SaslError::AuthenticationFailed`].
    pub fn step(
        &mut self,
        data: &[u8],
        store: &dyn ServerCredentials,
    ) -> Result<ServerStep, SaslError> {
        // Any error leaves the state at Failed.
        let state = std::mem::replace(&mut self.state, State::Failed);
        match state {
            State::Start { solicited: false }
                if data.is_empty()
                    && (self.mechanism.is_scram() || self.mechanism == Mechanism::Plain) =>
            {
                self.state = State::Start { solicited: true };
                Ok(ServerStep::Challenge(Vec::new()))
            }
            State::Start { .. } => match self.mechanism.scram_hash() {
                Some(hash) => {
                    let pending = self.scram_first(hash, data, store)?;
                    let challenge = server_first(&pending);
                    self.state = State::ScramSentFirst(pending);
                    Ok(ServerStep::Challenge(challenge))
                }
                None => {
                    let success = match self.mechanism {
                        Mechanism::Plain => plain(data, store),
                        Mechanism::External => external(data, store),
                        Mechanism::Anonymous => anonymous(data, store),
                        _ => Err(SaslError::InvalidArgument("not a mechanism without SCRAM")),
                    }?;
                    self.state = State::Done;
                    Ok(success)
                }
            },
            State::ScramSentFirst(pending) => {
                let success = scram_final(&pending, data)?;
                self.state = State::Done;
                Ok(success)
            }
            State::Done | State::Failed => Err(SaslError::UnexpectedStep),
        }
    }

    fn scram_first(
        &self,
        hash: ScramHash,
        data: &[u8],
        store: &dyn ServerCredentials,
    ) -> Result<Box<ScramPending>, SaslError> {
        if !is_valid_nonce(&self.server_nonce) {
            return Err(SaslError::InvalidArgument(
                "the server nonce must be printable ASCII without ','",
            ));
        }
        let message = utf8(data, "client-first: not UTF-8")?;
        let first = parse_client_first(message)?;
        let plus = self.mechanism.is_plus();
        let cb_data: &[u8] = match (first.flag, plus) {
            (Ok(Gs2Flag::Used(kind)), true) => {
                binding_data(&self.bindings, kind).ok_or(SaslError::ChannelBindingUnavailable)?
            }
            (Err(()), true) => return Err(SaslError::ChannelBindingUnavailable),
            (Ok(Gs2Flag::NotSupported | Gs2Flag::ClientOnly), true) => {
                return Err(SaslError::MalformedMessage(
                    "client-first: a -PLUS mechanism needs the p= flag",
                ));
            }
            (Ok(Gs2Flag::Used(_)) | Err(()), false) => {
                return Err(SaslError::MalformedMessage(
                    "client-first: p= with a mechanism without -PLUS",
                ));
            }
            (Ok(Gs2Flag::ClientOnly), false) if self.plus_offered => {
                return Err(SaslError::DowngradeDetected);
            }
            (Ok(Gs2Flag::ClientOnly | Gs2Flag::NotSupported), false) => &[],
        };
        let mut cbind_input = first.gs2_header.as_bytes().to_vec();
        cbind_input.extend_from_slice(cb_data);

        // The unknown user takes the same path as a known one, with a decoy
        // verifier; only the proof check at the end tells them apart.
        let (credentials, decoy) = match store
            .scram(&first.username, hash)
            .filter(|c| c.hash == hash && c.is_well_formed())
        {
            Some(credentials) => (credentials, false),
            None => (store.scram_decoy(&first.username, hash), true),
        };
        let nonce = format!("{}{}", first.nonce, self.server_nonce);
        let server_first = format_server_first(&nonce, &credentials);
        Ok(Box::new(ScramPending {
            hash,
            auth_message_prefix: format!("{},{server_first},", first.bare),
            username: first.username,
            authzid: first.authzid,
            cbind_input,
            nonce,
            credentials,
            decoy,
        }))
    }
}

impl fmt::Debug for SaslServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Start { .. } => "start",
            State::ScramSentFirst(_) => "sent server-first",
            State::Done => "done",
            State::Failed => "failed",
        };
        f.debug_struct("SaslServer")
            .field("mechanism", &self.mechanism)
            .field("plus_offered", &self.plus_offered)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

fn format_server_first(nonce: &str, credentials: &ScramCredentials) -> String {
    format!(
        "r={nonce},s={},i={}",
        encode_base64(&credentials.salt),
        credentials.iterations
    )
}

fn server_first(pending: &ScramPending) -> Vec<u8> {
    format_server_first(&pending.nonce, &pending.credentials).into_bytes()
}

fn scram_final(pending: &ScramPending, data: &[u8]) -> Result<ServerStep, SaslError> {
    let message = utf8(data, "client-final: not UTF-8")?;
    let last = parse_client_final(message)?;
    if !bool::from(ct_eq(&last.channel_binding, &pending.cbind_input)) {
        return Err(SaslError::ChannelBindingMismatch);
    }
    if last.nonce != pending.nonce {
        return Err(SaslError::NonceMismatch);
    }
    if last.proof.len() != pending.hash.output_len() {
        return Err(SaslError::MalformedMessage(
            "client-final: the proof has the wrong length",
        ));
    }
    let auth_message = format!("{}{}", pending.auth_message_prefix, last.without_proof);
    let credentials = &pending.credentials;
    let client_signature = hmac(
        pending.hash,
        &credentials.stored_key,
        &[auth_message.as_bytes()],
    );
    let client_key = xor(&last.proof, &client_signature);
    let server_signature = hmac(
        pending.hash,
        &credentials.server_key,
        &[auth_message.as_bytes()],
    );
    let valid = ct_eq(&h(pending.hash, &client_key), &credentials.stored_key)
        & !Choice::from(u8::from(pending.decoy));
    if !bool::from(valid) {
        return Err(SaslError::AuthenticationFailed);
    }
    Ok(ServerStep::Success {
        additional: Some(format!("v={}", encode_base64(&server_signature)).into_bytes()),
        authcid: pending.username.clone(),
        authzid: pending.authzid.clone(),
    })
}

/// PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`, exactly two NULs,
/// non-empty authcid and password, all UTF-8.
fn plain(data: &[u8], store: &dyn ServerCredentials) -> Result<ServerStep, SaslError> {
    let mut parts = data.split(|b| *b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::MalformedMessage(
            "PLAIN: not authzid NUL authcid NUL password",
        ));
    };
    let authzid = std::str::from_utf8(authzid).map_err(|_| SaslError::InvalidAuthzid)?;
    let authcid = utf8(authcid, "PLAIN: the authcid is not UTF-8")?;
    let password = utf8(password, "PLAIN: the password is not UTF-8")?;
    if authcid.is_empty() || password.is_empty() {
        return Err(SaslError::MalformedMessage(
            "PLAIN: empty authcid or password",
        ));
    }
    if !store.verify_plain(authcid, password) {
        return Err(SaslError::AuthenticationFailed);
    }
    Ok(ServerStep::Success {
        additional: None,
        authcid: authcid.to_owned(),
        authzid: (!authzid.is_empty()).then(|| authzid.to_owned()),
    })
}

/// EXTERNAL (RFC 4422 appendix A): the message is the authzid, or empty.
fn external(data: &[u8], store: &dyn ServerCredentials) -> Result<ServerStep, SaslError> {
    let authzid = std::str::from_utf8(data).map_err(|_| SaslError::InvalidAuthzid)?;
    if authzid.contains('\0') {
        return Err(SaslError::InvalidAuthzid);
    }
    let authzid = (!authzid.is_empty()).then(|| authzid.to_owned());
    let authcid = store
        .external(authzid.as_deref())
        .ok_or(SaslError::AuthenticationFailed)?;
    Ok(ServerStep::Success {
        additional: None,
        authcid,
        authzid,
    })
}

/// ANONYMOUS (RFC 4505): the message is an optional trace of up to 255
/// characters, which is not kept.
fn anonymous(data: &[u8], store: &dyn ServerCredentials) -> Result<ServerStep, SaslError> {
    let trace = utf8(data, "ANONYMOUS: the trace is not UTF-8")?;
    if trace.chars().count() > MAX_TRACE_CHARS {
        return Err(SaslError::MalformedMessage(
            "ANONYMOUS: the trace is longer than 255 characters",
        ));
    }
    if !store.anonymous() {
        return Err(SaslError::AuthenticationFailed);
    }
    Ok(ServerStep::Success {
        additional: None,
        authcid: String::new(),
        authzid: None,
    })
}
