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

/// A `<stream:error/>` element (RFC 6120 section 4.9): the condition, an
/// optional text, and for `see-other-host` the host to go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// The condition.
    pub condition: StreamErrorCondition,
    /// The human-readable text, if any.
    pub text: Option<String>,
    /// The text content of the condition element: the new address of
    /// `see-other-host`.
    pub condition_text: Option<String>,
}

impl StreamError {
    /// A stream error with a condition and no text.
    pub fn new(condition: StreamErrorCondition) -> Self {
        Self {
            condition,
            text: None,
            condition_text: None,
        }
    }

    /// Adds a text.
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// The host to reconnect to, for `see-other-host`.
    pub fn see_other_host(&self) -> Option<&str> {
        (self.condition == StreamErrorCondition::SeeOtherHost)
            .then_some(self.condition_text.as_deref())
            .flatten()
    }

    /// Whether `element` is a `<stream:error/>`.
    pub fn matches(element: &minidom::Element) -> bool {
        element.is("error", crate::ns::STREAM)
    }

    /// Parses a `<stream:error/>`. An unknown condition reads as
    /// `undefined-condition` (RFC 6120 section 4.9.4 lets servers extend).
    ///
    /// # Errors
    /// [`PayloadError`](crate::ext::PayloadError) if the element is not a stream error.
    pub fn parse(element: &minidom::Element) -> Result<Self, crate::ext::PayloadError> {
        crate::ext::expect(element, "error", crate::ns::STREAM)?;
        let mut error = Self::new(StreamErrorCondition::UndefinedCondition);
        let mut found = false;
        for child in element.children() {
            if !child.has_ns(crate::ns::STREAM_ERRORS) {
                continue;
            }
            if child.name() == "text" {
                error.text = Some(child.text());
            } else if !found && let Ok(condition) = child.name().parse() {
                error.condition = condition;
                let text = child.text();
                error.condition_text = (!text.is_empty()).then_some(text);
                found = true;
            }
        }
        Ok(error)
    }

    /// Serializes to `<stream:error/>`.
    pub fn to_element(&self) -> minidom::Element {
        let mut e = minidom::Element::bare("error", crate::ns::STREAM);
        e.append_child(crate::ext::text_element(
            self.condition.as_str(),
            crate::ns::STREAM_ERRORS,
            self.condition_text.clone().unwrap_or_default(),
        ));
        if let Some(text) = &self.text {
            e.append_child(crate::ext::text_element(
                "text",
                crate::ns::STREAM_ERRORS,
                text.clone(),
            ));
        }
        e
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.condition)?;
        if let Some(host) = self.see_other_host() {
            write!(f, " ({host})")?;
        }
        if let Some(text) = &self.text {
            write!(f, ": {text}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod element_tests {
    use super::*;

    /// RFC 6120 section 4.9.3.19 (see-other-host) and 4.9.2 (text).
    #[test]
    fn rfc6120_examples_parse_and_round_trip() {
        let e: minidom::Element = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>\
            <see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>[2001:db8::45]:9222</see-other-host>\
            </stream:error>"
            .parse()
            .unwrap();
        let error = StreamError::parse(&e).unwrap();
        assert_eq!(error.see_other_host(), Some("[2001:db8::45]:9222"));
        assert_eq!(StreamError::parse(&error.to_element()).unwrap(), error);
        let e: minidom::Element = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>\
            <not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
            <text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Some special text</text>\
            <escape-your-data xmlns='http://example.org/ns'/></stream:error>"
            .parse()
            .unwrap();
        let error = StreamError::parse(&e).unwrap();
        assert_eq!(error.condition, StreamErrorCondition::NotWellFormed);
        assert_eq!(error.text.as_deref(), Some("Some special text"));
        assert_eq!(error.to_string(), "not-well-formed: Some special text");
    }
}
