//! Mechanism names, SCRAM hash functions and channel binding types.

use std::fmt;
use std::str::FromStr;

/// A SASL mechanism this crate implements.
///
/// # Preference order
///
/// The variants are declared, and ordered by [`Ord`], from the most to the
/// least preferred: `a < b` means `a` is stronger. This is the order in
/// which [`select`](super::select) picks a password mechanism:
///
/// 1. the SCRAM `-PLUS` variants (channel binding), strongest hash first:
///    `SCRAM-SHA-512-PLUS`, `SCRAM-SHA-256-PLUS`, `SCRAM-SHA-1-PLUS`;
/// 2. plain SCRAM by hash strength: `SCRAM-SHA-512`, `SCRAM-SHA-256`,
///    `SCRAM-SHA-1`;
/// 3. `PLAIN` (the password in clear inside TLS), only when no SCRAM is
///    offered at all.
///
/// `EXTERNAL` and `ANONYMOUS` sort last and are only chosen when the
/// [`ClientPolicy`](super::ClientPolicy) asks for them
/// ([`use_external`](super::ClientPolicy::use_external),
/// [`use_anonymous`](super::ClientPolicy::use_anonymous)); they do not
/// authenticate with a password, so comparing their "strength" with the
/// others is meaningless.
///
/// ```
/// use xmpp_kit::sasl::Mechanism;
///
/// let mut offered: Vec<Mechanism> = ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS"]
///     .iter()
///     .filter_map(|name| name.parse().ok())
///     .collect();
/// offered.sort();
/// assert_eq!(offered[0], Mechanism::ScramSha256Plus);
/// assert_eq!(offered[0].to_string(), "SCRAM-SHA-256-PLUS");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    /// `SCRAM-SHA-512-PLUS`: SCRAM with SHA-512 and channel binding.
    ScramSha512Plus,
    /// `SCRAM-SHA-256-PLUS` (RFC 7677): SCRAM with SHA-256 and channel binding.
    ScramSha256Plus,
    /// `SCRAM-SHA-1-PLUS` (RFC 5802): SCRAM with SHA-1 and channel binding.
    ScramSha1Plus,
    /// `SCRAM-SHA-512`: SCRAM with SHA-512.
    ScramSha512,
    /// `SCRAM-SHA-256` (RFC 7677): SCRAM with SHA-256.
    ScramSha256,
    /// `SCRAM-SHA-1` (RFC 5802): SCRAM with SHA-1.
    ScramSha1,
    /// `PLAIN` (RFC 4616): the password in clear; only acceptable inside TLS.
    Plain,
    /// `EXTERNAL` (RFC 4422 appendix A): authentication established outside
    /// SASL, typically by a TLS client certificate.
    External,
    /// `ANONYMOUS` (RFC 4505): no authentication at all.
    Anonymous,
}

impl Mechanism {
    /// Every mechanism, in preference order (the order of [`Ord`]).
    pub const ALL: [Self; 9] = [
        Self::ScramSha512Plus,
        Self::ScramSha256Plus,
        Self::ScramSha1Plus,
        Self::ScramSha512,
        Self::ScramSha256,
        Self::ScramSha1,
        Self::Plain,
        Self::External,
        Self::Anonymous,
    ];

    /// The registered mechanism name, such as `"SCRAM-SHA-256-PLUS"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ScramSha512Plus => "SCRAM-SHA-512-PLUS",
            Self::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Self::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha1 => "SCRAM-SHA-1",
            Self::Plain => "PLAIN",
            Self::External => "EXTERNAL",
            Self::Anonymous => "ANONYMOUS",
        }
    }

    /// Whether this is a SCRAM `-PLUS` mechanism (with channel binding).
    pub const fn is_plus(self) -> bool {
        matches!(
            self,
            Self::ScramSha512Plus | Self::ScramSha256Plus | Self::ScramSha1Plus
        )
    }

    /// Whether this is a SCRAM mechanism, with or without `-PLUS`.
    pub const fn is_scram(self) -> bool {
        self.scram_hash().is_some()
    }

    /// The hash function of a SCRAM mechanism, `None` for the others.
    pub const fn scram_hash(self) -> Option<ScramHash> {
        match self {
            Self::ScramSha512Plus | Self::ScramSha512 => Some(ScramHash::Sha512),
            Self::ScramSha256Plus | Self::ScramSha256 => Some(ScramHash::Sha256),
            Self::ScramSha1Plus | Self::ScramSha1 => Some(ScramHash::Sha1),
            Self::Plain | Self::External | Self::Anonymous => None,
        }
    }

    /// The SCRAM mechanism with the given hash, with or without `-PLUS`.
    pub const fn scram(hash: ScramHash, plus: bool) -> Self {
        match (hash, plus) {
            (ScramHash::Sha512, true) => Self::ScramSha512Plus,
            (ScramHash::Sha256, true) => Self::ScramSha256Plus,
            (ScramHash::Sha1, true) => Self::ScramSha1Plus,
            (ScramHash::Sha512, false) => Self::ScramSha512,
            (ScramHash::Sha256, false) => Self::ScramSha256,
            (ScramHash::Sha1, false) => Self::ScramSha1,
        }
    }

    /// The rank in the preference order: 0 is the most preferred
    /// (`SCRAM-SHA-512-PLUS`). Lower is stronger, consistent with [`Ord`].
    pub const fn strength(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the values this crate knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: {value:?}")]
pub struct UnknownName {
    /// What was being parsed, such as `"SASL mechanism"`.
    pub what: &'static str,
    /// The name found.
    pub value: String,
}

impl FromStr for Mechanism {
    type Err = UnknownName;

    /// Parses a registered mechanism name. Names are matched exactly (SASL
    /// mechanism names are upper case, RFC 4422 section 3.1).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "SASL mechanism",
                value: s.to_owned(),
            })
    }
}

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramHash {
    /// SHA-1 (20-byte output, RFC 5802).
    Sha1,
    /// SHA-256 (32-byte output, RFC 7677).
    Sha256,
    /// SHA-512 (64-byte output).
    Sha512,
}

impl ScramHash {
    /// The output length of the hash in bytes (also the length of SCRAM
    /// keys, proofs and signatures).
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The name as it appears in mechanism names: `"SHA-1"`, `"SHA-256"`,
    /// `"SHA-512"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha512 => "SHA-512",
        }
    }
}

impl fmt::Display for ScramHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A channel binding type (RFC 5056), as named in the IANA registry and in
/// XEP-0440 `<channel-binding type='...'/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelBindingType {
    /// `tls-unique` (RFC 5929): the first Finished message; TLS 1.2 and
    /// earlier only.
    TlsUnique,
    /// `tls-server-end-point` (RFC 5929): the hash of the server certificate.
    TlsServerEndPoint,
    /// `tls-exporter` (RFC 9266): the TLS exporter with the label
    /// `EXPORTER-Channel-Binding`; the type for TLS 1.3.
    TlsExporter,
}

impl ChannelBindingType {
    /// Every type, in the order [`select`](super::select) prefers them:
    /// `tls-exporter`, `tls-server-end-point`, `tls-unique`.
    pub const ALL: [Self; 3] = [Self::TlsExporter, Self::TlsServerEndPoint, Self::TlsUnique];

    /// The registered name: `"tls-unique"`, `"tls-server-end-point"` or
    /// `"tls-exporter"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TlsUnique => "tls-unique",
            Self::TlsServerEndPoint => "tls-server-end-point",
            Self::TlsExporter => "tls-exporter",
        }
    }
}

impl fmt::Display for ChannelBindingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChannelBindingType {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "channel binding type",
                value: s.to_owned(),
            })
    }
}

/// Channel binding data the TLS layer can give for this connection.
///
/// For `tls-exporter`, `data` is the 32-byte exporter output with the label
/// `EXPORTER-Channel-Binding` and an empty context (RFC 9266); for
/// `tls-server-end-point`, the hash of the server certificate (RFC 5929
/// section 4); for `tls-unique`, the first Finished message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ChannelBinding {
    /// The type of the binding.
    pub kind: ChannelBindingType,
    /// The binding data. Empty data counts as unavailable.
    pub data: Vec<u8>,
}

impl ChannelBinding {
    /// Channel binding data of the given type.
    pub fn new(kind: ChannelBindingType, data: impl Into<Vec<u8>>) -> Self {
        Self {
            kind,
            data: data.into(),
        }
    }
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelBinding")
            .field("kind", &self.kind)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// The data of the first binding of type `kind` with non-empty data.
pub(crate) fn binding_data(bindings: &[ChannelBinding], kind: ChannelBindingType) -> Option<&[u8]> {
    bindings
        .iter()
        .find(|b| b.kind == kind && !b.data.is_empty())
        .map(|b| b.data.as_slice())
}

/// The GS2 channel binding flag a SCRAM client sends (RFC 5802 section 7,
/// `gs2-cbind-flag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gs2Flag {
    /// `n`: the client does not use channel binding (it has none the server
    /// implements, or there is no TLS).
    NotSupported,
    /// `y`: the client supports channel binding but thinks the server does
    /// not (no `-PLUS` was offered). A server that does support it then
    /// knows the offer was tampered with.
    ClientOnly,
    /// `p=<type>`: the client binds to the channel with this type
    /// (`-PLUS` mechanisms only).
    Used(ChannelBindingType),
}

impl Gs2Flag {
    /// The flag as it appears in the GS2 header: `"n"`, `"y"` or
    /// `"p=tls-exporter"`.
    pub fn as_header_part(self) -> String {
        match self {
            Self::NotSupported => "n".to_owned(),
            Self::ClientOnly => "y".to_owned(),
            Self::Used(kind) => format!("p={kind}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(m.as_str().parse::<Mechanism>(), Ok(m));
            assert_eq!(m.to_string(), m.as_str());
        }
        for t in ChannelBindingType::ALL {
            assert_eq!(t.as_str().parse::<ChannelBindingType>(), Ok(t));
        }
        assert!("scram-sha-1".parse::<Mechanism>().is_err());
        assert!("DIGEST-MD5".parse::<Mechanism>().is_err());
        assert!("tls-foo".parse::<ChannelBindingType>().is_err());
    }

    #[test]
    fn order_is_preference_order() {
        let mut sorted = Mechanism::ALL;
        sorted.sort();
        assert_eq!(sorted, Mechanism::ALL);
        for pair in Mechanism::ALL.windows(2) {
            assert!(pair[0].strength() < pair[1].strength());
        }
        for m in Mechanism::ALL {
            if let Some(h) = m.scram_hash() {
                assert_eq!(Mechanism::scram(h, m.is_plus()), m);
            }
        }
    }
}
