//! `<failure/>` and its conditions (RFC 6120 section 6.5).

use std::fmt;
use std::str::FromStr;

use minidom::Element;

use super::mechanism::UnknownName;
use crate::ext::{Payload, PayloadError, expect, text_element};
use crate::ns::SASL;

/// A SASL failure condition (RFC 6120 section 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslCondition {
    /// `aborted`: the client aborted the exchange with `<abort/>`.
    Aborted,
    /// `account-disabled`: the account is disabled.
    AccountDisabled,
    /// `credentials-expired`: the credentials have expired.
    CredentialsExpired,
    /// `encryption-required`: the mechanism needs an encrypted stream.
    EncryptionRequired,
    /// `incorrect-encoding`: the base64 of the data is invalid.
    IncorrectEncoding,
    /// `invalid-authzid`: the authzid is malformed or not allowed.
    InvalidAuthzid,
    /// `invalid-mechanism`: the mechanism is not supported or not offered.
    InvalidMechanism,
    /// `malformed-request`: the request is malformed.
    MalformedRequest,
    /// `mechanism-too-weak`: the mechanism is weaker than the server's
    /// policy allows for this account.
    MechanismTooWeak,
    /// `not-authorized`: the credentials are wrong (or the user unknown).
    NotAuthorized,
    /// `temporary-auth-failure`: a temporary error on the server.
    TemporaryAuthFailure,
}

impl SaslCondition {
    /// Every condition.
    pub const ALL: [Self; 11] = [
        Self::Aborted,
        Self::AccountDisabled,
        Self::CredentialsExpired,
        Self::EncryptionRequired,
        Self::IncorrectEncoding,
        Self::InvalidAuthzid,
        Self::InvalidMechanism,
        Self::MalformedRequest,
        Self::MechanismTooWeak,
        Self::NotAuthorized,
        Self::TemporaryAuthFailure,
    ];

    /// The element name, such as `"not-authorized"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Aborted => "aborted",
            Self::AccountDisabled => "account-disabled",
            Self::CredentialsExpired => "credentials-expired",
            Self::EncryptionRequired => "encryption-required",
            Self::IncorrectEncoding => "incorrect-encoding",
            Self::InvalidAuthzid => "invalid-authzid",
            Self::InvalidMechanism => "invalid-mechanism",
            Self::MalformedRequest => "malformed-request",
            Self::MechanismTooWeak => "mechanism-too-weak",
            Self::NotAuthorized => "not-authorized",
            Self::TemporaryAuthFailure => "temporary-auth-failure",
        }
    }
}

impl fmt::Display for SaslCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SaslCondition {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "SASL failure condition",
                value: s.to_owned(),
            })
    }
}

/// `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`: the server's
/// answer to a failed exchange (RFC 6120 section 6.4.5).
///
/// ```
/// use minidom::Element;
/// use xmpp_kit::ext::Payload;
/// use xmpp_kit::sasl::{Failure, SaslCondition};
///
/// let e: Element = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
///     <account-disabled/><text xml:lang='en'>Call 212-555-1212.</text></failure>"
///     .parse()
///     .unwrap();
/// let failure = Failure::parse(&e)?;
/// assert_eq!(failure.condition, Some(SaslCondition::AccountDisabled));
/// assert_eq!(failure.text.as_deref(), Some("Call 212-555-1212."));
/// # Ok::<(), xmpp_kit::ext::PayloadError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Failure {
    /// The condition; `None` when the element has none this crate knows
    /// (treat it like `not-authorized`).
    pub condition: Option<SaslCondition>,
    /// The human-readable `<text/>`, if any.
    pub text: Option<String>,
}

impl Failure {
    /// A failure with a condition and no text, as a server should send it
    /// (details of why an authentication failed help attackers, not users).
    pub const fn new(condition: SaslCondition) -> Self {
        Self {
            condition: Some(condition),
            text: None,
        }
    }
}

impl From<SaslCondition> for Failure {
    fn from(condition: SaslCondition) -> Self {
        Self::new(condition)
    }
}

impl Payload for Failure {
    fn matches(element: &Element) -> bool {
        element.is("failure", SASL)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "failure", SASL)?;
        let mut condition = None;
        let mut text = None;
        for child in element.children() {
            if child.ns() != SASL {
                continue;
            }
            if child.name() == "text" {
                if text.is_none() {
                    text = Some(child.text());
                }
            } else if condition.is_none() {
                condition = child.name().parse().ok();
            }
        }
        Ok(Self { condition, text })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("failure", SASL);
        if let Some(condition) = self.condition {
            element.append_child(Element::bare(condition.as_str(), SASL));
        }
        if let Some(text) = &self.text {
            element.append_child(text_element("text", SASL, text.as_str()));
        }
        element
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.condition {
            Some(condition) => write!(f, "{condition}")?,
            None => f.write_str("unspecified failure")?,
        }
        if let Some(text) = &self.text {
            write!(f, ": {text}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_round_trip() {
        for c in SaslCondition::ALL {
            assert_eq!(c.as_str().parse::<SaslCondition>(), Ok(c));
            let failure = Failure::new(c);
            assert_eq!(Failure::parse(&failure.to_element()), Ok(failure));
        }
        assert!("bad-auth".parse::<SaslCondition>().is_err());
    }

    /// RFC 6120 section 6.4.5, example of a failure with text.
    #[test]
    fn rfc6120_example() {
        let e: Element = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
            <account-disabled/>\
            <text xml:lang='en'>Call 212-555-1212 for assistance.</text>\
            </failure>"
            .parse()
            .unwrap();
        assert!(Failure::matches(&e));
        let f = Failure::parse(&e).unwrap();
        assert_eq!(f.condition, Some(SaslCondition::AccountDisabled));
        assert_eq!(f.text.as_deref(), Some("Call 212-555-1212 for assistance."));
        assert_eq!(Failure::parse(&f.to_element()), Ok(f));
    }

    #[test]
    fn tolerant_parsing() {
        let e: Element = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
            <bad-auth/><x xmlns='urn:other'/></failure>"
            .parse()
            .unwrap();
        let f = Failure::parse(&e).unwrap();
        assert_eq!(
            f,
            Failure {
                condition: None,
                text: None
            }
        );
        let e: Element = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
            .parse()
            .unwrap();
        assert!(!Failure::matches(&e));
        assert!(Failure::parse(&e).is_err());
    }
}
