//! RFC 6120 section 4.9.3 stream error conditions.

use std::fmt;
use std::str::FromStr;

/// A stream error condition (RFC 6120 section 4.9.3).
///
/// A stream error is fatal: the side that detects it sends
/// `<stream:error>` with the condition and closes the stream. Every error the
/// crate raises from a peer's bytes maps to one of these, so a connection can
/// always tell its peer what went wrong.
///
/// ```
/// use xmpp_kit::stream::StreamErrorCondition;
/// let c: StreamErrorCondition = "policy-violation".parse().unwrap();
/// assert_eq!(c, StreamErrorCondition::PolicyViolation);
/// assert_eq!(c.to_string(), "policy-violation");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamErrorCondition {
    /// The entity sent XML that cannot be processed.
    BadFormat,
    /// The entity used an unsupported or undeclared namespace prefix.
    BadNamespacePrefix,
    /// A new stream conflicts with an existing one for the same entity.
    Conflict,
    /// The peer sent nothing for too long.
    ConnectionTimeout,
    /// The value of `to` names a host that is no longer served here.
    HostGone,
    /// The value of `to` names a host that is not served here.
    HostUnknown,
    /// A stanza lacks a required `to` or `from`, or it is malformed.
    ImproperAddressing,
    /// The server has a misconfiguration or internal error.
    InternalServerError,
    /// The `from` address does not match an authorized one.
    InvalidFrom,
    /// The stream namespace or the content namespace is wrong.
    InvalidNamespace,
    /// The entity sent invalid XML (for example against a schema).
    InvalidXml,
    /// The entity tried to send data before authenticating.
    NotAuthorized,
    /// The entity sent XML that is not well-formed (XML or XML namespaces).
    NotWellFormed,
    /// The entity violated a local policy, such as a size limit.
    PolicyViolation,
    /// The server could not connect to a remote entity it needs.
    RemoteConnectionFailed,
    /// The server is closing the stream because security-critical state changed.
    Reset,
    /// The server lacks the resources to serve the stream.
    ResourceConstraint,
    /// The entity sent restricted XML: comments, processing instructions,
    /// DTDs or entity references.
    RestrictedXml,
    /// The entity should connect to another host instead.
    SeeOtherHost,
    /// The server is shutting down.
    SystemShutdown,
    /// An error that matches no other condition.
    UndefinedCondition,
    /// The stream is not encoded in UTF-8, or the UTF-8 is invalid.
    UnsupportedEncoding,
    /// A feature the receiving entity requires is not offered.
    UnsupportedFeature,
    /// A first-level child of the stream is not supported.
    UnsupportedStanzaType,
    /// The stream's `version` is not supported.
    UnsupportedVersion,
}

const ALL: [(StreamErrorCondition, &str); 25] = {
    use StreamErrorCondition as C;
    [
        (C::BadFormat, "bad-format"),
        (C::BadNamespacePrefix, "bad-namespace-prefix"),
        (C::Conflict, "conflict"),
        (C::ConnectionTimeout, "connection-timeout"),
        (C::HostGone, "host-gone"),
        (C::HostUnknown, "host-unknown"),
        (C::ImproperAddressing, "improper-addressing"),
        (C::InternalServerError, "internal-server-error"),
        (C::InvalidFrom, "invalid-from"),
        (C::InvalidNamespace, "invalid-namespace"),
        (C::InvalidXml, "invalid-xml"),
        (C::NotAuthorized, "not-authorized"),
        (C::NotWellFormed, "not-well-formed"),
        (C::PolicyViolation, "policy-violation"),
        (C::RemoteConnectionFailed, "remote-connection-failed"),
        (C::Reset, "reset"),
        (C::ResourceConstraint, "resource-constraint"),
        (C::RestrictedXml, "restricted-xml"),
        (C::SeeOtherHost, "see-other-host"),
        (C::SystemShutdown, "system-shutdown"),
        (C::UndefinedCondition, "undefined-condition"),
        (C::UnsupportedEncoding, "unsupported-encoding"),
        (C::UnsupportedFeature, "unsupported-feature"),
        (C::UnsupportedStanzaType, "unsupported-stanza-type"),
        (C::UnsupportedVersion, "unsupported-version"),
    ]
};

impl StreamErrorCondition {
    /// Every defined condition, in the order of RFC 6120 section 4.9.3.
    pub fn all() -> impl Iterator<Item = Self> {
        ALL.iter().map(|(c, _)| *c)
    }

    /// The element name of the condition, such as `"not-well-formed"`.
    pub fn as_str(self) -> &'static str {
        ALL.iter()
            .find(|(c, _)| *c == self)
            .map_or("undefined-condition", |(_, name)| name)
    }
}

impl fmt::Display for StreamErrorCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown stream error condition name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stream error condition {0:?}")]
pub struct UnknownCondition(pub String);

impl FromStr for StreamErrorCondition {
    type Err = UnknownCondition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .find(|(_, name)| *name == s)
            .map(|(c, _)| *c)
            .ok_or_else(|| UnknownCondition(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_round_trips_through_its_name() {
        let mut seen = std::collections::HashSet::new();
        for c in StreamErrorCondition::all() {
            assert!(seen.insert(c.as_str()), "duplicate name {}", c.as_str());
            assert_eq!(c.as_str().parse::<StreamErrorCondition>(), Ok(c));
        }
        assert_eq!(seen.len(), 25);
        assert!(
            "xml-not-well-formed"
                .parse::<StreamErrorCondition>()
                .is_err()
        );
    }
}
