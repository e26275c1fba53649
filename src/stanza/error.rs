//! Stanza errors (RFC 6120 section 8.3).

use std::fmt;
use std::str::FromStr;

use minidom::Element;

use crate::ext::{self, PayloadError};
use crate::jid::Jid;
use crate::ns;

/// The error type, which says how the requester may go on (RFC 6120 section 8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// Retry after providing credentials.
    Auth,
    /// Do not retry (the error cannot be remedied).
    Cancel,
    /// Proceed (the condition was only a warning).
    Continue,
    /// Retry after changing the data sent.
    Modify,
    /// Retry after waiting (the error is temporary).
    Wait,
}

impl ErrorType {
    /// The attribute value, such as `"cancel"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Cancel => "cancel",
            Self::Continue => "continue",
            Self::Modify => "modify",
            Self::Wait => "wait",
        }
    }
}

impl FromStr for ErrorType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "auth" => Self::Auth,
            "cancel" => Self::Cancel,
            "continue" => Self::Continue,
            "modify" => Self::Modify,
            "wait" => Self::Wait,
            _ => return Err(()),
        })
    }
}

macro_rules! conditions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $default:ident;)*) => {
        /// A defined stanza error condition (RFC 6120 section 8.3.3).
        ///
        /// `gone` and `redirect` may carry a URI; it is kept in
        /// [`StanzaError::condition_text`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DefinedCondition {
            $($(#[$doc])* $variant,)*
        }

        impl DefinedCondition {
            /// Every defined condition, in the order of RFC 6120 section 8.3.3.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The element name, such as `"service-unavailable"`.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// The error type RFC 6120 gives in its example for this condition.
            pub fn default_type(self) -> ErrorType {
                match self { $(Self::$variant => ErrorType::$default,)* }
            }
        }

        impl FromStr for DefinedCondition {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($name => Ok(Self::$variant),)* _ => Err(()) }
            }
        }
    };
}

conditions! {
    /// The request is malformed or not understood.
    BadRequest = "bad-request", Modify;
    /// A resource with that name or address already exists.
    Conflict = "conflict", Cancel;
    /// The feature is not implemented by the recipient.
    FeatureNotImplemented = "feature-not-implemented", Cancel;
    /// The requester lacks the permissions.
    Forbidden = "forbidden", Auth;
    /// The recipient is no longer at this address (may carry a new address).
    Gone = "gone", Cancel;
    /// The server has a misconfiguration or internal error.
    InternalServerError = "internal-server-error", Cancel;
    /// The addressed JID or item does not exist.
    ItemNotFound = "item-not-found", Cancel;
    /// The JID violates the address format.
    JidMalformed = "jid-malformed", Modify;
    /// The request does not meet the recipient's criteria.
    NotAcceptable = "not-acceptable", Modify;
    /// No entity may perform this action.
    NotAllowed = "not-allowed", Cancel;
    /// The sender must authenticate first.
    NotAuthorized = "not-authorized", Auth;
    /// A local policy was violated.
    PolicyViolation = "policy-violation", Modify;
    /// The intended recipient is temporarily unavailable.
    RecipientUnavailable = "recipient-unavailable", Wait;
    /// The request should be sent elsewhere (may carry the address).
    Redirect = "redirect", Modify;
    /// The requester must register first.
    RegistrationRequired = "registration-required", Auth;
    /// The remote server does not exist or cannot be resolved.
    RemoteServerNotFound = "remote-server-not-found", Cancel;
    /// The remote server could not be reached in time.
    RemoteServerTimeout = "remote-server-timeout", Wait;
    /// The recipient lacks the resources to serve the request.
    ResourceConstraint = "resource-constraint", Wait;
    /// The recipient does not provide the service.
    ServiceUnavailable = "service-unavailable", Cancel;
    /// The requester must subscribe first.
    SubscriptionRequired = "subscription-required", Auth;
    /// An error that matches no other condition.
    UndefinedCondition = "undefined-condition", Cancel;
    /// The request was not expected at this time.
    UnexpectedRequest = "unexpected-request", Wait;
}

impl fmt::Display for DefinedCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stanza error: the `<error/>` child of a stanza of type `error`.
///
/// ```
/// use xmpp_kit::stanza::{DefinedCondition, ErrorType, StanzaError};
///
/// let error = StanzaError::new(DefinedCondition::ItemNotFound).with_text("no such node");
/// assert_eq!(error.error_type, ErrorType::Cancel);
/// let element = error.to_element();
/// assert_eq!(StanzaError::parse(&element)?, error);
/// # Ok::<(), xmpp_kit::ext::PayloadError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StanzaError {
    /// How the requester may go on.
    pub error_type: ErrorType,
    /// The entity that raised the error, if it says.
    pub by: Option<Jid>,
    /// The defined condition.
    pub condition: DefinedCondition,
    /// The text content of the condition element (the URI of `gone` and
    /// `redirect`).
    pub condition_text: Option<String>,
    /// Human-readable descriptions, by `xml:lang`.
    pub texts: Vec<(Option<String>, String)>,
    /// An application-specific condition element, kept as it came.
    pub application: Option<Element>,
}

impl StanzaError {
    /// An error with `condition` and the type RFC 6120 pairs it with.
    pub fn new(condition: DefinedCondition) -> Self {
        Self::with_type(condition.default_type(), condition)
    }

    /// An error with an explicit type.
    pub fn with_type(error_type: ErrorType, condition: DefinedCondition) -> Self {
        Self {
            error_type,
            by: None,
            condition,
            condition_text: None,
            texts: Vec::new(),
            application: None,
        }
    }

    /// Adds a human-readable description (no `xml:lang`).
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.texts.push((None, text.into()));
        self
    }

    /// Adds an application-specific condition element.
    #[must_use]
    pub fn with_application(mut self, element: Element) -> Self {
        self.application = Some(element);
        self
    }

    /// The first description, preferring one without `xml:lang`.
    pub fn text(&self) -> Option<&str> {
        self.texts
            .iter()
            .find(|(lang, _)| lang.is_none())
            .or_else(|| self.texts.first())
            .map(|(_, text)| text.as_str())
    }

    /// Whether `element` is an `<error/>` in any of the stanza namespaces.
    pub fn matches(element: &Element) -> bool {
        element.name() == "error" && is_content_ns(element)
    }

    /// Parses an `<error/>` element. Unknown children are ignored; the
    /// first element outside the stanzas namespace is the application
    /// condition.
    ///
    /// # Errors
    /// [`PayloadError`] for a missing or unknown type or condition.
    pub fn parse(element: &Element) -> Result<Self, PayloadError> {
        if !Self::matches(element) {
            return Err(PayloadError::WrongElement {
                expected: "error",
                namespace: ns::JABBER_CLIENT,
                found: element.name().to_owned(),
                found_namespace: element.ns(),
            });
        }
        let type_value = ext::required_attr(element, "type", "error")?;
        let error_type = type_value
            .parse()
            .map_err(|()| PayloadError::InvalidValue {
                element: "error",
                what: "attribute 'type'",
                value: type_value.to_owned(),
            })?;
        let by = ext::jid_attr(element, "by", "error")?;
        let mut condition = None;
        let mut texts = Vec::new();
        let mut application = None;
        for child in element.children() {
            if child.has_ns(ns::STANZA_ERRORS) {
                if child.name() == "text" {
                    texts.push((ext::lang(child).map(str::to_owned), child.text()));
                } else if condition.is_none()
                    && let Ok(c) = child.name().parse::<DefinedCondition>()
                {
                    let text = child.text();
                    condition = Some((c, (!text.is_empty()).then_some(text)));
                }
            } else if application.is_none() {
                application = Some(child.clone());
            }
        }
        let Some((condition, condition_text)) = condition else {
            return Err(PayloadError::MissingChild {
                element: "error",
                child: "defined condition",
            });
        };
        Ok(Self {
            error_type,
            by,
            condition,
            condition_text,
            texts,
            application,
        })
    }

    /// Serializes to `<error/>` in `jabber:client`.
    pub fn to_element(&self) -> Element {
        self.to_element_in(ns::JABBER_CLIENT)
    }

    /// Serializes to `<error/>` in the given content namespace.
    pub fn to_element_in(&self, content_ns: &str) -> Element {
        let mut error = Element::bare("error", content_ns);
        ext::set_attr(&mut error, "type", self.error_type.as_str());
        ext::set_opt_attr(&mut error, "by", self.by.as_ref().map(Jid::as_str));
        let condition = ext::text_element(
            self.condition.as_str(),
            ns::STANZA_ERRORS,
            self.condition_text.clone().unwrap_or_default(),
        );
        error.append_child(condition);
        for (lang, text) in &self.texts {
            let mut t = ext::text_element("text", ns::STANZA_ERRORS, text.clone());
            ext::set_lang(&mut t, lang.as_deref());
            error.append_child(t);
        }
        if let Some(application) = &self.application {
            error.append_child(application.clone());
        }
        error
    }
}

impl fmt::Display for StanzaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.condition, self.error_type.as_str())?;
        if let Some(text) = self.text() {
            write!(f, ": {text}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StanzaError {}

/// Whether an element is in one of the stanza content namespaces.
pub(crate) fn is_content_ns(element: &Element) -> bool {
    crate::xml::StreamNamespace::of(element).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6120 section 8.3.2, the example of an error stanza (its error).
    #[test]
    fn rfc6120_example_parses() {
        let e: Element = "<error xmlns='jabber:client' type='cancel'>\
            <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
            <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>[ ... application-specific information ... ]</text>\
            <too-many-parameters xmlns='http://example.org/ns'/></error>"
            .parse()
            .unwrap();
        let error = StanzaError::parse(&e).unwrap();
        assert_eq!(error.error_type, ErrorType::Cancel);
        assert_eq!(error.condition, DefinedCondition::ServiceUnavailable);
        assert_eq!(error.texts.len(), 1);
        assert_eq!(error.texts[0].0.as_deref(), Some("en"));
        assert!(
            error
                .application
                .as_ref()
                .unwrap()
                .is("too-many-parameters", "http://example.org/ns")
        );
        assert_eq!(StanzaError::parse(&error.to_element()).unwrap(), error);
    }

    #[test]
    fn every_condition_round_trips_and_gone_keeps_its_uri() {
        assert_eq!(DefinedCondition::ALL.len(), 22);
        for c in DefinedCondition::ALL {
            let mut error = StanzaError::new(*c);
            if matches!(c, DefinedCondition::Gone | DefinedCondition::Redirect) {
                error.condition_text = Some("xmpp:romeo@afterlife.example.net".to_owned());
            }
            assert_eq!(
                StanzaError::parse(&error.to_element()).unwrap(),
                error,
                "{c}"
            );
        }
    }

    #[test]
    fn malformed_errors_are_typed() {
        let no_type: Element = "<error xmlns='jabber:client'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>".parse().unwrap();
        assert!(matches!(
            StanzaError::parse(&no_type),
            Err(PayloadError::MissingAttribute {
                attribute: "type",
                ..
            })
        ));
        let bad_type: Element = "<error xmlns='jabber:client' type='oops'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>".parse().unwrap();
        assert!(matches!(
            StanzaError::parse(&bad_type),
            Err(PayloadError::InvalidValue { .. })
        ));
        let no_condition: Element = "<error xmlns='jabber:client' type='cancel'/>"
            .parse()
            .unwrap();
        assert!(matches!(
            StanzaError::parse(&no_condition),
            Err(PayloadError::MissingChild { .. })
        ));
    }
}
