//! The client side of every mechanism.

use std::fmt;

use super::SaslError;
use super::crypto::{Keys, ct_eq, hi, hmac, xor};
use super::mechanism::{ChannelBinding, Gs2Flag, Mechanism, ScramHash, binding_data};
use super::scram::{
    MAX_ITERATIONS, MIN_ITERATIONS, encode_base64, escape_saslname, gs2_header, is_valid_nonce,
    parse_server_final, parse_server_first, utf8,
};
use super::select::{Credentials, Selection};

/// The longest ANONYMOUS trace, in characters (RFC 4505 section 3).
const MAX_TRACE_CHARS: usize = 255;

/// The client side of a SASL exchange, driven by the connection.
///
/// 1. [`initial_response`](Self::initial_response): the data of `<auth/>`;
/// 2. [`challenge`](Self::challenge) for each `<challenge/>`, giving the
///    data of the `<response/>`;
/// 3. [`success`](Self::success) with the data of `<success/>`. For SCRAM
///    this verifies the server signature: the server is only authenticated
///    (and the stream may only go on) if it returns `Ok`.
///
/// All data is raw bytes; the connection does the base64 of RFC 6120.
/// After an error the exchange is over: every later call fails with
/// [`SaslError::UnexpectedStep`].
///
/// ```
/// use xmpp_kit::sasl::{Credentials, Mechanism, SaslClient, Selection};
///
/// let selection = Selection::without_binding(Mechanism::ScramSha1);
/// let mut client = SaslClient::new(
///     &selection,
///     &Credentials::new("user", "pencil"),
///     &[],
///     "fyko+d2lbbFgONRv9qkxdawL",
/// )?;
/// // RFC 5802 section 5.
/// assert_eq!(client.initial_response()?, b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
/// let response = client.challenge(
///     b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
/// )?;
/// assert_eq!(
///     response,
///     b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
/// );
/// client.success(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")?;
/// # Ok::<(), xmpp_kit::sasl::SaslError>(())
/// ```
pub struct SaslClient {
    mechanism: Mechanism,
    inner: Inner,
}

enum Inner {
    Scram(Box<ScramClient>),
    /// PLAIN, EXTERNAL and ANONYMOUS: one message, then success.
    Simple {
        message: Vec<u8>,
        stage: SimpleStage,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimpleStage {
    Initial,
    Sent,
    Done,
    Failed,
}

struct ScramClient {
    hash: ScramHash,
    /// `gs2-header` as sent.
    gs2_header: String,
    /// The channel binding data for `p=`, empty otherwise.
    cb_data: Vec<u8>,
    /// client-first-message-bare.
    bare: String,
    nonce: String,
    /// Dropped (emptied) once the proof is computed.
    password: String,
    min_iterations: u32,
    max_iterations: u32,
    stage: ScramStage,
}

enum ScramStage {
    Initial,
    SentFirst,
    /// The proof was sent; the server must answer with this signature.
    SentFinal {
        server_signature: Vec<u8>,
    },
    /// The server signature arrived in a challenge and verified.
    Verified {
        server_signature: Vec<u8>,
    },
    Done,
    Failed,
}

impl SaslClient {
    /// Prepares the client side of `selection.mechanism`.
    ///
    /// * `bindings`: the channel bindings of the connection; for
    ///   `p=<type>` the data of that type is used.
    /// * `client_nonce`: for SCRAM, a fresh random nonce from the caller
    ///   (printable ASCII without `,`; 24 or more characters of base64 of a
    ///   CSPRNG output is customary). Ignored by the other mechanisms.
    ///
    /// Credentials are used as given (no SASLprep, see the
    /// [module documentation](super#saslprep)). For ANONYMOUS, a non-empty
    /// `credentials.username` is sent as the trace (RFC 4505).
    ///
    /// # Errors
    /// [`SaslError::ChannelBindingUnavailable`] when a `-PLUS` selection has
    /// no binding data of its type; [`SaslError::InvalidArgument`] for an
    /// invalid nonce, an empty user name (SCRAM, PLAIN) or password (PLAIN),
    /// a NUL in a name, or an inconsistent selection (a `-PLUS` mechanism
    /// without `p=`, `p=` without `-PLUS`, `channel_binding` disagreeing
    /// with `gs2_flag`).
    pub fn new(
        selection: &Selection,
        credentials: &Credentials,
        bindings: &[ChannelBinding],
        client_nonce: &str,
    ) -> Result<Self, SaslError> {
        let mechanism = selection.mechanism;
        let authzid = credentials.authzid.as_deref().filter(|a| !a.is_empty());
        if authzid.is_some_and(|a| a.contains('\0')) {
            return Err(SaslError::InvalidArgument("the authzid contains NUL"));
        }
        let inner = match mechanism.scram_hash() {
            Some(hash) => Inner::Scram(Box::new(ScramClient::new(
                hash,
                mechanism.is_plus(),
                selection,
                credentials,
                authzid,
                bindings,
                client_nonce,
            )?)),
            None => Inner::Simple {
                message: simple_message(mechanism, credentials, authzid)?,
                stage: SimpleStage::Initial,
            },
        };
        Ok(Self { mechanism, inner })
    }

    /// Sets the iteration counts a SCRAM server may ask for, instead of
    /// [`MIN_ITERATIONS`](super::MIN_ITERATIONS) (4096) and
    /// [`MAX_ITERATIONS`](super::MAX_ITERATIONS) (10 000 000). A count of 0
    /// is always refused.
    #[must_use]
    pub fn with_iteration_limits(mut self, min: u32, max: u32) -> Self {
        if let Inner::Scram(scram) = &mut self.inner {
            scram.min_iterations = min.max(1);
            scram.max_iterations = max;
        }
        self
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The initial response, the data of `<auth/>` (empty data is sent as
    /// `=`). For SCRAM, the client-first-message; for PLAIN
    /// `authzid NUL authcid NUL password`; for EXTERNAL the authzid or
    /// nothing; for ANONYMOUS the trace or nothing.
    ///
    /// # Errors
    /// [`SaslError::UnexpectedStep`] when called twice.
    pub fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
        match &mut self.inner {
            Inner::Scram(scram) => scram.initial_response(),
            Inner::Simple { message, stage } => {
                if *stage != SimpleStage::Initial {
                    *stage = SimpleStage::Failed;
                    return Err(SaslError::UnexpectedStep);
                }
                *stage = SimpleStage::Sent;
                Ok(message.clone())
            }
        }
    }

    /// Answers a `<challenge/>`: the raw challenge data in, the raw response
    /// data out.
    ///
    /// An empty challenge before [`initial_response`](Self::initial_response)
    /// (a server asking for the initial response, RFC 4422 section 5) is
    /// answered with the initial response. For SCRAM, the server-first
    /// message is answered with the client-final-message; a server that
    /// sends the server-final-message (`v=`) in a challenge rather than in
    /// `<success/>` gets it verified here and an empty response.
    ///
    /// # Errors
    /// Any [`SaslError`] the challenge calls for: `e=` from the server is
    /// [`SaslError::ServerError`]; a nonce that does not extend ours is
    /// [`SaslError::NonceMismatch`]; an iteration count out of bounds is
    /// [`SaslError::IterationCountTooLow`] or
    /// [`SaslError::IterationCountTooHigh`]; a mandatory extension (`m=`)
    /// or a malformed field is [`SaslError::MalformedMessage`]; a wrong
    /// server signature is [`SaslError::ServerSignatureMismatch`]; a
    /// challenge where none is expected is [`SaslError::UnexpectedStep`].
    pub fn challenge(&mut self, data: &[u8]) -> Result<Vec<u8>, SaslError> {
        match &mut self.inner {
            Inner::Scram(scram) => scram.challenge(data),
            Inner::Simple { message, stage } => {
                if *stage == SimpleStage::Initial && data.is_empty() {
                    *stage = SimpleStage::Sent;
                    return Ok(message.clone());
                }
                *stage = SimpleStage::Failed;
                Err(SaslError::UnexpectedStep)
            }
        }
    }

    /// Handles `<success/>` and its additional data.
    ///
    /// For SCRAM the data must be the server-final-message, and its server
    /// signature (`v=`) is verified in constant time (unless a challenge
    /// carried it already, in which case the data must be empty or the same
    /// valid signature). Only then is the server authenticated. The other
    /// mechanisms ignore the data.
    ///
    /// # Errors
    /// [`SaslError::ServerSignatureMismatch`] for a wrong signature,
    /// [`SaslError::MalformedMessage`] for a missing or malformed `v=`,
    /// [`SaslError::ServerError`] for `e=`, [`SaslError::UnexpectedStep`]
    /// for a success before the exchange could complete (for SCRAM: before
    /// the client proof was sent).
    pub fn success(&mut self, additional: &[u8]) -> Result<(), SaslError> {
        match &mut self.inner {
            Inner::Scram(scram) => scram.success(additional),
            Inner::Simple { stage, .. } => {
                if *stage == SimpleStage::Sent {
                    *stage = SimpleStage::Done;
                    Ok(())
                } else {
                    *stage = SimpleStage::Failed;
                    Err(SaslError::UnexpectedStep)
                }
            }
        }
    }

    /// Whether the exchange completed successfully (and, for SCRAM, the
    /// server proved that it knows the password verifier).
    pub fn is_done(&self) -> bool {
        match &self.inner {
            Inner::Scram(scram) => matches!(scram.stage, ScramStage::Done),
            Inner::Simple { stage, .. } => *stage == SimpleStage::Done,
        }
    }
}

impl fmt::Debug for SaslClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match &self.inner {
            Inner::Scram(scram) => match scram.stage {
                ScramStage::Initial => "initial",
                ScramStage::SentFirst => "sent client-first",
                ScramStage::SentFinal { .. } => "sent client-final",
                ScramStage::Verified { .. } => "server verified",
                ScramStage::Done => "done",
                ScramStage::Failed => "failed",
            },
            Inner::Simple { stage, .. } => match stage {
                SimpleStage::Initial => "initial",
                SimpleStage::Sent => "sent",
                SimpleStage::Done => "done",
                SimpleStage::Failed => "failed",
            },
        };
        f.debug_struct("SaslClient")
            .field("mechanism", &self.mechanism)
            .field("stage", &stage)
            .finish_non_exhaustive()
    }
}

/// The one message of PLAIN, EXTERNAL or ANONYMOUS.
fn simple_message(
    mechanism: Mechanism,
    credentials: &Credentials,
    authzid: Option<&str>,
) -> Result<Vec<u8>, SaslError> {
    match mechanism {
        Mechanism::Plain => {
            if credentials.username.is_empty() || credentials.password.is_empty() {
                return Err(SaslError::InvalidArgument(
                    "PLAIN needs a user name and a password",
                ));
            }
            if credentials.username.contains('\0') || credentials.password.contains('\0') {
                return Err(SaslError::InvalidArgument(
                    "PLAIN credentials must not contain NUL",
                ));
            }
            let mut message = Vec::new();
            message.extend_from_slice(authzid.unwrap_or_default().as_bytes());
            message.push(0);
            message.extend_from_slice(credentials.username.as_bytes());
            message.push(0);
            message.extend_from_slice(credentials.password.as_bytes());
            Ok(message)
        }
        Mechanism::External => Ok(authzid.unwrap_or_default().as_bytes().to_vec()),
        Mechanism::Anonymous => {
            let trace = credentials.username.as_str();
            if trace.chars().count() > MAX_TRACE_CHARS || trace.contains('\0') {
                return Err(SaslError::InvalidArgument(
                    "the ANONYMOUS trace is limited to 255 characters without NUL",
                ));
            }
            Ok(trace.as_bytes().to_vec())
        }
        // Not reached: SCRAM is handled by the caller.
        _ => Err(SaslError::InvalidArgument("not a simple mechanism")),
    }
}

impl ScramClient {
    fn new(
        hash: ScramHash,
        plus: bool,
        selection: &Selection,
        credentials: &Credentials,
        authzid: Option<&str>,
        bindings: &[ChannelBinding],
        nonce: &str,
    ) -> Result<Self, SaslError> {
        if !is_valid_nonce(nonce) {
            return Err(SaslError::InvalidArgument(
                "the client nonce must be printable ASCII without ','",
            ));
        }
        if credentials.username.is_empty() || credentials.username.contains('\0') {
            return Err(SaslError::InvalidArgument(
                "SCRAM needs a user name without NUL",
            ));
        }
        let cb_data = match (selection.gs2_flag, plus) {
            (Gs2Flag::Used(kind), true) => {
                if selection.channel_binding != Some(kind) {
                    return Err(SaslError::InvalidArgument(
                        "selection: channel_binding disagrees with gs2_flag",
                    ));
                }
                binding_data(bindings, kind)
                    .ok_or(SaslError::ChannelBindingUnavailable)?
                    .to_vec()
            }
            (Gs2Flag::NotSupported | Gs2Flag::ClientOnly, false) => {
                if selection.channel_binding.is_some() {
                    return Err(SaslError::InvalidArgument(
                        "selection: channel_binding without p=",
                    ));
                }
                Vec::new()
            }
            (_, true) => {
                return Err(SaslError::InvalidArgument(
                    "selection: a -PLUS mechanism needs the p= flag",
                ));
            }
            (Gs2Flag::Used(_), false) => {
                return Err(SaslError::InvalidArgument(
                    "selection: p= needs a -PLUS mechanism",
                ));
            }
        };
        Ok(Self {
            hash,
            gs2_header: gs2_header(selection.gs2_flag, authzid),
            cb_data,
            bare: format!("n={},r={nonce}", escape_saslname(&credentials.username)),
            nonce: nonce.to_owned(),
            password: credentials.password.clone(),
            min_iterations: MIN_ITERATIONS,
            max_iterations: MAX_ITERATIONS,
            stage: ScramStage::Initial,
        })
    }

    fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
        if !matches!(self.stage, ScramStage::Initial) {
            return self.fail(SaslError::UnexpectedStep);
        }
        self.stage = ScramStage::SentFirst;
        Ok(format!("{}{}", self.gs2_header, self.bare).into_bytes())
    }

    fn challenge(&mut self, data: &[u8]) -> Result<Vec<u8>, SaslError> {
        match std::mem::replace(&mut self.stage, ScramStage::Failed) {
            ScramStage::Initial if data.is_empty() => {
                self.stage = ScramStage::Initial;
                self.initial_response()
            }
            ScramStage::SentFirst => {
                let (response, server_signature) = self.client_final(data)?;
                self.stage = ScramStage::SentFinal { server_signature };
                Ok(response)
            }
            ScramStage::SentFinal { server_signature } => {
                verify_server_final(data, &server_signature)?;
                self.stage = ScramStage::Verified { server_signature };
                Ok(Vec::new())
            }
            _ => Err(SaslError::UnexpectedStep),
        }
    }

    fn success(&mut self, additional: &[u8]) -> Result<(), SaslError> {
        match std::mem::replace(&mut self.stage, ScramStage::Failed) {
            ScramStage::SentFinal { server_signature } => {
                if additional.is_empty() {
                    return Err(SaslError::MalformedMessage(
                        "success: no server-final-message (v=): the server did not authenticate",
                    ));
                }
                verify_server_final(additional, &server_signature)?;
            }
            ScramStage::Verified { server_signature } => {
                if !additional.is_empty() {
                    verify_server_final(additional, &server_signature)?;
                }
            }
            _ => return Err(SaslError::UnexpectedStep),
        }
        self.stage = ScramStage::Done;
        Ok(())
    }

    /// Computes the client-final-message from the server-first-message, and
    /// the server signature to expect.
    fn client_final(&mut self, data: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SaslError> {
        let server_first = utf8(data, "server-first: not UTF-8")?;
        let parsed = parse_server_first(server_first)?;
        let server_part = parsed.nonce.strip_prefix(self.nonce.as_str());
        if server_part.is_none_or(str::is_empty) {
            return Err(SaslError::NonceMismatch);
        }
        if parsed.iterations == 0 || parsed.iterations < self.min_iterations {
            return Err(SaslError::IterationCountTooLow(parsed.iterations));
        }
        if parsed.iterations > self.max_iterations {
            return Err(SaslError::IterationCountTooHigh(parsed.iterations));
        }

        let mut cbind_input = self.gs2_header.clone().into_bytes();
        cbind_input.extend_from_slice(&self.cb_data);
        let without_proof = format!("c={},r={}", encode_base64(&cbind_input), parsed.nonce);
        let auth_message = format!("{},{server_first},{without_proof}", self.bare);

        let salted = hi(
            self.hash,
            self.password.as_bytes(),
            &parsed.salt,
            parsed.iterations,
        );
        self.password = String::new();
        let keys = Keys::from_salted(self.hash, &salted);
        let client_signature = hmac(self.hash, &keys.stored_key, &[auth_message.as_bytes()]);
        let proof = xor(&keys.client_key, &client_signature);
        let server_signature = hmac(self.hash, &keys.server_key, &[auth_message.as_bytes()]);

        let response = format!("{without_proof},p={}", encode_base64(&proof));
        Ok((response.into_bytes(), server_signature))
    }

    fn fail<T>(&mut self, error: SaslError) -> Result<T, SaslError> {
        self.stage = ScramStage::Failed;
        Err(error)
    }
}

/// Verifies a server-final-message against the expected signature, in
/// constant time.
fn verify_server_final(data: &[u8], expected: &[u8]) -> Result<(), SaslError> {
    let message = utf8(data, "server-final: not UTF-8")?;
    let signature = parse_server_final(message)?;
    if bool::from(ct_eq(&signature, expected)) {
        Ok(())
    } else {
        Err(SaslError::ServerSignatureMismatch)
    }
}
